#!/usr/bin/env python3
"""Python models in a `twinctl serve` model directory (docs/python.md,
"Where Python runs"), against a real mosquitto: the daemon lists them in
`describe` without running Python itself (the files are imported in the
vetting child and in each run's process, never in the daemon's — the
model file writes the id of the process importing it), refuses one whose
import fails naming the module, takes its virtual environment from the
configuration (`"python": {"venv": ...}`), runs them to the analytic
answer, and ends a run whose model raises (solver_failure, with the
traceback's last line) or hangs (timeout at limits.run_seconds) without
harm to the daemon or to a run beside it.

Usage: python3 tests/integration/test_python_daemon.py BUILD_DIR"""

import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     Tests, build_dir)

BUILD = build_dir()
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SOURCES = os.path.join(TOP, "tests", "python-models")
WORK = tempfile.mkdtemp(prefix="twin-py-daemon-")
MODELS = os.path.join(WORK, "models")
VENV = os.path.join(WORK, "venv")
MARK = os.path.join(WORK, "where")
RUN_SECONDS = 4


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def pids(kind):
    try:
        with open(MARK + "." + kind) as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def decay(name, model, stop=10):
    return {"name": name, "time": {"stop": stop, "dt": 1},
            "solver": {"method": "bdf", "rtol": 1e-10, "atol": 1e-12},
            "instances": {"r1": {"model": model}}}


def check_describe(client, ctl):
    r = client.request({"type": "describe"}, controller=ctl.id).response()
    have = {m["name"] for m in r["models"]}
    for name in ("where", "uses_venv", "faulty_py", "tank"):
        expect(name in have, "describe does not list %s: %r" % (name, have))
    expect("missing" not in have, "describe lists the broken model")
    with open(ctl.log, errors="replace") as f:
        log = f.read()
    expect("'twinctl_no_such_module' is not installed" in log,
           "the log does not name the missing module:\n%s" % log[-2000:])
    imports = pids("import")
    expect(imports and ctl.proc.pid not in imports,
           "where.py was imported by the daemon itself (%d in %r)"
           % (ctl.proc.pid, imports))


def check_runs(client, ctl):
    before = set(pids("import"))
    sc = decay("where-venv", "where")
    sc["instances"]["v1"] = {"model": "uses_venv"}
    acc, final, columns, rows, _ = client.run_scenario(sc, controller=ctl.id)
    expect(final.get("status") == "finished" and len(rows) == 11,
           "the run: %r, %d rows" % (final, len(rows)))
    x = columns.index("r1.x")
    v = columns.index("v1.x")
    for row in rows:
        t = row[0]
        expect(abs(row[x] - math.exp(-t)) <= 1e-6 and
               abs(row[v] - math.exp(-0.25 * t)) <= 1e-6,
               "row %r is not exp(-t), exp(-t/4)" % (row,))
    new = [p for p in pids("create") if p not in before]
    expect(new and ctl.proc.pid not in new,
           "the instance was made in the daemon (%d in %r)"
           % (ctl.proc.pid, new))


def check_faults(client, ctl):
    sc = decay("raises", "faulty_py")
    sc["instances"]["r1"]["params"] = {"mode": 0}
    acc, final, _, rows, _ = client.run_scenario(sc, controller=ctl.id)
    e = (final.get("errors") or [{}])[0]
    expect(final.get("status") == "failed" and
           e.get("code") == "solver_failure" and
           "ZeroDivisionError: the model divides by zero on purpose"
           in e.get("message", "") and "r1" in e.get("message", ""),
           "the raising run: %r" % final)
    sc = decay("hangs", "faulty_py", stop=60)
    sc["instances"]["r1"]["params"] = {"mode": 3, "t_fail": 2.0}
    acc, final, _, rows, _ = client.run_scenario(sc, controller=ctl.id,
                                                 timeout=RUN_SECONDS + 30)
    e = (final.get("errors") or [{}])[0]
    expect(final.get("status") == "failed" and e.get("code") == "timeout",
           "the hanging run: %r" % final)
    expect(ctl.alive(), "the daemon died")
    acc, final, _, rows, _ = client.run_scenario(decay("after", "where"),
                                                 controller=ctl.id)
    expect(final.get("status") == "finished", "a run after them: %r" % final)


def main():
    t = Tests()
    os.mkdir(MODELS)
    for f in ("where.py", "uses_venv.py", "faulty.py", "missing_module.py"):
        shutil.copy(os.path.join(SOURCES, f), MODELS)
    site = os.path.join(VENV, "lib", "python3.11", "site-packages")
    os.makedirs(site)
    with open(os.path.join(site, "twinctl_venv_probe.py"), "w") as f:
        f.write("K = 0.25\n")
    try:
        with Broker() as broker, Client(broker) as client:
            with Controller(broker, "py", build=BUILD, models=[MODELS],
                            limits={"run_seconds": RUN_SECONDS},
                            config_extra={"python": {"venv": VENV}},
                            env={"TWIN_TEST_WHERE": MARK}) as ctl:
                t.check("describe lists the Python models, the daemon "
                        "imports none, a broken one is refused naming its "
                        "module", check_describe, client, ctl)
                t.check("a run of Python models (one from the configured "
                        "venv) gives exp(-t); instances made in the run",
                        check_runs, client, ctl)
                t.check("an exception and a hang end only their run",
                        check_faults, client, ctl)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
