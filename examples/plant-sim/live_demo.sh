#!/bin/bash
# live_demo.sh — the live twin end to end (docs/live-twin.md), about two
# minutes of wall time: a mosquitto on a free loopback port, a `twinctl
# serve` that lets runs bind plant/# signals, the demo plant
# (plant_sim.py: its own parameters, a little noise, its outlet fouled at
# t = 25 s), and its twin (twin.json) run twice beside it:
#   1. compared only: the twin follows the plant's valve; when the plant's
#      outlet fouls, the plant's level parts from the twin's, the residual
#      alarm is raised and the run is desynchronised;
#   2. corrected: the same with "correct": {"gain": 0.3} on the level, so
#      the twin's level is nudged toward the plant's at every tick.
# Each run's alarm and sync events are printed, then a summary of its
# residual column.  Run from a built tree (scripts/demo or scripts/test
# first); BUILD names another build directory.
set -eu
cd "$(dirname "$0")/../.."
build=${BUILD:-build}
twinctl=$build/controller/twinctl
py=/usr/bin/python3
out=$build/live-demo
[ -x "$twinctl" ] || { echo "live_demo: build first (scripts/demo)" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/^listener 1883 /listener $port /" examples/mosquitto.conf > "$tmp/mosquitto.conf"
mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
pids+=($!)
broker=tcp://127.0.0.1:$port
cat > "$tmp/serve.json" <<EOF
{"id": "live", "broker": "$broker", "spool": "$tmp/spool",
 "allow": {"signals": ["plant/#"]}}
EOF
"$twinctl" serve --config "$tmp/serve.json" 2>"$tmp/serve.log" &
pids+=($!)
for _ in $(seq 50); do
    "$twinctl" status --broker "$broker" --wait 0.2 >/dev/null 2>&1 && break
done
echo "== mosquitto on $broker; twinctl serve 'live' (allow.signals: plant/#)"

# The corrected twin: the same scenario, the level nudged.
$py - examples/plant-sim/twin.json "$tmp/twin-corrected.json" <<'PY'
import json, sys
sc = json.load(open(sys.argv[1]))
sc["measured"]["tank0.h"]["correct"] = {"gain": 0.3}
json.dump(sc, open(sys.argv[2], "w"))
PY

one() { # one NAME SCENARIO: the plant and its twin, side by side
    echo
    echo "== $1: plant_sim.py --fault 25:tank0.cv=0.02, and the twin $2"
    $py examples/plant-sim/plant_sim.py --broker "$broker" --quiet \
        --noise tank0.h=0.001 --seed 1 --fault 25:tank0.cv=0.02 &
    local plant=$!
    pids+=($plant)
    "$twinctl" submit --broker "$broker" --controller live "$2" \
        -o "$out/$1.csv" 2>"$tmp/$1.log" || true
    wait "$plant" 2>/dev/null || true
    grep -E '^(alarm|sync):' "$tmp/$1.log" | sed 's/^/  /' || true
    $py - "$out/$1.csv" <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = [(float(x["t"]), float(x["tank0.h:residual"])) for x in rows
     if x["tank0.h:residual"] not in ("", "nan", "NaN")]
if not r:
    sys.exit("  no residual: did the plant publish? (see the serve log)")
def worst(a, b):
    seg = [abs(v) for t, v in r if a <= t < b]
    return max(seg) if seg else float("nan")
print("  |residual| (plant - twin level, m): largest %.4f before the "
      "fault (t < 25 s), %.4f after it" % (worst(0, 25), worst(25, 1e9)))
print("  rows: %s" % sys.argv[1])
PY
}
one compared examples/plant-sim/twin.json
one corrected "$tmp/twin-corrected.json"
