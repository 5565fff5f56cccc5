#!/usr/bin/env python3
"""Fault isolation against a real mosquitto and a real `twinctl serve`
(DESIGN.md, "Process model and guarantees"): a model plugin that crashes,
aborts, hangs, returns NaN, returns an error status or makes the solver
work without end ends only its own run, with the right code and a message
that names the model and what happened; a healthy run started beside it
on the same controller delivers every row (seq 0 … last_seq), identical
to `twinctl run` of the same scenario; the controller answers `describe`
afterwards.  Also: a plugin built for another ABI is refused at load time
with a log line naming the file and both versions; a run past
limits.cpu_seconds ends `timeout` naming that limit (before the far
larger wall-clock limit); a run short of memory under limits.memory_bytes
ends naming that limit.

The faulty models are tests/plugins/failing.c (its `mode` parameter
chooses the fault) in BUILD/tests/plugins.

Usage: python3 tests/integration/test_faults.py BUILD_DIR"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, twinctl)

BUILD = build_dir()
PLUGINS = os.path.join(BUILD, "tests", "plugins")
TWINCTL = twinctl(BUILD)
RUN_SECONDS = 3          # the fault controller's wall-clock limit per run
T_FAIL = 5.5             # failing.c fails from here: rows t = 0 … 5 first
WORK = tempfile.mkdtemp(prefix="twin-faults-")


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def load(path):
    with open(path) as f:
        return json.load(f)


def failing(mode, stop=20):
    """One instance of the faulty model, failing from t = 5.5 on."""
    return {"name": "failing-%d" % mode, "time": {"stop": stop, "dt": 1},
            "instances": {"bad0": {"model": "failing",
                                   "params": {"mode": mode,
                                              "t_fail": T_FAIL}}}}


def tank_farm(hours):
    scen = load(os.path.join(SOURCE_DIR, "scenarios", "tank-farm-3.json"))
    scen["time"]["stop"] = hours * 3600
    scen["name"] = "tank-farm-3-%dh" % hours
    return scen


_reference = {}


def reference(scen):
    """Columns and rows of `twinctl run` of the scenario (its CSV read back
    to floats: the CSV and the MQTT results are written to read back to
    the same doubles)."""
    key = scen["name"]
    if key not in _reference:
        path = os.path.join(WORK, key + ".json")
        out = os.path.join(WORK, key + ".csv")
        with open(path, "w") as f:
            json.dump(scen, f)
        subprocess.run([TWINCTL, "run", "-q", "--models", PLUGINS, path,
                        "-o", out], check=True, timeout=60)
        with open(out, newline="") as f:
            r = csv.reader(f)
            columns = next(r)
            rows = [[float(v) for v in row] for row in r]
        _reference[key] = (columns, rows)
    return _reference[key]


def start(client, ctl, scen):
    req = client.request({"id": "f-" + uuid.uuid4().hex[:12], "type": "run",
                          "scenario": scen}, controller=ctl)
    return req


def outcome(client, ctl, req, timeout=30):
    """(accepted, final, rows) of a run request: waits for its final
    response and every result message seq 0 … last_seq."""
    acc = req.response(timeout=10)
    expect(acc["status"] == "accepted", "not accepted: %r" % acc)
    final = req.final(timeout=timeout)
    msgs = client.results(ctl, acc["run"], final["last_seq"],
                          start=req.first_index)
    rows = []
    for m in msgs:
        expect(m["columns"] == acc["columns"], "seq %d columns" % m["seq"])
        rows.extend(m["rows"])
    expect(final["rows"] == len(rows), "final says %s rows, got %d"
           % (final["rows"], len(rows)))
    return acc, final, rows


def same_rows(got, want, what):
    """Rows over MQTT against twinctl run's, value for value (None, the
    wire's non-finite, only where the CSV has a NaN or infinity)."""
    expect(len(got) == len(want), "%s: %d rows, twinctl run made %d"
           % (what, len(got), len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        gv = [float("nan") if v is None else float(v) for v in g]
        if gv != w and not all((a == b) or (a != a and b != b)
                               for a, b in zip(gv, w)):
            raise HarnessError("%s: row %d differs from twinctl run's:\n"
                               "  mqtt %r\n  run  %r" % (what, i, g, w))


def check_healthy(client, ctl, req, scen):
    acc, final, rows = outcome(client, ctl, req)
    expect(final["status"] == "finished", "healthy run: %r" % final)
    columns, want = reference(scen)
    expect(acc["columns"] == columns, "columns %r, twinctl run's %r"
           % (acc["columns"], columns))
    same_rows(rows, want, "healthy run beside a faulty one")


def check_answers(client, ctl):
    r = client.request({"type": "describe"}, controller=ctl).response()
    expect(r["status"] == "ok", "describe after the fault: %r" % r)
    expect("failing" in [m["name"] for m in r["models"]], "models")


def error_of(final):
    expect(final["status"] == "failed", "faulty run: %r" % final)
    errs = final.get("errors") or []
    expect(len(errs) >= 1, "failed without errors: %r" % final)
    return errs[0]


def names_the_model(e):
    """The message names the model (and its instance where it can)."""
    m = e["message"]
    expect("failing" in m or "bad0" in m,
           "the message names neither the model 'failing' nor its "
           "instance 'bad0': %r" % m)
    expect("failing" in m, "the message does not name the model "
           "'failing': %r" % m)


# (mode, what, code, words of which the message must hold one)
FAULTS = [
    (4, "segmentation fault", "model_crashed",
     ("Segmentation fault", "SIGSEGV")),
    (5, "abort()", "model_crashed", ("Aborted", "SIGABRT", "abort")),
    (6, "infinite loop in derivatives", "timeout",
     ("limit of %d s" % RUN_SECONDS,)),
    (2, "NaN derivative", "solver_failure",
     ("NaN", "non-finite", "not finite")),
    (0, "ERROR status", "solver_failure", ("returned ERROR",)),
    (3, "too much solver work", "solver_failure",
     ("CV_TOO_MUCH_WORK", "too much work")),
]


def check_fault(client, ctl, mode, code, words, healthy):
    t0 = time.monotonic()
    bad = start(client, ctl, failing(mode))
    good = start(client, ctl, healthy)
    acc, final, rows = outcome(client, ctl, bad, timeout=RUN_SECONDS + 20)
    e = error_of(final)
    expect(e["code"] == code, "code %r, want %r: %r" % (e["code"], code, e))
    # The rows made before the fault (t = 0 … 5) reached the orchestrator.
    expect([r[0] for r in rows] == list(range(6)),
           "rows before the fault: t = %r" % [r[0] for r in rows])
    check_healthy(client, ctl, good, healthy)
    check_answers(client, ctl)
    # The checks of the message last, so the run checks above are not
    # hidden behind a message problem.
    expect(any(w in e["message"] for w in words),
           "the message does not say what happened (one of %r): %r"
           % (words, e["message"]))
    names_the_model(e)
    expect(time.monotonic() - t0 < RUN_SECONDS + 20, "took too long")


def check_wrong_abi(client, ctl, log):
    r = client.request({"type": "describe"}, controller=ctl).response()
    names = [m["name"] for m in r["models"]]
    expect("abi_major2" not in names, "describe lists abi_major2: %r"
           % names)
    host = r["controller_info"]["model_abi"]
    with open(log, errors="replace") as f:
        lines = [ln for ln in f if "abi_major2" in ln]
    path = os.path.join(PLUGINS, "abi_major2.so")
    expect(lines, "no log line about abi_major2")
    ln = lines[0]
    expect(path in ln, "the log line does not name the file %s: %r"
           % (path, ln))
    expect("ABI 2.0" in ln and "speaks %d." % host in ln,
           "the log line does not give both ABI versions (2.0 and the "
           "host's %d.x): %r" % (host, ln))


def check_cpu_limit(client, ctl, healthy):
    t0 = time.monotonic()
    bad = start(client, ctl, failing(6))
    good = start(client, ctl, healthy)
    acc, final, rows = outcome(client, ctl, bad, timeout=30)
    took = time.monotonic() - t0
    e = error_of(final)
    expect(e["code"] == "timeout", "code %r: %r" % (e["code"], e))
    expect("CPU-time limit of 1 s" in e["message"], e["message"])
    names_the_model(e)
    expect(took < 10, "the CPU limit took %.1f s of wall clock" % took)
    expect([r[0] for r in rows] == list(range(6)), "rows before the hang")
    check_healthy(client, ctl, good, healthy)
    check_answers(client, ctl)


def long_overflow():
    """tank-overflow over 6·10⁶ s, every 100th tick: about 3 s of CPU
    time here, 60 001 rows."""
    scen = load(os.path.join(SOURCE_DIR, "scenarios", "tank-overflow.json"))
    scen["time"]["stop"] = 6000000
    scen["every"] = 100
    scen["name"] = "tank-overflow-long"
    return scen


def check_cpu_limit_mid_run(client, ctl):
    """A long healthy scenario under the 1 s CPU limit: stopped in the
    middle of writing rows (or finished, on a machine fast enough); either
    way the rows delivered are exactly twinctl run's first ones."""
    scen = long_overflow()
    req = start(client, ctl, scen)
    acc, final, rows = outcome(client, ctl, req, timeout=30)
    columns, want = reference(scen)
    if final["status"] == "finished":
        print("     (finished within the CPU limit on this machine)")
        same_rows(rows, want, "tank-overflow over 6e6 s")
        return
    e = error_of(final)
    expect(e["code"] == "timeout" and "CPU-time limit" in e["message"], e)
    expect(0 < len(rows) < len(want), "%d rows" % len(rows))
    same_rows(rows, want[:len(rows)], "rows before the CPU limit")


def vm_size(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmSize:"):
                return int(ln.split()[1]) * 1024
    return 0


def chain(n):
    """n tanks in one chain: one group of n states, with the dense linear
    solver forced (left to itself it takes the band one), so CVODE's
    matrix alone is n² doubles."""
    return {"name": "chain-%d" % n, "time": {"stop": 10, "dt": 1},
            "linear_solver": "dense",
            "instances": {"tank%d" % i: {"model": "tank",
                                         "start": {"h": 1.0}}
                          for i in range(n)},
            "connections": [{"from": "tank%d.q_out" % i,
                             "to": "tank%d.q_in" % (i + 1)}
                            for i in range(n - 1)],
            "outputs": ["tank0.h"]}


def check_memory_limit(client, cid, ctl, limit, healthy):
    # 6000 states: a 288 MB matrix, more than the limit holds.
    base = vm_size(ctl.proc.pid)
    if base + (32 << 20) >= limit:
        # A sanitizer's shadow memory is terabytes of address space.
        print("     (skipped: the daemon's address space, %d bytes, leaves "
              "a run no room under %d; a sanitizer build?)" % (base, limit))
        return
    bad = start(client, cid, chain(6000))
    good = start(client, cid, healthy)
    acc, final, rows = outcome(client, cid, bad, timeout=30)
    e = error_of(final)
    expect("limits.memory_bytes" in e["message"] and str(limit) in
           e["message"], "the message does not name the limit: %r" % e)
    check_healthy(client, cid, good, healthy)
    check_answers(client, cid)


def main():
    t = Tests()
    healthy = tank_farm(2)
    try:
        with Broker() as broker, Client(broker) as client:
            with Controller(broker, "faults", build=BUILD, models=[PLUGINS],
                            limits={"run_seconds": RUN_SECONDS,
                                    "max_runs": 4}) as ctl:
                for mode, what, code, words in FAULTS:
                    t.check("%s: %s, a run beside it complete" % (what, code),
                            check_fault, client, "faults", mode, code, words,
                            healthy)
                t.check("wrong ABI: refused at load, logged with both "
                        "versions", check_wrong_abi, client, "faults",
                        ctl.log)
            with Controller(broker, "cpu", build=BUILD, models=[PLUGINS],
                            limits={"cpu_seconds": 1, "run_seconds": 600,
                                    "max_runs": 2}):
                t.check("infinite loop under limits.cpu_seconds 1: "
                        "timeout naming the CPU limit", check_cpu_limit,
                        client, "cpu", healthy)
                t.check("CPU limit in the middle of a run's rows",
                        check_cpu_limit_mid_run, client, "cpu")
            limit = 256 << 20
            with Controller(broker, "mem", build=BUILD, models=[PLUGINS],
                            limits={"memory_bytes": limit,
                                    "max_runs": 2}) as ctl:
                t.check("a run short of memory under limits.memory_bytes "
                        "names the limit", check_memory_limit, client,
                        "mem", ctl, limit, healthy)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
