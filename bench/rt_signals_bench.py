#!/usr/bin/python3
"""rt_signals_bench.py — real-time pacing with plant signals (issue 16):
a live twin on `twinctl serve`, tank-farm-N at 10 ms ticks (speed 1) with
every tank's outlet valve bound to a plant signal of its own, while a
publisher sends each of the N topics a new value every PERIOD seconds;
beside it, in the same invocation, the same run with the valves' own
profiles (no signal), and cyclictest's wake-up latency at the same
period when rt-tests is installed.  The daemon's final response gives
each run's late and missed ticks and its lateness p50/p99/max; the
signal run's stats say how many messages each input took.

    rt_signals_bench.py BUILD_DIR [SECONDS [N [PERIOD]]]
        defaults: 60 s, N = 100, PERIOD = 0.1 s (N / PERIOD messages/s)

The daemon runs the paced runs at SCHED_FIFO 80 with their memory locked
(its configuration's realtime.fifo and realtime.mlock), as cyclictest
and rt_bench.sh's programs run; RT_SIGNALS_FIFO=0 leaves them at the
normal policy.  Prints one line per program and the ratios p99 signals /
p99 without, and / cyclictest's.  Keep the machine otherwise idle.  Needs
python3-paho-mqtt and mosquitto (scripts/deps.sh)."""
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
from harness import Broker, Client, Controller  # noqa: E402

DT = 0.01


def scenario(n, secs, signals):
    gen = os.path.join(SRC, "examples", "gen_tank_farm.py")
    sc = json.loads(subprocess.run(
        [sys.executable, gen, str(n), "--stop", str(secs), "--dt", str(DT),
         "--realtime", "1"], capture_output=True, text=True,
        check=True).stdout)
    if signals:
        for i in range(n):
            sc["inputs"]["tank%d.valve" % i] = {
                "signal": {"topic": "plant/bench/valve/%d" % i,
                           "pointer": "/value"},
                "value": 0.5}
    sc["outputs"] = ["tank0.h"]
    return sc


def publisher(client, n, period, stop):
    k = 0
    while not stop.is_set():
        v = 0.5 if k % 2 == 0 else 0.8
        for i in range(n):  # QoS 0, not waited for: as a gateway would
            client.mqtt.publish("plant/bench/valve/%d" % i,
                                json.dumps({"value": v}), qos=0)
        k += 1
        stop.wait(period)


def run(client, ctl, sc, secs, accepted=None):
    req = client.request({"type": "run", "scenario": sc}, controller=ctl)
    acc = req.response(timeout=30)
    if acc.get("status") != "accepted":
        sys.exit("rt_signals_bench: the run was not accepted: %r" % acc)
    if accepted:
        accepted()  # the topics are subscribed by now
    fin = req.final(timeout=secs + 60)
    if fin.get("status") != "finished":
        sys.exit("rt_signals_bench: the run ended %r" % fin)
    return fin["stats"]


def cyclictest(secs):
    if shutil.which("cyclictest") is None:
        return None
    out = subprocess.run(["cyclictest", "-q", "-m", "-p", "80", "-i", "10000",
                          "-l", str(secs * 100), "-h", "10000"],
                         capture_output=True, text=True)
    hist, total = {}, 0
    for ln in out.stdout.splitlines():
        m = re.match(r"^(\d+)\s+(\d+)", ln)
        if m and int(m.group(2)):
            hist[int(m.group(1))] = int(m.group(2))
            total += int(m.group(2))
    if total == 0:
        return None

    def pct(q):
        need, cum = q * total, 0
        for us in sorted(hist):
            cum += hist[us]
            if cum >= need:
                return us
        return max(hist)
    return {"p50": pct(0.5), "p99": pct(0.99), "max": max(hist)}


def line(name, st):
    print("%-12s ticks=%d late=%d missed=%d p50_us=%.1f p99_us=%.1f "
          "max_us=%.1f" % (name, st["ticks"], st.get("late_ticks", 0),
                           st.get("missed_ticks", 0),
                           st["lateness_p50"] * 1e6, st["lateness_p99"] * 1e6,
                           st["lateness_max"] * 1e6))


def main(argv):
    if not 2 <= len(argv) <= 5:
        sys.exit(__doc__)
    build = os.path.abspath(argv[1])
    secs = int(argv[2]) if len(argv) > 2 else 60
    n = int(argv[3]) if len(argv) > 3 else 100
    period = float(argv[4]) if len(argv) > 4 else 0.1
    print("# rt_signals_bench: tank-farm-%d, %d s at 10 ms ticks; signals: "
          "%d topics, a value each every %g s (%.0f messages/s); load "
          "average %s" % (n, secs, n, period, n / period,
                          open("/proc/loadavg").read().split()[0]))
    fifo = os.environ.get("RT_SIGNALS_FIFO", "80")
    extra = ({"realtime": {"fifo": int(fifo), "mlock": True}}
             if fifo != "0" else {})
    print("# paced runs: %s" % ("SCHED_FIFO %s, mlockall" % fifo if extra
                                 else "normal policy"))
    with Broker() as broker, Client(broker) as client, \
            Controller(broker, "rt", build=build,
                       allow={"signals": ["plant/#"]}, config_extra=extra):
        plain = run(client, "rt", scenario(n, secs, False), secs)
        line("no signals", plain)
        stop = threading.Event()
        pub = threading.Thread(target=publisher,
                               args=(client, n, period, stop))
        try:
            sig = run(client, "rt", scenario(n, secs, True), secs,
                      accepted=pub.start)
        finally:
            stop.set()
            if pub.is_alive():
                pub.join()
        line("signals", sig)
        got = sum(v["received"] for v in sig.get("signals", {}).values())
        bad = sum(v["bad"] for v in sig.get("signals", {}).values())
        print("# signals received %d (bad %d) over %d inputs" % (got, bad, n))
    ct = cyclictest(secs)
    if ct:
        print("cyclictest   p50_us=%d p99_us=%d max_us=%d" % (
            ct["p50"], ct["p99"], ct["max"]))
    p99s, p99p = sig["lateness_p99"] * 1e6, plain["lateness_p99"] * 1e6
    print("p99 ratio signals / no signals: %.2f" % (p99s / p99p))
    if ct:
        print("p99 ratio signals / cyclictest: %.2f (target <= 1.5)"
              % (p99s / max(ct["p99"], 1)))
    print("missed ticks with signals: %d (target 0)"
          % sig.get("missed_ticks", 0))


if __name__ == "__main__":
    main(sys.argv)
