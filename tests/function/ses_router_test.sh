#!/usr/bin/env bash
# tests/function/ses_router_test.sh — SesRouterFunction's real bootstrap against a real local S3
# (Ceph radosgw via scripts/ceph-up, own data dir, random ports), driven with events/ses-*.json
# and crafted malformed events through the fake Runtime API (tests/function/lib/fake_rapi.py).
# Verification uses boto3 (tests/function/lib/s3util.py), an S3 client independent of ours.
#   BOOTSTRAP=build/release/ses-router/bootstrap tests/function/ses_router_test.sh
# The fault-injection checks need a dev build (AK_FAULT_AFTER_COPIES is compiled out of release
# builds); with a release bootstrap they are skipped and say so. AK_KEEP_WORK=1 keeps the logs.
set -u
cd "$(dirname "$0")/../.."
top=$PWD
BOOTSTRAP=${BOOTSTRAP:-build/dev/functions/ses-router/bootstrap}
PY=/usr/bin/python3
LIB=tests/function/lib
BUCKET=ak-mail-test
A=3f1c9a7e52b04d8e9a61c07f2e5d3b8a4c6e0f1a2b3c4d5e6f708192a3b4c5d6   # events/ses-routed.json
B=7d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e   # alias agent-b@mail.example.com
. tests/lib/check.sh

[ -x "$BOOTSTRAP" ] || { echo "FAIL ses_router: $BOOTSTRAP not built"; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
work=$(mktemp -d /tmp/ak-ses-router-test.XXXXXX)
fake_pid=""; boot_pid=""
cleanup() {
    [ -n "$boot_pid" ] && kill "$boot_pid" 2>/dev/null
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
    AK_CEPH_DIR=$work/ceph scripts/ceph-down >/dev/null 2>&1
    if [ "${AK_KEEP_WORK:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if ! AK_CEPH_DIR=$work/ceph AK_RGW_PORT=auto \
     scripts/ceph-up > "$work/ceph-up.log" 2>&1; then
    cat "$work/ceph-up.log"; echo "FAIL ses_router_ceph_up"; exit 1
fi
# shellcheck disable=SC1091
source "$work/ceph/env"
export AK_MAIL_BUCKET=$BUCKET
s3() { "$PY" $LIB/s3util.py "$@"; }
s3 mb $BUCKET || { echo "FAIL ses_router_make_bucket"; exit 1; }
pass ses_router_ceph_up

# ---- alias tooling (scripts/mail-alias)
if scripts/mail-alias set Agent-B@Mail.Example.COM $B > "$work/alias.out" 2>&1 && grep -q "^agent-b@mail.example.com $B$" "$work/alias.out"; then
    pass mail_alias_set_lowercases
else fail mail_alias_set_lowercases; cat "$work/alias.out"; fi
scripts/mail-alias set temp@mail.example.com $A >/dev/null 2>&1
if scripts/mail-alias ls 2>&1 | grep -q "^agent-b@mail.example.com $B$" && scripts/mail-alias rm temp@mail.example.com >/dev/null 2>&1 \
   && ! scripts/mail-alias ls 2>&1 | grep -q "^temp@"; then pass mail_alias_ls_rm; else fail mail_alias_ls_rm; fi
bad=0
for args in "set a/b@mail.example.com $B" "set a..b@mail.example.com $B" "set x@localhost $B" "set $A@mail.example.com $B" \
            "set ok@mail.example.com ${B^^}" "set ok@mail.example.com 0x$B" "rm nobody-here@mail.example.com" "frob"; do
    # shellcheck disable=SC2086
    scripts/mail-alias $args >/dev/null 2>&1 && { bad=1; echo "  accepted: $args"; }
done
[ $bad = 0 ] && pass mail_alias_rejects_bad_input || fail mail_alias_rejects_bad_input

# ---- helpers
msgids() { # EVENT_FILE... -> "<messageId or nothing><TAB><file>" per file (one Python process)
    "$PY" -c 'import json,sys
for f in sys.argv[1:]:
    try: i = json.load(open(f))["Records"][0]["ses"]["mail"]["messageId"]
    except Exception: i = ""
    print("%s\t%s" % (i, f))' "$@"
}
msgid() { msgids "$1" | cut -f1; }
stage() { # stage EVENT_FILE... : puts inbound/<messageId> with a distinct small raw message
    local f id objs=()
    while IFS=$'\t' read -r id f; do
        printf 'Return-Path: <aws@amazon.com>\r\nFrom: Amazon Web Services <aws@amazon.com>\r\nSubject: test %s\r\n\r\nbody of %s\r\n' "$id" "$id" > "$work/$id.eml"
        objs+=("inbound/$id=$work/$id.eml")
    done < <(msgids "$@")
    s3 put-files $BUCKET "${objs[@]}"
}
snap() { s3 snapshot $BUCKET > "$work/$1.json"; }
# invoke NAME [VAR=value...] -- EVENT...: one bootstrap process answers every event in order.
invoke() {
    local name=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    rm -f "$work/port"
    "$PY" $LIB/fake_rapi.py "$work/port" "$work/$name.posts" --fn SesRouterFunction "$@" &
    fake_pid=$!
    for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
    env "${envs[@]}" AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$work/port")" "$BOOTSTRAP" > "$work/$name.log" 2>&1 &
    boot_pid=$!
    for _ in $(seq 1200); do kill -0 "$fake_pid" 2>/dev/null || break; sleep 0.05; done
    kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; fake_pid=""
    for _ in $(seq 200); do kill -0 "$boot_pid" 2>/dev/null || break; sleep 0.05; done
    kill "$boot_pid" 2>/dev/null; wait "$boot_pid" 2>/dev/null; boot_pid=""
}
# check NAME POSTS SNAP_BEFORE SNAP_AFTER PYTHON_EXPR  (p: posts, r: parsed bodies, s0/s: snapshots)
check() {
    if "$PY" - "$work/$2.posts" "$work/$3.json" "$work/$4.json" "$5" "$A" "$B" <<'PYEOF'
import json, sys
p = [json.loads(l) for l in open(sys.argv[1])] if sys.argv[1] and open(sys.argv[1]).read() else []
r = [json.loads(x['body']) if x['body'] else None for x in p]
s0 = json.load(open(sys.argv[2])); s = json.load(open(sys.argv[3]))
A, B = sys.argv[5], sys.argv[6]
def ok(i): return p[i]['path'].endswith('/fn-test-%d/response' % i) and r[i]['disposition'] == 'CONTINUE'
def err(i, t): return p[i]['path'].endswith('/fn-test-%d/error' % i) and p[i]['type'] == t and r[i]['errorType'] == t
def new(): return sorted(set(s) - set(s0))
def gone(): return sorted(set(s0) - set(s))
try:
    res = eval(sys.argv[4])
except Exception as e:
    print('   check raised', repr(e)); res = False
if not res:
    print('   posts:', json.dumps(p)[:1500]); print('   new:', sorted(set(s) - set(s0)), 'gone:', sorted(set(s0) - set(s)))
sys.exit(0 if res else 1)
PYEOF
    then pass "$1"; else fail "$1"; fi
}

E=events
ID_R=$(msgid $E/ses-routed.json); ID_A=$(msgid $E/ses-aliased.json)
ID_Q=$(msgid $E/ses-quarantined.json); ID_U=$(msgid $E/ses-unknown.json)
K_R=bots/$A/inbound/20261123T101530.123Z-$ID_R.eml
K_A=bots/$B/inbound/20261123T101601.500Z-$ID_A.eml
K_Q=bots/$A/quarantine/20261123T101745.000Z-$ID_Q.eml
K_U=unrouted/$ID_U

# ---- 1. the four samples
stage $E/ses-routed.json $E/ses-aliased.json $E/ses-quarantined.json $E/ses-unknown.json
snap s0
invoke run1 -- $E/ses-routed.json $E/ses-aliased.json $E/ses-quarantined.json $E/ses-unknown.json
snap s1
check ses_router_all_four_answer_continue run1 s0 s1 "len(p) == 4 and all(ok(i) for i in range(4))"
check ses_router_counts run1 s0 s1 "[(x['routed'], x['quarantined'], x['unrouted'], x['copied'], x['already_present']) for x in r] == [(1,0,0,1,0), (1,0,0,1,0), (0,1,0,1,0), (0,0,1,1,0)]"
check ses_router_exact_destinations run1 s0 s1 "new() == sorted(['$K_R', '$K_A', '$K_Q', '$K_U']) and gone() == sorted(['inbound/$ID_R', 'inbound/$ID_A', 'inbound/$ID_Q', 'inbound/$ID_U'])"
check ses_router_body_is_the_staged_message run1 s0 s1 "s['$K_R']['etag'] == s0['inbound/$ID_R']['etag'] and s['$K_A']['etag'] == s0['inbound/$ID_A']['etag'] and s['$K_Q']['etag'] == s0['inbound/$ID_Q']['etag'] and s['$K_U']['etag'] == s0['inbound/$ID_U']['etag']"
check ses_router_routed_metadata run1 s0 s1 "s['$K_R']['meta'] == {'from': 'Amazon Web Services <aws@amazon.com>', 'subject': 'Your build finished', 'recipient': '$A@mail.example.com', 'ses-message-id': '$ID_R', 'received': '20261123T101530.123Z', 'spf': 'PASS', 'dkim': 'PASS', 'dmarc': 'PASS', 'spam': 'PASS', 'virus': 'PASS'} and s['$K_R']['content_type'] == 'message/rfc822'"
check ses_router_alias_metadata_sanitised run1 s0 s1 "s['$K_A']['meta']['recipient'] == 'agent-b@mail.example.com' and s['$K_A']['meta']['subject'] == 'Invoice #42 %E2%80%94 caf%C3%A9'"
check ses_router_quarantine run1 s0 s1 "s['$K_Q']['meta']['spam'] == 'FAIL' and not any(k.startswith('bots/$A/inbound/') and '$ID_Q' in k for k in s)"
check ses_router_unrouted_kept_with_recipient run1 s0 s1 "s['$K_U']['meta']['recipients'] == 'nobody@mail.example.com'"
if grep -q '"msg":"unknown recipient' "$work/run1.log" && grep -q 'nobody@mail.example.com' "$work/run1.log"; then
    pass ses_router_unknown_recipient_logged; else fail ses_router_unknown_recipient_logged; fi

# ---- 2. replay: no duplicates, no error, nothing rewritten
invoke replay -- $E/ses-routed.json $E/ses-aliased.json $E/ses-quarantined.json $E/ses-unknown.json
snap s2
check ses_router_replay_succeeds replay s1 s2 "len(p) == 4 and all(ok(i) for i in range(4))"
check ses_router_replay_copies_nothing replay s1 s2 "[(x['copied'], x['already_present']) for x in r] == [(0,1)]*4 and [(x['routed'], x['quarantined'], x['unrouted']) for x in r] == [(1,0,0), (1,0,0), (0,1,0), (0,0,1)]"
check ses_router_replay_changes_nothing replay s1 s2 "s == s0"

# ---- 3. malformed events: clean invalid_event error, nothing moved
"$PY" - "$E/ses-routed.json" "$work" "$A" <<'PYEOF'
import copy, json, sys
base = json.load(open(sys.argv[1])); work = sys.argv[2]; A = sys.argv[3]
def ev(name, mid, mut, raw=None):
    e = copy.deepcopy(base)
    e['Records'][0]['ses']['mail']['messageId'] = mid
    mut(e)
    with open('%s/bad-%s.json' % (work, name), 'w') as f:
        f.write(raw if raw is not None else json.dumps(e))
R = lambda e: e['Records'][0]['ses']
ev('missing-msgid', 'badmissing1', lambda e: R(e)['mail'].pop('messageId'))
ev('missing-recipients', 'badmissing2', lambda e: R(e)['receipt'].pop('recipients'))
ev('missing-receipt', 'badmissing3', lambda e: R(e).pop('receipt'))
ev('missing-timestamp', 'badmissing4', lambda e: R(e)['receipt'].pop('timestamp'))
ev('recipients-string', 'badtype1', lambda e: R(e)['receipt'].update(recipients=A + '@mail.example.com'))
ev('recipient-number', 'badtype2', lambda e: R(e)['receipt'].update(recipients=[42]))
ev('verdict-string', 'badtype3', lambda e: R(e)['receipt'].update(spamVerdict='FAIL'))
ev('records-object', 'badtype4', lambda e: e.update(Records={}))
ev('from-string', 'badtype5', lambda e: R(e)['mail']['commonHeaders'].update({'from': 'x@y.com'}))
ev('100-recipients', 'badcount1', lambda e: R(e)['receipt'].update(recipients=['u%d@mail.example.com' % i for i in range(100)]))
ev('51-recipients', 'badcount2', lambda e: R(e)['receipt'].update(recipients=['u%d@mail.example.com' % i for i in range(51)]))
ev('no-recipients', 'badcount3', lambda e: R(e)['receipt'].update(recipients=[]))
for i, bad in enumerate(['a/b@mail.example.com', 'a\r\nX-Evil: 1@mail.example.com', 'a..b@mail.example.com',
                         'a\u0000b@mail.example.com', '../../x@mail.example.com', 'a b@mail.example.com',
                         'caf\u00e9@mail.example.com', 'a@mail..example.com', 'a@localhost', 'a@-x.example.com',
                         '"a"@mail.example.com', 'a@[127.0.0.1]', '@mail.example.com', 'a@b@mail.example.com',
                         'x' * 65 + '@mail.example.com']):
    ev('odd-recipient-%d' % i, 'badodd%d' % i,
       lambda e, bad=bad: R(e)['receipt'].update(recipients=[A + '@mail.example.com', bad]))
ev('msgid-slash', 'x', lambda e: R(e)['mail'].update(messageId='../bots/x'))
ev('bad-timestamp', 'badts1', lambda e: R(e)['receipt'].update(timestamp='2026-11-23 10:15:30Z'))
ev('wrong-source', 'badsrc1', lambda e: e['Records'][0].update(eventSource='aws:s3'))
ev('action-not-lambda', 'badact1', lambda e: R(e)['receipt']['action'].update(type='S3'))
ev('action-missing', 'badact2', lambda e: R(e)['receipt'].pop('action'))
# second record malformed: the first (valid, staged) must not be moved either
def two(e):
    r2 = copy.deepcopy(e['Records'][0]); r2['ses']['mail']['messageId'] = 'badsecond2'
    r2['ses']['receipt']['recipients'] = ['a/b@mail.example.com']; e['Records'].append(r2)
ev('second-record-bad', 'badsecond1', two)
ev('not-json', 'badjson1', lambda e: None, raw='{"Records": [')
PYEOF
bad_events=$(ls "$work"/bad-*.json | sort)
nbad=$(echo "$bad_events" | wc -l)
# shellcheck disable=SC2046,SC2086 # file names without spaces (mktemp and fixed names)
stage $(msgids $bad_events | awk -F'\t' '$1 ~ /^bad/ {print $2}')
snap s3a
# shellcheck disable=SC2086
invoke malformed -- $bad_events
snap s3b
check ses_router_malformed_all_invalid_event malformed s3a s3b "len(p) == $nbad and all(err(i, 'AgentKeys.invalid_event') for i in range($nbad))"
check ses_router_malformed_moves_nothing malformed s3a s3b "s == s0 and sum(1 for k in s if k.startswith('inbound/bad')) >= 20"
if grep -q '"why":"too many recipients"' "$work/malformed.log" && grep -q '"why":"a recipient is malformed"' "$work/malformed.log"; then
    pass ses_router_malformed_reason_logged; else fail ses_router_malformed_reason_logged; fi
if grep -q 'X-Evil' "$work/malformed.log"; then fail ses_router_malformed_not_echoed; else pass ses_router_malformed_not_echoed; fi

# ---- 4. failure half-way (dev builds: AK_FAULT_AFTER_COPIES), then the retry completes
"$PY" - "$E/ses-routed.json" "$work/multi.json" "$A" <<'PYEOF'
import copy, json, sys
e = json.load(open(sys.argv[1])); A = sys.argv[3]
r = e['Records'][0]['ses']
r['mail']['messageId'] = 'm5n6b7v8c9x0z1multi0001'
# two spellings of A (one destination), an alias, an unknown: 3 destinations
r['receipt']['recipients'] = [A + '@mail.example.com', A.upper() + '@MAIL.example.com', 'agent-b@mail.example.com', 'ghost@mail.example.com']
json.dump(e, open(sys.argv[2], 'w'))
PYEOF
ID_M=m5n6b7v8c9x0z1multi0001
M1=bots/$A/inbound/20261123T101530.123Z-$ID_M.eml
M2=bots/$B/inbound/20261123T101530.123Z-$ID_M.eml
M3=unrouted/$ID_M
stage "$work/multi.json"
snap s4a
if strings "$BOOTSTRAP" | grep -q AK_FAULT_AFTER_COPIES; then
    invoke fault AK_FAULT_AFTER_COPIES=1 -- "$work/multi.json"
    snap s4b
    check ses_router_fault_returns_error fault s4a s4b "len(p) == 1 and err(0, 'AgentKeys.s3_error')"
    check ses_router_fault_keeps_staging fault s4a s4b "'inbound/$ID_M' in s and new() == ['$M1']"
    invoke retry -- "$work/multi.json"
    snap s4c
    check ses_router_retry_completes retry s4b s4c "ok(0) and (r[0]['copied'], r[0]['already_present'], r[0]['routed'], r[0]['unrouted']) == (2, 1, 2, 1) and new() == sorted(['$M2', '$M3']) and gone() == ['inbound/$ID_M']"
    check ses_router_dedup_and_unrouted_meta retry s4b s4c "s['$M1']['meta']['recipient'] == '$A@mail.example.com' and s['$M3']['meta']['recipients'] == 'ghost@mail.example.com'"
else
    echo "SKIP ses_router_fault_*: $BOOTSTRAP is a release build (fault injection compiled out)"
    invoke retry -- "$work/multi.json"
    snap s4c
    check ses_router_multi_recipient retry s4a s4c "ok(0) and (r[0]['copied'], r[0]['routed'], r[0]['unrouted']) == (3, 2, 1) and new() == sorted(['$M1', '$M2', '$M3'])"
fi

# ---- 5. staging object missing and destinations absent: error, nothing invented
"$PY" - "$E/ses-routed.json" "$work/nostage.json" <<'PYEOF'
import json, sys
e = json.load(open(sys.argv[1])); e['Records'][0]['ses']['mail']['messageId'] = 'neverstaged0001'
json.dump(e, open(sys.argv[2], 'w'))
PYEOF
snap s5a
invoke nostage -- "$work/nostage.json"
snap s5b
check ses_router_missing_staging_is_error nostage s5a s5b "len(p) == 1 and err(0, 'AgentKeys.not_found') and s == s0"

# ---- 6. misconfiguration is an init error
invoke badcfg AK_MAIL_STAGING_PREFIX=bots/ -- $E/ses-routed.json
check ses_router_bad_prefix_init_error badcfg s5b s5b "len(p) == 1 and p[0]['path'].endswith('/init/error') and p[0]['type'] == 'AgentKeys.config_error'"

exit $((fails > 0))
