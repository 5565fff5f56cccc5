#!/usr/bin/python3
"""Python function plugins through `twinctl functions` and `twinctl call`
(docs/functions.md, "Python function plugins"): the real interpreter,
the real runner, a process per call.

tests/functions/python/pyfuncs.py has a function per type; every answer
is compared with the same computation done here, every wrong argument
with its refusal, and the faulty cases with their failures.
tests/functions/python-broken/ holds a file whose import fails and one
whose annotations the manifest cannot take.

Usage: test_pyfunc.py BUILDDIR SOURCEDIR
"""
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time

BUILD, SOURCE = sys.argv[1], sys.argv[2]
TWINCTL = os.path.join(BUILD, "controller", "twinctl")
GOOD = os.path.join(SOURCE, "tests", "functions", "python")
FNTEST = os.path.join(BUILD, "tests", "functions")   # fntest.so
BROKEN = os.path.join(SOURCE, "tests", "functions", "python-broken")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def twinctl(*args, env=None):
    e = dict(os.environ, TWIN_FUNCTION_PATH="")
    e.pop("TWIN_PYTHON_VENV", None)
    e.update(env or {})
    p = subprocess.run([TWINCTL, *args], capture_output=True, text=True,
                       env=e, timeout=60)
    return p.returncode, p.stdout, p.stderr


def call(name, args, directory=GOOD, **kw):
    rc, out, err = twinctl("call", "--function-dir", directory, name,
                           json.dumps(args), **kw)
    return rc, (json.loads(out) if rc == 0 else None), err


# ---- the manifest: describe's entries from annotations and docstrings
rc, out, err = twinctl("functions", "--function-dir", GOOD, "--json")
check(rc == 0, f"functions --json: rc {rc}: {err}")
entries = {e["name"]: e for e in json.loads(out)} if rc == 0 else {}
scale = entries.get("py_scale", {})
check(scale.get("kind") == "python" and scale.get("library") == "pyfuncs.py",
      f"py_scale's kind and file: {scale}")
check(scale.get("signature") ==
      "def py_scale(x: float, factor: float = ...) -> float",
      f"py_scale's signature: {scale.get('signature')}")
check([(p["name"], p["type"], p["unit"], p["required"])
       for p in scale.get("params", [])] ==
      [("x", "float", "m", True), ("factor", "float", "", False)],
      f"py_scale's parameters: {scale.get('params')}")
check(scale.get("returns") == {"type": "float", "unit": "m",
                               "doc": "x * factor"},
      f"py_scale's return: {scale.get('returns')}")
types = {n: ([p["type"] for p in e["params"]], e["returns"]["type"])
         for n, e in entries.items() if e["kind"] == "python"}
check(types.get("py_digits") == (["int"], "int") and
      types.get("py_negate") == (["bool"], "bool") and
      types.get("py_greet") == (["str"], "str") and
      types.get("py_cumsum") == (["list[float]"], "list[float]") and
      types.get("py_nothing") == (["float"], "None"),
      f"the types: {types}")
check("_helper" not in entries, "a private function is not listed")

# ---- each type, against the same computation here
xs = [0.1, 2.5, -3.25, 1e-3, 7.0]
cases = [
    ("py_scale", {"x": 1.5}, 3.0),
    ("py_scale", {"x": 1.5, "factor": -0.2}, 1.5 * -0.2),
    ("py_scale", {"x": 2, "factor": 3}, 6.0),      # ints as floats
    ("py_digits", {"n": -1234567890123}, 13),
    ("py_negate", {"flag": True}, False),
    ("py_negate", {"flag": False}, True),
    ("py_greet", {"name": "tank0 ü"}, "hello, tank0 ü"),
    ("py_cumsum", {"x": xs}, list(itertools.accumulate(xs))),
    ("py_cumsum", {"x": []}, []),
    ("py_norm", {"x": xs}, math.sqrt(sum(v * v for v in xs))),
    ("py_nothing", {"x": 1}, None),
]
for name, args, want in cases:
    rc, ans, err = call(name, args)
    got = ans and ans.get("value")
    if isinstance(want, float):
        ok = isinstance(got, float) and abs(got - want) <= 1e-15 * max(1, abs(want))
    elif isinstance(want, list):
        ok = isinstance(got, list) and len(got) == len(want) and all(
            abs(a - b) <= 1e-15 * max(1, abs(b)) for a, b in zip(got, want))
    else:
        ok = got == want and type(got) is type(want)
    check(rc == 0 and ok and ans.get("status") == "ok",
          f"{name}({args}) = {got!r}, want {want!r} (rc {rc}: {err})")
    if name == "py_nothing":
        check("py_nothing prints 1.0" in err,
              f"what a function prints goes to stderr: {err!r}")

rc, ans, err = call("py_inf", {"x": 1})
check(rc == 0 and ans["value"] is None and ans.get("nonfinite") == ["value"],
      f"an infinite result is null, named in nonfinite: {ans}")

# ---- each wrong argument refused before Python runs, with its message
wrong = [
    ("py_scale", {}, "/args/x", "missing_field",
     "'py_scale' needs 'x': the value (float, m)"),
    ("py_scale", {"x": 1, "y": 2}, "/args/y", "out_of_range",
     "'py_scale' has no argument 'y'; its arguments are x, factor"),
    ("py_scale", {"x": "1"}, "/args/x", "wrong_type",
     "'x' must be a number (m)"),
    ("py_scale", {"x": None}, "/args/x", "wrong_type",
     "'x' must be a number (m)"),
    ("py_digits", {"n": 2.5}, "/args/n", "wrong_type",
     "'n' must be a whole number (a Python int), written without a fraction"),
    ("py_digits", {"n": True}, "/args/n", "wrong_type",
     "'n' must be a whole number (a Python int), written without a fraction"),
    ("py_negate", {"flag": 1}, "/args/flag", "wrong_type",
     "'flag' must be true or false (a bool)"),
    ("py_greet", {"name": 3}, "/args/name", "wrong_type",
     "'name' must be a string (a str)"),
    ("py_cumsum", {"x": 1.0}, "/args/x", "wrong_type",
     "'x' must be an array of numbers"),
    ("py_cumsum", {"x": [1, "a"]}, "/args/x/1", "wrong_type",
     "element 1 of 'x' must be a number (m3)"),
]
for name, args, path, code, message in wrong:
    rc, ans, err = call(name, args)
    line = f"  {path}: {message} [{code}]"
    check(rc == 2 and line in err.splitlines(),
          f"{name}({args}) refused with {line!r}: rc {rc}, {err!r}")
# A number JSON cannot hold is refused when the request is read.
rc, out, err = twinctl("call", "--function-dir", GOOD, "py_scale",
                       '{"x": 1e999}')
check(rc != 0 and "py_scale" not in out, f"1e999 refused: rc {rc}, {err!r}")

# ---- failures of the function: only the call ends
rc, ans, err = call("py_log", {"x": -1})
check(rc == 1 and "function 'py_log' (in pyfuncs.py) raised ValueError: "
      "math domain error (at pyfuncs.py:" in err and "[model_crashed]" in err,
      f"an exception carries its message: rc {rc}, {err!r}")
rc, ans, err = call("py_liar", {"x": 1})
check(rc == 1 and "returned 'not a number' (str), not float" in err,
      f"a wrong return type: rc {rc}, {err!r}")
t0 = time.monotonic()
rc, out, err = twinctl("call", "--function-dir", GOOD, "--timeout", "1",
                       "py_forever", '{"x": 1}')
took = time.monotonic() - t0
check(rc == 1 and "did not return within 1 s" in err and "[timeout]" in err
      and took < 5, f"a function that never returns: rc {rc}, {took:.1f} s, "
      f"{err!r}")

# ---- files refused: a failing import, annotations the manifest lacks
rc, out, err = twinctl("functions", "--function-dir", BROKEN)
check("needs_missing.py does not import: there is no Python module "
      "'twinctl_no_such_module'" in err and
      "`apt install python3-twinctl-no-such-module`" in err and
      "`pip install twinctl_no_such_module`" in err,
      f"a failing import names the module and how to install it: {err!r}")
check("function 'untyped': parameter 'x' needs a type annotation" in err and
      "function 'dicty' returns <class 'dict'>" in err,
      f"unsupported annotations refused: {err!r}")
rc, out, err = twinctl("functions", "--function-dir", BROKEN, "--json")
names = {e["name"] for e in json.loads(out)} if rc == 0 else set()
check(rc == 0 and not names & {"never", "untyped", "dicty"},
      f"a refused file's functions are not listed: rc {rc}, {names}")

# ---- the interpreter: a virtual environment that is not there
rc, out, err = twinctl("functions", "--function-dir", GOOD,
                       env={"TWIN_PYTHON_VENV": "/nonexistent-venv"})
check("cannot run /nonexistent-venv/bin/python3" in err,
      f"a venv without python3 is named: {err!r}")

# ---- a scenario's functions and a batch's KPIs written in Python
def scenario_with(functions):
    with open(os.path.join(SOURCE, "scenarios", "tank-overflow.json")) as f:
        doc = json.load(f)
    doc["functions"] = functions
    return doc


with tempfile.TemporaryDirectory(prefix="twin-pykpi-") as tmp:
    # Each Python function against the built-in computing the same: max
    # (py_peak) and the linear integral, the trapezoid rule (py_trapz).
    sc = os.path.join(tmp, "ovf.json")
    with open(sc, "w") as f:
        json.dump(scenario_with([
            {"name": "peak", "function": "max", "of": "tank0.h"},
            {"name": "py_peak", "function": "py_peak", "of": "tank0.h"},
            {"name": "area", "function": "integral", "of": "tank0.h"},
            {"name": "py_area", "function": "py_trapz", "of": "tank0.h",
             "scale": 2},
            {"name": "fails", "function": "py_kpi_raises", "of": "tank0.h"},
        ]), f)
    out = os.path.join(tmp, "fn.json")
    rc, _, err = twinctl("run", "--function-dir", GOOD, "-q", "-o",
                         os.devnull, "--functions", out, sc)
    vals = json.load(open(out)) if rc == 0 else {}
    fv, fe = vals.get("functions", {}), vals.get("function_errors", {})
    check(rc == 0 and fv.get("py_peak") == fv.get("peak") and
          abs(fv.get("py_area", 0) - 2 * fv.get("area", 0)) <=
          1e-12 * abs(fv.get("area", 1)) and fv.get("area", 0) > 100,
          f"Python scenario functions against the built-ins: rc {rc}, "
          f"{vals}, {err!r}")
    check(fv.get("fails", 0) is None and
          fe.get("fails", {}).get("code") == "model_crashed" and
          "RuntimeError: no KPI on 121 samples" in
          fe.get("fails", {}).get("message", "") and
          fe.get("fails", {}).get("path") == "/functions/4",
          f"a scenario function that raises: no value, and why: {fe}")

    # A C plugin function the same way: fntest's weighted_area.
    with open(sc, "w") as f:
        json.dump(scenario_with([
            {"name": "area", "function": "integral", "of": "tank0.h"},
            {"name": "c_area", "function": "weighted_area", "of": "tank0.h",
             "w": 3}]), f)
    rc, _, err = twinctl("run", "--function-dir", FNTEST, "-q", "-o",
                         os.devnull, "--functions", out, sc)
    fv = json.load(open(out))["functions"] if rc == 0 else {}
    check(rc == 0 and abs(fv.get("c_area", 0) - 3 * fv.get("area", 0)) <=
          1e-12 * abs(fv.get("area", 1)) and fv.get("area", 0) > 100,
          f"a C plugin function as a scenario's function: rc {rc}, {fv}, "
          f"{err!r}")

    # Refused at composition, each with its path.
    with open(sc, "w") as f:
        json.dump(scenario_with([
            {"name": "a", "function": "py_scale", "of": "tank0.h"},
            {"name": "b", "function": "py_trapz", "of": "tank0.h",
             "scale": "2"},
            {"name": "c", "function": "py_trapz", "of": "tank0.h",
             "sclae": 2},
            {"name": "d", "function": "py_peak", "of": "tank0.h",
             "y": [1]},
            {"name": "e", "function": "py_nope", "of": "tank0.h"},
        ]), f)
    rc, _, err = twinctl("run", "--function-dir", GOOD, "-q", "-o",
                         os.devnull, sc)
    for line in (
            "/functions/0/function: 'py_scale' cannot be a scenario's "
            "function: it needs an argument 'y'",
            "/functions/1/scale: 'scale' must be a number (no unit) "
            "[wrong_type]",
            "/functions/2/sclae: 'py_trapz' has no argument 'sclae'; its "
            "arguments are t, y, scale [out_of_range]",
            "/functions/3/y: 't' and 'y' are the run's series",
            "/functions/4/function: there is no function 'py_nope'"):
        check(rc == 2 and line in err,
              f"refused: {line!r} in rc {rc}, {err!r}")

    # A batch: the KPI in Python beside the built-in, in every case.
    batch = {"contract": "twin.batch/1", "name": "pykpi",
             "scenario": scenario_with([]),
             "variations": {"grid": [{"param": "tank0.area",
                                      "values": [1.5, 2.0, 3.0]}]},
             "kpis": [{"name": "peak", "function": "max", "of": "tank0.h"},
                      {"name": "py_peak", "function": "py_peak",
                       "of": "tank0.h"}]}
    bf = os.path.join(tmp, "b.json")
    with open(bf, "w") as f:
        json.dump(batch, f)
    rc, out, err = twinctl("batch", "--function-dir", GOOD, "-q", bf, "-o",
                           os.path.join(tmp, "bout"))
    rows = []
    if rc == 0:
        import csv
        with open(os.path.join(tmp, "bout", "summary.csv")) as f:
            rows = list(csv.DictReader(f))
    check(rc == 0 and len(rows) == 3 and
          all(r["status"] == "finished" and r["py_peak"] == r["peak"]
              and r["peak"] for r in rows) and
          len({r["peak"] for r in rows}) == 3,
          f"a batch's Python KPI equals the built-in in every case: rc {rc},"
          f" {rows}, {err!r}")

# ---- a _helper.py beside the function files: imported, not listed
with tempfile.TemporaryDirectory(prefix="twin-pyhelp-") as tmp:
    with open(os.path.join(tmp, "_consts.py"), "w") as f:
        f.write("K = 5.0\n\n\ndef unannotated(x):\n    return x\n")
    with open(os.path.join(tmp, "usek.py"), "w") as f:
        f.write('"""Uses a helper beside it."""\nimport _consts\n\n\n'
                "def k_times(x: float) -> float:\n"
                '    """x times the helper\'s K."""\n'
                "    return x * _consts.K\n")
    rc, ans, err = call("k_times", {"x": 2.5}, directory=tmp)
    check(rc == 0 and ans["value"] == 12.5 and "_consts" not in err,
          f"a function file imports a _helper beside it: rc {rc}, {ans}, "
          f"{err!r}")

# ---- a virtual environment: its python3 and its packages
with tempfile.TemporaryDirectory(prefix="twin-venv-") as tmp:
    venv = os.path.join(tmp, "venv")
    made = subprocess.run(["/usr/bin/python3", "-m", "venv", venv],
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        print("SKIP the venv check: python3 -m venv failed:", made.stderr)
    else:
        site = subprocess.run(
            [os.path.join(venv, "bin", "python3"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(site, "twinctl_venv_only.py"), "w") as f:
            f.write("FACTOR = 3.0\n")
        fdir = os.path.join(tmp, "fns")
        os.mkdir(fdir)
        with open(os.path.join(fdir, "venvfns.py"), "w") as f:
            f.write('"""Needs a module only the venv has."""\n'
                    "import sys\n"
                    "import twinctl_venv_only\n\n\n"
                    "def venv_triple(x: float) -> float:\n"
                    '    """x times the venv module\'s FACTOR."""\n'
                    "    return x * twinctl_venv_only.FACTOR\n\n\n"
                    "def venv_prefix() -> str:\n"
                    '    """The interpreter\'s sys.prefix."""\n'
                    "    return sys.prefix\n")
        rc, ans, err = call("venv_triple", {"x": 1.5}, directory=fdir,
                            env={"TWIN_PYTHON_VENV": venv})
        check(rc == 0 and ans["value"] == 4.5,
              f"with TWIN_PYTHON_VENV the venv's module imports: rc {rc}, "
              f"{ans}, {err!r}")
        rc, ans, err = call("venv_prefix", {}, directory=fdir,
                            env={"TWIN_PYTHON_VENV": venv})
        check(rc == 0 and os.path.realpath(ans["value"]) ==
              os.path.realpath(venv),
              f"the venv's python3 runs the call: {ans}, {err!r}")
        rc, ans, err = call("venv_triple", {"x": 1.5}, directory=fdir)
        check(rc == 2 and "no Python module 'twinctl_venv_only'" in err,
              f"without the venv the module is missing: rc {rc}, {err!r}")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
