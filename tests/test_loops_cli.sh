#!/bin/sh
# test_loops_cli.sh — algebraic loops through `twinctl run` with the
# loopy test plugins of tests/plugins/: --explain prints the groups, the
# loops with their tear variables and order, and the evaluation order,
# and exits 0 without running (no rows); a linear loop runs and its rows
# match the closed form (read back by Python, 1e-10); a loop without a
# solution fails the run (exit 1) with solver_failure naming the loop;
# "algebraic_loops": "reject" refuses the scenario (exit 2) with the
# algebraic_loop message.
# Usage: tests/test_loops_cli.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
twinctl="$build/controller/twinctl"
plugins="$build/tests/plugins"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-loops.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "test_loops_cli: FAIL: $*" >&2
    sed 's/^/    /' "$tmp/err" 2>/dev/null | head -20 >&2
    sed 's/^/    /' "$tmp/out" 2>/dev/null | head -30 >&2
    failures=$((failures + 1))
}

run() { # run SCENARIO_JSON [OPTIONS...]: stdout in out, stderr in err
    printf '%s\n' "$1" >"$tmp/sc.json"; shift
    "$twinctl" run --models "$plugins" "$@" "$tmp/sc.json" \
        >"$tmp/out" 2>"$tmp/err"
}

# Two loops (a static pair beside a tank, a pair with a state) and a
# chain: the plan.
pair='"A": {"model": "loopy", "params": {"a": 0.6, "b": 0.3}},
      "B": {"model": "loopy", "params": {"a": -1.5, "b": 0.2}}'
run "{\"name\": \"two-loops\", \"time\": {\"stop\": 4, \"dt\": 1},
      \"instances\": {$pair,
        \"P\": {\"model\": \"loopy_state\", \"params\": {\"s\": 1, \"a\": 0.5}},
        \"S\": {\"model\": \"loopy\", \"params\": {\"c\": 0.6}},
        \"T\": {\"model\": \"tank\"}},
      \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},
                        {\"from\": \"B.y\", \"to\": \"A.u\"},
                        {\"from\": \"P.y\", \"to\": \"S.u\"},
                        {\"from\": \"S.y\", \"to\": \"P.u\"},
                        {\"from\": \"B.y\", \"to\": \"T.valve\"}]}" \
    --models "$build/models" --explain || fail "--explain exited $?"
cat >"$tmp/want" <<'TXT'
scenario two-loops: 5 instances, 5 connections
integration groups: 2
  group 1 (1 states): A, B, T
  group 2 (1 states): P, S
algebraic loops at ticks: 2
  loop of P (loopy_state), S (loopy)
    tear variables: P.u (from S.y)
    order: P, S
  loop of A (loopy), B (loopy)
    tear variables: A.u (from B.y)
    order: A, B
algebraic loops inside a group's right-hand side: 2
  loop of A (loopy), B (loopy)
    tear variables: A.u (from B.y)
    order: A, B
  loop of P (loopy_state), S (loopy)
    tear variables: P.u (from S.y)
    order: P, S
loops are solved with KINSOL (Newton, line search) until every |residual| <= 0.001 * (atol + rtol * |value|), atol = 1e-08, rtol = 1e-06, at most 100 iterations
evaluation order at ticks: [P S] [A B] T
TXT
diff "$tmp/want" "$tmp/out" >"$tmp/diff" || { cat "$tmp/diff" >&2; fail "--explain output"; }
grep -q "rows" "$tmp/err" && fail "--explain ran the scenario"

# No loop: the plan says so.
run '{"time": {"stop": 1, "dt": 1}, "instances": {"T": {"model": "tank"}}}' \
    --models "$build/models" --explain || fail "--explain (no loop) exited $?"
grep -qx "algebraic loops at ticks: 0" "$tmp/out" || fail "no loop at ticks"
grep -qx "evaluation order at ticks: T" "$tmp/out" || fail "order of one"

# The linear pair runs: A.y = (0.6 * 0.2 + 0.3) / 1.9, B.y = -1.5 A.y + 0.2.
run "{\"time\": {\"stop\": 3, \"dt\": 1},
      \"solver\": {\"rtol\": 1e-10, \"atol\": 1e-12},
      \"instances\": {$pair},
      \"connections\": [{\"from\": \"A.y\", \"to\": \"B.u\"},
                        {\"from\": \"B.y\", \"to\": \"A.u\"}],
      \"outputs\": [\"A.y\", \"B.y\"]}" || fail "linear pair exited $?"
grep -q "^twinctl run: algebraic loops 1: 5 solves, [0-9]* Newton iterations$" "$tmp/err" ||
    fail "the summary does not count the loop's solves"
"$py" - "$tmp/out" <<'PY' || fail "linear pair rows"
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
run "$(printf "$noroot" solve)"
st=$?
[ $st -eq 1 ] || fail "a loop without a solution exited $st, not 1"
grep -q "failed: the algebraic loop of A (loopy), B (loopy) did not converge at t = 0: residual norm" "$tmp/err" ||
    fail "the failure does not name the loop"
grep -q "iterations (KINSOL: KIN_" "$tmp/err" || fail "no iterations named"
grep -q "solver_failure" "$tmp/err" || fail "no solver_failure"

# "reject": refused at composition, exit 2, the algebraic_loop message.
run "$(printf "$noroot" reject)"
st=$?
[ $st -eq 2 ] || fail "reject exited $st, not 2"
grep -q "algebraic loop: A.y → B.u, B.y → A.u; each output here depends on its own input at the same instant" "$tmp/err" ||
    fail "reject's message"
grep -q "algebraic_loop" "$tmp/err" || fail "no algebraic_loop code"

[ $failures -eq 0 ] || exit 1
echo "test_loops_cli: ok"
