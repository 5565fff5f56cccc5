#!/bin/sh
# test_out_of_tree.sh — build the model template the way a modeler would,
# outside this repository, and run it.
#
# Usage: tests/test_out_of_tree.sh BUILD_DIR
#
# 1. copies examples/model-template to a temporary directory;
# 2. builds heater.so there with its Makefile, finding the plugin header
#    only through pkg-config, with PKG_CONFIG_PATH=BUILD_DIR/models
#    (meson writes twin-model-uninstalled.pc there, which pkg-config uses
#    for twin-model);
# 3. checks with nm that twin_model_entry is the only exported function;
# 4. runs `twinctl check-model heater.so`, which must succeed;
# 5. runs heater-step.json with `twinctl run --models DIR` and checks every
#    row of the CSV against the exact solution of the heater's step
#    response, to 1e-6 relative.
# Exits 0 when all pass, non-zero with a message naming the failed step.
set -u

me=test_out_of_tree
fail() {
    echo "$me: FAIL: $*" >&2
    exit 1
}

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[ -d "$1" ] || fail "build directory $1 does not exist"
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
template="$root/examples/model-template"
twinctl="$build/controller/twinctl"

[ -d "$template" ] || fail "no template at $template"
[ -f "$build/models/twin-model-uninstalled.pc" ] ||
    fail "no $build/models/twin-model-uninstalled.pc (is $build a meson build directory of twinctl?)"
[ -x "$twinctl" ] || fail "no twinctl at $twinctl (build it first)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-oot.XXXXXX") || fail "cannot make a temporary directory"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
cp -R "$template/." "$tmp/" || fail "cannot copy $template to $tmp"
rm -f "$tmp/heater.so" "$tmp/out.csv"

# 2. Build, knowing nothing of the repository but the .pc file.
PKG_CONFIG_PATH="$build/models" make -C "$tmp" >"$tmp/make.log" 2>&1 || {
    cat "$tmp/make.log" >&2
    fail "make in the copied template failed (log above)"
}
[ -f "$tmp/heater.so" ] || fail "make succeeded but wrote no heater.so"

# 3. Exported functions: twin_model_entry and nothing else (_init and
#    _fini, when a toolchain exports them, come from the C runtime).
nm -D --defined-only "$tmp/heater.so" >"$tmp/nm.txt" 2>&1 || {
    cat "$tmp/nm.txt" >&2
    fail "nm -D could not read heater.so"
}
functions=$(awk 'NF >= 3 && $2 ~ /^[TtWwi]$/ && $3 != "_init" && $3 != "_fini" { print $3 }' \
    "$tmp/nm.txt" | sort -u | tr '\n' ' ')
[ "$functions" = "twin_model_entry " ] ||
    fail "heater.so must export exactly one function, twin_model_entry; it exports: ${functions:-nothing}"

# 4. The host's own check of the plugin.
"$twinctl" check-model "$tmp/heater.so" >"$tmp/check.log" 2>&1 || {
    cat "$tmp/check.log" >&2
    fail "twinctl check-model heater.so failed (output above)"
}

# 5. Run the step scenario and compare with the exact solution.
"$twinctl" run --models "$tmp" "$tmp/heater-step.json" -o "$tmp/out.csv" \
    >"$tmp/run.log" 2>&1 || {
    cat "$tmp/run.log" >&2
    fail "twinctl run heater-step.json failed (output above)"
}
[ -s "$tmp/out.csv" ] || fail "twinctl run wrote no out.csv"

python3 - "$tmp/out.csv" <<'PY' || fail "heater-step results do not match the exact solution (see above)"
import csv
import math
import sys

# The heater's defaults (heater.c) and the step of heater-step.json.
C, K, T_AMB = 4.0e5, 50.0, 293.15
P, T_STEP = 2000.0, 100.0
START, STOP, DT = 0.0, 7200.0, 10.0
RTOL = 1e-6
FLOOR = 1e-9      # absolute slack, only for values that are exactly 0

def exact(t):
    """T and q_loss of the step response at time t."""
    if t < T_STEP:
        return T_AMB, 0.0
    rise = -(P / K) * math.expm1(-K * (t - T_STEP) / C)
    return T_AMB + rise, K * rise

def close(got, want):
    return abs(got - want) <= RTOL * abs(want) + FLOOR

path = sys.argv[1]
with open(path, newline="") as f:
    rows = list(csv.reader(f))
if not rows:
    sys.exit("out.csv is empty")
header = [c.strip() for c in rows[0]]
if header != ["t", "heater0.T", "heater0.q_loss"]:
    sys.exit("out.csv header is %r, expected t,heater0.T,heater0.q_loss"
             % ",".join(header))
data = rows[1:]
n_expected = int(round((STOP - START) / DT)) + 1
if len(data) != n_expected:
    sys.exit("out.csv has %d rows, expected %d (t = %g .. %g every %g s)"
             % (len(data), n_expected, START, STOP, DT))

bad = []
worst = {"heater0.T": 0.0, "heater0.q_loss": 0.0}
for k, row in enumerate(data):
    line = k + 2
    try:
        t, temp, q_loss = (float(v) for v in row)
    except ValueError:
        bad.append("line %d: not three numbers: %r" % (line, row))
        continue
    if abs(t - (START + k * DT)) > 1e-9 * max(1.0, abs(t)):
        bad.append("line %d: t = %r, expected %r" % (line, t, START + k * DT))
        continue
    want_t, want_q = exact(t)
    for name, got, want in (("heater0.T", temp, want_t),
                            ("heater0.q_loss", q_loss, want_q)):
        err = abs(got - want)
        if want != 0.0:
            worst[name] = max(worst[name], err / abs(want))
        if not close(got, want):
            what = ("relative error %.3g" % (err / abs(want)) if want
                    else "absolute error %.3g" % err)
            bad.append("line %d, t = %g: %s = %.17g, exact %.17g (%s)"
                       % (line, t, name, got, want, what))
if bad:
    for b in bad[:10]:
        print("  " + b, file=sys.stderr)
    if len(bad) > 10:
        print("  ... and %d more" % (len(bad) - 10), file=sys.stderr)
    sys.exit(1)
print("test_out_of_tree: %d rows match the exact solution; worst relative "
      "error T %.2g, q_loss %.2g" % (len(data), worst["heater0.T"],
                                     worst["heater0.q_loss"]))
PY

echo "$me: ok"
