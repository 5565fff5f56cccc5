#!/bin/sh
# test_gen_tank_cascade.sh — what examples/gen_tank_cascade.py's options do
# (its default output is checked against scenarios/tank-cascade-10.json by
# test_gen_scenario.sh): the tanks form one chain tank_i -> tank_{i+1}, the
# valve PIs sit on tanks K, 2K, ..., --rtol, --atol, --linear-solver and
# --integrators write their members (the last two only when given), and bad
# options are refused.
#
# Usage: tests/test_gen_tank_cascade.sh        (from anywhere)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
gen="$(dirname "$here")/examples/gen_tank_cascade.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gen_tank_cascade.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

python3 "$gen" 23 --stop 60 --dt 0.5 --pi-every 4 -o "$tmp/plain.json"
python3 "$gen" 7 --pi-every 0 --linear-solver klu --integrators stacked \
    -o "$tmp/klu.json"
python3 "$gen" 7 --linear-solver dense --rtol 1e-10 --atol 1e-12 \
    -o "$tmp/dense.json"

python3 - "$tmp" <<'PY'
import json
import sys

tmp = sys.argv[1]
def load(name):
    with open("%s/%s" % (tmp, name), encoding="utf-8") as f:
        return json.load(f)

plain, klu, dense = load("plain.json"), load("klu.json"), load("dense.json")
bad = []
def expect(what, got, want):
    if got != want:
        bad.append("%s: got %r, want %r" % (what, got, want))

expect("name", plain["name"], "tank-cascade-23")
expect("time", plain["time"], {"start": 0, "stop": 60, "dt": 0.5})
links = [(c["from"], c["to"]) for c in plain["connections"]]
chain = [(f, t) for f, t in links if f.endswith(".q_out")]
expect("chain", chain, [("tank%d.q_out" % i, "tank%d.q_in" % (i + 1))
                        for i in range(22)])
expect("pump", ("pump0.q", "tank0.q_in") in links, True)
expect("pump's PI", [("tank0.h", "pi0.pv") in links,
                     ("pi0.out", "pump0.cmd") in links], [True, True])
valve_pis = sorted(int(k[2:]) for k in plain["instances"]
                   if k.startswith("pi") and k != "pi0")
expect("valve PIs", valve_pis, [4, 8, 12, 16, 20])
for i in valve_pis:
    expect("pi%d links" % i, [("tank%d.h" % i, "pi%d.pv" % i) in links,
                              ("pi%d.out" % i, "tank%d.valve" % i) in links],
           [True, True])
expect("start levels", [plain["instances"]["tank%d" % i]["start"]["h"]
                        for i in range(12)],
       [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 1.0, 1.1])
expect("sp step", plain["inputs"]["pi0.sp"], {"steps": [[0, 2.0], [30, 2.5]]})
for key in ("linear_solver", "integrators"):
    expect("%s without the option" % key, key in plain, False)
expect("linear_solver", klu.get("linear_solver"), "klu")
expect("integrators", klu.get("integrators"), "stacked")
expect("--pi-every 0", sorted(k for k in klu["instances"]
                              if k.startswith("pi")), ["pi0"])
expect("dense", [dense.get("linear_solver"), "integrators" in dense],
       ["dense", False])
expect("solver", [plain["solver"], dense["solver"]],
       [{"method": "bdf", "rtol": 1e-8, "atol": 1e-10},
        {"method": "bdf", "rtol": 1e-10, "atol": 1e-12}])
if bad:
    sys.exit("test_gen_tank_cascade: " + "; ".join(bad))
PY

for args in "0" "5 --linear-solver sparse" "5 --integrators both" \
            "5 --pi-every -1" "5 --stop 10 --dt 3" "5 --dt 0" \
            "5 --rtol 1" "5 --atol 0" "5 --rtol nan"; do
    # shellcheck disable=SC2086
    if python3 "$gen" $args >"$tmp/out" 2>"$tmp/err"; then
        echo "test_gen_tank_cascade: '$args' was accepted" >&2
        exit 1
    fi
    if ! grep -q "error:" "$tmp/err"; then
        echo "test_gen_tank_cascade: '$args' failed without saying why:" >&2
        cat "$tmp/err" >&2
        exit 1
    fi
done
echo "test_gen_tank_cascade: ok"
