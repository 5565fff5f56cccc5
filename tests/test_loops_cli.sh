#!/bin/sh
# test_loops_cli.sh — algebraic loops through `twinctl run` with the
# loopy test plugins of tests/plugins/: --explain prints the groups, the
# loops with their tear variables and order, and the evaluation order,
# and exits 0 without running (no rows); a linear loop runs and its rows
# match the closed form (read back by Python, 1e-10); a loop without a
# solution fails the run (exit 1) with solver_failure naming the loop;
# "algebraic_loops": "reject" refuses the scenario (exit 2) with the
# algebraic_loop message; the reference flow network's loop (valves and
# a header, scenarios/flow-network.json) is found and explained, and the
# network of examples/gen_flow_network.py runs for K = 1 to 8 (its
# numbers are checked in tests/unit/sim/test_flow_network.c).
# Usage: tests/test_loops_cli.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
twinctl="$build/controller/twinctl"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-loops.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
test_name=test_loops_cli
. "$(dirname "$0")/checks.sh"

scenario() { # scenario JSON: into sc.json
    printf '%s\n' "$1" >"$tmp/sc.json"
}
run() { # run STATUS NAME [OPTIONS...]: twinctl run on sc.json
    want=$1; name=$2; shift 2
    expect_status "$want" "$name" "$twinctl" run \
        --models "$build/tests/plugins" --models "$build/models" "$@" \
        "$tmp/sc.json"
}

# Two loops (a static pair beside a tank, a pair with a state) and a
# chain: the plan.
pair='"A": {"model": "loopy", "params": {"a": 0.6, "b": 0.3}},
      "B": {"model": "loopy", "params": {"a": -1.5, "b": 0.2}}'
scenario "{\"name\": \"two-loops\", \"time\": {\"stop\": 4, \"dt\": 1},
      \"instances\": {$pair,
        \"P\": {\"model\": \"loopy_state\", \"params\": {\"s\": 1, \"a\": 0.5}},
        \"S\": {\"model\": \"loopy\", \"params\": {\"c\": 0.6}},
        \"T\": {\"model\": \"tank\"}},
      \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},
                        {\"from\": \"B.y\", \"to\": \"A.u\"},
                        {\"from\": \"P.y\", \"to\": \"S.u\"},
                        {\"from\": \"S.y\", \"to\": \"P.u\"},
                        {\"from\": \"B.y\", \"to\": \"T.valve\"}]}"
run 0 "--explain" --explain
cat >"$tmp/want" <<'TXT'
scenario 'two-loops': 5 instances, 5 connections
integration groups: 1 (stacked: one integrator for the groups with states)
  group 1 (2 states, dense linear solver (2 nonzeros of 4, bandwidths 0 upper 0 lower)): A, B, T, P, S
algebraic loops at ticks: 2
  loop of P (loopy_state), S (loopy)
    tear variables: P.u (from S.y)
    order: P, S
  loop of A (loopy), B (loopy)
    tear variables: A.u (from B.y)
    order: A, B
algebraic loops inside a group's right-hand side: 2
  loop of P (loopy_state), S (loopy)
    tear variables: P.u (from S.y)
    order: P, S
  loop of A (loopy), B (loopy)
    tear variables: A.u (from B.y)
    order: A, B
loops are solved with KINSOL (Newton, line search) until every |residual| <= 0.001 * (atol + rtol * |value|), atol = 1e-08, rtol = 1e-06, at most 100 iterations
evaluation order at ticks: [P S] [A B] T
tolerances: rtol 1e-06, atol 1e-08; states with their own atol: 0
TXT
if diff "$tmp/want" "$tmp/out" >"$tmp/diff"; then pass; else
    cat "$tmp/diff" >&2; fail "--explain output"; fi
if grep -q "rows" "$tmp/err"; then fail "--explain ran the scenario"; else pass; fi
# Kept apart, the two groups are listed each with its solver.
sed 's/"time":/"integrators": "separate", "time":/' "$tmp/sc.json" >"$tmp/sep.json"
mv "$tmp/sep.json" "$tmp/sc.json"
run 0 "--explain, separate" --explain
says "separate integrators" "$tmp/out" \
    "^integration groups: 2 (one integrator per group with states)$"
says "group 1 of A, B, T" "$tmp/out" \
    "^  group 1 (1 state, dense linear solver (.*)): A, B, T$"

# No loop: the plan says so.
scenario '{"time": {"stop": 1, "dt": 1}, "instances": {"T": {"model": "tank"}}}'
run 0 "--explain without a loop" --explain
says "no loop at ticks" "$tmp/out" "^algebraic loops at ticks: 0$"
says "the order of one" "$tmp/out" "^evaluation order at ticks: T$"

# The linear pair runs: A.y = (0.6 * 0.2 + 0.3) / 1.9, B.y = -1.5 A.y + 0.2.
scenario "{\"time\": {\"stop\": 3, \"dt\": 1},
      \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},
      \"instances\": {$pair},
      \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},
                        {\"from\": \"B.y\", \"to\": \"A.u\"}],
      \"outputs\": [\"A.y\", \"B.y\"]}"
run 0 "the linear pair"
says "the summary counts the loop's solves" "$tmp/err" \
    "^twinctl run: algebraic loops 1: 5 solves, [0-9]* Newton iterations$"
if "$py" - "$tmp/out" <<'PY'; then pass; else fail "linear pair rows"; fi
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4, rows
ya = (0.6 * 0.2 + 0.3) / 1.9
for r in rows:
    assert abs(float(r["A.y"]) - ya) <= 1e-10, r
    assert abs(float(r["B.y"]) - (-1.5 * ya + 0.2)) <= 1e-10, r
PY

# No solution (z = z^2 + 1): exit 1, solver_failure naming the loop.
noroot='{"algebraic_loops": "%s", "time": {"stop": 2, "dt": 1},
  "instances": {"A": {"model": "loopy", "params": {"q": 1, "b": 1}},
                "B": {"model": "loopy", "params": {"a": 1}}},
  "connections": [{"from": "A.y", "to": "B.u"}, {"from": "B.y", "to": "A.u"}]}'
scenario "$(printf "$noroot" solve)"
run 1 "a loop without a solution"
says "the failure names the loop" "$tmp/err" \
    "failed: the algebraic loop of A (loopy), B (loopy) did not converge at t = 0: residual norm"
says "the failure names the iterations" "$tmp/err" "iterations (KINSOL: KIN_"
says "solver_failure" "$tmp/err" "solver_failure"

# "reject": refused at composition, exit 2, the algebraic_loop message.
scenario "$(printf "$noroot" reject)"
run 2 "reject"
says "reject's message" "$tmp/err" \
    "algebraic loop: A.y → B.u, B.y → A.u; each output here depends on its own input at the same instant"
says "reject's code" "$tmp/err" "algebraic_loop"

# The reference flow network: one loop of the three valves and the
# header, torn at each valve's h_down, inside the tank's group.
src=$(cd "$(dirname "$0")/.." && pwd)
expect_status 0 "flow network --explain" "$twinctl" run --explain \
    "$src/scenarios/flow-network.json"
says "the network's loop" "$tmp/out" \
    "^  loop of valve0 (valve), valve1 (valve), valve2 (valve), header0 (header)$"
says "its tear variables" "$tmp/out" \
    "^    tear variables: valve0.h_down (from header0.h), valve1.h_down (from header0.h), valve2.h_down (from header0.h)$"
says "one group with the tank" "$tmp/out" \
    "^  group 1 (1 state.*): valve0, valve1, valve2, header0, tank0$"
says "solved in the group's right-hand side" "$tmp/out" \
    "^algebraic loops inside a group's right-hand side: 1$"
for k in 1 5 8; do
    "$py" "$src/examples/gen_flow_network.py" "$k" --stop 60 -o "$tmp/sc.json"
    run 0 "flow network of $k branches"
    says "flow network of $k branches: every row" "$tmp/err" \
        "flow-network.* finished: 61 rows"
done
expect_status 2 "the generator refuses 9 branches" \
    "$py" "$src/examples/gen_flow_network.py" 9
says "the generator says why" "$tmp/err" "K must be 1 to 8"

report
