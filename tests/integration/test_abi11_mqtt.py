#!/usr/bin/env python3
"""Model ABI 1.1 through the daemon, against a real mosquitto and a real
`twinctl serve` loading the test plugins of tests/plugins/: a run whose
model asks to end it stops after its tick's row and `finished` says
`ended_by` (instance, t, reason), with the rows it has, and `twinctl
submit` says so as `twinctl run` does; time events
arrive as `time` events at exactly k * 0.3 s; a live `set` of an integer
input that is not whole, of a boolean that is not 0/1, or out of range is
rejected with out_of_range naming it, and JSON true is accepted for a
boolean; every message the controller sent is valid against docs/schema/.

Usage: python3 tests/integration/test_abi11_mqtt.py BUILD_DIR"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from harness import (Broker, Client, Controller, HarnessError, Tests,  # noqa: E402
                     build_dir, twinctl)
import schema_check  # noqa: E402

BUILD = build_dir()
PLUGINS = os.path.join(BUILD, "tests", "plugins")
CTL = "ctl-abi"


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def rows_of(results):
    return [row for r in results for row in r["rows"]]


def check_request_end(client):
    sc = {"time": {"stop": 5, "dt": 0.1},
          "instances": {"s": {"model": "sampler",
                              "params": {"end_at": 3}}},
          "outputs": ["s.n"]}
    acc, fin, cols, rows, _ = client.run_scenario(sc, controller=CTL)
    expect(acc is not None, "rejected: %r" % fin)
    expect(fin["status"] == "finished", fin)
    expect(fin.get("ended_by") == {"instance": "s", "t": 1.0,
                                   "reason": "count 3 reached"},
           "ended_by: %r" % fin.get("ended_by"))
    expect(acc["rows_expected"] == 51, acc)
    expect(fin["rows"] == 11 and len(rows) == 11, (fin, len(rows)))
    expect(rows[-1] == [1.0, 3.0], rows[-1])
    # A run that goes to its stop time says nothing of the kind.
    sc["instances"]["s"]["params"]["end_at"] = 0
    _, fin, _, rows, _ = client.run_scenario(sc, controller=CTL)
    expect(fin["status"] == "finished" and "ended_by" not in fin, fin)
    expect(len(rows) == 51, len(rows))
    expect("time_events" not in fin["stats"], fin["stats"])


def check_submit_ended_by(broker):
    """`twinctl submit` says who ended the run, as `twinctl run` does."""
    sc = {"time": {"stop": 5, "dt": 0.1},
          "instances": {"s": {"model": "sampler", "params": {"end_at": 3}}},
          "outputs": ["s.n"]}
    with tempfile.TemporaryDirectory(prefix="twin-abi11-") as d:
        path = os.path.join(d, "sc.json")
        with open(path, "w") as f:
            json.dump(sc, f)
        p = subprocess.run([twinctl(BUILD), "submit", "--broker", broker.url,
                            "--controller", CTL, "-q", path, "-o",
                            os.path.join(d, "out.csv")],
                           capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, "submit exited %d: %s" % (p.returncode,
                                                         p.stderr[-800:]))
    expect("ended at t = 1 by instance 's', which asked to end the run: "
           "count 3 reached" in p.stderr, "submit does not say who ended "
           "the run: %s" % p.stderr[-800:])


def check_time_events(client):
    sc = {"time": {"stop": 3, "dt": 0.25},
          "instances": {"c": {"model": "timer"}},
          "outputs": ["c.events"]}
    acc, fin, _, rows, events = client.run_scenario(sc, controller=CTL)
    expect(fin["status"] == "finished", fin)
    times = [e["t"] for e in events if e.get("kind") == "time"]
    want = [k * 0.3 for k in range(1, 11) if k * 0.3 < 3.0]
    expect(times == want, "time events at %r, not %r" % (times, want))
    expect(all(e["instance"] == "c" for e in events
               if e.get("kind") == "time"), events)
    # The finished stats count them; a run without any has no member.
    expect(fin["stats"].get("time_events") == len(want) and
           "step_events" not in fin["stats"], fin["stats"])


def check_set(client):
    sc = {"time": {"stop": 600, "dt": 1}, "pace": {"realtime": 1},
          "instances": {"y": {"model": "typed"}},
          "inputs": {"y.count": {"live": True, "value": 1},
                     "y.enable": {"live": True}},
          "outputs": ["y.scaled", "y.negated"]}
    run = "abi-set"
    req = client.request({"type": "run", "run": run, "scenario": sc},
                         controller=CTL)
    expect(req.response()["status"] == "accepted", "not accepted")
    try:
        for values, path, says in [
                ({"y.count": 1.5}, "/values/y.count",
                 "input 'count' is an integer: 1.5 is not a whole number"),
                ({"y.enable": 0.5}, "/values/y.enable",
                 "input 'enable' is boolean: it is 0 or 1"),
                ({"y.count": 101}, "/values/y.count",
                 "input 'count' is 101, outside its range [-100, 100]"),
                ({"y.count": True}, "/values/y.count",
                 "input 'count' must be a number")]:
            r = client.request({"type": "set", "run": run, "values": values},
                               controller=CTL).response()
            expect(r["status"] == "rejected", r)
            errs = r["errors"]
            expect(len(errs) == 1 and errs[0]["path"] == path and
                   says in errs[0]["message"] and
                   errs[0]["code"] in ("out_of_range", "wrong_type"),
                   "set %r: %r" % (values, errs))
        r = client.request({"type": "set", "run": run,
                            "values": {"y.enable": True, "y.count": -4}},
                           controller=CTL).response()
        expect(r["status"] == "ok", r)
        topic = client.topic(CTL, "result", run)

        def applied(m):
            return m.topic == topic and any(
                row[1] == -12 and row[2] == 0 for row in m.payload["rows"])
        client.wait(applied, 1, timeout=10)
    finally:
        client.request({"type": "cancel", "run": run},
                       controller=CTL).response()


def check_describe(client):
    """describe says each variable's type and whether it is a local."""
    r = client.request({"type": "describe"}, controller=CTL).response()
    typed = [m for m in r["models"] if m["name"] == "typed"]
    expect(len(typed) == 1, "describe lists the typed model once")
    got = {v["name"]: (v["kind"], v["type"], v["local"])
           for v in typed[0]["variables"]}
    want = {"gain": ("parameter", "integer", False),
            "on": ("parameter", "boolean", False),
            "label": ("parameter", "string", False),
            "count": ("input", "integer", False),
            "enable": ("input", "boolean", False),
            "scaled": ("output", "integer", False),
            "negated": ("output", "boolean", False),
            "label.len": ("output", "integer", True)}
    for name, w in want.items():
        expect(got.get(name) == w, "describe: %s is %r, expected %r"
               % (name, got.get(name), w))
    tank = [m for m in r["models"] if m["name"] == "tank"]
    expect(tank and all(v["type"] == "real" and not v["local"]
                        for v in tank[0]["variables"]),
           "a plugin of ABI 1.0 has real, non-local variables")


def check_schemas(client):
    bad = 0
    for m in client.messages():
        p = m.payload
        if not isinstance(p, dict) or "/request" in m.topic:
            continue
        problems = schema_check.validate("auto", p)
        if problems:
            bad += 1
            print("    invalid %s: %s: %s" % (m.topic, problems[:3],
                                              m.raw[:300]))
    expect(bad == 0, "%d messages invalid against docs/schema/" % bad)


def main():
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, CTL, build=BUILD, models=[PLUGINS]):
            t.check("request_end: finished with ended_by",
                    check_request_end, client)
            t.check("request_end: twinctl submit says who ended the run",
                    check_submit_ended_by, broker)
            t.check("time events at exactly k * 0.3", check_time_events,
                    client)
            t.check("set: integer, boolean, range", check_set, client)
            t.check("describe: type and local", check_describe, client)
        t.check("every message valid against docs/schema/", check_schemas,
                client)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
