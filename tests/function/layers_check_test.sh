#!/usr/bin/env bash
# tests/function/layers_check_test.sh — scripts/check-layers (part of `make lint`) passes on the
# tree and fails, naming the file and the include, on each kind of wrong arrow: a lower layer
# including a higher one, libak including the runtime, a source outside a layer folder.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/check.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fresh() { rm -rf "$work/t"; mkdir -p "$work/t"; cp -r shared "$work/t/"; }
# expect_fail NAME GREP_PATTERN: the check on $work/t exits 1 and its output matches the pattern.
expect_fail() {
    local out rc
    out=$(scripts/check-layers --root "$work/t" 2>&1); rc=$?
    if [ $rc -eq 1 ] && grep -qE "$2" <<<"$out"; then pass "$1"; else
        fail "$1 (exit $rc, wanted 1 and /$2/)"; sed 's/^/    /' <<<"$out"; fi
}

fresh
if out=$(scripts/check-layers --root "$work/t" 2>&1); then pass "tree as committed passes"; else
    fail "tree as committed passes"; sed 's/^/    /' <<<"$out"; fi

fresh; printf '#include "ak/http.h"\n' >> "$work/t/shared/src/core/cap.c"
expect_fail "core including a network client is refused" 'core/cap.c:[0-9]+: includes ak/http.h \(net\) from the core layer'

fresh; printf '#include "ak/crypto.h"\n' >> "$work/t/shared/src/base/bytes.c"
expect_fail "base including core is refused" 'base/bytes.c:[0-9]+: includes ak/crypto.h \(core\) from the base layer'

fresh; printf '#include "ak/svc.h"\n' >> "$work/t/shared/include/ak/s3.h"
expect_fail "a net header including the service layer is refused" 'ak/s3.h:[0-9]+: includes ak/svc.h \(service\) from the net layer'

fresh; printf '#include "akrt/runtime.h"\n' >> "$work/t/shared/src/service/worker.c"
expect_fail "libak including the runtime is refused" 'service/worker.c:[0-9]+: includes akrt/runtime.h'

fresh; printf '#include <aks/keystore.h>\n' >> "$work/t/shared/src/net/signer.c"
expect_fail "libak including the enclave is refused" 'net/signer.c:[0-9]+: includes aks/keystore.h'

fresh; cp "$work/t/shared/src/base/ct.c" "$work/t/shared/src/stray.c"
expect_fail "a source outside a layer folder is refused" 'stray.c: libak sources live in a layer folder'

fresh; printf '#include "ak/nosuch.h"\n' >> "$work/t/shared/src/core/abi.c"
expect_fail "an include of no module is refused" 'includes ak/nosuch.h, which is no libak module'

fresh; printf '#include "ak/ct.h"\n#include "ak/crypto.h"\n' >> "$work/t/shared/src/net/http.c"
if scripts/check-layers --root "$work/t" >/dev/null 2>&1; then pass "including lower layers is allowed"; else
    fail "including lower layers is allowed"; fi

check_done layers_check
