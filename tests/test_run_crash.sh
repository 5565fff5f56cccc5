#!/bin/sh
# test_run_crash.sh — `twinctl run` when a model takes the simulation
# down (issue 10, item 7): the rows made before the crash are in the CSV
# (file or stdout), stderr names the model, its instance, the signal and
# the t it was called with, and the exit status is 3 (run --help).  Also:
# what a model prints to stdout never mixes with the CSV on stdout, and a
# process a model forks outlives neither `twinctl run` nor the cases of a
# local `twinctl batch`.
# Usage: tests/test_run_crash.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
twinctl="$build/controller/twinctl"
plugins="$build/tests/plugins"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-run-crash.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0

fail() {
    echo "test_run_crash: FAIL: $*" >&2
    sed 's/^/    /' "$tmp/err" | head -20 >&2
    failures=$((failures + 1))
}
pass() { passes=$((passes + 1)); }

scenario() { # scenario FILE MODEL PARAMS_JSON
    printf '{"name": "crash", "time": {"stop": 10, "dt": 1},
 "instances": {"bad0": {"model": "%s", "params": %s}}}\n' "$2" "$3" >"$1"
}

# The t column of a CSV, one value a line.
t_column() { tail -n +2 "$1" | cut -d, -f1 | tr '\n' ' '; }

for mode in 4 5; do
    case $mode in
    4) what="segmentation fault"; sig="SIGSEGV" ;;
    5) what="abort()"; sig="SIGABRT" ;;
    esac
    scenario "$tmp/s.json" failing "{\"mode\": $mode, \"t_fail\": 2.5}"
    "$twinctl" run --models "$plugins" "$tmp/s.json" -o "$tmp/out.csv" \
        >"$tmp/stdout" 2>"$tmp/err"
    status=$?
    [ "$status" -eq 3 ] && pass || fail "$what: exit status $status, want 3"
    got=$(t_column "$tmp/out.csv")
    [ "$got" = "0 1 2 " ] && pass ||
        fail "$what: CSV rows t = '$got', want '0 1 2 '"
    head -1 "$tmp/out.csv" | grep -q '^t,' && pass ||
        fail "$what: no CSV header"
    for word in "model 'failing'" "instance 'bad0'" "$sig" "t = 2."; do
        grep -q "$word" "$tmp/err" && pass ||
            fail "$what: stderr does not say \"$word\""
    done
    # The t the model was called with when it crashed: in [2.5, 3].
    t=$(sed -n "s/.* at t = \([0-9.e+-]*\).*/\1/p" "$tmp/err" | head -1)
    awk -v t="$t" 'BEGIN { exit !(t >= 2.5 && t <= 3) }' && pass ||
        fail "$what: crash at t = '$t', want 2.5 <= t <= 3"
    grep -q "3 rows" "$tmp/err" && pass ||
        fail "$what: stderr does not count the 3 rows written"
done

# The CSV on stdout: the same rows, and the message on stderr.
scenario "$tmp/s.json" failing '{"mode": 4, "t_fail": 2.5}'
"$twinctl" run --models "$plugins" "$tmp/s.json" >"$tmp/out.csv" \
    2>"$tmp/err"
status=$?
[ "$status" -eq 3 ] && pass || fail "stdout: exit status $status, want 3"
got=$(t_column "$tmp/out.csv")
[ "$got" = "0 1 2 " ] && pass || fail "stdout: rows t = '$got'"

# A model that prints to stdout: the CSV on stdout stays a CSV.
scenario "$tmp/s.json" escaping '{"mode": 3, "lines": 2}'
"$twinctl" run --models "$plugins" "$tmp/s.json" >"$tmp/out.csv" \
    2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] && pass || fail "printing model: exit status $status"
bad=$(tail -n +2 "$tmp/out.csv" | grep -cv '^[0-9.e+-]*,[0-9.e+-]*$')
[ "$bad" -eq 0 ] && pass ||
    fail "printing model: $bad lines of the CSV on stdout are not rows"
grep -q "escaping stdout" "$tmp/err" && pass ||
    fail "printing model: its stdout is not on stderr"

# A model that forks: the command ends, and so does the fork.
scenario "$tmp/s.json" escaping '{"mode": 1}'
timeout 20 "$twinctl" run --models "$plugins" "$tmp/s.json" \
    -o "$tmp/out.csv" --events "$tmp/events" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] && pass || fail "forking model: exit status $status"
pid=$(sed -n 's/.*forked pid \([0-9]*\).*/\1/p' "$tmp/events" | head -1)
if [ -z "$pid" ]; then
    fail "forking model: no 'forked pid' in its events"
else
    gone=0
    for i in 1 2 3 4 5 6 7 8 9 10; do
        state=$(sed 's/.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null)
        if [ -z "$state" ] || [ "$state" = Z ]; then gone=1; break; fi
        sleep 0.2
    done
    [ "$gone" -eq 1 ] && pass || {
        fail "forking model: its child $pid still runs"
        kill -9 "$pid" 2>/dev/null
    }
fi

# A model that forks in the cases of a local batch: nothing of the batch
# is left once it ended (forks of twinctl batch carry its command line).
printf '{"contract": "twin.batch/1", "name": "forks",
 "scenario": {"name": "forks", "time": {"stop": 5, "dt": 1},
   "instances": {"esc0": {"model": "escaping", "params": {"mode": 1}}}},
 "variations": {"grid": [{"param": "esc0.seconds", "values": [1, 2]}]}}\n' \
    >"$tmp/forks-batch.json"
timeout 60 "$twinctl" batch --models "$plugins" "$tmp/forks-batch.json" \
    -o "$tmp/forks-out" >"$tmp/stdout" 2>"$tmp/err"
status=$?
[ "$status" -eq 0 ] && pass || fail "forking batch: exit status $status"
left=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    left=$(grep -l "forks-batch.json" /proc/[0-9]*/cmdline 2>/dev/null |
        while read -r f; do
            d=${f%/cmdline}
            state=$(sed 's/.*) \(.\).*/\1/' "$d/stat" 2>/dev/null)
            [ -n "$state" ] && [ "$state" != Z ] && echo "${d#/proc/}"
        done | tr '\n' ' ')
    [ -z "$left" ] && break
    sleep 0.2
done
[ -z "$left" ] && pass || {
    fail "forking batch: its cases' forks $left still run"
    for pid in $left; do kill -9 "$pid" 2>/dev/null; done
}

echo "test_run_crash: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
