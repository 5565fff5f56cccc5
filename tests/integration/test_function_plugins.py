#!/usr/bin/env python3
"""Function plugins over MQTT, against a real mosquitto and a real
`twinctl serve` (docs/functions.md, docs/contract.md "call"):

- describe lists every plugin function with its signature, units and
  documentation, as its manifest says;
- `call` of every signature kind of the test plugin
  (BUILD/tests/functions/fntest.so) and of the example procfuncs, with the
  results computed here by the same formulas;
- wrong arguments: too few, too many, a wrong type, a wrong array length,
  each its own rejection with its code and JSON Pointer;
- a function that crashes, one that calls exit and one that never returns
  end only their own call (model_crashed, timeout), while the daemon keeps
  answering other requests and calls at once;
- limits.max_calls (busy), allow.requests (not_allowed), a function name
  that looks like a path (unknown_function);
- manifests with problems are refused at load with a log line naming the
  file and each problem, and none of their functions is listed;
- every message the controller sent is valid against docs/schema/;
- the cost of a call: the round trip of `call` against that of `status`;
- Python function plugins (tests/functions/python/pyfuncs.py): described
  with kind python, called with each type, an exception and a loop ending
  only their call, what a function prints labelled in the log.

Usage: python3 tests/integration/test_function_plugins.py BUILD_DIR"""

import decimal
import json
import math
import socket
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests"))
import schema_check  # noqa: E402

BUILD = build_dir()
FNTEST = os.path.join(BUILD, "tests", "functions")
PYFUNCS = os.path.join(SOURCE_DIR, "tests", "functions", "python")
CALL_SECONDS = 2
CTL = "fn-1"


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def close(got, want, rel=1e-14):
    return got is not None and abs(got - want) <= rel * max(1.0, abs(want))


def call(client, function, args=None, controller=CTL, timeout=10):
    req = {"type": "call", "function": function}
    if args is not None:
        req["args"] = args
    return client.request(req, controller=controller).response(
        timeout=timeout)


def ok_value(client, function, args=None):
    r = call(client, function, args)
    expect(r["status"] == "ok" and r["function"] == function and
           r["type"] == "call", "%s(%r): %r" % (function, args, r))
    return r


def problems(r):
    return sorted((e["code"], e["path"]) for e in r.get("errors", []))


# ---- describe

def manifest(path):
    with open(path) as f:
        return json.load(f)


def check_describe(client):
    r = client.request({"type": "describe"}, controller=CTL).response()
    fns = {f["name"]: f for f in r["functions"]}
    for path in (os.path.join(FNTEST, "fntest.json"),
                 os.path.join(SOURCE_DIR, "functions", "procfuncs",
                              "procfuncs.json")):
        m = manifest(path)
        for mf in m["functions"]:
            f = fns.get(mf["name"])
            expect(f is not None, "describe does not list %s (of %s)"
                   % (mf["name"], path))
            expect(f["kind"] == "plugin" and f["library"] == m["library"],
                   f)
            expect(f["doc"] == mf["doc"], "doc of %s" % mf["name"])
            want = [(a["name"], a["type"], a.get("unit", ""), a["doc"])
                    for a in mf.get("args", [])]
            got = [(p["name"], p["type"], p["unit"], p["doc"])
                   for p in f["params"]]
            expect(got == want, "params of %s: %r, manifest %r"
                   % (mf["name"], got, want))
            expect(f["returns"]["type"] == mf["returns"]["type"] and
                   f["returns"]["unit"] == mf["returns"].get("unit", ""),
                   "returns of %s: %r" % (mf["name"], f["returns"]))
    expect(fns["lmtd"]["signature"] ==
           "double lmtd(double dt_a, double dt_b)", fns["lmtd"])
    expect(fns["mixed"]["signature"] ==
           "double fn_mixed(double a, int k, const double *v, int n, long m, "
           "size_t z, const int *w, long nw, double b)",
           fns["mixed"]["signature"])
    expect(fns["scale"]["signature"] ==
           "void fn_scale(const double *x, int n, double factor, double *y)",
           fns["scale"]["signature"])
    norm = {p["name"]: p for p in fns["norm"]["params"]}
    expect(norm["x"]["length"] == "n" and norm["x"]["min_length"] == 1 and
           norm["n"]["length_of"] == ["x"] and
           norm["n"]["required"] is False, norm)
    sq = {p["name"]: p for p in fns["squares"]["params"]}
    expect(sq["y"]["out"] is True and sq["y"]["required"] is False and
           sq["n"]["required"] is True, sq)
    for refused in ("ok_one", "ghost", "escaped"):
        expect(refused not in fns, "%s, of a refused manifest, is listed"
               % refused)


# ---- right arguments: every kind, against the formulas computed here

def lmtd(a, b):
    """(a - b) / ln(a / b) to 40 digits (no cancellation as a -> b)."""
    if a == b:
        return a
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        da, db = decimal.Decimal(a), decimal.Decimal(b)
        return float((da - db) / (da / db).ln())


KV_PER_CV = 0.22712470704 / math.sqrt(0.0689475729317)


def check_every_kind(client):
    r = ok_value(client, "affine", {"a": 1.5, "b": -2.25, "x": 3.5})
    expect(close(r["value"], 1.5 * 3.5 - 2.25), r)
    r = ok_value(client, "gcd", {"a": -1071, "b": 462})
    expect(r["value"] == math.gcd(1071, 462) and
           isinstance(r["value"], int), r)
    r = ok_value(client, "lmul", {"a": 3000000007, "b": -3})
    expect(r["value"] == -9000000021, r)
    r = ok_value(client, "zsq", {"n": 3000000000})
    expect(r["value"] == 9000000000000000000, r)
    r = ok_value(client, "answer")
    expect(r["value"] == 42, r)
    x = [3.0, -4.0, 12.0]
    r = ok_value(client, "norm", {"x": x})
    expect(close(r["value"], math.sqrt(sum(v * v for v in x))), r)
    r = ok_value(client, "norm", {"x": x, "n": 3})  # given, and right
    expect(close(r["value"], 13.0), r)
    y = [0.5, 0.25, -2.0]
    r = ok_value(client, "dot", {"x": x, "y": y})
    expect(close(r["value"], sum(a * b for a, b in zip(x, y))), r)
    r = ok_value(client, "dot", {"x": [], "y": []})
    expect(r["value"] == 0, r)
    k = [1000, -7, 250, -1000, 3]
    r = ok_value(client, "isum", {"k": k})
    expect(r["value"] == sum(k), r)
    r = ok_value(client, "scale", {"x": x, "factor": -0.5})
    expect(r["value"] is None and
           r["outputs"] == {"y": [-0.5 * v for v in x]}, r)
    r = ok_value(client, "squares", {"n": 5})
    expect(r["value"] == 5 and r["outputs"]["y"] == [i * i for i in
                                                     range(5)], r)
    v, w = [0.125, 2.5], [7, -1, 4]
    r = ok_value(client, "mixed", {"a": 1.25, "k": -3, "v": v, "m": 10 ** 12,
                                   "z": 17, "w": w, "b": 0.0625})
    want = 1.25 * -3 + sum(v) + 10 ** 12 + 17 + 1000 * sum(w) + 0.0625
    expect(close(r["value"], want), "mixed: %r, want %r" % (r, want))
    r = ok_value(client, "nan", {"x": -1})
    expect(r["value"] is None and r["nonfinite"] == ["value"], r)
    r = ok_value(client, "nan", {"x": 2.25})
    expect(r["value"] == 1.5 and "nonfinite" not in r, r)


def check_procfuncs(client):
    r = ok_value(client, "lmtd", {"dt_a": 30, "dt_b": 10})
    expect(close(r["value"], 20 / math.log(3)), r)
    r = ok_value(client, "lmtd", {"dt_a": 20.000001, "dt_b": 20})
    expect(close(r["value"], lmtd(20.000001, 20), 1e-12), r)
    r = ok_value(client, "lmtd_counterflow", {
        "t_hot_in": 400, "t_hot_out": 340, "t_cold_in": 290,
        "t_cold_out": 330})
    expect(close(r["value"], lmtd(400 - 330, 340 - 290)), r)
    r = ok_value(client, "lmtd_counterflow", {
        "t_hot_in": 300, "t_hot_out": 290, "t_cold_in": 295,
        "t_cold_out": 310})
    expect(r["value"] is None and r["nonfinite"] == ["value"],
           "crossed temperatures: %r" % r)
    # Cv 10 at 1 bar of water: Kv = 8.650 m3/h
    r = ok_value(client, "valve_flow", {"cv": 10, "dp": 1e5, "sg": 1})
    expect(close(r["value"], 10 * KV_PER_CV / 3600), r)
    expect(abs(r["value"] * 3600 - 8.650) < 5e-4, r)
    r = ok_value(client, "valve_flow", {"cv": 25, "dp": 3.2e5, "sg": 0.8})
    q = 25 * KV_PER_CV * math.sqrt(3.2 / 0.8) / 3600
    expect(close(r["value"], q), r)
    r = ok_value(client, "valve_cv", {"q": q, "dp": 3.2e5, "sg": 0.8})
    expect(close(r["value"], 25, 1e-13), r)
    for fn, arg, want in (("c_to_k", 25, 298.15), ("k_to_c", 0, -273.15),
                          ("f_to_k", 212, 373.15), ("bar_to_pa", 2.5, 2.5e5),
                          ("pa_to_bar", 101325, 1.01325),
                          ("m3h_to_m3s", 36, 0.01),
                          ("m3s_to_m3h", 0.01, 36)):
        name = manifest(os.path.join(SOURCE_DIR, "functions", "procfuncs",
                                     "procfuncs.json"))
        a = [f for f in name["functions"] if f["name"] == fn][0]
        r = ok_value(client, fn, {a["args"][0]["name"]: arg})
        expect(close(r["value"], want), "%s(%r): %r, want %r"
               % (fn, arg, r, want))
    t, q = [300.0, 350.0, 320.0], [1.0, 3.0, 0.5]
    r = ok_value(client, "mix_temperature", {"t": t, "q": q})
    expect(close(r["value"], sum(a * b for a, b in zip(t, q)) / sum(q)), r)
    r = ok_value(client, "c_to_k_array", {"t_c": [0, 100, -40]})
    expect(r["outputs"]["t_k"] == [0 + 273.15, 100 + 273.15, -40 + 273.15],
           r)


# ---- built-ins through the same request

def check_builtins(client):
    y = [3.0, 1.0, 4.0, 1.5, 5.0, 9.0]
    r = ok_value(client, "mean", {"y": y})
    expect(close(r["value"], statistics.mean(y)), r)
    r = ok_value(client, "percentile", {"y": y, "p": 50})
    expect(close(r["value"], statistics.median(y)), r)
    t = [0, 1, 2, 3, 4, 5]
    r = ok_value(client, "crossing_time", {"t": t, "y": y, "threshold": 2,
                                           "direction": "up"})
    # the first upward crossing of 2 is between t = 1 (y = 1) and t = 2
    # (y = 4): on the line, at t = 1 + (2 - 1) / (4 - 1)
    expect(close(r["value"], 1 + 1 / 3), r)
    r = ok_value(client, "crossing_time", {"t": t, "y": y, "threshold": 50})
    expect(r["value"] is None and r["value_error"]["code"] == "out_of_range"
           and r["value_error"]["path"] == "/args/y" and
           "never crosses" in r["value_error"]["message"], r)
    r = call(client, "percentile", {"y": [1, "a"], "p": 200, "q": 1})
    expect(problems(r) == [("out_of_range", "/args/p"),
                           ("out_of_range", "/args/q"),
                           ("wrong_type", "/args/y/1")], r)
    # A plugin function named like a built-in is not loaded: mean is the
    # built-in's (the manifest shadow.json tries).
    r = ok_value(client, "mean", {"y": [1, 2]})
    expect(r["value"] == 1.5, r)
    d = client.request({"type": "describe"}, controller=CTL).response()
    kinds = [f["kind"] == "builtin" for f in d["functions"]]
    expect(kinds == sorted(kinds, reverse=True), "built-ins are not listed "
           "first: %r"
           % kinds)
    means = [f for f in d["functions"] if f["name"] == "mean"]
    expect(len(means) == 1 and means[0]["kind"] == "builtin", means)


# ---- wrong arguments: each its own rejection

WRONG = [
    # (function, args, [(code, path)], what)
    ("affine", {"a": 1, "b": 2}, [("missing_field", "/args/x")],
     "too few: x missing"),
    ("affine", {"a": 1, "b": 2, "x": 3, "c": 4},
     [("out_of_range", "/args/c")], "too many: c"),
    ("affine", {"a": 1, "b": "2", "x": 3}, [("wrong_type", "/args/b")],
     "a string for a double"),
    ("affine", {"a": 1, "b": 2, "x": 101}, [("out_of_range", "/args/x")],
     "x above its max"),
    ("gcd", {"a": 1.5, "b": 2}, [("wrong_type", "/args/a")],
     "a fraction for an int"),
    ("gcd", {"a": 2 ** 31, "b": 2}, [("out_of_range", "/args/a")],
     "past a C int"),
    ("gcd", {"a": 6, "b": -4}, [("out_of_range", "/args/b")],
     "b below its min 0"),
    ("zsq", {"n": -1}, [("out_of_range", "/args/n")], "a negative size_t"),
    ("norm", {"x": 3.0}, [("wrong_type", "/args/x")],
     "a number for an array"),
    ("norm", {"x": [1, "2", 3]}, [("wrong_type", "/args/x/1")],
     "a string in a double array"),
    ("norm", {"x": []}, [("out_of_range", "/args/x")],
     "an array shorter than min_length"),
    ("norm", {"x": [1] * 9}, [("out_of_range", "/args/x")],
     "an array longer than max_length"),
    ("norm", {"x": [1, 2], "n": 3}, [("out_of_range", "/args/n")],
     "a length given that is not the array's"),
    ("norm", {"x": [1, 2], "n": "2"}, [("wrong_type", "/args/n")],
     "a length given as a string"),
    ("dot", {"x": [1, 2, 3], "y": [1, 2]}, [("out_of_range", "/args/y")],
     "two arrays of one length argument, different lengths"),
    ("isum", {"k": [1, 2.5, 1001]},
     [("out_of_range", "/args/k/2"), ("wrong_type", "/args/k/1")],
     "a fraction and a value past max in an int array"),
    ("scale", {"x": [1], "factor": 2, "y": [0]},
     [("out_of_range", "/args/y")], "an output given as an argument"),
    ("squares", {}, [("missing_field", "/args/n")],
     "the length of an output alone, missing"),
    ("squares", {"n": 1001}, [("out_of_range", "/args/n")],
     "the length of an output above its max"),
    ("answer", {"x": 1}, [("out_of_range", "/args/x")],
     "an argument to a function of none"),
    ("mixed", {"a": 1, "k": 1.0, "v": [1], "m": 1, "z": 1, "w": [1, 2],
               "nw": 3, "b": "x", "q": 0},
     [("out_of_range", "/args/nw"), ("out_of_range", "/args/q"),
      ("wrong_type", "/args/b"), ("wrong_type", "/args/k")],
     "four problems at once, each named"),
]


def check_wrong(client):
    bad = []
    for fn, args, want, what in WRONG:
        r = call(client, fn, args)
        got = problems(r)
        if r["status"] != "rejected" or got != sorted(want):
            bad.append("%s: %s(%s): %r, want %r" % (what, fn, json.dumps(args),
                                                   got or r, sorted(want)))
        for e in r.get("errors", []):
            if len(e["message"]) < 20:
                bad.append("%s: a short message: %r" % (what, e))
    expect(not bad, "\n    ".join([""] + bad))
    r = client.request({"type": "call", "function": "affine", "args": [1, 2]},
                       controller=CTL).response()
    expect(problems(r) == [("wrong_type", "/args")], r)
    r = client.request({"type": "call"}, controller=CTL).response()
    expect(problems(r) == [("missing_field", "/function")], r)
    r = client.request({"type": "call", "function": 7},
                       controller=CTL).response()
    expect(problems(r) == [("wrong_type", "/function")], r)
    for name in ("nosuch", "../tests/functions/fntest", "/bin/sh",
                 "fntest.so"):
        r = call(client, name, {})
        expect(problems(r) == [("unknown_function", "/function")],
               "%s: %r" % (name, r))


# ---- faults end only their own call

def check_fault(client, function, code, words):
    r = call(client, function, {"x": 1}, timeout=CALL_SECONDS + 10)
    expect(r["status"] == "failed" and r["function"] == function and
           problems(r) == [(code, "/function")], r)
    m = r["errors"][0]["message"]
    expect(function in m and "fntest.so" in m, "the message names neither "
           "the function nor its library: %r" % m)
    expect(any(w in m for w in words), "the message does not say what "
           "happened (%r): %r" % (words, m))
    r = ok_value(client, "affine", {"a": 2, "b": 1, "x": 3})
    expect(r["value"] == 7, r)


def running(pid):
    """Alive and not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def check_call_output_and_fork(client, log):
    """A function that prints and forks: its lines are in the daemon's log,
    labelled with the call, and its fork ends with its call."""
    r = ok_value(client, "chatty_fork", {"x": 42})
    pid = int(r["value"])
    deadline = time.monotonic() + 3
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if running(pid):
        os.kill(pid, 9)
        raise HarnessError("the function's fork %d still runs after its "
                           "call" % pid)
    time.sleep(0.2)
    with open(log, errors="replace") as f:
        lines = [ln for ln in f if "chatty_fork says 42" in ln]
    expect(len(lines) == 2, "the function's two lines in the log: %r"
           % lines)
    label = "twinctl serve: call of function 'chatty_fork' for request %s: " \
        % r["id"]
    expect(all(ln.startswith(label) for ln in lines),
           "lines without the label %r: %r" % (label, lines))


def check_loop_keeps_daemon_answering(client):
    t0 = time.monotonic()
    looping = client.request({"type": "call", "function": "loop",
                              "args": {"x": 1}}, controller=CTL)
    crashing = client.request({"type": "call", "function": "crash",
                               "args": {"x": 1}}, controller=CTL)
    # While the loop runs: answers at once, and a run start to finish.
    for i in range(5):
        r = ok_value(client, "lmtd", {"dt_a": 10 + i, "dt_b": 5})
        expect(close(r["value"], lmtd(10 + i, 5)), r)
    r = client.request({"type": "status"}, controller=CTL).response()
    expect(r["status"] == "ok", r)
    acc, final, cols, rows, ev = client.run_scenario("tank-overflow",
                                                     controller=CTL)
    expect(final["status"] == "finished" and rows, final)
    busy = time.monotonic() - t0
    c = crashing.response(timeout=5)
    expect(problems(c) == [("model_crashed", "/function")], c)
    expect(looping.received() == [] or busy > CALL_SECONDS,
           "the loop was answered before its limit: %r"
           % looping.received())
    r = looping.response(timeout=CALL_SECONDS + 5)
    took = time.monotonic() - t0
    expect(problems(r) == [("timeout", "/function")], r)
    expect(CALL_SECONDS - 0.1 <= took <= CALL_SECONDS + 3,
           "the loop ended after %.2f s, limit %d s" % (took, CALL_SECONDS))
    print("    while a call looped for %.2f s: 5 calls, a status and "
          "tank-overflow answered in %.2f s" % (took, busy))


def check_busy(client):
    """limits.max_calls = 4: a fifth call at once is busy."""
    loops = [client.request({"type": "call", "function": "loop",
                             "args": {"x": i}}, controller=CTL)
             for i in range(4)]
    time.sleep(0.3)
    r = call(client, "affine", {"a": 1, "b": 1, "x": 1})
    expect(problems(r) == [("busy", "")], r)
    for req in loops:
        r = req.response(timeout=CALL_SECONDS + 5)
        expect(problems(r) == [("timeout", "/function")], r)
    r = ok_value(client, "affine", {"a": 1, "b": 1, "x": 1})
    expect(r["value"] == 2, r)


def check_retry(client):
    """A request id is never processed twice: a retry while the call runs
    starts nothing (the one answer comes), a retry after it is answered
    again with the same answer."""
    obj = {"id": "retry-loop-1", "type": "call", "function": "loop",
           "args": {"x": 1}}
    first = client.request(obj, controller=CTL)
    time.sleep(0.3)
    client.request(obj, controller=CTL)
    r = first.response(timeout=CALL_SECONDS + 5)
    expect(problems(r) == [("timeout", "/function")], r)
    time.sleep(0.5)
    expect(len(first.received()) == 1, "answered %d times while running: %r"
           % (len(first.received()), first.received()))
    again = client.request(obj, controller=CTL).response(timeout=5)
    expect(again == r, "answered again differently: %r" % again)


def check_refused_manifests(ctl, bad_dir):
    with open(ctl.log) as f:
        log = f.read()
    broken = os.path.join(bad_dir, "broken.json")
    for needle in (broken + ": function plugin refused, 4 problems:",
                   "/functions/1/symbol: the library exports no symbol "
                   "'fn_ghost'",
                   "/functions/2/args/0/type: argument 'f' has an "
                   "unknown type \"float\"",
                   "/functions/2/args/1/length: the length of 'v' is \"m\", "
                   "but 'weird' has no argument of that name",
                   "/functions/2/name: the library exports no symbol "
                   "'weird'",
                   os.path.join(bad_dir, "shadow.json") + ": function "
                   "'mean' has the name of a built-in, which a call would "
                   "run instead; skipped",
                   os.path.join(bad_dir, "escape.json") +
                   ": function plugin refused, 1 problem:",
                   "/library: \"library\" is the file name of the shared "
                   "object in the manifest's own directory, not a path"):
        expect(needle in log, "the log lacks %r:\n%s" % (needle, log))


def check_schemas(client):
    seen = schema_check.check_sent(client.messages(), 100)
    print("    %d messages valid" % seen)


def round_trips(client, obj, n):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        r = client.request(dict(obj), controller=CTL).response()
        times.append(time.monotonic() - t0)
        expect(r["status"] == "ok", r)
    return times


def check_cost(client):
    # Without TCP_NODELAY on this end, every small request waits for a
    # delayed ACK (about 40 ms), which would hide what is measured.
    client.mqtt.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,
                                    1)
    n = 200
    status = round_trips(client, {"type": "status"}, n)
    calls = round_trips(client, {"type": "call", "function": "c_to_k",
                                 "args": {"t": 20}}, n)
    ms = [1e3 * statistics.median(x) for x in (status, calls)]
    p90 = 1e3 * sorted(calls)[int(0.9 * n)]
    print("    round trip over MQTT, median of %d: status %.2f ms, call of "
          "c_to_k %.2f ms (p90 %.2f ms): a call's process costs about "
          "%.2f ms" % (n, ms[0], ms[1], p90, ms[1] - ms[0]))
    expect(ms[1] < 100, "a call takes %.1f ms" % ms[1])


def check_python(client, log):
    """Python functions through the daemon: describe, each type, an
    exception, a loop, what they print, a scenario's function."""
    r = client.request({"type": "describe"}, controller=CTL).response()
    fns = {f["name"]: f for f in r["functions"]}
    f = fns.get("py_cumsum")
    expect(f is not None and f["kind"] == "python" and
           f["library"] == "pyfuncs.py" and
           f["signature"] == "def py_cumsum(x: list[float]) -> list[float]"
           and f["params"][0]["unit"] == "m3", f)
    xs = [0.5, -1.25, 3.0]
    for name, args, want in (
            ("py_scale", {"x": 1.25, "factor": -4}, -5.0),
            ("py_digits", {"n": 9876543210}, 10),
            ("py_negate", {"flag": False}, True),
            ("py_greet", {"name": "pi0"}, "hello, pi0"),
            ("py_cumsum", {"x": xs}, [0.5, -0.75, 2.25]),
            ("py_norm", {"x": xs}, math.sqrt(sum(v * v for v in xs)))):
        r = ok_value(client, name, args)
        got = r["value"]
        expect(got == want if not isinstance(want, float)
               else close(got, want), "%s(%r) = %r, want %r"
               % (name, args, got, want))
    r = call(client, "py_digits", {"n": 1.5})
    expect(r["status"] == "rejected" and
           problems(r) == [("wrong_type", "/args/n")], r)
    r = call(client, "py_log", {"x": 0})
    expect(r["status"] == "failed" and
           problems(r) == [("model_crashed", "/function")] and
           "raised ValueError: math domain error" in
           r["errors"][0]["message"], r)
    t0 = time.monotonic()
    r = call(client, "py_forever", {"x": 1}, timeout=CALL_SECONDS + 10)
    took = time.monotonic() - t0
    expect(problems(r) == [("timeout", "/function")] and
           took < CALL_SECONDS + 3, "%r after %.2f s" % (r, took))
    # A scenario's function in Python, in a run on the daemon.
    with open(os.path.join(SOURCE_DIR, "scenarios", "tank-overflow.json")) \
            as f:
        doc = json.load(f)
    doc["functions"] = [
        {"name": "peak", "function": "max", "of": "tank0.h"},
        {"name": "py_peak", "function": "py_peak", "of": "tank0.h"},
        {"name": "py_area", "function": "py_trapz", "of": "tank0.h"},
        {"name": "area", "function": "integral", "of": "tank0.h"}]
    acc, final, cols, rows, ev = client.run_scenario(doc, controller=CTL)
    fv = final.get("functions", {})
    expect(final["status"] == "finished" and
           fv.get("py_peak") == fv.get("peak") and
           close(fv.get("py_area"), fv.get("area"), 1e-12), final)
    r = ok_value(client, "py_nothing", {"x": 7})
    expect(r["value"] is None, r)
    time.sleep(0.2)
    label = "twinctl serve: call of function 'py_nothing' for request %s: " \
        % r["id"]
    with open(log, errors="replace") as f:
        lines = [ln for ln in f if "py_nothing prints 7.0" in ln]
    expect(len(lines) == 1 and lines[0].startswith(label),
           "the function's line labelled %r in the log: %r" % (label, lines))


def check_not_allowed(client):
    r = call(client, "lmtd", {"dt_a": 1, "dt_b": 2}, controller="fn-2")
    expect(problems(r) == [("not_allowed", "/type")], r)


def write_bad_manifests(d):
    shutil.copy(os.path.join(FNTEST, "fntest.so"), d)
    ok = {"name": "ok_one", "symbol": "fn_affine", "doc": "fine",
          "returns": {"type": "double"},
          "args": [{"name": n, "type": "double", "doc": n}
                   for n in ("a", "b", "x")]}
    broken = {"contract": "twin.functions/1", "library": "fntest.so",
              "functions": [
                  ok,
                  {"name": "ghost", "symbol": "fn_ghost", "doc": "missing",
                   "returns": {"type": "double"}},
                  {"name": "weird", "doc": "bad types",
                   "returns": {"type": "double"},
                   "args": [{"name": "f", "type": "float", "doc": "f"},
                            {"name": "v", "type": "double[]", "length": "m",
                             "doc": "v"}]}]}
    escape = {"contract": "twin.functions/1", "library": "../fntest.so",
              "functions": [dict(ok, name="escaped")]}
    shadow = {"contract": "twin.functions/1", "library": "fntest.so",
              "functions": [dict(ok, name="mean")]}
    for name, doc in (("broken", broken), ("escape", escape),
                      ("shadow", shadow)):
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump(doc, f)


def main():
    t = Tests()
    bad_dir = tempfile.mkdtemp(prefix="twin-badfn-")
    try:
        write_bad_manifests(bad_dir)
        with Broker() as broker, Client(broker) as client:
            with Controller(broker, CTL, build=BUILD,
                            limits={"call_seconds": CALL_SECONDS,
                                    "max_calls": 4},
                            config_extra={"function_dirs": [FNTEST,
                                                            bad_dir,
                                                            PYFUNCS]}) \
                    as ctl:
                t.check("describe lists every plugin function as its "
                        "manifest says", check_describe, client)
                t.check("every signature kind called through libffi, "
                        "against the formulas", check_every_kind, client)
                t.check("procfuncs: LMTD, valve flow, conversions",
                        check_procfuncs, client)
                t.check("built-ins through call and describe",
                        check_builtins, client)
                t.check("wrong count, type, array length: each its own "
                        "rejection", check_wrong, client)
                t.check("a crash ends only its call (model_crashed)",
                        check_fault, client, "crash", "model_crashed",
                        ("Segmentation fault",))
                t.check("exit() ends only its call (model_crashed)",
                        check_fault, client, "exits", "model_crashed",
                        ("exit status 3",))
                t.check("a loop ends at limits.call_seconds (timeout) while "
                        "the daemon answers", check_loop_keeps_daemon_answering,
                        client)
                t.check("a function's output labelled in the log, its "
                        "fork ended with its call",
                        check_call_output_and_fork, client, ctl.log)
                t.check("limits.max_calls: busy", check_busy, client)
                t.check("a retried call id: one call, answered again",
                        check_retry, client)
                t.check("refused manifests: logged with every problem",
                        check_refused_manifests, ctl, bad_dir)
                t.check("the cost of a call", check_cost, client)
                t.check("Python functions: described, called with each "
                        "type, an exception and a loop end only their call",
                        check_python, client, ctl.log)
            with Controller(broker, "fn-2", build=BUILD,
                            allow={"requests": ["describe", "status"]}):
                t.check("allow.requests without call: not_allowed",
                        check_not_allowed, client)
            t.check("every message sent is valid against docs/schema/",
                    check_schemas, client)
    finally:
        shutil.rmtree(bad_dir, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
