#!/bin/sh
# test_abi11_cli.sh — model ABI 1.1 through `twinctl run` with the test
# plugins of tests/plugins/: time events every 0.3 s reported at exactly
# k * 0.3 and the decaying state against its analytic solution (the CSV
# read back by Python, 1e-9); a counter that asks to end the run (rows
# stop at its tick, the run says who, when and why, exit 0); integer,
# boolean and string values round-trip and bad ones are refused with
# their messages; check-model lists each broken ABI 1.1 and 1.2 rule.
# Usage: tests/test_abi11_cli.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
twinctl="$build/controller/twinctl"
plugins="$build/tests/plugins"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-abi11.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "test_abi11_cli: FAIL: $*" >&2
    sed 's/^/    /' "$tmp/err" 2>/dev/null | head -20 >&2
    failures=$((failures + 1))
}

run() { # run SCENARIO_JSON [OPTIONS...]: rows in out.csv, stderr in err
    printf '%s\n' "$1" >"$tmp/sc.json"; shift
    "$twinctl" run --models "$plugins" "$@" "$tmp/sc.json" \
        >"$tmp/out.csv" 2>"$tmp/err"
}

# Time events: every 0.3 s at dt 0.25 (inside ticks, and once on one).
run '{"name": "timer", "time": {"stop": 3, "dt": 0.25},
      "solver": {"rtol": 1e-11, "atol": 1e-13},
      "instances": {"c": {"model": "timer"}}, "outputs": ["c.*"]}' \
    --events "$tmp/events" || fail "timer run exited $?"
"$py" - "$tmp/out.csv" "$tmp/events" <<'PY' || fail "timer rows or events"
import csv, math, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 13, len(rows)
times = [float(m.group(1)) for m in
         re.finditer(r"^event: t=(\S+) c time event$",
                     open(sys.argv[2]).read(), re.M)]
want = [k * 0.3 for k in range(1, 11) if k * 0.3 < 3.0]
assert times == want, (times, want)   # bit for bit: %.17g round-trips
for r in rows:
    t, n = float(r["t"]), float(r["c.events"])
    assert n == sum(1 for e in want if e < t), (t, n)
    x = float(r["c.x"])
    assert abs(x - math.exp(-(t - n * 0.3))) <= 1e-9, (t, x)
PY
grep -q "^twinctl run: time events 9, step events 0$" "$tmp/err" ||
    fail "the summary does not count the 9 time events"

# Two timers, 0.3 s and 0.6 s: at 0.6, 1.2, ... both have an event at the
# same t, each reported once, each at its own exact time.
run '{"name": "timers", "time": {"stop": 3, "dt": 0.25},
      "solver": {"rtol": 1e-11, "atol": 1e-13},
      "instances": {"a": {"model": "timer"},
                    "b": {"model": "timer", "params": {"period": 0.6}}},
      "outputs": ["a.events", "b.events"]}' \
    --events "$tmp/events" || fail "two timers exited $?"
"$py" - "$tmp/out.csv" "$tmp/events" <<'PY' || fail "two timers' events"
import csv, re, sys
text = open(sys.argv[2]).read()
for name, period in (("a", 0.3), ("b", 0.6)):
    times = [float(m.group(1)) for m in
             re.finditer(r"^event: t=(\S+) %s time event$" % name, text, re.M)]
    want = [k * period for k in range(1, 11) if k * period < 3.0]
    assert times == want, (name, times, want)
rows = list(csv.DictReader(open(sys.argv[1])))
last = rows[-1]
assert float(last["a.events"]) == 9 and float(last["b.events"]) == 4, last
PY
grep -q "^twinctl run: time events 13, step events 0$" "$tmp/err" ||
    fail "the summary does not count the 13 time events of two timers"

# Step events: the summary counts as many as the model's own count.
run '{"name": "stepper", "time": {"stop": 5, "dt": 0.5},
      "instances": {"s": {"model": "stepper"}}, "outputs": ["s.resets"]}' \
    || fail "stepper run exited $?"
resets=$(tail -1 "$tmp/out.csv" | cut -d, -f2)
[ "${resets:-0}" -gt 0 ] 2>/dev/null || fail "stepper: no resets ($resets)"
grep -q "^twinctl run: time events 0, step events $resets\$" "$tmp/err" ||
    fail "the summary does not count the $resets step events"

# A counter that asks to end the run at its third tick (t = 1.0).
run '{"name": "count", "time": {"stop": 5, "dt": 0.1},
      "instances": {"s": {"model": "sampler", "params": {"end_at": 3}}},
      "outputs": ["s.n"]}' || fail "sampler run exited $?"
[ "$(wc -l <"$tmp/out.csv")" -eq 12 ] || fail "rows after the end: $(wc -l <"$tmp/out.csv") lines"
tail -1 "$tmp/out.csv" | grep -qx '1,3' || fail "last row: $(tail -1 "$tmp/out.csv")"
grep -q "ended at t = 1 by instance 's', which asked to end the run: count 3 reached" "$tmp/err" \
    || fail "the run does not say who ended it"

# Integer, boolean and string values round-trip.
run '{"name": "typed", "time": {"stop": 2, "dt": 1},
      "instances": {"y": {"model": "typed",
        "params": {"gain": 7, "on": true, "label": "abc"}}},
      "inputs": {"y.count": {"steps": [[0, -3], [1, 4]]},
                 "y.enable": {"value": true}},
      "outputs": ["y.*"]}' || fail "typed run exited $?"
"$py" - "$tmp/out.csv" <<'PY' || fail "typed rows"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [float(r["y.scaled"]) for r in rows] == [-21, 28, 28], rows
assert all(float(r["y.negated"]) == 0 and float(r["y.flag"]) == 1 and
           float(r["y.label.len"]) == 3 for r in rows), rows
PY

# Bad values: refused before the run, each named.
run '{"time": {"stop": 2, "dt": 1},
      "instances": {"y": {"model": "typed",
        "params": {"gain": 1.5, "on": 2, "label": 5}}},
      "inputs": {"y.count": {"value": 200}}}'
[ $? -ne 0 ] || fail "bad typed values ran"
for say in "/instances/y/params/gain: parameter 'gain' is an integer: 1.5 is not a whole number" \
           "/instances/y/params/on: parameter 'on' is boolean: it is 0 or 1 (or false or true), not 2" \
           "/instances/y/params/label: parameter 'label' is a string: give it as a JSON string, not" \
           "/inputs/y.count/value: input 'count' is 200, outside its range [-100, 100]"; do
    grep -qF "$say" "$tmp/err" || fail "no '$say'"
done

# check-model names each broken rule.
"$twinctl" check-model "$plugins/bad_abi11.so" >"$tmp/err" 2>&1
[ $? -eq 1 ] || fail "check-model bad_abi11 did not exit 1"
for say in "only parameters can be strings" "only outputs can be local" \
           "boolean variable 'b' needs min 0, max 1" \
           "integer variable 'i' needs whole start" \
           "flags 0x100 this ABI 1.2 plugin cannot have" \
           "only a discrete model has a sample period" \
           "next_event_time or step_completed is set but event is NULL" \
           "variable name 'k' is used twice"; do
    grep -qF "$say" "$tmp/err" || fail "check-model does not say '$say'"
done
# ... and each broken ABI 1.2 rule (dependencies, absolute tolerances).
"$twinctl" check-model "$plugins/bad_abi12.so" >"$tmp/err" 2>&1
[ $? -eq 1 ] || fail "check-model bad_abi12 did not exit 1"
for say in "/dependencies/0: dependency 0 names variable 1 on 99, but there are 5 variables" \
           "/dependencies/1: dependency 1 is of 'u', which is neither a state (its derivative) nor an output" \
           "/dependencies/2: dependency 2 is on 'y', which is neither a state nor an input" \
           "/dependencies/4: output 'y' is declared to depend on input 'u' but is not TWIN_VAR_FEEDTHROUGH" \
           "/state_abs_tol: state 'x' has absolute tolerance -1e-09" \
           "/state_abs_tol: state 'x2' has absolute tolerance nan"; do
    grep -qF "$say" "$tmp/err" || fail "check-model does not say '$say'"
done
"$twinctl" check-model "$plugins/tiny.so" >"$tmp/err" 2>&1 \
    || fail "check-model tiny"
"$twinctl" check-model "$plugins/timer.so" >"$tmp/err" 2>&1 \
    || fail "check-model timer"
grep -q "next time event at t = 0.3" "$tmp/err" || fail "check-model timer: no next time event"

[ "$failures" -eq 0 ] || exit 1
echo "test_abi11_cli: all passed"
