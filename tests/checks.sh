# checks.sh — the checks the CLI's shell tests share, sourced after they
# set $tmp (a scratch folder) and $test_name: pass, fail (with the last
# command's output), expect_status CODE NAME COMMAND..., says NAME FILE
# PATTERN, and report (the counts; its status is the test's).
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { # fail NAME: say so, with the last command's output
    echo "$test_name: FAIL: $1" >&2
    sed 's/^/    /' "$tmp/err" "$tmp/out" | head -20 >&2
    failures=$((failures + 1))
}
expect_status() { # expect_status CODE NAME COMMAND...
    want=$1; name=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ]; then pass; else fail "$name: exit $got, expected $want"; fi
}
says() { # says NAME FILE PATTERN: FILE has a line matching PATTERN
    if grep -q -- "$3" "$2"; then pass; else fail "$1: no line matching '$3' in $2"; fi
}
report() {
    echo "$test_name: $passes passed, $failures failed"
    [ "$failures" -eq 0 ]
}
