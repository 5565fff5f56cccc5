#!/usr/bin/env python3
"""FMUs over MQTT, against a real mosquitto and a real `twinctl serve`
(issue 13, item 6; docs/fmi.md): the fault-isolation cases of
test_faults.py repeated with an FMU — the test FMU faulty (FMI 2.0 and
3.0, tests/fmus/faulty.c) crashes, hangs, returns NaN or an error status
and ends only its own run with the plugins' codes; a healthy FMU run (the
bouncing ball) started beside it delivers every row, identical to
`twinctl run` of the same scenario; the controller answers `describe`
afterwards and lists the FMUs.

Usage: python3 tests/integration/test_fmu_faults.py BUILD_DIR"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     Tests, build_dir, twinctl)

BUILD = build_dir()
FMUS = os.path.join(BUILD, "tests", "fmus")
TWINCTL = twinctl(BUILD)
RUN_SECONDS = 3
WORK = tempfile.mkdtemp(prefix="twin-fmu-faults-")

# (mode of faulty.c, code, words of which the message must hold one)
FAULTS = [
    (4, "model_crashed", ("Segmentation fault", "SIGSEGV")),
    (6, "timeout", ("limit of %d s" % RUN_SECONDS,)),
    (2, "solver_failure", ("NaN", "non-finite", "not finite")),
    (0, "solver_failure", ("returned ERROR", "Error")),
]


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def faulty(v, mode):
    return {"name": "faulty%s-%d" % (v, mode), "time": {"stop": 20, "dt": 1},
            "instances": {"bad0": {"model": "faulty" + v,
                                   "params": {"mode": mode,
                                              "t_fail": 5.5}}},
            "outputs": ["bad0.y"]}


def ball(v):
    return {"name": "ball%s" % v, "time": {"stop": 3, "dt": 0.05},
            "solver": {"method": "bdf", "rtol": 1e-10, "atol": 1e-12},
            "instances": {"b": {"model": "ball" + v}},
            "outputs": ["b.h", "b.bounces", "b.t_bounce"]}


def reference(scen):
    path = os.path.join(WORK, scen["name"] + ".json")
    out = os.path.join(WORK, scen["name"] + ".csv")
    with open(path, "w") as f:
        json.dump(scen, f)
    subprocess.run([TWINCTL, "run", "-q", "--models", FMUS, path, "-o", out],
                   check=True, timeout=60)
    with open(out, newline="") as f:
        r = csv.reader(f)
        columns = next(r)
        return columns, [[float(x) for x in row] for row in r]


def outcome(client, ctl, req, timeout=30):
    acc = req.response(timeout=10)
    expect(acc["status"] == "accepted", "not accepted: %r" % acc)
    final = req.final(timeout=timeout)
    msgs = client.results(ctl, acc["run"], final["last_seq"],
                          start=req.first_index)
    rows = [row for m in msgs for row in m["rows"]]
    return acc, final, rows


def start(client, ctl, scen):
    return client.request({"id": "fmu-" + uuid.uuid4().hex[:12],
                           "type": "run", "scenario": scen}, controller=ctl)


def check_fault(client, ctl, v, mode, code, words):
    good_scen = ball(v)
    bad = start(client, ctl, faulty(v, mode))
    good = start(client, ctl, good_scen)
    acc, final, rows = outcome(client, ctl, bad, timeout=RUN_SECONDS + 20)
    expect(final["status"] == "failed", "faulty run: %r" % final)
    e = (final.get("errors") or [{}])[0]
    expect(e.get("code") == code, "code %r, want %r: %r"
           % (e.get("code"), code, e))
    expect([r[0] for r in rows] == list(range(6)),
           "rows before the fault: t = %r" % [r[0] for r in rows])
    gacc, gfinal, grows = outcome(client, ctl, good)
    expect(gfinal["status"] == "finished", "healthy run: %r" % gfinal)
    columns, want = reference(good_scen)
    expect(gacc["columns"] == columns, "columns %r, twinctl run's %r"
           % (gacc["columns"], columns))
    expect([[float(x) for x in r] for r in grows] == want,
           "the ball's rows over MQTT differ from twinctl run's")
    r = client.request({"type": "describe"}, controller=ctl).response()
    expect(r["status"] == "ok", "describe after the fault: %r" % r)
    names = [m["name"] for m in r["models"]]
    expect("faulty" + v in names and "ball" + v in names,
           "describe does not list the FMUs: %r" % names)
    expect(any(w in e.get("message", "") for w in words),
           "the message does not say what happened (one of %r): %r"
           % (words, e.get("message")))
    expect("bad0" in e.get("message", "") or
           "faulty" in e.get("message", ""),
           "the message names neither the FMU nor its instance: %r" % e)


def main():
    t = Tests()
    try:
        with Broker() as broker, Client(broker) as client:
            with Controller(broker, "fmus", build=BUILD, models=[FMUS],
                            limits={"run_seconds": RUN_SECONDS,
                                    "max_runs": 4}):
                for v in ("2", "3"):
                    for mode, code, words in FAULTS:
                        t.check("FMI %s.0 faulty mode %d: %s, the ball beside "
                                "it complete" % (v, mode, code),
                                check_fault, client, "fmus", v, mode, code,
                                words)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
