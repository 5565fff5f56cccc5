#!/bin/sh
# test_gen_tank_farm.sh — the scenario generators must write, for 3 and
# default options, the same JSON data as the shipped reference scenarios:
# examples/gen_tank_farm.py scenarios/tank-farm-3.json, and
# examples/gen_flow_network.py scenarios/flow-network.json (compared as data
# with python's json module, so layout and number spelling do not matter).
#
# Usage: tests/test_gen_tank_farm.sh        (from anywhere)
# Exit 0 on a match; non-zero with the first differences otherwise.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=$(mktemp "${TMPDIR:-/tmp}/gen_tank_farm.XXXXXX")
trap 'rm -f "$out"' EXIT INT TERM

compare() { # compare GENERATOR SCENARIO: GENERATOR 3 against SCENARIO
    gen="$root/examples/$1"
    ref="$root/scenarios/$2"

    for f in "$gen" "$ref"; do
        if [ ! -f "$f" ]; then
            echo "test_gen_tank_farm: missing $f" >&2
            exit 1
        fi
    done

    if ! python3 "$gen" 3 -o "$out"; then
        echo "test_gen_tank_farm: $gen 3 failed" >&2
        exit 1
    fi

    python3 - "$out" "$ref" "$1" "$2" <<'PY'
import json
import sys

def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("test_gen_tank_farm: cannot read %s: %s" % (path, e))

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
    print("test_gen_tank_farm: %s 3 differs from scenarios/%s:"
          % (sys.argv[3], sys.argv[4]), file=sys.stderr)
    for line in sorted(found)[:20]:
        print("  " + line, file=sys.stderr)
    if len(found) > 20:
        print("  ... and %d more" % (len(found) - 20), file=sys.stderr)
    sys.exit(1)
print("test_gen_tank_farm: %s ok" % sys.argv[3])
PY
}

compare gen_tank_farm.py tank-farm-3.json
compare gen_flow_network.py flow-network.json
