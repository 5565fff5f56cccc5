#!/bin/sh
# test_steady_cli.sh — `twinctl steady` as a user meets it: --help, exit
# codes (0 found, 1 none, 2 bad usage or rejected), a tank's steady level
# against h = (q_in/(cv·u))² computed here with awk, a held input, no
# steady state reported with the residual, --json, and rejections that
# name every problem.
# Usage: tests/test_steady_cli.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
twinctl="$build/controller/twinctl"
cases="$(cd "$(dirname "$0")" && pwd)/cases/compose"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-steady.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0

expect_status() { # expect_status CODE NAME COMMAND...: output in out, err
    want=$1; name=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ]; then
        passes=$((passes + 1))
    else
        echo "test_steady_cli: FAIL: $name: exit $got, expected $want" >&2
        sed 's/^/    /' "$tmp/err" "$tmp/out" | head -20 >&2
        failures=$((failures + 1))
    fi
}

holds() { # holds NAME COMMAND...: a check on the last output
    name=$1; shift
    if "$@" >/dev/null 2>&1; then
        passes=$((passes + 1))
    else
        echo "test_steady_cli: FAIL: $name" >&2
        sed 's/^/    /' "$tmp/err" "$tmp/out" | head -20 >&2
        failures=$((failures + 1))
    fi
}

# within VALUE WANT RTOL: |VALUE - WANT| <= RTOL·|WANT|
within() {
    awk -v v="$1" -v w="$2" -v r="$3" 'BEGIN {
        d = v - w; if (d < 0) d = -d; a = w < 0 ? -w : w
        exit !(v != "" && d <= r * a) }'
}

# The value printed for NAME in the last output.
value_of() {
    awk -v n="$1" '$1 == n { print $2; exit }' "$tmp/out"
}

expect_status 0 "steady --help" "$twinctl" steady --help
holds "steady --help is the usage" grep -q '^usage: twinctl steady' "$tmp/out"
expect_status 0 "twinctl --help" "$twinctl" --help
holds "twinctl --help lists steady" grep -q '^  steady ' "$tmp/out"
expect_status 2 "steady without a scenario" "$twinctl" steady
expect_status 2 "steady with two scenarios" "$twinctl" steady a b

# tank-overflow: q_in = 0.013, cv = 0.03; the valve held at 0.5.
expect_status 0 "a held valve" "$twinctl" steady -q tank-overflow \
    --input tank0.valve=0.5
h=$(value_of tank0.h)
want=$(awk 'BEGIN { printf "%.17g", (0.013 / (0.03 * 0.5)) ^ 2 }')
holds "tank0.h = (q_in/(cv u))^2 ($h vs $want)" within "$h" "$want" 1e-9
holds "q_out = q_in" within "$(value_of tank0.q_out)" 0.013 1e-9
holds "the valve as held" within "$(value_of tank0.valve)" 0.5 0
holds "the header says found" grep -q '^steady state of tank-overflow at t = 0' "$tmp/out"

# As it stands the valve is shut: the level has no steady state.
expect_status 1 "a shut tank" "$twinctl" steady tank-overflow
holds "the reason, the residual and the state" grep -q \
    'failed: .*d(tank0.h)/dt = 0.0065 m/s at tank0.h = 3.5 m.*\[solver_failure\]' "$tmp/err"
holds "the residuals printed" grep -q '^residuals:' "$tmp/out"
expect_status 1 "a shut tank, --json" "$twinctl" steady tank-overflow --json
holds "--json says failed" grep -q '"status": "failed"' "$tmp/out"
holds "--json has the largest residuals" grep -q '"largest"' "$tmp/out"
expect_status 0 "--json, found" "$twinctl" steady tank-farm-3 --json \
    --method broyden --residual-tol 1e-11 --step-tol 1e-12 --max-iterations 300
holds "--json says ok" grep -q '"status": "ok"' "$tmp/out"
holds "--json names the method" grep -q '"method": "broyden"' "$tmp/out"

# Rejected: exit 2, every problem with its path and code.
expect_status 2 "three problems" "$twinctl" steady "$cases/three-problems/scenario.json"
holds "three problems listed" sh -c "grep -q '3 problems' '$tmp/err' &&
    grep -q '/time/dt: .*\[out_of_range\]' '$tmp/err' &&
    grep -q '/instances/pump0/model: .*\[unknown_model\]' '$tmp/err'"
expect_status 2 "inputs that cannot be held" "$twinctl" steady tank-overflow \
    -i tank0.valve=7 -i tank0.h=1 -i tank0.nope=2
holds "each input named" sh -c "grep -q '3 problems' '$tmp/err' &&
    grep -q 'tank0.valve: .*\[out_of_range\]' '$tmp/err' &&
    grep -q 'tank0.h: .*\[bad_connection\]' '$tmp/err' &&
    grep -q 'tank0.nope: .*\[unknown_variable\]' '$tmp/err'"
expect_status 2 "--input without a number" "$twinctl" steady tank-overflow \
    -i tank0.valve=open

# Typed inputs (model ABI 1.1, tests/plugins/typed.c): a boolean is held at
# true or false, an integer only at a whole number.
printf '%s\n' '{"name": "sty", "time": {"stop": 10, "dt": 1},
  "instances": {"tank0": {"model": "tank"}, "y": {"model": "typed"}},
  "inputs": {"tank0.q_in": {"value": 0.013}}, "outputs": ["tank0.h"]}' \
    >"$tmp/typed.json"
expect_status 0 "a boolean held at true" "$twinctl" steady -q \
    --models "$build/tests/plugins" "$tmp/typed.json" -i tank0.valve=0.5 \
    -i y.enable=true -i y.count=3
holds "the boolean as held" within "$(value_of y.enable)" 1 0
holds "the integer as held" within "$(value_of y.count)" 3 0
expect_status 2 "typed inputs that cannot be held" "$twinctl" steady \
    --models "$build/tests/plugins" "$tmp/typed.json" -i y.enable=2 \
    -i y.count=2.5
holds "each typed input named" sh -c "grep -q '2 problems' '$tmp/err' &&
    grep -q 'y.enable: .*is boolean.*not 2 \\[out_of_range\\]' '$tmp/err' &&
    grep -q 'y.count: .*is an integer: 2.5 is not a whole number \\[out_of_range\\]' '$tmp/err'"
expect_status 2 "an unknown method" "$twinctl" steady tank-overflow \
    --method newton
holds "the method explained" grep -q 'hybrids, hybrid, dnewton or broyden' "$tmp/err"
expect_status 2 "no such scenario" "$twinctl" steady no-such-scenario

echo "test_steady_cli: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
