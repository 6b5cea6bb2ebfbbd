#!/usr/bin/env bash
# tests/function/signer_host_test.sh — deploy/signer-host.yaml (issue 18 item 4), without AWS:
#   1. the host's boot script (the launch template's UserData, rendered for given parameters by
#      tests/function/lib/cfn_render.py) is run with its absolute paths moved under a scratch root
#      and dnf, systemctl, nitro-cli, aws, openssl and cfn-signal replaced by recording stubs: it
#      configures the allocator, the vsock-proxy allowlist (exactly our endpoints) and one proxy
#      unit per endpoint, runs the EIF only when its PCR0 is pinned (SignerPcr0 or, during an
#      upgrade, SignerPcr0Next), bridges TCP -> vsock, and signals CloudFormation success only when
#      the signer presents a certificate; every failure signals failure; that readiness probe is
#      run against the real release signer (it sees the certificate) and a bare TCP listener (no);
#   2. the template's security properties, read from it: enclave enabled, IMDSv2, no account-root
#      statement in the key policy, use only with the pinned measurement (allow + explicit deny),
#      no delete for the host role, versioned TLS-only backup bucket, internal TCP load balancer
#      reachable only from the functions' group, exactly one host;
#   3. template.yaml's optional VPC attachment: every signer-calling function, only them, and the
#      host stack's outputs are the parameters it takes;
#   4. docs/deploy.md's certificate commands (§9 step 5), run as written: the release signer
#      accepts the server certificate and names every client by its role.
# What only AWS can prove (the deploy, KMS's attestation check, nitro-cli itself) is in
# docs/deploy.md, "Signer on AWS Nitro Enclaves".
set -u
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
check_eval() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }
render=tests/function/lib/cfn_render.py
tpl=deploy/signer-host.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
P0=$(printf '%096d' 0 | tr 0 a)
P1=$(printf '%096d' 0 | tr 0 b)
P2=$(printf '%096d' 0 | tr 0 c)
base=(EifBucket=ak-eifs EifKey=agentkeys/ak-signer-0123456789ab.eif SignerPcr0=$P0
      KeyAdminArns=arn:aws:iam::123456789012:role/key-admin BackupBucketName=ak-signer-backup-123456789012)

# ---------------------------------------------------------------- 1. the boot script, stubbed
# run NAME EIF_PCR0 OPENSSL_MODE(answer|silent) DNF_RC [PARAM=VALUE...]: renders, rewrites, runs.
run() {
    local name=$1 eif_pcr0=$2 ssl=$3 dnf_rc=$4; shift 4
    local r=$work/$name
    mkdir -p "$r/bin" "$r/etc/nitro_enclaves" "$r/etc/systemd/system" "$r/var/log" "$r/usr/local/sbin" "$r/opt/aws/bin"
    if ! "$render" "$tpl" render Resources.HostLaunchTemplate.Properties.LaunchTemplateData.UserData \
        "${base[@]}" "$@" >"$r/userdata.raw" 2>"$r/render.err"; then
        echo "render failed: $(cat "$r/render.err")" >"$r/calls"; return 99
    fi
    sed -e "s#/etc/#$r/etc/#g" -e "s#/opt/#$r/opt/#g" -e "s#/var/log/#$r/var/log/#g" \
        -e "s#/usr/local/sbin/#$r/usr/local/sbin/#g" "$r/userdata.raw" >"$r/userdata.sh"
    for c in dnf systemctl aws nitro-cli openssl sleep logger; do
        cat >"$r/bin/$c" <<EOF
#!/bin/bash
echo "$c \$*" >>"$r/calls"
case "$c" in
  dnf) exit $dnf_rc ;;
  aws) [ "\$1 \$2" = "s3 cp" ] && echo fake-eif >"\${@: -1}" ;;
  nitro-cli) [ "\$1" = describe-eif ] && printf '{"Measurements":{"HashAlgorithm":"Sha384 { ... }","PCR0":"%s","PCR1":"x","PCR2":"y"}}\n' "$eif_pcr0" ;;
  openssl) [ "$ssl" = answer ] && printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' ;;
esac
exit 0
EOF
        chmod +x "$r/bin/$c"
    done
    printf '#!/bin/bash\necho "cfn-signal $*" >>"%s/calls"\n' "$r" >"$r/opt/aws/bin/cfn-signal"
    chmod +x "$r/opt/aws/bin/cfn-signal"
    touch "$r/calls"
    PATH="$r/bin:$PATH" timeout 60 bash "$r/userdata.sh" >"$r/out" 2>&1
}

run ok "$P0" answer 0 ChainRpcHost=rpc.example.org; rc=$?
r=$work/ok
check_eval "pinned PCR0, signer answering: boot exits 0" '[ $rc = 0 ]'
check_eval "signals success to CloudFormation (SignerGroup)" 'grep -q "^cfn-signal -e 0 .*--resource SignerGroup" $r/calls && ! grep -q "^cfn-signal -e 1" $r/calls'
check_eval "installs nitro-cli, cfn-bootstrap, socat" 'grep -q "^dnf install -y aws-nitro-enclaves-cli aws-cfn-bootstrap socat" $r/calls'
check_eval "allocator: 512 MiB, 2 vCPUs" 'grep -qx "memory_mib: 512" $r/etc/nitro_enclaves/allocator.yaml && grep -qx "cpu_count: 2" $r/etc/nitro_enclaves/allocator.yaml'
allow=$(grep -c '^- {address:' "$r/etc/nitro_enclaves/vsock-proxy.yaml")
check_eval "allowlist: exactly KMS, the backup bucket, IMDS, the RPC (4)" '[ "$allow" = 4 ] &&
    grep -qx -- "- {address: kms.eu-west-1.amazonaws.com, port: 443}" $r/etc/nitro_enclaves/vsock-proxy.yaml &&
    grep -qx -- "- {address: ak-signer-backup-123456789012.s3.eu-west-1.amazonaws.com, port: 443}" $r/etc/nitro_enclaves/vsock-proxy.yaml &&
    grep -qx -- "- {address: rpc.example.org, port: 443}" $r/etc/nitro_enclaves/vsock-proxy.yaml'
check_eval "proxy units: kms 8000, s3 8001, imds 8002, rpc 8004" '
    grep -q "vsock-proxy 8000 kms.eu-west-1.amazonaws.com 443 --config" $r/etc/systemd/system/ak-proxy-kms.service &&
    grep -q "vsock-proxy 8001 ak-signer-backup-123456789012.s3.eu-west-1.amazonaws.com 443" $r/etc/systemd/system/ak-proxy-s3.service &&
    grep -q "vsock-proxy 8002 169.254.169.254 80" $r/etc/systemd/system/ak-proxy-imds.service &&
    grep -q "vsock-proxy 8004 rpc.example.org 443" $r/etc/systemd/system/ak-proxy-rpc.service'
check_eval "fetches the EIF named by the parameters" 'grep -q "^aws s3 cp --only-show-errors s3://ak-eifs/agentkeys/ak-signer-0123456789ab.eif .*/opt/agentkeys/ak-signer.eif" $r/calls'
check_eval "enclave unit: run-enclave 2 CPUs, 512 MiB, CID 16, not debug mode" '
    grep -q "ExecStart=/usr/bin/nitro-cli run-enclave --eif-path .*ak-signer.eif --cpu-count 2 --memory 512 --enclave-cid 16$" $r/etc/systemd/system/ak-enclave.service &&
    ! grep -q debug-mode $r/etc/systemd/system/ak-enclave.service'
check_eval "bridge: socat TCP 7443 -> vsock 16:5000, bound to the enclave unit" '
    grep -q "ExecStart=/usr/bin/socat TCP4-LISTEN:7443,.*fork.* VSOCK-CONNECT:16:5000$" $r/etc/systemd/system/ak-bridge.service &&
    grep -qx "BindsTo=ak-enclave.service" $r/etc/systemd/system/ak-bridge.service'
check_eval "starts the enclave, the bridge and the watchdog" 'grep -q "^systemctl enable --now ak-enclave.service ak-bridge.service ak-enclave-watch.timer" $r/calls'
check_eval "readiness probes the TLS port with the signer name" 'grep -q "^openssl s_client -connect 127.0.0.1:7443 -servername signer.agentkeys.internal" $r/calls'
bash -n "$r/usr/local/sbin/ak-enclave-watch" 2>/dev/null && grep -q 'systemctl restart ak-enclave.service' "$r/usr/local/sbin/ak-enclave-watch"
check_eval "watchdog script parses and restarts the enclave unit" '[ $? = 0 ]'

run wrong "$P1" answer 0; rc=$?
r=$work/wrong
check_eval "an EIF whose PCR0 is not pinned: boot fails" '[ $rc != 0 ]'
check_eval "... and signals failure naming the PCR0" 'grep -q "^cfn-signal -e 1 --reason EIF PCR0 $P1 is not the pinned SignerPcr0" $r/calls'
check_eval "... and never runs it" '! grep -q "ak-enclave" $r/calls && [ ! -e $r/etc/systemd/system/ak-enclave.service ]'
check_eval "no ChainRpcHost: three allowlist entries, no rpc proxy" '[ "$(grep -c "^- {address:" $r/etc/nitro_enclaves/vsock-proxy.yaml)" = 3 ] && [ ! -e $r/etc/systemd/system/ak-proxy-rpc.service ]'

run upgrade "$P1" answer 0 SignerPcr0Next="$P1"; rc=$?
check_eval "upgrade: the EIF matching SignerPcr0Next runs" '[ $rc = 0 ] && grep -q "^cfn-signal -e 0" $work/upgrade/calls'
run other "$P2" answer 0 SignerPcr0Next="$P1"; rc=$?
check_eval "upgrade: a third PCR0 is still refused" '[ $rc != 0 ] && grep -q "^cfn-signal -e 1 --reason EIF PCR0 $P2" $work/other/calls'

run silent "$P0" silent 0; rc=$?
r=$work/silent
check_eval "an enclave that never answers: boot fails after bounded tries" '[ $rc != 0 ] && [ "$(grep -c "^openssl s_client" $r/calls)" = 60 ]'
check_eval "... and signals failure" 'grep -q "^cfn-signal -e 1 --reason the enclave did not answer on 7443" $r/calls && ! grep -q "^cfn-signal -e 0" $r/calls'

run nodnf "$P0" answer 1; rc=$?
r=$work/nodnf
check_eval "a failed package install: boot fails, signals failure with the line" '[ $rc != 0 ] && grep -q "^cfn-signal -e 1 --reason host setup failed at line" $r/calls && ! grep -q "^aws s3 cp" $r/calls'

# The readiness probe itself (the boot script's line, port substituted) against the real signer
# (release build, dev PKI, TCP instead of vsock): it sees the certificate although the signer then
# refuses the handshake (no client certificate). A plain TCP listener that accepts and closes
# (what socat is while the enclave is down) is not taken for a signer.
probe=$(grep -o "timeout 5 openssl s_client .* | grep -q 'BEGIN CERTIFICATE'" "$work/ok/userdata.raw")
sig=build/release/bin/ak-signer
if [ -z "$probe" ] || [ ! -x "$sig" ]; then fail "readiness probe found and release signer present (make release)"
else
    scripts/dev-pki "$work/pki" >/dev/null 2>&1; echo 1 >"$work/epoch"
    "$sig" --pki "$work/pki" --state "$work/sstate" --epoch-source "file:$work/epoch" --port 0 \
        --ready-file "$work/sready" >"$work/slog" 2>&1 &
    spid=$!
    for _ in $(seq 1 100); do [ -s "$work/sready" ] && break; sleep 0.1; done
    sport=$(cat "$work/sready" 2>/dev/null)
    if [ -n "$sport" ] && bash -c "${probe//7443/$sport}"; then pass "readiness probe sees the real signer's certificate"; else
        fail "readiness probe sees the real signer's certificate (port '$sport')"; fi
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
    grep -q '"tls handshake failed"' "$work/slog" && pass "... and the signer refused that probe's handshake" ||
        fail "... and the signer refused that probe's handshake"
    /usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(15)
try:
    while True:
        c, _ = s.accept(); c.close()
except OSError:
    pass' "$work/tport" &
    tpid=$!
    for _ in $(seq 1 100); do [ -s "$work/tport" ] && break; sleep 0.1; done
    tport=$(cat "$work/tport" 2>/dev/null)
    if [ -n "$tport" ] && ! bash -c "${probe//7443/$tport}"; then pass "readiness probe refuses a listener that only accepts and closes"; else
        fail "readiness probe refuses a listener that only accepts and closes (port '$tport')"; fi
    kill "$tpid" 2>/dev/null; wait "$tpid" 2>/dev/null
fi

# ---------------------------------------------------------------- 2. the template's properties
j=$work/host.json
"$render" "$tpl" json >"$j"
q() { jq -e "$1" "$j" >/dev/null 2>&1; }
lt=.Resources.HostLaunchTemplate.Properties.LaunchTemplateData
check_eval "instance: Nitro Enclaves enabled, IMDSv2 only, AL2023 AMI parameter" \
    'q "$lt.EnclaveOptions.Enabled == true and $lt.MetadataOptions.HttpTokens == \"required\"" &&
     q ".Parameters.AmiId.Default | test(\"al2023-ami\")"'
kp=.Resources.SealingKey.Properties.KeyPolicy.Statement
check_eval "key policy: no account-root or wildcard Allow" \
    'q "[$kp[] | select(.Effect == \"Allow\") | .Principal.AWS | tostring | select(test(\":root|^\\\\*$\"))] | length == 0"'
check_eval "key policy: the host role may Decrypt/GenerateDataKey only with ImageSha384 = SignerPcr0" \
    'q "$kp[] | select(.Sid == \"AttestedEnclaveOnly\") | (.Action == [\"kms:Decrypt\",\"kms:GenerateDataKey\"]) and
        (.Condition.StringEqualsIgnoreCase[\"kms:RecipientAttestation:ImageSha384\"][\"Fn::If\"][1] == [{\"Ref\":\"SignerPcr0\"},{\"Ref\":\"SignerPcr0Next\"}])"'
check_eval "key policy: explicit deny of use, re-encrypt and grants without a pinned measurement" \
    'q "$kp[] | select(.Effect == \"Deny\") | (.Principal.AWS == \"*\") and (.Action | index(\"kms:Decrypt\") and index(\"kms:ReEncrypt*\") and index(\"kms:CreateGrant\")) and
        (.Condition.StringNotEqualsIgnoreCase | has(\"kms:RecipientAttestation:ImageSha384\"))"'
check_eval "key admins cannot decrypt, encrypt or grant" \
    'q "$kp[] | select(.Sid == \"KeyAdministrationWithoutUse\") | [.Action[] | select(test(\"Decrypt|Encrypt|GenerateDataKey|CreateGrant|\\\\*\"))] | length == 0"'
hp='.Resources.HostRole.Properties.Policies[0].PolicyDocument.Statement'
check_eval "host role: no delete, no KMS, no wildcard action" \
    'q "[$hp[].Action | if type == \"array\" then .[] else . end | select(test(\"Delete|^kms:|\\\\*\"))] | length == 0"'
check_eval "backup bucket: versioned, public access blocked, retained" \
    'q ".Resources.BackupBucket | .Properties.VersioningConfiguration.Status == \"Enabled\" and
        ([.Properties.PublicAccessBlockConfiguration[]] | all) and .DeletionPolicy == \"Retain\""'
check_eval "backup bucket policy: TLS only, and the host role denied every delete" \
    'q ".Resources.BackupBucketPolicy.Properties.PolicyDocument.Statement | (map(select(.Sid == \"TlsOnly\" and .Effect == \"Deny\" and .Condition.Bool[\"aws:SecureTransport\"] == \"false\")) | length == 1) and
        (map(select(.Effect == \"Deny\" and (.Action | index(\"s3:DeleteObjectVersion\")))) | length == 1)"'
check_eval "backup bucket policy: every host write is create-only (If-None-Match required)" \
    'q ".Resources.BackupBucketPolicy.Properties.PolicyDocument.Statement | map(select(.Sid == \"HostCreatesOnly\" and .Effect == \"Deny\" and .Action == \"s3:PutObject\" and .Condition.Null[\"s3:if-none-match\"] == \"true\")) | length == 1"'
check_eval "outputs: the KMS key pin for the image is the alias ARN" \
    'q ".Outputs.SealingKeyPin.Value[\"Fn::Sub\"] == \"arn:\${AWS::Partition}:kms:\${AWS::Region}:\${AWS::AccountId}:\${KeyAliasName}\""'
check_eval "load balancer: internal NLB, TCP listener (TLS passes through to the enclave)" \
    'q ".Resources.SignerLoadBalancer.Properties | .Scheme == \"internal\" and .Type == \"network\"" &&
     q ".Resources.SignerListener.Properties.Protocol == \"TCP\""'
check_eval "ingress: LB only from the functions group, host only from the LB, nothing from 0.0.0.0/0" \
    'q "[.Resources[] | select(.Type == \"AWS::EC2::SecurityGroupIngress\")] | length == 2" &&
     q ".Resources.LoadBalancerIngressFromFunctions.Properties.SourceSecurityGroupId.Ref == \"FunctionSecurityGroup\"" &&
     q ".Resources.HostIngressFromLoadBalancer.Properties.SourceSecurityGroupId.Ref == \"LoadBalancerSecurityGroup\"" &&
     q "[.Resources[] | select(.Type == \"AWS::EC2::SecurityGroup\") | .Properties.SecurityGroupIngress // empty] | length == 0"'
check_eval "exactly one host, replaced old-first, CloudFormation waits for its signal" \
    'q ".Resources.SignerGroup | .Properties.MinSize == \"1\" and .Properties.MaxSize == \"1\" and
        .UpdatePolicy.AutoScalingRollingUpdate.MinInstancesInService == 0 and .CreationPolicy.ResourceSignal.Count == 1"'

check_eval "the host starts only after the key policy (new PCR0) and the bucket policy are updated" \
    'q ".Resources.SignerGroup.DependsOn | index(\"SealingKey\") and index(\"BackupBucketPolicy\")"'

# ---------------------------------------------------------------- 3. template.yaml's VPC attachment
f=$work/fn.json
"$render" template.yaml json >"$f"
invpc=$(jq -r '[.Resources | to_entries[] | select(.value.Properties.VpcConfig["Fn::If"][0] == "InSignerVpc") | .key] | sort | join(" ")' "$f")
callers=$(jq -r '[.Resources | to_entries[] | select(.value.Type == "AWS::Serverless::Function") |
    select(.value.Properties.Environment.Variables.AK_SIGNER_CLIENT_SECRET_ARN != null) | .key] | sort | join(" ")' "$f")
check_eval "VpcConfig on every function with a signer identity, and only those (${callers// /,})" '[ -n "$callers" ] && [ "$invpc" = "$callers" ]'
check_eval "HealthFunction and SesRouterFunction stay outside any VPC" \
    'jq -e ".Resources.HealthFunction.Properties.VpcConfig == null and .Resources.SesRouterFunction.Properties.VpcConfig == null" "$f" >/dev/null'
check_eval "without the parameters nothing attaches (defaults empty, condition needs both)" \
    'jq -e ".Parameters.SignerSubnetIds.Default == \"\" and .Parameters.SignerSecurityGroupId.Default == \"\" and (.Conditions.InSignerVpc[\"Fn::And\"] | length == 2)" "$f" >/dev/null'
for o in SignerUrl SignerSecurityGroupId SignerSubnetIds; do
    check_eval "host output $o is a template.yaml parameter" 'jq -e ".Outputs.$o" "$j" >/dev/null && jq -e ".Parameters.$o" "$f" >/dev/null'
done

# ---------------------------------------------------------------- 4. the documented certificates
# docs/deploy.md §9 step 5 (the offline-CA commands), run as written, plus a server certificate of
# the same profile from a test server CA (in nitro mode the enclave makes its own, R14): the
# release signer serves with it, and names each client by its role.
c=$work/certs
mkdir -p "$c"
sed -n '/^# -- 5. certificates/,/^done$/p' docs/deploy.md >"$c/step5.sh"
if [ -x "$sig" ] && grep -q 'leaf client-ca \$r' "$c/step5.sh"; then
    (cd "$c" && bash step5.sh &&
        bash -c "$(sed -n '/^ca() {/,/^}/p;/^leaf() {/,/^}/p' step5.sh); ca server-ca 'test server CA';
                 leaf server-ca signer DNS:signer.agentkeys.internal serverAuth;
                 leaf server-ca wrongside URI:spiffe://agentkeys/role/auth clientAuth") >"$c/log" 2>&1
    cat "$c/signer.crt" "$c/server-ca.crt" >"$c/signer-chain.crt" 2>/dev/null
    "$sig" --tls-cert "$c/signer-chain.crt" --tls-key "$c/signer.key" --client-ca "$c/client-ca.crt" \
        --attest-key "$work/pki/attest.key" --seal-key "$work/pki/seal.key" --state "$c/state" \
        --epoch-source "file:$work/epoch" --port 0 --ready-file "$c/ready" >"$c/slog" 2>&1 &
    spid=$!
    for _ in $(seq 1 100); do [ -s "$c/ready" ] && break; sleep 0.1; done
    cport=$(cat "$c/ready" 2>/dev/null)
    hc() { curl -s --max-time 10 --resolve "signer.agentkeys.internal:$cport:127.0.0.1" --cacert "$c/server-ca.crt" \
        --cert "$c/$1.crt" --key "$c/$1.key" "https://signer.agentkeys.internal:$cport/v1/health" 2>/dev/null; }
    roles_ok=1
    for r in auth oidc cap-mint worker-credentials worker-memory audit discovery admin; do
        [ "$(hc $r | jq -r .role 2>/dev/null)" = "$r" ] || { roles_ok=0; echo "    role $r not recognised"; }
    done
    check_eval "the documented CA commands give certificates the signer accepts, each with its role (8)" '[ -n "$cport" ] && [ $roles_ok = 1 ]'
    check_eval "a client certificate from the server CA is refused" '[ -z "$(hc wrongside)" ]'
    kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
else
    fail "docs/deploy.md step 5 found and release signer present"
fi

check_done signer_host
