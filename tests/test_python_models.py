#!/usr/bin/env python3
"""test_python_models.py — Python models (issue 15 item 1, docs/python.md)
through `twinctl check-model`, `twinctl models` and `twinctl run`, with the
real embedded interpreter, each against an independent answer.

  twins     tank_py, pump_py and pi_py (examples/python-models) in place
            of the C plugins on tank-farm-3, over 24 h of simulated time
            (86 400 rows): every value of every row within 1e-9 of the C
            plugins' run (relative above 1)
  three     examples/python-models/tank-farm-3-mixed.json: Python, C and
            FMU models (the FMUs of tests/fmus) in one run, 24 h, every row
            within 1e-6 of the C plugins' (the FMUs' Model Exchange
            structure changes the solver's steps: 2.5e-7 seen)
  fed-batch bioreactor_py in place of the C bioreactor on fed-batch (30 h),
            every row within 1e-9
  mixed     Python pumps between C tanks and C controllers, and Python
            tanks and controllers around C pumps: Python feeding C and C
            feeding Python, the same rows to 1e-9
  ball      a bouncing ball (a state event with a state reset): the
            height at every tick against the closed form, to 1e-6
  ticker    time events every 0.35 s: the count at every tick exact, the
            last event's time the scheduled one bit for bit
  raises    an exception in derivatives: the run fails (solver_failure)
            naming the instance, the model and the exception's last
            traceback lines; the rows before it are exp(-t)
  nan       a NaN derivative: the run fails naming the instance
  arrays    what a twin.Array does (indices, slices, iteration, read-only
            ones refusing writes, NumPy views), checked at every call of
            a model whose NumPy right-hand side gives exp(-t), exp(-2t)
  kept      an exception in __init__ fails the run with its message; a
            window kept past its call raises when read (it was closed)
  segfault  a crash in the interpreter (ctypes reading address 0): only
            the run's process dies; the failure names the instance and
            the signal, and the rows before it are kept
  discard   twin.Discard once: the solver retries with a smaller step and
            the run still gives exp(-t) to 1e-7
  import    a model whose import fails: check-model refuses it naming the
            module and how to install it; the library skips it with the
            same sentence and loads the others; a syntax error is refused
            with its file and line, a declaration not of the form with
            the class, the variable and what is wrong
  venv      a model importing a module only a virtual environment has:
            refused without --python-venv, exp(-k t) with it, and its
            print() reaches the run's stderr
  listing   `twinctl models` and `check-model` on the Python models
  two       a file with two model classes: both listed, checked, and run
            side by side to exp(-t) and exp(-2t)
  where     the file is imported only in child processes: `models` (the
            daemon's way of loading the library) imports it in its vetting
            child, never in its own process; `run` in the vetting child
            and the run's process, and the run's process makes the
            instances

Usage: python3 tests/test_python_models.py BUILD_DIR"""
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

from checklib import check, summary

BUILD = os.path.abspath(sys.argv[1])
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWINCTL = os.path.join(BUILD, "controller", "twinctl")
EXAMPLES = os.path.join(TOP, "examples", "python-models")
BAD = os.path.join(TOP, "tests", "python-models")
WORK = tempfile.mkdtemp(prefix="twin-py-models-")


def twinctl(*args):
    return subprocess.run([TWINCTL, *args], capture_output=True, text=True,
                          timeout=300)


def rows(path):
    with open(path) as f:
        return list(csv.reader(f))


def run(scenario, models, name):
    path = os.path.join(WORK, name + ".json")
    with open(path, "w") as f:
        json.dump(scenario, f)
    out = os.path.join(WORK, name + ".csv")
    args = ["run", "-q", "-o", out]
    for m in models:
        args += m if isinstance(m, list) else ["--models", m]
    r = twinctl(*args, path)
    return r, (rows(out) if os.path.exists(out) else [])


def same_rows(a, b, what, tol=1e-9):
    if not a or len(a) != len(b) or a[0] != b[0]:
        check(False, f"{what}: {len(a)} and {len(b)} rows, headers "
              f"{a[:1]} and {b[:1]}")
        return
    worst, where = 0.0, None
    for i, (ra, rb) in enumerate(zip(a[1:], b[1:])):
        for j, (x, y) in enumerate(zip(ra, rb)):
            x, y = float(x), float(y)
            d = abs(x - y) / max(1.0, abs(x))
            if not d <= worst:
                worst, where = d, (i, a[0][j], x, y)
    check(worst <= tol, f"{what}: every row within {tol} (worst {worst} "
          f"at {where})")


DAY = 86400  # tank-farm-3 over the 24 h, one row a second


def tank_farm(stop, models):
    gen = os.path.join(TOP, "examples", "gen_tank_farm.py")
    text = subprocess.run([sys.executable, gen, "3", "--stop", str(stop)],
                          capture_output=True, text=True, check=True).stdout
    sc = json.loads(text)
    for inst in sc["instances"].values():
        inst["model"] = models.get(inst["model"], inst["model"])
    return sc


def test_twins():
    c, rc = run(tank_farm(DAY, {}), [], "c")
    check(c.returncode == 0 and len(rc) == DAY + 2,
          f"tank-farm-3 with the C plugins runs 24 h ({c.stderr[-300:]})")
    for name, models in [
            ("python", {"tank": "tank_py", "pump": "pump_py", "pi": "pi_py"}),
            ("mixed-pumps", {"pump": "pump_py"}),
            ("mixed-tanks-pi", {"tank": "tank_py", "pi": "pi_py"})]:
        r, rp = run(tank_farm(DAY, models), [EXAMPLES], name)
        check(r.returncode == 0, f"{name}: runs ({r.stderr[-300:]})")
        same_rows(rc, rp, f"{name} against the C plugins")
    return rc


def test_three(rc):
    fmus = os.path.join(BUILD, "tests", "fmus")
    if not os.path.exists(os.path.join(fmus, "fmupump.fmu")):
        print(f"test_python_models: no {fmus}/fmupump.fmu: the mixed "
              "scenario is skipped")
        return
    with open(os.path.join(EXAMPLES, "tank-farm-3-mixed.json")) as f:
        sc = json.load(f)
    sc["time"]["stop"] = DAY
    r, rm = run(sc, [EXAMPLES, fmus], "mixed")
    check(r.returncode == 0, f"the mixed scenario runs ({r.stderr[-300:]})")
    same_rows(rc, rm, "Python, C and FMU models against the C plugins",
              tol=1e-6)


def one_instance(name, model, inst, outputs, stop=10, dt=1, rtol=1e-10,
                 atol=1e-12):
    """A scenario of one instance of model, batch-paced, BDF."""
    return {"name": name, "time": {"start": 0, "stop": stop, "dt": dt},
            "pace": "batch",
            "solver": {"method": "bdf", "rtol": rtol, "atol": atol},
            "instances": {inst: {"model": model}}, "connections": [],
            "outputs": [inst + "." + o for o in outputs]}


def test_bioreactor():
    with open(os.path.join(TOP, "scenarios", "fed-batch.json")) as f:
        sc = json.load(f)
    c, rc = run(sc, [], "fed-batch-c")
    for inst in sc["instances"].values():
        inst["model"] = "bioreactor_py"
    p, rp = run(sc, [EXAMPLES], "fed-batch-py")
    check(c.returncode == 0 and p.returncode == 0 and len(rc) == 1802,
          f"fed-batch runs with both bioreactors ({c.stderr[-200:]} "
          f"{p.stderr[-200:]})")
    same_rows(rc, rp, "bioreactor_py against the C bioreactor")


def decay(model, name):
    return one_instance(name, model, "r1", ["x"])


def faulty(mode):
    """tests/python-models/faulty.py failing after t = 5 in mode."""
    sc = decay("faulty_py", "faulty-%d" % mode)
    sc["instances"]["r1"]["params"] = {"mode": mode}
    return sc


def ball_height(t, h0=1.0, g=9.81, e=0.7):
    """The closed form: free fall from h0, each bounce at speed e times the
    speed it hit the ground with."""
    t_hit = math.sqrt(2 * h0 / g)
    if t <= t_hit:
        return h0 - 0.5 * g * t * t
    v = e * g * t_hit
    while True:
        flight = 2 * v / g
        if t <= t_hit + flight:
            s = t - t_hit
            return v * s - 0.5 * g * s * s
        t_hit += flight
        v *= e


def test_events():
    sc = one_instance("ball", "ball_py", "b", ["h", "bounces"], stop=2.0,
                      dt=0.01)
    r, out = run(sc, [one_model("ball.py")], "ball")
    check(r.returncode == 0 and len(out) == 202,
          f"the ball runs ({r.stderr[-300:]})")
    worst = max((abs(float(h) - ball_height(float(t)))
                 for t, h, _ in out[1:]), default=math.inf)
    check(worst <= 1e-6, f"the ball's height against the closed form "
          f"(worst {worst})")
    check(out[-1][2] == "4", f"4 bounces by t = 2 ({out[-1]})")

    sc = one_instance("ticker", "ticker_py", "k", ["n", "last"], stop=5,
                      rtol=1e-8, atol=1e-10)
    r, out = run(sc, [one_model("ticker.py")], "ticker")
    want = [sum(1 for k in range(1, 100) if k * 0.35 <= t) for t in range(6)]
    check(r.returncode == 0 and [int(float(n)) for _, n, _ in out[1:]]
          == want, f"the time events counted at every tick ({out})")
    check(all(float(last) == (int(float(n)) * 0.35 if float(n) else 0.0)
              for _, n, last in out[1:]),
          f"each time event at its scheduled time, bit for bit ({out})")





def test_arrays():
    sc = one_instance("arrays", "arrays_py", "r1", ["a", "b", "s"], stop=5)
    r, out = run(sc, [one_model("arrays.py")], "arrays")
    check(r.returncode == 0 and len(out) == 7,
          f"every check of twin.Array holds at every call ({r.stderr[-400:]})")
    worst = max((max(abs(float(a) - math.exp(-float(t))),
                     abs(float(b) - math.exp(-2 * float(t))),
                     abs(float(s) - float(a) - float(b)))
                 for t, a, b, s in out[1:]), default=math.inf)
    check(worst <= 1e-8, f"x(t) = (exp(-t), exp(-2t)) through NumPy views "
          f"of the arrays (worst {worst})")


def one_model(file):
    d = os.path.join(WORK, "lib-" + file)
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(BAD, file), d)
    return d


def test_failures():
    fd = one_model("faulty.py")
    r, out = run(faulty(0), [fd], "raises")
    err = r.stderr
    check(r.returncode != 0 and "solver_failure" in err,
          f"an exception fails the run with solver_failure ({err[-400:]})")
    for part in ["instance 'r1'", "model 'faulty_py'", "Faulty.derivatives",
                 'line 28, in derivatives',
                 "ZeroDivisionError: the model divides by zero on purpose"]:
        check(part in err, f"the failure names {part!r} ({err[-400:]})")
    check(len(out) == 7 and all(abs(float(x) - math.exp(-float(t))) <= 1e-7
                                for t, x in out[1:]),
          f"the rows before the exception (t = 0 ... 5) are exp(-t) ({out})")

    r, out = run(faulty(1), [fd], "nan")
    check(r.returncode != 0 and "non-finite" in r.stderr and
          "instance 'r1'" in r.stderr,
          f"a NaN derivative fails the run naming r1 ({r.stderr[-300:]})")

    d = one_model("keep.py")
    sc = decay("keep", "init")
    sc["instances"]["r1"]["params"] = {"bad": 1.0}
    r, out = run(sc, [d], "init")
    check(r.returncode != 0 and "refused to create instance 'r1'" in r.stderr
          and "ValueError: the parameter bad is 1" in r.stderr,
          f"an exception in __init__ fails the run with it ({r.stderr[-300:]})")
    r, out = run(decay("keep", "kept"), [d], "kept")
    check(r.returncode != 0 and
          "twin.Array: this array was valid only during the call that "
          "received it" in r.stderr,
          f"a view kept past its call raises ({r.stderr[-300:]})")

    s = faulty(2)
    s["instances"]["r1"]["params"]["t_fail"] = 3.0
    r, out = run(s, [fd], "segfault")
    check(r.returncode != 0 and "instance 'r1'" in r.stderr and
          "SIGSEGV" in r.stderr and len(out) == 5,
          f"a segfault ends the run naming r1 and the signal, 4 rows kept "
          f"({r.stderr[-300:]} {len(out)})")

    r, out = run(decay("discarding", "discard"), [one_model("discard.py")],
                 "discard")
    check(r.returncode == 0 and len(out) == 12,
          f"a twin.Discard is retried and the run ends ({r.stderr[-300:]})")
    check(all(abs(float(x) - math.exp(-float(t))) <= 1e-7
              for t, x in out[1:]),
          f"after the discard the answer is still exp(-t) ({out})")


def test_import():
    path = os.path.join(BAD, "missing_module.py")
    r = twinctl("check-model", path)
    text = r.stdout + r.stderr
    check(r.returncode == 1 and "REFUSED" in text,
          f"check-model refuses a model whose import fails ({text[-300:]})")
    for part in ["'twinctl_no_such_module' is not installed",
                 "apt install python3-twinctl-no-such-module",
                 "pip install twinctl_no_such_module"]:
        check(part in text, f"the refusal says {part!r} ({text[-400:]})")
    d = one_model("missing_module.py")
    shutil.copy(os.path.join(EXAMPLES, "pump_py.py"), d)
    r = twinctl("models", "--models", d, "pump_py")
    check(r.returncode == 0 and "pump_py" in r.stdout and
          "twinctl_no_such_module" in r.stderr,
          f"the library skips the broken model with its reason and lists "
          f"the others ({r.stdout[-200:]} {r.stderr[-300:]})")


BROKEN = {
    "syntax.py": ("class A:\n    name = 'a'\n    variables = []\n"
                  "    def derivatives(self, t, x, u, dx)\n        pass\n",
                  ["SyntaxError in ", "syntax.py, line 4: expected ':'"]),
    "declared.py": ("class A:\n    name = 'a'\n    variables = [dict("
                    "name='x', kind='stat', start=1.0)]\n",
                    ["A.variables[0] ('x'): kind must be one of",
                     "not 'stat'"]),
    "keys.py": ("class A:\n    name = 'a'\n    variables = [dict("
                "name='x', kind='state', strat=1.0)]\n",
                ["A.variables[0] ('x') has unknown keys ['strat']"]),
}


def test_broken():
    for name, (text, parts) in BROKEN.items():
        path = os.path.join(WORK, name)
        with open(path, "w") as f:
            f.write(text)
        r = twinctl("check-model", path)
        check(r.returncode == 1 and all(p in r.stdout for p in parts),
              f"check-model {name} says {parts} ({r.stdout[-300:]})")


def test_venv():
    venv = os.path.join(WORK, "venv")
    site = os.path.join(venv, "lib", "python3.11", "site-packages")
    os.makedirs(site)
    with open(os.path.join(site, "twinctl_venv_probe.py"), "w") as f:
        f.write("K = 0.25\n")
    d = one_model("uses_venv.py")
    sc = decay("uses_venv", "venv")
    r, out = run(sc, [d], "no-venv")
    c = twinctl("check-model", os.path.join(d, "uses_venv.py"))
    check(r.returncode != 0 and "unknown_model" in r.stderr and
          "'twinctl_venv_probe' is not installed" in c.stdout,
          f"without the venv the model is refused naming the module "
          f"({r.stderr[-300:]} {c.stdout[-300:]})")
    r, out = run(sc, [d, ["--python-venv", venv]], "venv")
    check(r.returncode == 0 and len(out) == 12 and all(
        abs(float(x) - math.exp(-0.25 * float(t))) <= 1e-7
        for t, x in out[1:]), f"with --python-venv it runs to exp(-t/4) "
        f"({r.stderr[-300:]} {out[-2:]})")
    check("uses_venv: k = 0.25" in r.stderr,
          f"the model's print reaches stderr ({r.stderr[-300:]})")


def test_two():
    d = one_model("two.py")
    r = twinctl("models", "--models", d, "decay_a", "decay_b")
    c = twinctl("check-model", os.path.join(d, "two.py"))
    check(r.returncode == 0 and c.returncode == 0 and
          "descriptor: model 'decay_b'" in c.stdout,
          f"both classes listed and checked ({r.stderr[-200:]} "
          f"{c.stdout[-300:]})")
    sc = one_instance("two", "decay_a", "a", ["x"])
    sc["instances"]["b"] = {"model": "decay_b"}
    sc["outputs"].append("b.x")
    r, out = run(sc, [d], "two")
    check(r.returncode == 0 and len(out) == 12 and all(
        abs(float(a) - math.exp(-float(t))) <= 1e-7 and
        abs(float(b) - math.exp(-2 * float(t))) <= 1e-7
        for t, a, b in out[1:]), f"both run ({r.stderr[-300:]} {out[-1:]})")


def test_where():
    d = one_model("where.py")
    mark = os.path.join(WORK, "where")
    env = dict(os.environ, TWIN_TEST_WHERE=mark)

    def pids(kind):
        try:
            with open(mark + "." + kind) as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []

    p = subprocess.Popen([TWINCTL, "models", "--models", d, "where"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 0 and "where" in out and len(pids("import")) == 1
          and p.pid not in pids("import") and pids("create") ==
          pids("import"),
          f"models imports the file in a child only (models pid {p.pid}, "
          f"imports {pids('import')}, creates {pids('create')})")
    os.unlink(mark + ".import")
    if os.path.exists(mark + ".create"):
        os.unlink(mark + ".create")
    path = os.path.join(WORK, "where.json")
    with open(path, "w") as f:
        json.dump(decay("where", "where"), f)
    p = subprocess.Popen([TWINCTL, "run", "-q", "-o", os.devnull, "--models",
                          d, path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    out, err = p.communicate(timeout=60)
    imports, creates = pids("import"), pids("create")
    check(p.returncode == 0 and len(set(imports)) == 2 and
          p.pid not in imports and creates == imports,
          f"run imports the file in its vetting child and in the run's "
          f"process, never in its own (run pid {p.pid}, imports {imports}, "
          f"creates {creates}; {err[-300:]})")


def test_listing():
    r = twinctl("models", "--models", EXAMPLES, "tank_py")
    check(r.returncode == 0 and "tank_py" in r.stdout and
          "q_out" in r.stdout and "overflow" in r.stdout,
          f"models lists tank_py and its variables ({r.stdout[-300:]}"
          f"{r.stderr[-300:]})")
    for f in ("tank_py.py", "pump_py.py", "pi_py.py"):
        r = twinctl("check-model", os.path.join(EXAMPLES, f))
        check(r.returncode == 0 and "ready to use" in r.stdout,
              f"check-model {f} ({r.stdout[-300:]})")


test_three(test_twins())
test_bioreactor()
test_events()
test_arrays()
test_failures()
test_import()
test_broken()
test_venv()
test_listing()
test_where()
test_two()
shutil.rmtree(WORK, ignore_errors=True)
sys.exit(summary("test_python_models"))
