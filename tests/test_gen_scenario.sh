#!/bin/sh
# test_gen_scenario.sh — a scenario generator of examples/ must write, for
# its N and default options, the same JSON data as the reference scenario
# shipped in scenarios/ (compared as data with python's json module, so
# layout and number spelling do not matter):
#
#   gen_tank_farm.py 3      -> scenarios/tank-farm-3.json
#   gen_flow_network.py 3   -> scenarios/flow-network.json
#   gen_tank_cascade.py 10  -> scenarios/tank-cascade-10.json
#
# Usage: tests/test_gen_scenario.sh GENERATOR N SCENARIO   (from anywhere;
#   GENERATOR and SCENARIO are file names in examples/ and scenarios/)
# Exit 0 on a match; non-zero with the first differences otherwise.
set -eu

if [ $# -ne 3 ]; then
    echo "usage: $0 GENERATOR N SCENARIO (e.g. gen_tank_farm.py 3" \
         "tank-farm-3.json)" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
gen="$root/examples/$1"
n=$2
ref="$root/scenarios/$3"
me="test_gen_scenario ($1 $n)"

for f in "$gen" "$ref"; do
    if [ ! -f "$f" ]; then
        echo "$me: missing $f" >&2
        exit 1
    fi
done

out=$(mktemp "${TMPDIR:-/tmp}/gen_scenario.XXXXXX")
trap 'rm -f "$out"' EXIT INT TERM

if ! python3 "$gen" "$n" -o "$out"; then
    echo "$me: $gen $n failed" >&2
    exit 1
fi

python3 - "$out" "$ref" "$me" "$1 $n" "$3" <<'PY'
import json
import sys

def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("%s: cannot read %s: %s" % (sys.argv[3], path, e))

def diff(a, b, where, found):
    """Append a line per difference between a (generated) and b (shipped)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            if k not in b:
                found.append("%s/%s: only in the generated scenario" % (where, k))
            elif k not in a:
                found.append("%s/%s: only in the shipped scenario" % (where, k))
            else:
                diff(a[k], b[k], "%s/%s" % (where, k), found)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            found.append("%s: %d items generated, %d shipped"
                         % (where, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s/%d" % (where, i), found)
    elif a != b:
        found.append("%s: generated %r, shipped %r" % (where or "/", a, b))

gen, ref = load(sys.argv[1]), load(sys.argv[2])
found = []
diff(gen, ref, "", found)
if found:
    print("%s: %s differs from scenarios/%s:"
          % (sys.argv[3], sys.argv[4], sys.argv[5]), file=sys.stderr)
    for line in sorted(found)[:20]:
        print("  " + line, file=sys.stderr)
    if len(found) > 20:
        print("  ... and %d more" % (len(found) - 20), file=sys.stderr)
    sys.exit(1)
print("%s: ok" % sys.argv[3])
PY
