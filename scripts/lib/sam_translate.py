"""scripts/lib/sam_translate.py IN OUT — write IN (a SAM template) as CloudFormation sees it
after the AWS::Serverless-2016-10-31 transform, as JSON in OUT. Run by scripts/cfn-lint-check
with the interpreter that has cfn-lint and aws-sam-translator (the same pair cfn-lint uses).

The translator refuses local CodeUri paths (`sam build`/`sam package` replace them with S3
locations), so each function's CodeUri becomes a placeholder S3 URI first; nothing else changes.
Exit: 0 written, 1 the transform failed (the reasons on stderr), 2 IN does not parse.
"""
import json
import os
import sys

from cfnlint.decode import decode
from samtranslator.parser import parser
from samtranslator.public.exceptions import InvalidDocumentException
from samtranslator.translator.translator import Translator


def main(src, dst):
    template, matches = decode(src)
    if matches or template is None:
        for m in matches:
            print(f"{src}: {m}", file=sys.stderr)
        return 2
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for name, res in template.get("Resources", {}).items():
        if res.get("Type") == "AWS::Serverless::Function":
            res.setdefault("Properties", {})["CodeUri"] = f"s3://sam-translate-placeholder/{name}.zip"
    # The translator builds ARNs for the partition of the "current" region; any commercial one.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        out = Translator(managed_policy_map={}, sam_parser=parser.Parser()).translate(
            sam_template=template, parameter_values={}, passthrough_metadata=True)
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{src}: transform: {cause.message}", file=sys.stderr)
        return 1
    with open(dst, "w") as f:
        json.dump(out, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
