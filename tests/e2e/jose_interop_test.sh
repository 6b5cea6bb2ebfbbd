#!/bin/bash
# jose_interop_test.sh — decision D4: "Any standard JOSE library must verify our tokens".
# Our ES256 tokens (shared/src/core/jose.c via build/dev/tools/jwstool) are verified by npm `jose`
# (tests/e2e/jose_verify.mjs), tampered ones are refused by it; and the other direction: tokens
# signed by npm `jose` verify with ours, tampered ones do not. Nothing listens on a port.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tool=${JWSTOOL:-$top/build/dev/tools/jwstool}
mjs=$top/tests/e2e/jose_verify.mjs
. "$top/tests/lib/check.sh"
[ -x "$tool" ] || { echo "FAIL jose_setup (missing $tool; make build/dev/tools/jwstool)"; exit 1; }
command -v node >/dev/null || { echo "FAIL jose_setup (node not found)"; exit 1; }
[ -d "$top/node_modules/jose" ] || { echo "FAIL jose_setup (npm jose not installed)"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ISS=https://broker.agentkeys.test
AUD=sts.amazonaws.com
now=$(date +%s)

# flip one character of field $2 (0 header, 1 payload, 2 signature) of the token in $1
tamper() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import sys
tok, field = sys.argv[1], int(sys.argv[2])
parts = tok.split('.')
p = parts[field]
i = len(p) // 2
parts[field] = p[:i] + ('A' if p[i] != 'A' else 'B') + p[i + 1:]
print('.'.join(parts))
EOF
}

# ---- C signs, node verifies ---------------------------------------------------------------
for typ in JWT ak-cap+jwt; do
  claims="{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"0xabc\",\"iat\":$now,\"nbf\":$now,\"exp\":$((now + 300)),\"jti\":\"00112233445566778899aabbccddeeff\"}"
  if ! "$tool" sign "$typ" "$claims" > "$tmp/out"; then fail "c_sign_$typ" "jwstool sign"; continue; fi
  sed -n 1p "$tmp/out" > "$tmp/tok"
  sed -n 2p "$tmp/out" > "$tmp/jwks"
  r=$(node "$mjs" verify "$tmp/tok" "$tmp/jwks" "$ISS" "$AUD" "$typ")
  [[ $r == ok* ]] && pass "node_jose_verifies_c_token_typ_$typ" || fail "node_jose_verifies_c_token_typ_$typ" "$r"
  # our own verifier agrees
  r=$("$tool" verify "$tmp/jwks" "$tmp/tok" "$ISS" "$AUD" "$typ")
  [ "$r" = ok ] && pass "c_verifies_c_token_typ_$typ" || fail "c_verifies_c_token_typ_$typ" "$r"
  for f in 0 1 2; do
    tamper "$(cat "$tmp/tok")" $f > "$tmp/bad"
    r=$(node "$mjs" verify "$tmp/bad" "$tmp/jwks" "$ISS" "$AUD" "$typ")
    [[ $r == error* ]] && pass "node_jose_rejects_tampered_field${f}_typ_$typ" \
      || fail "node_jose_rejects_tampered_field${f}_typ_$typ" "$r"
  done
  # wrong expectations are refused by node too (the claims really are in the token)
  r=$(node "$mjs" verify "$tmp/tok" "$tmp/jwks" "$ISS" other-audience "$typ")
  [[ $r == *ERR_JWT_CLAIM_VALIDATION_FAILED* ]] && pass "node_jose_rejects_wrong_aud_typ_$typ" \
    || fail "node_jose_rejects_wrong_aud_typ_$typ" "$r"
done

# ---- node signs, C verifies ---------------------------------------------------------------
if node "$mjs" sign "$ISS" "$AUD" JWT > "$tmp/nout"; then
  sed -n 1p "$tmp/nout" > "$tmp/ntok"
  sed -n 2p "$tmp/nout" > "$tmp/njwks"
  r=$("$tool" verify "$tmp/njwks" "$tmp/ntok" "$ISS" "$AUD" JWT)
  [ "$r" = ok ] && pass "c_verifies_node_jose_token" || fail "c_verifies_node_jose_token" "$r"
  for f in 0 1 2; do
    tamper "$(cat "$tmp/ntok")" $f > "$tmp/nbad"
    r=$("$tool" verify "$tmp/njwks" "$tmp/nbad" "$ISS" "$AUD" JWT)
    [ "$r" = "error token_invalid" ] && pass "c_rejects_tampered_node_token_field$f" \
      || fail "c_rejects_tampered_node_token_field$f" "$r"
  done
  r=$("$tool" verify "$tmp/njwks" "$tmp/ntok" "$ISS" "$AUD" ak-cap+jwt)
  [ "$r" = "error token_claims_invalid" ] && pass "c_rejects_node_token_wrong_typ" \
    || fail "c_rejects_node_token_wrong_typ" "$r"
  # RFC 7638: our thumbprint of node's JWK equals node's calculateJwkThumbprint (its kid)
  jwk=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["keys"][0]))' "$tmp/njwks")
  kid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"][0]["kid"])' "$tmp/njwks")
  r=$("$tool" thumbprint "$jwk")
  [ "$r" = "$kid" ] && pass "rfc7638_thumbprint_matches_node_jose" || fail "rfc7638_thumbprint_matches_node_jose" "$r vs $kid"
else
  fail "node_jose_sign" "node sign failed"
fi

exit $((fails > 0))
