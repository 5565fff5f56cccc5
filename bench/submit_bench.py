#!/usr/bin/python3
"""submit_bench.py — a run's results over MQTT against the same run to a
file, in one invocation.

tank-farm-N over 24 h (86 401 rows) as `twinctl run -o FILE.csv` (the
floor: the same simulation writing the same CSV), `twinctl submit
--encoding json -o FILE.csv` and `twinctl submit -o FILE.csv` (CBOR, the
default), on a `twinctl serve` with a spool and a mosquitto that this
script starts on a free loopback port (bench/broker.sh: configured as
docs/serve.md tells operators) and stops by their PIDs; the spool may
hold 4 GiB, each run's journal for 1 s after it ended.  REPEAT times
each, alternating; medians of the wall time, of the command's CPU time
(user + system, its children included) and of the daemon's CPU time over
it (its run process included); ratios of the wall times to `twinctl
run`'s.  Every CSV is compared with run's, byte for byte.

Usage: bench/submit_bench.py BUILD_DIR [REPEAT [N...]]
  REPEAT (default 3), N (default 10 100).
Keep the machine otherwise idle; on a busy one the CPU columns say more.
"""
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 1.3        # submit with CBOR within this of twinctl run (wall)


def daemon_cpu(pid):
    """CPU seconds of a process so far, its waited-for children included."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def measure(cmd, serve_pid):
    """(wall s, CPU s of cmd, CPU s of the daemon meanwhile)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    d0 = daemon_cpu(serve_pid)
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    d1 = daemon_cpu(serve_pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    cpu = (after.ru_utime - before.ru_utime) + \
        (after.ru_stime - before.ru_stime)
    return wall, cpu, d1 - d0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    sizes = [int(n) for n in sys.argv[3:]] or [10, 100]
    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    twinctl = os.path.join(build, "controller", "twinctl")
    tmp = tempfile.mkdtemp(prefix="submit-bench-")
    pids = []
    try:
        out = subprocess.run(
            ["bash", "-c", '. "$1/bench/broker.sh" && start_broker "$2" && '
             'echo "$broker_pid $url"', "-", src, tmp],
            check=True, capture_output=True, text=True).stdout.split()
        pids.append(int(out[0]))
        url = out[1]
        # A spool that takes tank-farm-100's day in JSON (1.1 GB), kept
        # only a second after each run.
        conf = os.path.join(tmp, "serve.json")
        with open(conf, "w") as f:
            f.write('{"limits": {"spool_bytes": 4294967296, '
                    '"retention_seconds": 1}}')
        serve = subprocess.Popen([twinctl, "serve", "-q", "--config", conf,
                                  "--id", "bench",
                                  "--spool", os.path.join(tmp, "spool"),
                                  "--broker", url, "--max-runs", "1"])
        pids.append(serve.pid)
        time.sleep(1)
        print("# submit_bench: mosquitto on %s, %d CPUs, %d each"
              % (url, os.cpu_count(), repeat))
        print("%-5s %-24s %9s %9s %11s %11s" % ("N", "what", "wall s",
                                                 "CPU s", "daemon CPU",
                                                 "wall ratio"))
        kinds = (("run", "twinctl run -o csv", []),
                 ("json", "submit, JSON, -o csv", ["--encoding", "json"]),
                 ("cbor", "submit, CBOR, -o csv", []))
        missed = False
        for n in sizes:
            scen = os.path.join(tmp, "tf%d.json" % n)
            subprocess.run([sys.executable, os.path.join(
                src, "examples", "gen_tank_farm.py"), str(n), "-o", scen],
                check=True)
            got = {k: [] for k, _, _ in kinds}
            for _ in range(repeat):
                for kind, _, flags in kinds:
                    csv = os.path.join(tmp, kind + ".csv")
                    cmd = [twinctl, "run", "-q", scen, "-o", csv] \
                        if kind == "run" else \
                        [twinctl, "submit", "-q", "--broker", url,
                         "--controller", "bench"] + flags + [scen, "-o", csv]
                    got[kind].append(measure(cmd, serve.pid))
                for kind in ("json", "cbor"):
                    if subprocess.run(["cmp", "-s", os.path.join(
                            tmp, "run.csv"), os.path.join(
                            tmp, kind + ".csv")]).returncode != 0:
                        sys.exit("submit's CSV (%s) differs from run's"
                                 % kind)
            floor = statistics.median(w for w, _, _ in got["run"])
            for kind, label, _ in kinds:
                wall = statistics.median(w for w, _, _ in got[kind])
                cpu = statistics.median(c for _, c, _ in got[kind])
                dcpu = statistics.median(d for _, _, d in got[kind])
                print("%-5d %-24s %9.2f %9.2f %11s %11.2f"
                      % (n, label, wall, cpu,
                         "-" if kind == "run" else "%.2f" % dcpu,
                         wall / floor))
                missed |= kind == "cbor" and wall / floor > TARGET
        print("target: submit with CBOR within %.1fx of twinctl run to CSV "
              "(wall): %s" % (TARGET, "missed" if missed else "met"))
        print("load average after: %s"
              % " ".join(open("/proc/loadavg").read().split()[:3]))
    finally:
        for p in reversed(pids):
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
