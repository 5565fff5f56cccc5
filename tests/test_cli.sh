#!/bin/sh
# test_cli.sh — the twinctl command as a user meets it: --help everywhere,
# exit codes, a reference scenario to CSV, rejected scenarios listing every
# problem, the model listing, check-model on a good and a refused plugin,
# the state event reported by tank-overflow, a scenario's functions, and
# the function library (twinctl functions, twinctl call).
# Usage: tests/test_cli.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
twinctl="$build/controller/twinctl"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0

check() { # check NAME COMMAND...: must succeed; output kept in out, err
    name=$1; shift
    if "$@" >"$tmp/out" 2>"$tmp/err"; then
        passes=$((passes + 1))
    else
        echo "test_cli: FAIL: $name" >&2
        sed 's/^/    /' "$tmp/err" "$tmp/out" | head -20 >&2
        failures=$((failures + 1))
    fi
}

holds() { # holds NAME COMMAND...: a check on earlier output; keeps out, err
    name=$1; shift
    if "$@" >"$tmp/holds.out" 2>&1; then
        passes=$((passes + 1))
    else
        echo "test_cli: FAIL: $name" >&2
        sed 's/^/    /' "$tmp/err" "$tmp/out" | head -20 >&2
        failures=$((failures + 1))
    fi
}

expect_status() { # expect_status CODE NAME COMMAND...
    want=$1; name=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ]; then
        passes=$((passes + 1))
    else
        echo "test_cli: FAIL: $name: exit $got, expected $want" >&2
        sed 's/^/    /' "$tmp/err" | head -20 >&2
        failures=$((failures + 1))
    fi
}

# --help on every command, on stdout, exit 0.
for cmd in "" run models check-model functions call batch; do
    check "twinctl $cmd --help" sh -c "$twinctl $cmd --help | grep -q '^usage: twinctl'"
done
expect_status 2 "no command" "$twinctl"
expect_status 2 "unknown command" "$twinctl" frobnicate
expect_status 2 "run without a scenario" "$twinctl" run
expect_status 2 "batch without a file" "$twinctl" batch
check "--version names the ABI" sh -c "$twinctl --version | grep -q 'model ABI 1.2'"

# Functions: the listing, a call answered (0), refused (2), failed (1).
fns="$build/tests/functions"
check "functions lists procfuncs" sh -c "$twinctl functions lmtd | grep -q '^  double lmtd(double dt_a, double dt_b)'"
check "call lmtd" sh -c "$twinctl call lmtd '{\"dt_a\": 20, \"dt_b\": 20}' | grep -q '\"value\":20'"
expect_status 2 "call with a wrong argument" "$twinctl" call lmtd '{"dt_a": "x", "dt_b": 1}'
holds "the wrong argument named" grep -q '/args/dt_a: .*\[wrong_type\]' "$tmp/err"
expect_status 2 "call of no function" "$twinctl" call no_such_function
expect_status 2 "call with ARGS not JSON" "$twinctl" call lmtd '{dt_a'
expect_status 1 "a crashing function" "$twinctl" call --function-dir "$fns" crash '{"x": 1}'
holds "the crash named" grep -q "function 'crash' .*signal 11.*\[model_crashed\]" "$tmp/err"
expect_status 1 "a looping function" "$twinctl" call --function-dir "$fns" --timeout 0.2 loop '{"x": 1}'
holds "the timeout named" grep -q "within 0.2 s (--timeout).*\[timeout\]" "$tmp/err"

# A reference scenario by name, to a file: header + one row per tick.
check "run tank-farm-3" "$twinctl" run -q tank-farm-3 -o "$tmp/tf3.csv"
holds "tank-farm-3 has 86401 rows" sh -c "[ \$(wc -l < '$tmp/tf3.csv') -eq 86402 ]"
holds "tank-farm-3 header" sh -c "head -1 '$tmp/tf3.csv' | grep -q '^t,tank0.h,tank0.q_out,pump0.w,pump0.power,pi0.out,tank1.h,'"
holds "tank-farm-3 last row at 86400" sh -c "tail -1 '$tmp/tf3.csv' | grep -q '^86400,'"

# The same to stdout, identical bytes.
check "run to stdout" sh -c "$twinctl run -q tank-farm-3 > '$tmp/tf3b.csv' && cmp -s '$tmp/tf3.csv' '$tmp/tf3b.csv'"

# A rejected scenario: exit 2 and every problem with path and code.
cases="$(dirname "$0")/cases/compose"
expect_status 2 "three problems rejected" "$twinctl" run "$cases/three-problems/scenario.json"
holds "three problems listed" sh -c "grep -q '3 problems' '$tmp/err' &&
    grep -q '/time/dt: .*\[out_of_range\]' '$tmp/err' &&
    grep -q '/instances/pump0/model: .*\[unknown_model\]' '$tmp/err' &&
    grep -q '/inputs/tank0.valve/steps/1: .*\[out_of_range\]' '$tmp/err'"
expect_status 2 "bad JSON rejected" "$twinctl" run "$cases/bad-json/scenario.json"
holds "bad JSON says where" grep -q 'line 3.*\[bad_json\]' "$tmp/err"
expect_status 2 "missing scenario" "$twinctl" run no-such-scenario
holds "missing scenario explained" grep -q "no scenario of that name" "$tmp/err"

# The state event of tank-overflow, reported on stderr.
check "tank-overflow runs" "$twinctl" run tank-overflow -o "$tmp/ov.csv"
holds "overflow event reported" grep -q '^event: t=76.92307692307.* tank0 indicator 0 rising' "$tmp/err"
holds "summary line" grep -q 'state events 1' "$tmp/err"

# A scenario's functions: a summary after the run's, JSON with --functions;
# the composer's problems with their paths.
check "functions run" "$twinctl" run "$cases/functions-valid/scenario.json" -o "$tmp/fv.csv" --functions "$tmp/fv.json"
holds "functions summary" sh -c "grep -q '^twinctl run: functions:' '$tmp/err' &&
    grep -q '^  mean level = .* m (mean of tank0.h)$' '$tmp/err' &&
    grep -q '^  volume = .* m3 (integral of tank0.q_in)$' '$tmp/err'"
holds "functions JSON" grep -q '"mean level": ' "$tmp/fv.json"
expect_status 2 "function problems rejected" "$twinctl" run "$cases/functions-errors/scenario.json"
holds "function problems listed" sh -c "grep -q '18 problems' '$tmp/err' &&
    grep -q '/functions/0/function: .*\[unknown_function\]' '$tmp/err'"

# The model library.
check "models lists the six" sh -c "$twinctl models | grep -c '^\(tank\|pump\|pi\|bioreactor\|valve\|header\) ' | grep -q '^6$'"
check "models NAME" sh -c "$twinctl models pump | grep -q 'tau'"
expect_status 1 "models unknown NAME" "$twinctl" models nosuch

# check-model: a reference model passes, a refused one says why.
check "check-model tank" "$twinctl" check-model "$build/models/tank.so"
holds "check-model exercised events" grep -q 'event (indicator 0 falling)' "$tmp/out"
expect_status 1 "check-model wrong ABI" "$twinctl" check-model "$build/tests/plugins/abi_major2.so"
holds "check-model names the ABI" grep -q 'built for model ABI 2.0, but this host speaks 1.2' "$tmp/out"
expect_status 1 "check-model bad descriptor" "$twinctl" check-model "$build/tests/plugins/bad_descriptor.so"
holds "check-model lists every problem" sh -c "[ \$(grep -c '^FAIL descriptor' '$tmp/out') -ge 3 ]"

# Real-time pacing at speed 100: 2 s of simulated time in about 20 ms.
check "realtime run" "$twinctl" run --realtime=100 tank-overflow -o "$tmp/rt.csv"
holds "realtime summary" grep -q 'real time: .* late ticks' "$tmp/err"

echo "test_cli: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
