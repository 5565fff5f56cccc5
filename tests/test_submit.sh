#!/bin/sh
# test_submit.sh — twinctl submit and twinctl status against a real broker
# and a real `twinctl serve`: a run over MQTT writes the same CSV as
# `twinctl run`, a rejected scenario lists its problems, a stored scenario
# runs by name, a describe is answered, the controller is listed online,
# and the daemon stops cleanly on SIGTERM.  mosquitto is started here on a
# free loopback port; both processes are stopped by their PIDs at exit.
# Every wait is bounded.
# Usage: tests/test_submit.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
twinctl="$build/controller/twinctl"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-submit.XXXXXX")
broker_pid='' serve_pid=''
failures=0
passes=0

cleanup() {
    [ -n "$serve_pid" ] && kill -KILL "$serve_pid" 2>/dev/null
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
    [ -n "$broker_pid" ] && wait "$broker_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { passes=$((passes + 1)); }
fail() { # fail NAME [FILE...]: say so, with the files' first lines
    name=$1; shift
    echo "test_submit: FAIL: $name" >&2
    for f in "$@"; do [ -s "$f" ] && sed 's/^/    /' "$f" | head -20 >&2; done
    failures=$((failures + 1))
}

expect_status() { # expect_status CODE NAME COMMAND...: out, err kept
    want=$1; name=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ]; then
        pass
    else
        fail "$name: exit $got, expected $want" "$tmp/err" "$tmp/out"
    fi
}

holds() { # holds NAME COMMAND...: a check on earlier output
    name=$1; shift
    if "$@" >"$tmp/holds" 2>&1; then
        pass
    else
        fail "$name" "$tmp/holds" "$tmp/err"
    fi
}

# Two CSVs hold the same numbers (text first; else parsed as floats).
same_csv() {
    cmp -s "$1" "$2" || python3 - "$1" "$2" <<'EOF'
import csv, math, sys
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
if len(a) != len(b) or a[0] != b[0]:
    sys.exit("%d vs %d lines, or other headers" % (len(a), len(b)))
for i, (x, y) in enumerate(zip(a[1:], b[1:]), 2):
    fx, fy = [float(v) for v in x], [float(v) for v in y]
    if len(fx) != len(fy) or any(p != q and not (math.isnan(p) and
                                                math.isnan(q))
                                 for p, q in zip(fx, fy)):
        sys.exit("line %d differs:\n%s\n%s" % (i, x, y))
EOF
}

# ---- a broker of our own ------------------------------------------------
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
if ! command -v mosquitto >/dev/null; then
    echo "test_submit: mosquitto not found (Debian: mosquitto); skipped" >&2
    exit 77
fi
port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
max_queued_messages 0
max_inflight_messages 0
persistence false
EOF
mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
broker_pid=$!
url="tcp://127.0.0.1:$port"
export TWIN_BROKER="$url"
prefix="test$$"

# ---- the controller -------------------------------------------------------
"$twinctl" serve --id ctl-test --spool "$tmp/spool" --broker "$url" --prefix "$prefix" >"$tmp/serve.log" 2>&1 &
serve_pid=$!

# Online within 10 s (status itself waits for the connection).
online=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
    if "$twinctl" status --prefix "$prefix" --wait 0.5 >"$tmp/out" \
           2>"$tmp/err"; then
        online=1
        break
    fi
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.5
done
if [ $online -eq 1 ]; then pass; else
    fail "controller online within 10 s" "$tmp/serve.log" "$tmp/mosquitto.log" "$tmp/err"
    exit 1
fi
holds "status lists ctl-test online" grep -Eq '^ctl-test +online +0/2 ' "$tmp/out"
expect_status 0 "status --json" "$twinctl" status --prefix "$prefix" --json
holds "status --json is the retained message" python3 -c "
import json, sys
m = [json.loads(l) for l in open('$tmp/out')]
assert len(m) == 1 and m[0]['contract'] == 'twin.status/1', m
assert m[0]['controller'] == 'ctl-test' and m[0]['state'] == 'online', m"
expect_status 1 "status under another prefix" "$twinctl" status --prefix "nobody$$" --wait 0.3
holds "status says what to check" grep -q 'check the broker URL.*prefix' "$tmp/err"

# ---- a run over MQTT writes what twinctl run writes -----------------------
expect_status 0 "run tank-farm-3 locally" "$twinctl" run -q "$src/scenarios/tank-farm-3.json" -o "$tmp/ref.csv"
expect_status 0 "submit tank-farm-3" "$twinctl" submit --prefix "$prefix" --timeout 120 \
    "$src/scenarios/tank-farm-3.json" -o "$tmp/sub.csv"
holds "submit: accepted and finished on stderr" sh -c "
    grep -q '\"status\":\"accepted\"' '$tmp/err' &&
    grep -q '\"status\":\"finished\"' '$tmp/err' &&
    grep -q 'finished on ctl-test: 86401 rows' '$tmp/err'"
holds "submit tank-farm-3 CSV = twinctl run CSV" same_csv "$tmp/ref.csv" "$tmp/sub.csv"

# To the named controller, a stored scenario by name, CSV on stdout.
expect_status 0 "run tank-overflow locally" "$twinctl" run -q tank-overflow -o "$tmp/ref2.csv"
expect_status 0 "submit --name tank-overflow" "$twinctl" submit --prefix "$prefix" \
    --controller ctl-test --timeout 60 --name tank-overflow -o -
holds "submit --name CSV = twinctl run CSV" same_csv "$tmp/ref2.csv" "$tmp/out"
holds "submit prints the state event" grep -q '^event: t=76.92307692307.* tank0 indicator 0 rising' "$tmp/err"

# A scenario's functions: in the finished response, and said after it.
expect_status 0 "submit a scenario with functions" "$twinctl" submit --prefix "$prefix" \
    --controller ctl-test --timeout 60 "$src/tests/cases/compose/functions-valid/scenario.json" -o "$tmp/fv.csv"
holds "submit prints the functions" sh -c "
    grep -q '\"functions\":{\"mean level\":' '$tmp/err' &&
    grep -q '^twinctl submit:   mean level = ' '$tmp/err' &&
    grep -q '^twinctl submit:   up = null: pump0.w never crosses 0.5 upward' '$tmp/err'"

# A request document with its own id and run id, from stdin.
printf '{"contract": "twin.request/1", "id": "req-%s", "type": "run",
  "run": "run-%s", "scenario": "tank-overflow"}\n' $$ $$ >"$tmp/request.json"
expect_status 0 "submit a request document from stdin" sh -c \
    "'$twinctl' submit --prefix '$prefix' --timeout 60 -q -o '$tmp/doc.csv' - <'$tmp/request.json'"
holds "request document CSV = twinctl run CSV" same_csv "$tmp/ref2.csv" "$tmp/doc.csv"
# The same id again is answered again, not run again: no rows this time.
expect_status 1 "the same request id again" sh -c \
    "'$twinctl' submit --prefix '$prefix' --timeout 60 - <'$tmp/request.json'"
holds "a repeated id is explained" grep -q 'answered request req-[0-9]* before' "$tmp/err"

# ---- a rejected scenario: exit 1, every problem listed --------------------
expect_status 1 "submit a scenario with three problems" "$twinctl" submit \
    --prefix "$prefix" --timeout 60 "$src/tests/cases/compose/three-problems/scenario.json"
holds "the three problems are listed" sh -c "
    grep -q 'rejected by ctl-test, 3 problems' '$tmp/err' &&
    grep -q '/scenario/time/dt: .*\[out_of_range\]' '$tmp/err' &&
    grep -q '/scenario/instances/pump0/model: .*\[unknown_model\]' '$tmp/err' &&
    grep -q '/scenario/inputs/tank0.valve/steps/1: .*\[out_of_range\]' '$tmp/err'"

# ---- other requests: the response on stdout -------------------------------
printf '{"contract": "twin.request/1", "type": "describe"}\n' >"$tmp/describe.json"
expect_status 0 "submit describe" "$twinctl" submit --prefix "$prefix" \
    --controller ctl-test --timeout 30 "$tmp/describe.json"
holds "describe answered ok, with models" python3 -c "
import json
r = json.load(open('$tmp/out'))
assert r['status'] == 'ok' and 'tank' in str(r['models']), r"

# ---- usage and unreachable ends -------------------------------------------
expect_status 0 "submit --help" "$twinctl" submit --help
holds "submit --help on stdout" grep -q '^usage: twinctl submit' "$tmp/out"
expect_status 0 "status --help" "$twinctl" status --help
expect_status 2 "submit without FILE" "$twinctl" submit
expect_status 2 "submit an unreadable FILE" "$twinctl" submit "$tmp/no-such.json"
expect_status 2 "submit FILE and --name" "$twinctl" submit --name a "$tmp/describe.json"
expect_status 1 "no controller there: timeout" "$twinctl" submit --prefix "$prefix" \
    --controller nobody --timeout 1 --name tank-overflow
holds "the timeout says what to check" grep -q 'no answer to request .* within 1 s' "$tmp/err"

# ---- the daemon stops cleanly ---------------------------------------------
kill -TERM "$serve_pid"
stopped=0
for _ in $(seq 1 100); do
    kill -0 "$serve_pid" 2>/dev/null || { stopped=1; break; }
    sleep 0.1
done
if [ $stopped -eq 1 ]; then
    wait "$serve_pid"
    rc=$?
    serve_pid=''
    if [ $rc -eq 0 ]; then pass; else fail "serve exits 0 on SIGTERM (got $rc)" "$tmp/serve.log"; fi
else
    fail "serve stops within 10 s of SIGTERM" "$tmp/serve.log"
fi
expect_status 1 "status after the stop: none online" "$twinctl" status --prefix "$prefix" --wait 0.5
holds "the stopped controller is listed offline" grep -Eq '^ctl-test +offline' "$tmp/out"

echo "test_submit: $passes passed, $failures failed"
[ $failures -eq 0 ]
