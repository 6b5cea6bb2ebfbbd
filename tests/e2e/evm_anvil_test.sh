#!/usr/bin/env bash
# evm_anvil_test.sh — cross-checks our C EVM code (shared/src/{core/abi,core/rlp,net/evm,core/keccak}.c through
# build/dev/tools/evmtool) against foundry's cast on a throwaway anvil node:
#   chain id / block number, legacy (EIP-155) and EIP-1559 value transfers signed in C from
#   anvil's first dev key (receipts awaited), balances and nonces vs `cast balance` / `cast nonce`,
#   transaction types vs `cast tx`, eth_call vs `cast call` (identity precompile, a reverting
#   contract, and our compiled contracts when contracts/out has them), ABI encodings vs
#   `cast calldata`, decodes vs `cast abi-decode --json`.
# One PASS/FAIL line per check; exit status 1 if any failed. anvil listens on 127.0.0.1 on a
# random free port and is stopped by the trap.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CAST=$ROOT/node_modules/@foundry-rs/cast-linux-amd64/bin/cast
ANVIL=$ROOT/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
TOOL=$ROOT/build/dev/tools/evmtool
PY=/usr/bin/python3

[ -x "$TOOL" ] || make -C "$ROOT" build/dev/tools/evmtool >/dev/null || { echo "FAIL build-evmtool"; exit 1; }

WORK=$(mktemp -d)
PORT=$("$ROOT/scripts/lib/free-ports" 1)
RPC=http://127.0.0.1:$PORT
"$ANVIL" --host 127.0.0.1 --port "$PORT" --chain-id 31337 >"$WORK/anvil.log" 2>&1 &
ANVIL_PID=$!
cleanup() {
    kill "$ANVIL_PID" 2>/dev/null
    wait "$ANVIL_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
    "$CAST" chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break
    sleep 0.1
done

. "$ROOT/tests/lib/check.sh"
# same NAME GOT EXPECTED
same() {
    if [ "$2" = "$3" ] && [ -n "$2" ]; then pass "$1"; else
        fail "$1"
        echo "    got:      $2" >&2
        echo "    expected: $3" >&2
    fi
}
lower() { tr 'A-F' 'a-f'; }

# anvil's first dev account (public test key, documented by foundry)
export AK_E2E_DEV_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
SENDER=0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266
RECIPIENT=0x00000000000000000000000000000000000a9e17

# ---------------------------------------------------------------- basic reads
same chain-id "$("$TOOL" chain-id --rpc "$RPC")" "$("$CAST" chain-id --rpc-url "$RPC")"
same block-number-initial "$("$TOOL" block-number --rpc "$RPC")" "$("$CAST" block-number --rpc-url "$RPC")"
same nonce-initial "$("$TOOL" nonce --rpc "$RPC" $SENDER)" "$("$CAST" nonce --rpc-url "$RPC" $SENDER)"
same balance-initial "$("$TOOL" balance --rpc "$RPC" $SENDER)" "$("$CAST" balance --rpc-url "$RPC" $SENDER)"

# ---------------------------------------------------------------- transactions signed in C
OUT1=$("$TOOL" send --rpc "$RPC" --key-env AK_E2E_DEV_KEY --to $RECIPIENT --value 1000000000000000000 --legacy 2>&1)
if [ $? -eq 0 ]; then pass send-legacy; else fail send-legacy; echo "    $OUT1" >&2; fi
OUT2=$("$TOOL" send --rpc "$RPC" --key-env AK_E2E_DEV_KEY --to $RECIPIENT --value 500000000000000000 2>&1)
if [ $? -eq 0 ]; then pass send-eip1559; else fail send-eip1559; echo "    $OUT2" >&2; fi
H1=$(echo "$OUT1" | awk '/^tx /{print $2}')
H2=$(echo "$OUT2" | awk '/^tx /{print $2}')

tx_field() { "$CAST" tx --rpc-url "$RPC" "$1" --json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin).get('$2',''))"; }
same tx-legacy-type "$(tx_field "$H1" type)" "0x0"
same tx-legacy-chainid "$(tx_field "$H1" chainId)" "0x7a69"   # EIP-155 replay protection present
same tx-legacy-from "$(tx_field "$H1" from | lower)" "$SENDER"
same tx-eip1559-type "$(tx_field "$H2" type)" "0x2"
same tx-eip1559-from "$(tx_field "$H2" from | lower)" "$SENDER"
same receipt-status "$("$CAST" receipt --rpc-url "$RPC" "$H2" --json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['status'])")" "0x1"

same balance-recipient-cast "$("$CAST" balance --rpc-url "$RPC" $RECIPIENT)" "1500000000000000000"
same balance-recipient-ours "$("$TOOL" balance --rpc "$RPC" $RECIPIENT)" "$("$CAST" balance --rpc-url "$RPC" $RECIPIENT)"
same balance-sender "$("$TOOL" balance --rpc "$RPC" $SENDER)" "$("$CAST" balance --rpc-url "$RPC" $SENDER)"
same nonce-after "$("$TOOL" nonce --rpc "$RPC" $SENDER)" "$("$CAST" nonce --rpc-url "$RPC" $SENDER)"
same nonce-is-2 "$("$TOOL" nonce --rpc "$RPC" $SENDER)" "2"
same block-number-after "$("$TOOL" block-number --rpc "$RPC")" "$("$CAST" block-number --rpc-url "$RPC")"

# a transfer signed by a wrong key for the account has no funds: the node refuses it (JSON-RPC error, exit 1)
export AK_E2E_EMPTY_KEY=0x0000000000000000000000000000000000000000000000000000000000000001
if "$TOOL" send --rpc "$RPC" --key-env AK_E2E_EMPTY_KEY --to $RECIPIENT --value 1 >/dev/null 2>"$WORK/err"; then
    fail send-unfunded-refused
else
    grep -q chain_rpc_error "$WORK/err" && pass send-unfunded-refused || { fail send-unfunded-refused; cat "$WORK/err" >&2; }
fi

# ---------------------------------------------------------------- eth_call
B32=0x1111111111111111111111111111111111111111111111111111111111111111
IDENT=0x0000000000000000000000000000000000000004   # identity precompile: returns its input
same eth-call-identity "$("$TOOL" call --rpc "$RPC" --to $IDENT 'f(bytes32,uint256)' $B32 42)" \
    "$("$CAST" call --rpc-url "$RPC" $IDENT 'f(bytes32,uint256)' $B32 42)"
# a contract that reverts with 4 bytes of data: PUSH4 deadbeef PUSH1 e0 SHL PUSH1 0 MSTORE PUSH1 4 PUSH1 0 REVERT
REVERTER=0x00000000000000000000000000000000000000ee
"$CAST" rpc --rpc-url "$RPC" anvil_setCode $REVERTER 0x63deadbeef60e01b60005260046000fd >/dev/null
if "$TOOL" call --rpc "$RPC" --to $REVERTER 'g()' >/dev/null 2>"$WORK/err"; then fail eth-call-revert; else
    grep -q "reverted, 4 bytes" "$WORK/err" && pass eth-call-revert || { fail eth-call-revert; cat "$WORK/err" >&2; }
fi

# our contracts, when forge has built them (contracts/out): deploy, then read through eth_call + ABI
artifact() { $PY -c "import json; print(json.load(open('$ROOT/contracts/out/$1.sol/$1.json'))['bytecode']['object'])" 2>/dev/null; }
deploy() { # deploy NAME CTOR_ARGS_HEX -> address
    local code
    code=$(artifact "$1") || return 1
    "$CAST" send --rpc-url "$RPC" --private-key "$AK_E2E_DEV_KEY" --create "${code}${2#0x}" --json 2>/dev/null |
        $PY -c "import json,sys; print(json.load(sys.stdin)['contractAddress'])"
}
GOV_ARG=$("$CAST" abi-encode 'c(address)' $SENDER)
if K3=$(deploy K3EpochCounter "$GOV_ARG") && [ -n "$K3" ]; then
    same k3-currentEpoch "$("$TOOL" call --rpc "$RPC" --to "$K3" 'currentEpoch()')" \
        "$("$CAST" call --rpc-url "$RPC" "$K3" 'currentEpoch()')"
    if REG=$(deploy SidecarRegistry "$GOV_ARG") && [ -n "$REG" ]; then
        GOT=$("$TOOL" call --rpc "$RPC" --to "$REG" 'getDevice(bytes32)' $B32)
        same registry-getDevice "$GOT" "$("$CAST" call --rpc-url "$RPC" "$REG" 'getDevice(bytes32)' $B32)"
        same registry-getDevice-11-words "$(( (${#GOT} - 2) / 64 ))" "11"
    fi
else
    echo "(contracts/out has no K3EpochCounter artifact: contract reads not checked)" >&2
fi

# ---------------------------------------------------------------- ABI vs cast
SIG='f(bytes32,uint256,address,bytes,string,bytes32[])'
ARGS=($B32 1000000000000000000000 0x3535353535353535353535353535353535353535 0xdeadbeef "hello, world"
    "[0x0000000000000000000000000000000000000000000000000000000000000001,$B32]")
same calldata-6-types "$("$TOOL" calldata "$SIG" "${ARGS[@]}")" "$("$CAST" calldata "$SIG" "${ARGS[@]}")"
same calldata-empty-dynamic "$("$TOOL" calldata 'g(bytes,string,bytes32[])' 0x "" '[]')" \
    "$("$CAST" calldata 'g(bytes,string,bytes32[])' 0x "" '[]')"
same calldata-getDevice "$("$TOOL" calldata 'getDevice(bytes32)' $B32)" "$("$CAST" calldata 'getDevice(bytes32)' $B32)"
same calldata-isServiceInScope "$("$TOOL" calldata 'isServiceInScope(bytes32,bytes32,bytes32)' $B32 $B32 $B32)" \
    "$("$CAST" calldata 'isServiceInScope(bytes32,bytes32,bytes32)' $B32 $B32 $B32)"
same calldata-small-uints "$("$TOOL" calldata 'h(uint8,uint32,uint64,uint128,bool,bytes4)' 255 4294967295 18446744073709551615 340282366920938463463374607431768211455 false 0xdeadbeef)" \
    "$("$CAST" calldata 'h(uint8,uint32,uint64,uint128,bool,bytes4)' 255 4294967295 18446744073709551615 340282366920938463463374607431768211455 false 0xdeadbeef)"
same calldata-tuple "$("$TOOL" calldata 't((bytes32,bytes,uint256),bool)' "($B32,0xabcd,7)" true)" \
    "$("$CAST" calldata 't((bytes32,bytes,uint256),bool)' "($B32,0xabcd,7)" true)"
same calldata-nested-arrays "$("$TOOL" calldata 'n(uint256[][],string[])' '[[1,2],[3]]' '[one,two,three]')" \
    "$("$CAST" calldata 'n(uint256[][],string[])' '[[1,2],[3]]' '[one,two,three]')"
same selector-setScope "$("$TOOL" selector 'setScope(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32)')" \
    "$("$CAST" sig 'setScope(bytes32,bytes32,bytes32[],bool,uint128,uint128,uint128,uint32)')"

# decodes: compare JSON after normalising (cast prints checksummed addresses and may print
# numbers as JSON numbers or strings)
norm() { $PY -c '
import json, sys
def n(v):
    if isinstance(v, list): return [n(x) for x in v]
    if isinstance(v, bool): return v
    if isinstance(v, int): return str(v)
    if isinstance(v, str):
        s = v.split(" ")[0]
        return s.lower() if s.startswith("0x") else v
    return v
print(json.dumps(n(json.load(sys.stdin)), sort_keys=True))'; }
decode_check() { # NAME TYPES ARGS...
    local name=$1 types=$2
    shift 2
    local enc
    enc=$("$CAST" abi-encode "x($types)" "$@")
    same "$name" "$("$TOOL" abi-decode "x()($types)" "$enc" | norm)" \
        "$("$CAST" abi-decode --json "x()($types)" "$enc" | norm)"
}
decode_check abi-decode-6-types 'bytes32,uint256,address,bytes,string,bytes32[]' "${ARGS[@]}"
decode_check abi-decode-device 'bytes32,bytes32,bytes32,bytes32,uint256,uint256,uint8,uint8,uint64,uint32,bool' \
    $B32 $B32 $B32 $B32 1 115792089237316195423570985008687907853269984665640564039457584007913129639935 2 1 1700000000 7 true
decode_check abi-decode-tuple '(bytes32,bytes,uint256),bool' "($B32,0xabcd,7)" true
decode_check abi-decode-empty 'bytes,string,bytes32[]' 0x "" '[]'

# strict decoding: dirty padding that cast would also refuse is refused by us
ENC=$("$CAST" abi-encode 'x(bool)' true)
if "$TOOL" abi-decode 'x()(bool)' "${ENC%1}2" >/dev/null 2>&1; then fail abi-decode-rejects-bool-2; else pass abi-decode-rejects-bool-2; fi
if "$TOOL" abi-decode 'x()(address)' "0x01${ENC:4}" >/dev/null 2>&1; then fail abi-decode-rejects-dirty-address; else pass abi-decode-rejects-dirty-address; fi

if [ "$fails" -ne 0 ]; then
    echo "evm_anvil_test: $fails check(s) failed" >&2
    exit 1
fi
exit 0
