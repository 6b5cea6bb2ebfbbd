#!/usr/bin/python3
"""tests/function/lib/cfn_render.py — read a CloudFormation YAML template the way the tests need:

  cfn_render.py TEMPLATE json                          the template as JSON, short tags as Fn::X / Ref
  cfn_render.py TEMPLATE render PATH [NAME=VALUE...]   the value at PATH (dot-separated keys), with
                                                       Ref, Fn::Sub, Fn::If, Fn::Base64 (not encoded),
                                                       Fn::Join and conditions resolved for the given
                                                       parameters (others take their Default)
Pseudo parameters: AWS::StackName=agentkeys-signer, AWS::Region=eu-west-1, AWS::Partition=aws,
AWS::AccountId=123456789012. Anything else (GetAtt, a resource Ref) is an error: exit 1.
For tests only (signer_host_test.sh); CloudFormation itself is the authority.
"""
import json
import re
import sys

import yaml


class Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else "Fn::" + suffix)
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            v = v.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    return {name: v}


Loader.add_multi_constructor("!", _tag)


class Unresolved(Exception):
    pass


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=Loader)


def main(argv):
    tpl = load(argv[1])
    if argv[2] == "json":
        json.dump(tpl, sys.stdout, indent=1, default=str)
        return 0
    path = argv[3].split(".")
    params = {k: str(p.get("Default", "")) for k, p in tpl.get("Parameters", {}).items()}
    params.update({"AWS::StackName": "agentkeys-signer", "AWS::Region": "eu-west-1",
                   "AWS::Partition": "aws", "AWS::AccountId": "123456789012"})
    for a in argv[4:]:
        k, v = a.split("=", 1)
        if k not in params:
            raise SystemExit(f"cfn_render: no parameter {k}")
        params[k] = v
    conds = {}

    def cond(name):
        if name not in conds:
            conds[name] = ev(tpl["Conditions"][name])
        return conds[name]

    def ev(v):
        if isinstance(v, dict) and len(v) == 1:
            (k, a), = v.items()
            if k == "Fn::Equals":
                return res(a[0]) == res(a[1])
            if k == "Fn::Not":
                return not ev(a[0])
            if k == "Fn::And":
                return all(ev(x) for x in a)
            if k == "Fn::Or":
                return any(ev(x) for x in a)
            if k == "Condition":
                return cond(a)
        raise Unresolved(f"condition {v!r}")

    def sub(s, extra):
        def one(m):
            n = m.group(1)
            if n.startswith("!"):
                return "${" + n[1:] + "}"
            if n in extra:
                return str(res(extra[n]))
            if n in params:
                return params[n]
            raise Unresolved(f"${{{n}}}")
        return re.sub(r"\$\{([^}]+)\}", one, s)

    def res(v):
        if isinstance(v, list):
            return [res(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, a), = v.items()
            if k == "Ref":
                if a in params:
                    return params[a]
                raise Unresolved(f"Ref {a}")
            if k == "Fn::Sub":
                return sub(a, {}) if isinstance(a, str) else sub(a[0], a[1])
            if k == "Fn::If":
                return res(a[1] if cond(a[0]) else a[2])
            if k == "Fn::Base64":
                return res(a)
            if k == "Fn::Join":
                return a[0].join(str(res(x)) for x in a[1])
            if k.startswith("Fn::") or k == "Condition":
                raise Unresolved(k)
        return {k: res(x) for k, x in v.items()}

    node = tpl
    for p in path:
        node = node[p]
    try:
        out = res(node)
    except Unresolved as e:
        print(f"cfn_render: cannot resolve {e}", file=sys.stderr)
        return 1
    sys.stdout.write(out if isinstance(out, str) else json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
