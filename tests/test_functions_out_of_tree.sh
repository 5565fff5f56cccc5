#!/bin/sh
# test_functions_out_of_tree.sh — build the example function plugin the
# way a plugin writer would, outside this repository, and call it.
#
# Usage: tests/test_functions_out_of_tree.sh BUILD_DIR
#
# 1. copies functions/procfuncs (procfuncs.c, procfuncs.json, Makefile) to
#    a temporary directory;
# 2. builds procfuncs.so there with its Makefile, with no pkg-config and no
#    include path at all: a function plugin needs nothing from twinctl;
# 3. checks with nm that every symbol the manifest names is exported;
# 4. `twinctl functions --function-dir DIR` lists the copy's functions, and
#    the copy is the one used (the build tree's procfuncs, loaded after it,
#    is reported as a duplicate and skipped);
# 5. `twinctl call --function-dir DIR` of lmtd, valve_flow, mix_temperature
#    and c_to_k_array, compared with the formulas computed in Python, and
#    a call with a wrong argument refused (exit status 2, its pointer).
set -u

me=test_functions_out_of_tree
fail() {
    echo "$me: FAIL: $*" >&2
    exit 1
}

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/functions/procfuncs"
twinctl="$build/controller/twinctl"
[ -x "$twinctl" ] || fail "no twinctl at $twinctl (build it first)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-fn-oot.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
cp "$src/procfuncs.c" "$src/procfuncs.json" "$src/Makefile" "$tmp/" ||
    fail "cannot copy $src"

# 2. Nothing of twinctl: no PKG_CONFIG_PATH, no -I.
env -u PKG_CONFIG_PATH make -C "$tmp" >"$tmp/make.log" 2>&1 || {
    cat "$tmp/make.log" >&2
    fail "make in the copy failed (log above)"
}
[ -f "$tmp/procfuncs.so" ] || fail "make wrote no procfuncs.so"
grep -q -- "-I" "$tmp/make.log" && fail "the build used an include path"

# 3. Every symbol of the manifest is exported.
nm -D --defined-only "$tmp/procfuncs.so" | awk '$2 == "T" { print $3 }' |
    sort >"$tmp/exported"
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
for f in m["functions"]:
    print(f.get("symbol", f["name"]))' "$tmp/procfuncs.json" | sort >"$tmp/wanted"
missing=$(comm -23 "$tmp/wanted" "$tmp/exported" | tr '\n' ' ')
[ -z "$missing" ] || fail "procfuncs.so does not export: $missing"

# 4. Listed, and the copy is the one loaded first.
"$twinctl" functions --function-dir "$tmp" >"$tmp/list" 2>"$tmp/list.err" || {
    cat "$tmp/list.err" >&2
    fail "twinctl functions failed"
}
grep -q '^lmtd  (plugin procfuncs.so)' "$tmp/list" ||
    fail "twinctl functions does not list lmtd"
grep -q "function 'lmtd' is already loaded from $tmp/procfuncs.json; skipped" \
    "$tmp/list.err" ||
    fail "the copy was not the one used: $(cat "$tmp/list.err")"

# 5. Calls against the formulas.
call() {
    "$twinctl" call --function-dir "$tmp" "$@" 2>>"$tmp/call.err"
}
{
    call lmtd '{"dt_a": 30, "dt_b": 10}' &&
    call valve_flow '{"cv": 25, "dp": 320000, "sg": 0.8}' &&
    call mix_temperature '{"t": [300, 350, 320], "q": [1, 3, 0.5]}' &&
    call c_to_k_array '{"t_c": [0, 100, -40]}'
} >"$tmp/answers" || { cat "$tmp/call.err" >&2; fail "a call failed"; }
python3 - "$tmp/answers" <<'PY' || fail "the answers do not match the formulas"
import json, math, sys
a = [json.loads(line) for line in open(sys.argv[1])]
kv = 0.22712470704 / math.sqrt(0.0689475729317)   # Kv per Cv, m3/h
want = [20 / math.log(3),
        25 * kv * math.sqrt(3.2 / 0.8) / 3600,
        (300 * 1 + 350 * 3 + 320 * 0.5) / 4.5]
for got, w in zip(a, want):
    assert got["status"] == "ok", got
    assert abs(got["value"] - w) <= 1e-14 * abs(w), (got, w)
assert a[3]["outputs"]["t_k"] == [273.15, 373.15, 233.14999999999998], a[3]
print("test_functions_out_of_tree: 4 calls match the formulas")
PY
"$twinctl" call --function-dir "$tmp" lmtd '{"dt_a": -1, "dt_b": 10}' \
    >/dev/null 2>"$tmp/refused"
rc=$?
[ $rc -eq 2 ] || fail "a negative dt_a: exit status $rc, want 2"
grep -q '/args/dt_a: .*outside its range \[0, inf\] (K) \[out_of_range\]' \
    "$tmp/refused" || fail "the refusal does not name /args/dt_a: $(cat "$tmp/refused")"

echo "$me: ok"
