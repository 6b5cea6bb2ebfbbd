#!/bin/bash
# mtls_test.sh — ak_http's TLS and mTLS through curl's BearSSL backend, against `openssl s_server`
# requiring a client certificate (-Verify 1). Throwaway EC P-256 PKI in a temp dir.
# Drives build/dev/tools/httptool (make build/dev/tools/httptool).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tool=${HTTPTOOL:-$top/build/dev/tools/httptool}
PY=/usr/bin/python3
. "$top/tests/lib/check.sh"
[ -x "$tool" ] || { echo "FAIL mtls_setup (missing $tool; make build/dev/tools/httptool)"; exit 1; }

tmp=$(mktemp -d)
srv_pid=
cleanup() { [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"

# ---- PKI: CA, server (SAN localhost), client (SEC1 key) + client2 (PKCS#8 key), rogue CA + client
ossl() { openssl "$@" >/dev/null 2>&1 || { echo "FAIL mtls_setup (openssl $1)"; exit 1; }; }
mkca() { ossl ecparam -name prime256v1 -genkey -noout -out "$1.key"
         ossl req -x509 -new -key "$1.key" -subj "/CN=$1" -days 2 -sha256 -out "$1.pem" \
              -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }
mkleaf() { # name ca keyform ext
  if [ "$3" = pkcs8 ]; then ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"
  else ossl ecparam -name prime256v1 -genkey -noout -out "$1.key"; fi
  ossl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr"
  printf '%s\n' "$4" > "$1.ext"
  ossl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 -sha256 -extfile "$1.ext" -out "$1.pem"
}
mkca ca
mkca rogue
mkleaf server ca sec1 "subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth"
mkleaf client ca sec1 "extendedKeyUsage=clientAuth"
mkleaf client8 ca pkcs8 "extendedKeyUsage=clientAuth"
mkleaf evil rogue sec1 "extendedKeyUsage=clientAuth"
grep -q "BEGIN EC PRIVATE KEY" client.key && grep -q "BEGIN PRIVATE KEY" client8.key || { echo "FAIL mtls_setup (key forms)"; exit 1; }

port=$("$top/scripts/lib/free-ports" 1)
openssl s_server -accept "127.0.0.1:$port" -www -Verify 1 -verify_return_error \
  -cert server.pem -key server.key -CAfile ca.pem -quiet > server.log 2>&1 &
srv_pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05
done
url=https://localhost:$port/

run() { "$tool" --timeout-ms 4000 "$@" 2>/dev/null | grep -E "^(status|error) " | head -1; }

out=$(run --ca ca.pem --cert client.pem --key client.key "$url")
[ "$out" = "status 200" ] && pass "mtls_with_client_cert_sec1_key" || fail "mtls_with_client_cert_sec1_key" "$out"
out=$(run --ca ca.pem --cert client8.pem --key client8.key "$url")
[ "$out" = "status 200" ] && pass "mtls_with_client_cert_pkcs8_key" || fail "mtls_with_client_cert_pkcs8_key" "$out"
# the chain file may carry the issuer after the leaf
cat client.pem ca.pem > chain.pem
out=$(run --ca ca.pem --cert chain.pem --key client.key "$url")
[ "$out" = "status 200" ] && pass "mtls_with_chain_file" || fail "mtls_with_chain_file" "$out"
out=$(run --ca ca.pem "$url")
[ "$out" = "error upstream_error" ] && pass "mtls_without_client_cert_handshake_fails" || fail "mtls_without_client_cert_handshake_fails" "$out"
out=$(run --ca ca.pem --cert evil.pem --key evil.key "$url")
[ "$out" = "error upstream_error" ] && pass "mtls_client_cert_from_other_ca_rejected" || fail "mtls_client_cert_from_other_ca_rejected" "$out"
out=$(run --ca rogue.pem --cert client.pem --key client.key "$url")
[ "$out" = "error upstream_error" ] && pass "server_cert_not_under_pinned_ca_rejected" || fail "server_cert_not_under_pinned_ca_rejected" "$out"
out=$(run --cert client.pem --key client.key "$url")
[ "$out" = "error upstream_error" ] && pass "server_cert_not_in_system_bundle_rejected" || fail "server_cert_not_in_system_bundle_rejected" "$out"
out=$(run --ca ca.pem --cert client.pem --key client.key "https://127.0.0.1:$port/")
[ "${out#error }" != "$out" ] && pass "ip_literal_https_refused" || fail "ip_literal_https_refused" "$out"
out=$(run --ca ca.pem --cert client.pem --key evil.key "$url")
[ "${out#error }" != "$out" ] && pass "mismatched_client_key_fails" || fail "mismatched_client_key_fails" "$out"
out=$(run --ca ca.pem --cert client.pem --key ca.pem "$url")
[ "$out" = "error bad_key" ] && pass "unusable_key_file_rejected_at_setup" || fail "unusable_key_file_rejected_at_setup" "$out"

exit $((fails > 0))
