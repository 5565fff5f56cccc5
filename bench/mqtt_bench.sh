#!/bin/bash
# mqtt_bench.sh — the controller over MQTT against its floor, in one
# invocation, on a mosquitto this script starts on a free loopback port
# (configured as docs/serve.md tells operators) and stops by its PID.
#
# Usage: bench/mqtt_bench.sh BUILD_DIR [N_LATENCY] [HOURS_TF100]
#   1. latency: request → rejection, run → first result (N_LATENCY each,
#      default 200), bench_mqtt latency; then its floors in the same run:
#      the same rejections answered by bench_mqtt echo (the same MQTT
#      client code, no controller, no disk), and the spool disk's own
#      sync (append a record-sized write and fdatasync, N_LATENCY times),
#      which a run's acceptance and its first rows each wait for;
#   2. throughput: tank-farm-100 over HOURS_TF100 (default 2) end to end,
#      bench_mqtt throughput, then floor_mqtt publishing the same bytes;
#   3. tank-farm-10 over 24 h: `twinctl submit` (every row, to CSV) against
#      `twinctl run` to a file.
# HOURS_TF100 0 runs step 1 only.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [N_LATENCY] [HOURS_TF100]" >&2; exit 2; }
build=$(cd "$1" && pwd)
n=${2:-200}
hours=${3:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

. "$src/bench/broker.sh"
start_broker "$tmp" || exit 1
pids+=("$broker_pid")
"$build/controller/twinctl" serve -q --id bench --spool "$tmp/spool" --broker "$url" --max-runs 4 &
pids+=($!)
sleep 1

echo "# mqtt_bench: mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}') on $url, $(nproc) CPUs"
echo "# 1. latency, $n requests each, one at a time"
"$build/bench/bench_mqtt" latency --broker "$url" --controller bench -n "$n" | tee "$tmp/lat.txt" || exit 1
"$build/bench/bench_mqtt" echo --broker "$url" --controller floor &
echo_pid=$!
pids+=("$echo_pid")
sleep 0.5
echo -n "floor: "
"$build/bench/bench_mqtt" latency --broker "$url" --controller floor -n "$n" --rejections | tee "$tmp/floor_lat.txt" || exit 1
kill -TERM "$echo_pid" 2>/dev/null
$py - "$tmp/spool" "$n" "$tmp/lat.txt" "$tmp/floor_lat.txt" <<'PY'
import os, statistics, sys, time
spool, n = sys.argv[1], int(sys.argv[2])
fd = os.open(os.path.join(spool, "bench-sync.tmp"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
took = []
for _ in range(n):
    os.write(fd, b"x" * 300)
    t0 = time.monotonic()
    os.fdatasync(fd)
    took.append(time.monotonic() - t0)
os.close(fd)
os.unlink(os.path.join(spool, "bench-sync.tmp"))
def median(path, what):
    for line in open(path):
        if line.startswith(what):
            return float(line.split("median_ms=")[1].split()[0])
sync = 1e3 * statistics.median(took)
print("disk_sync n=%d median_ms=%.3f (the spool's disk: a run's acceptance "
      "and its first rows each wait for one)" % (n, sync))
r, f = median(sys.argv[3], "rejection"), median(sys.argv[4], "rejection")
print("rejection/floor: %.2f (%.3f ms above the floor)" % (r / f, r - f))
PY
[ "$hours" -gt 0 ] || exit 0

echo "# 2. throughput: tank-farm-100 over $hours h, then the floor with the same bytes"
$py "$src/examples/gen_tank_farm.py" 100 --stop $((hours * 3600)) -o "$tmp/tf100.json"
"$build/bench/bench_mqtt" throughput --broker "$url" --controller bench \
    --save "$tmp/payloads.txt" "$tmp/tf100.json" | tee "$tmp/ctl.txt" || exit 1
"$build/bench/floor_mqtt" --broker "$url" "$tmp/payloads.txt" | tee "$tmp/floor.txt" || exit 1
$py - "$tmp/ctl.txt" "$tmp/floor.txt" <<'PY'
import sys
def fields(p):
    return dict(kv.split("=") for kv in open(p).read().split()[1:])
c, f = fields(sys.argv[1]), fields(sys.argv[2])
print("controller/floor bytes per second: %.2f" %
      (float(c["MB_per_s"]) / float(f["MB_per_s"])))
PY

if [ -x "$build/controller/twinctl" ] && "$build/controller/twinctl" submit --help >/dev/null 2>&1; then
    echo "# 3. tank-farm-10 over 24 h: twinctl submit vs twinctl run to a file"
    $py "$src/examples/gen_tank_farm.py" 10 -o "$tmp/tf10.json"
    t0=$(date +%s.%N)
    "$build/controller/twinctl" run -q "$tmp/tf10.json" -o "$tmp/run.csv" || exit 1
    t1=$(date +%s.%N)
    "$build/controller/twinctl" submit -q --broker "$url" --controller bench \
        "$tmp/tf10.json" -o "$tmp/submit.csv" || exit 1
    t2=$(date +%s.%N)
    cmp -s "$tmp/run.csv" "$tmp/submit.csv" && same=identical || same=DIFFERENT
    $py -c "r=$t1-$t0; s=$t2-$t1; print('run_to_file_s=%.3f submit_s=%.3f ratio=%.2f csv=$same' % (r, s, s / r))"
fi
