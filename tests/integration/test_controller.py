#!/usr/bin/env python3
"""Integration tests of `twinctl serve` against a real mosquitto on a free
loopback port (no broker mocks): what issue 3 asks to be shown, and the
envelope's rejections, retries and response topics.

Usage: python3 tests/integration/test_controller.py BUILD_DIR
Prints one line per check and `N passed, N failed`."""

import csv
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, twinctl)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests"))
import schema_check  # noqa: E402

BUILD = build_dir()
TWINCTL = twinctl(BUILD)
SCEN = os.path.join(SOURCE_DIR, "scenarios")
CASES = os.path.join(SOURCE_DIR, "tests", "cases", "compose")


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def load(path):
    with open(path) as f:
        return json.load(f)


def reference_rows(scenario_path):
    """Rows of `twinctl run` for the same scenario, as floats."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "ref.csv")
        subprocess.run([TWINCTL, "run", "-q", scenario_path, "-o", out],
                       check=True, timeout=120)
        with open(out) as f:
            rows = list(csv.reader(f))
    return rows[0], [[float(x) for x in r] for r in rows[1:]]


def check_describe(client):
    req = client.request({"type": "describe"}, controller="ctl-1")
    r = req.response()
    expect(r["status"] == "ok", "describe: %r" % r)
    names = sorted(m["name"] for m in r["models"])
    expect(names == ["bioreactor", "header", "pi", "pump", "tank", "valve"],
           names)
    tank = next(m for m in r["models"] if m["name"] == "tank")
    vars_ = {v["name"]: v for v in tank["variables"]}
    expect(vars_["area"]["kind"] == "parameter" and
           vars_["area"]["start"] == 2.0, vars_["area"])
    expect(vars_["h"]["max"] is None, "infinite max is null")
    ids = sorted(i["id"] for i in r["instances"])
    lib = sorted(os.path.splitext(f)[0] for f in os.listdir(
        os.path.join(SOURCE_DIR, "instance-library")) if f.endswith(".json"))
    expect(ids == lib, "instances %r, library %r" % (ids, lib))
    expect("tank-farm-3" in r["scenarios"], r["scenarios"])
    expect(r["controller"] == "ctl-1", r)


def check_three_problems(client):
    scen = load(os.path.join(CASES, "three-problems", "scenario.json"))
    acc, final, _, _, _ = client.run_scenario(scen, controller="ctl-1")
    expect(acc is None and final["status"] == "rejected", final)
    got = [(e["code"], e["path"]) for e in final["errors"]]
    want = [("out_of_range", "/scenario/time/dt"),
            ("unknown_model", "/scenario/instances/pump0/model"),
            ("out_of_range", "/scenario/inputs/tank0.valve/steps/1")]
    expect(got == want, "errors %r" % got)
    expect(all(len(e["message"]) > 20 for e in final["errors"]), final)


def check_tank_farm_3(client):
    path = os.path.join(SCEN, "tank-farm-3.json")
    acc, final, columns, rows, _ = client.run_scenario(
        load(path), controller="ctl-1", timeout=120)
    expect(final["status"] == "finished", final)
    expect(final["rows"] == 86401 == len(rows), final["rows"])
    expect(final["messages"] == final["last_seq"] + 1, final)
    ref_cols, ref = reference_rows(path)
    expect(columns == ref_cols, "columns %r vs %r" % (columns, ref_cols))
    for k, (a, b) in enumerate(zip(rows, ref)):
        if a != b:  # identical doubles, not merely close
            raise HarnessError("row %d differs: %r vs %r" % (k, a, b))
    st = final["stats"]
    # Three chains of two states: stacked into one integrator (the
    # default for small groups, docs/simulation.md), a dense one.
    expect(st["groups"] == 1 and st["ticks"] == 86400, st)
    expect(st.get("stacked") is True and st.get("linear_solvers") ==
           {"dense": 1}, st)


OVERFLOW_FUNCTIONS = [
    {"name": "mean_h", "function": "mean", "of": "tank0.h"},
    {"name": "area_h", "function": "integral", "of": "tank0.h"},
    {"name": "p90_h", "function": "percentile", "of": "tank0.h", "p": 90},
    {"name": "t_wall", "function": "crossing_time", "of": "tank0.h",
     "threshold": 4.0, "direction": "up"},
    {"name": "ma_max", "function": "moving_average", "of": "tank0.h",
     "window": 10},
    {"name": "settle", "function": "settling_time", "of": "tank0.h",
     "target": 4.28, "band": 0.01},
    {"name": "never", "function": "crossing_time", "of": "tank0.q_out",
     "threshold": 1.0},
]


def recompute(t, y):
    """The functions of OVERFLOW_FUNCTIONS from the rows, by hand: plain
    sums, the trapezoid rule, linear interpolation."""
    n = len(y)
    trap = sum((t[i] - t[i - 1]) * (y[i] + y[i - 1]) / 2 for i in range(1, n))
    s = sorted(y)
    r = (n - 1) * 0.90
    lo = int(r)
    p90 = s[lo] + (r - lo) * (s[lo + 1] - s[lo])
    i = next(i for i in range(n - 1) if y[i] < 4.0 <= y[i + 1])
    t_wall = t[i] + (4.0 - y[i]) / (y[i + 1] - y[i]) * (t[i + 1] - t[i])
    # a 10 s trailing mean, ticks of 1 s: the trapezoid over 10 intervals
    ma = max(sum((y[k - j] + y[k - j - 1]) / 2 for j in range(10)) / 10
             for k in range(10, n))
    j = max(k for k in range(n) if abs(y[k] - 4.28) > 0.01)
    edge = 4.28 - 0.01
    settle = t[j] + (edge - y[j]) / (y[j + 1] - y[j]) * (t[j + 1] - t[j])
    return {"mean_h": sum(y) / n, "area_h": trap, "p90_h": p90,
            "t_wall": t_wall, "ma_max": ma, "settle": settle}


def check_functions(client):
    """A run's functions come back in `finished`, equal to the same
    quantities recomputed from the result rows, and to `twinctl run`'s."""
    scen = load(os.path.join(SCEN, "tank-overflow.json"))
    scen["functions"] = OVERFLOW_FUNCTIONS
    scen["every"] = 1
    acc, final, columns, rows, _ = client.run_scenario(scen,
                                                       controller="ctl-1")
    expect(final["status"] == "finished", final)
    problems = schema_check.validate("twin.response", final)
    expect(not problems, "finished is not valid: %r" % problems)
    fns = final["functions"]
    expect(sorted(fns) == sorted(f["name"] for f in OVERFLOW_FUNCTIONS), fns)
    ch = columns.index("tank0.h")
    want = recompute([r[0] for r in rows], [r[ch] for r in rows])
    for name, v in want.items():
        expect(fns[name] is not None and abs(fns[name] - v) <= 1e-9 * max(
            1.0, abs(v)), "%s: %r, recomputed %r" % (name, fns[name], v))
    # and the model's own answer: the wall at 1000/13 s
    expect(abs(fns["t_wall"] - 1000 / 13) < 1e-6, fns["t_wall"])
    expect(fns["never"] is None, fns)
    err = final["function_errors"]["never"]
    expect(err["code"] == "out_of_range" and
           err["path"] == "/scenario/functions/6" and
           "never crosses 1" in err["message"], err)
    expect(list(final["function_errors"]) == ["never"], final)
    # twinctl run evaluates the same samples: the same doubles.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.json")
        with open(path, "w") as f:
            json.dump(scen, f)
        out = os.path.join(d, "fn.json")
        r = subprocess.run([TWINCTL, "run", path, "-o", os.devnull,
                            "--functions", out], capture_output=True,
                           text=True, timeout=60)
        expect(r.returncode == 0, r.stderr)
        expect("  t_wall = 76.92307692 s (crossing_time of tank0.h)" in
               r.stderr and "  never = null: " in r.stderr, r.stderr)
        local = load(out)
    expect(local["functions"] == fns, "twinctl run: %r" % local)


def check_realtime_set(client):
    # tank-overflow at speed 10: 120 s of simulated time in 12 s of wall
    # time; set the valve while it runs and see it at the next tick.
    scen = load(os.path.join(SCEN, "tank-overflow.json"))
    scen["pace"] = {"realtime": 10.0}
    scen["time"]["stop"] = 40
    scen["inputs"]["tank0.valve"] = {"live": True, "value": 0.0}
    rid = "rt-" + str(int(time.time() * 1000))
    req = client.request({"id": rid, "type": "run", "scenario": scen},
                         controller="ctl-1")
    acc = req.response()
    expect(acc["status"] == "accepted", acc)
    expect(acc["pace"] == {"realtime": 10.0}, acc)
    # Wait for some rows, then set.
    time.sleep(1.0)
    s = client.request({"type": "set", "run": rid,
                        "values": {"tank0.valve": 0.6}}, controller="ctl-1")
    ok = s.response()
    expect(ok["status"] == "ok", ok)
    t_set = time.monotonic()
    final = req.final(timeout=30)
    expect(final["status"] == "finished", final)
    msgs = client.results("ctl-1", rid, final["last_seq"],
                          start=req.first_index)
    cols = acc["columns"]
    iv = cols.index("tank0.valve")
    rows = [r for m in msgs for r in m["rows"]]
    first = next(k for k, r in enumerate(rows) if r[iv] == 0.6)
    expect(all(r[iv] == 0.0 for r in rows[:first]), "valve before set")
    expect(all(r[iv] == 0.6 for r in rows[first:]), "valve after set")
    expect(1 <= first < len(rows) - 1, "set took effect at row %d" % first)
    st = final["stats"]
    expect("late_ticks" in st and st["missed_ticks"] == 0, st)
    ev = client.events("ctl-1", rid, req.first_index)
    expect(any(e["kind"] == "rtf" for e in ev), "no real-time factor event")
    rtf = [e for e in ev if e["kind"] == "rtf"]
    expect(all(5 < e["rtf_total"] < 15 for e in rtf), rtf)
    # Bad values are rejected with the reason.
    s = client.request({"type": "set", "run": rid,
                        "values": {"tank0.valve": 0.5}}, controller="ctl-1")
    r = s.response()
    expect(r["status"] == "rejected" and
           r["errors"][0]["code"] == "unknown_run", r)
    del t_set


def check_set_rejections(client):
    scen = load(os.path.join(SCEN, "tank-overflow.json"))
    scen["pace"] = {"realtime": 2.0}
    scen["inputs"]["tank0.valve"] = {"live": True, "value": 0.0}
    rid = "rs-" + str(int(time.time() * 1000))
    req = client.request({"id": rid, "type": "run", "scenario": scen},
                         controller="ctl-1")
    expect(req.response()["status"] == "accepted", "accepted")
    s = client.request({"type": "set", "run": rid,
                        "values": {"tank0.valve": 2.0, "tank0.h": 1,
                                   "tank0.q_in": "x"}}, controller="ctl-1")
    r = s.response()
    got = sorted((e["code"], e["path"]) for e in r["errors"])
    expect(got == [("out_of_range", "/values/tank0.valve"),
                   ("unknown_variable", "/values/tank0.h"),
                   ("wrong_type", "/values/tank0.q_in")], got)
    c = client.request({"type": "cancel", "run": rid}, controller="ctl-1")
    expect(c.response()["status"] == "ok", "cancel ok")
    final = req.final(timeout=10)
    expect(final["status"] == "cancelled", final)
    expect(final["errors"][0]["code"] == "cancelled", final)
    # Every row sent before the end arrives.
    msgs = client.results("ctl-1", rid, final["last_seq"],
                          start=req.first_index)
    expect(sum(len(m["rows"]) for m in msgs) == final["rows"], final)
    expect(final["rows"] < 121, "cancelled before the end")


def check_not_allowed(client):
    # ctl-2 allows describe and status only, and no real time.
    r = client.request({"type": "run", "scenario": "tank-overflow"},
                       controller="ctl-2").response()
    expect(r["status"] == "rejected" and
           [(e["code"], e["path"]) for e in r["errors"]] ==
           [("not_allowed", "/type")], r)
    r = client.request({"type": "steady", "scenario": "tank-overflow"},
                       controller="ctl-2").response()
    expect(r["errors"][0]["code"] == "not_allowed", r)
    r = client.request({"type": "status"}, controller="ctl-2").response()
    expect(r["status"] == "ok", r)


def check_envelope(client):
    # Malformed JSON, another contract major, a missing type: each its own.
    raw = client.request('{"contract": "twin.request/1", "id": "x1", ',
                         controller="ctl-1")
    bad = client.wait(lambda m: m.topic == "twin/ctl-1/response/_invalid"
                      and isinstance(m.payload, dict), timeout=5,
                      start=raw.first_index)[0].payload
    expect(bad["errors"][0]["code"] == "bad_json", bad)
    r = client.request({"contract": "twin.request/2", "type": "describe"},
                       controller="ctl-1").response()
    expect([e["code"] for e in r["errors"]] == ["bad_contract"], r)
    r = client.request({"type": "launch"}, controller="ctl-1").response()
    expect([(e["code"], e["path"]) for e in r["errors"]] ==
           [("out_of_range", "/type")], r)
    # Too large to parse: the id is still found for the answer's topic.
    big = {"id": "big-1", "type": "describe", "pad": "x" * 70000}
    r = client.request(big, controller="ctl-3").response()
    expect([e["code"] for e in r["errors"]] == ["too_large"], r)


def check_names_never_paths(client):
    """A model or scenario name in a request can never become a path."""
    so = os.path.join(BUILD, "models", "tank.so")
    scen = {"time": {"stop": 10, "dt": 1},
            "instances": {"a": {"model": so},
                          "b": {"model": "../models/tank"}}}
    r = client.request({"type": "run", "scenario": scen},
                       controller="ctl-1").response()
    expect([(e["code"], e["path"]) for e in r["errors"]] ==
           [("unknown_model", "/scenario/instances/a/model"),
            ("unknown_model", "/scenario/instances/b/model")], r)
    for name in ("../scenarios/tank-farm-3", "/etc/passwd", ".hidden"):
        r = client.request({"type": "run", "scenario": name},
                           controller="ctl-1").response()
        expect([(e["code"], e["path"]) for e in r["errors"]] ==
               [("out_of_range", "/scenario")], r)


def check_retry_and_response_topic(client):
    scen = load(os.path.join(SCEN, "tank-overflow.json"))
    rid = "retry-" + str(int(time.time() * 1000))
    acc, final, _, rows, _ = client.run_scenario(
        scen, controller="ctl-1", request_id=rid,
        response_topic="app/replies/" + rid, correlation="corr-42")
    expect(final["status"] == "finished" and len(rows) == 121, final)
    # The same id again: answered again (the final response), not run.
    again = client.request({"id": rid, "type": "run", "scenario": scen},
                           controller="ctl-1",
                           response_topic="app/replies/" + rid + "/2",
                           correlation="corr-43")
    r = again.response()
    expect(r["status"] == "finished" and r["last_seq"] == final["last_seq"],
           r)
    m = client.wait(lambda m: m.topic == "app/replies/" + rid + "/2",
                    timeout=5, start=again.first_index)[0]
    expect(m.correlation == b"corr-43", "correlation %r" % m.correlation)
    st = client.request({"type": "status", "run": rid},
                        controller="ctl-1").response()
    expect(st["state"] == "finished" and st["rows"] == 121, st)


def check_pool(client, n=12):
    """Two controllers in one group share pool requests; each is answered
    exactly once: run to its end, or refused `busy` when both were full
    (each takes 2 at a time)."""
    reqs = []
    for k in range(n):
        reqs.append(client.request(
            {"id": "pool-%d-%d" % (int(time.time()), k), "type": "run",
             "scenario": "tank-overflow"}, pool=True))
    finals = [r.final(timeout=60) for r in reqs]
    by = {}
    for r, f in zip(reqs, finals):
        # Overlapping subscriptions of this client deliver copies: count
        # distinct messages.
        answers = {m.raw: m for m in client.messages(
            lambda m, rid=r.id: m.topic.endswith("/response/" + rid))}
        statuses = sorted(m.payload["status"] for m in answers.values())
        ctls = {m.payload["controller"] for m in answers.values()}
        expect(len(ctls) == 1, "request %s answered by %r" % (r.id, ctls))
        if statuses == ["rejected"]:
            expect(f["errors"][0]["code"] == "busy", f)
            continue
        expect(statuses == ["accepted", "finished"],
               "request %s answered %r" % (r.id, statuses))
        by.setdefault(f["controller"], 0)
        by[f["controller"]] += 1
    expect(set(by) == {"ctl-1", "ctl-4"}, "shared by %r" % by)
    expect(sum(by.values()) >= 4, by)


def check_schemas(client):
    """Every message the controllers sent in this run of the tests is valid
    against docs/schema/ (requests are the tests' own, and bad on
    purpose)."""
    schema_check.check_sent(client.messages(), 101)


def main():
    t = Tests()
    with Broker() as broker, \
            Controller(broker, "ctl-1", build=BUILD), \
            Client(broker) as client:
        t.check("describe lists the models and the instance library",
                check_describe, client)
        t.check("three problems, exactly those three", check_three_problems,
                client)
        t.check("tank-farm-3 over MQTT: every row, identical to twinctl run",
                check_tank_farm_3, client)
        t.check("a run's functions in finished, as recomputed from the "
                "rows and as twinctl run has them", check_functions, client)
        t.check("real time at speed 10: a set shows at the next tick",
                check_realtime_set, client)
        t.check("set rejections; cancel ends with cancelled",
                check_set_rejections, client)
        t.check("a retried id is answered again; response topic and "
                "correlation", check_retry_and_response_topic, client)
        t.check("names in requests never become paths",
                check_names_never_paths, client)
        # Every controller of every group gets a copy of a pool request,
        # so the restricted ones are up only while the pool is not used.
        with Controller(broker, "ctl-2", build=BUILD, group="other",
                        allow={"requests": ["describe", "status"],
                               "realtime": False}), \
                Controller(broker, "ctl-3", build=BUILD, group="other",
                           limits={"request_bytes": 65536}):
            t.check("not_allowed", check_not_allowed, client)
            t.check("bad JSON, bad contract, bad type, too large",
                    check_envelope, client)
        with Controller(broker, "ctl-4", build=BUILD):
            t.check("two controllers share the pool, each request answered "
                    "once", check_pool, client)
        t.check("every message sent is valid against docs/schema/",
                check_schemas, client)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
