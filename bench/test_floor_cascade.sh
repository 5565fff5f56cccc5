#!/bin/sh
# test_floor_cascade.sh — the cascade benchmark's two sides compute the
# same thing: floor_cascade with KLU and with the dense solver, and the
# controller (bench_controller on the scenario examples/gen_tank_cascade.py
# writes, with the controller's default linear solver), on tank-cascade-30
# over 60 s.  Their checksums (the sum of every emitted value: t, the pump
# speed, every level and every PI output at every tick) must agree to 1e-9
# relative between the floors and 1e-7 between floor and controller, the
# floors' final levels to 1e-8 m, and both floors must count the same
# steps; bad arguments must be refused.
#
# Usage: bench/test_floor_cascade.sh BUILD_DIR
set -eu

build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/floor_cascade.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

"$build/bench/floor_cascade" --print-final 30 60 >"$tmp/klu" 2>/dev/null
"$build/bench/floor_cascade" --print-final --dense 30 60 >"$tmp/dense" \
    2>/dev/null
python3 "$src/examples/gen_tank_cascade.py" 30 --stop 60 -o "$tmp/c30.json"
"$build/bench/bench_controller" "$tmp/c30.json" >"$tmp/ctl"

python3 - "$tmp" <<'PY'
import sys

tmp = sys.argv[1]
def read(name):
    lines = open("%s/%s" % (tmp, name)).read().split("\n")
    fields = dict(kv.split("=", 1) for kv in lines[0].split()[1:])
    return fields, [float(x) for x in lines[1:] if x]

klu, klu_h = read("klu")
dense, dense_h = read("dense")
ctl, _ = read("ctl")
bad = []
def close(what, a, b, tol):
    if not abs(a - b) <= tol:
        bad.append("%s: %r vs %r (tolerance %g)" % (what, a, b, tol))

if [klu["solver"], dense["solver"]] != ["klu", "dense"]:
    bad.append("solvers named %s, %s" % (klu["solver"], dense["solver"]))
for f in (klu, dense, ctl):
    if f["ticks"] != "60":
        bad.append("ticks=%s, want 60" % f["ticks"])
if klu["steps"] != dense["steps"]:
    bad.append("KLU took %s steps, dense %s" % (klu["steps"], dense["steps"]))
ck, cd, cc = (float(f["checksum"]) for f in (klu, dense, ctl))
close("checksum KLU vs dense", ck, cd, 1e-9 * abs(ck))
close("checksum floor vs controller", ck, cc, 1e-7 * abs(ck))
if len(klu_h) != 30 or len(dense_h) != 30:
    bad.append("--print-final gave %d and %d levels, want 30"
               % (len(klu_h), len(dense_h)))
for i, (a, b) in enumerate(zip(klu_h, dense_h)):
    close("tank%d final level, KLU vs dense" % i, a, b, 1e-8)
    if not 0.5 < a < 4.0:
        bad.append("tank%d ends at %g m, outside (0.5, 4)" % (i, a))
if bad:
    sys.exit("test_floor_cascade: " + "; ".join(bad))
print("test_floor_cascade: checksums %.12e (KLU), %.12e (dense), %.12e "
      "(controller)" % (ck, cd, cc))
PY

for args in "" "0" "x" "10 -5" "10 10 3" "--sparse 10"; do
    # shellcheck disable=SC2086
    if "$build/bench/floor_cascade" $args >/dev/null 2>"$tmp/err"; then
        echo "test_floor_cascade: floor_cascade '$args' was accepted" >&2
        exit 1
    fi
    if ! grep -q "usage\|whole number" "$tmp/err"; then
        echo "test_floor_cascade: floor_cascade '$args' failed silently" >&2
        exit 1
    fi
done
echo "test_floor_cascade: ok"
