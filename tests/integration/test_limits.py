#!/usr/bin/env python3
"""Every limit of a controller, each with its own clear rejection, against
a real mosquitto and a real `twinctl serve` (docs/serve.md, DESIGN.md
"Every limit is explicit and configurable"):

  limits.request_bytes     too_large, path ""            (unparsed)
  limits.max_instances     too_large, /scenario/instances
  limits.max_connections   too_large, /scenario/connections
  limits.max_rows          too_large, /scenario/time
  limits.function_samples  too_large, /scenario/functions
  limits.max_runs          busy, path ""
  limits.run_seconds       the run ends failed with timeout
  allow.models             not_allowed, /scenario/instances/<name>
  allow.overrides          not_allowed, /scenario/instances/<name>/params/<p>
  allow.realtime           not_allowed, /scenario/pace
  allow.requests           not_allowed, /type

Each check also sends what is just inside the limit and expects it taken,
so a limit is neither missing nor off by one; every rejection names the
limit's figure in its message.

Usage: python3 tests/integration/test_limits.py BUILD_DIR"""

import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir)

BUILD = build_dir()
LIMITS = {"request_bytes": 8192, "max_instances": 3, "max_connections": 2,
          "max_rows": 150, "max_runs": 2, "run_seconds": 2,
          "function_samples": 200}


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def load(path):
    with open(path) as f:
        return json.load(f)


def overflow(stop=120, pace="batch"):
    scen = load(os.path.join(SOURCE_DIR, "scenarios", "tank-overflow.json"))
    scen["time"]["stop"] = stop
    scen["pace"] = pace
    return scen


def tanks(n, chained):
    """n tanks, each feeding the next when chained (n − 1 connections)."""
    return {"time": {"stop": 10, "dt": 1},
            "instances": {"tank%d" % i: {"model": "tank",
                                         "start": {"h": 1.0}}
                          for i in range(n)},
            "connections": [{"from": "tank%d.q_out" % i,
                             "to": "tank%d.q_in" % (i + 1)}
                            for i in range(n - 1)] if chained else []}


def loop3():
    """pump → tank → pi → pump: 3 instances, 3 connections."""
    return {"time": {"stop": 10, "dt": 1},
            "instances": {"pump0": {"model": "pump"},
                          "tank0": {"model": "tank"},
                          "pi0": {"model": "pi"}},
            "connections": [{"from": "pump0.q", "to": "tank0.q_in"},
                            {"from": "tank0.h", "to": "pi0.pv"},
                            {"from": "pi0.out", "to": "pump0.cmd"}]}


def run(client, ctl, scen):
    return client.request({"type": "run", "scenario": scen},
                          controller=ctl)


def rejected_only(resp, code, path, figure):
    """A rejection with exactly one error: code at path, naming figure."""
    expect(resp["status"] == "rejected", "not rejected: %r" % resp)
    errs = resp["errors"]
    expect(len(errs) == 1, "one problem expected: %r" % errs)
    e = errs[0]
    expect(e["code"] == code and e["path"] == path,
           "want %s at %r, got %s at %r: %s" % (code, path, e["code"],
                                                e["path"], e["message"]))
    expect(str(figure) in e["message"],
           "the message does not give the limit %s: %r" % (figure,
                                                           e["message"]))
    return e


def accepted_and_finished(client, ctl, scen):
    req = run(client, ctl, scen)
    first = req.response()
    expect(first["status"] == "accepted", "just inside the limit, not "
           "accepted: %r" % first)
    final = req.final(timeout=20)
    expect(final["status"] == "finished", final)


def check_request_bytes(client, ctl):
    limit = LIMITS["request_bytes"]

    def padded(size):
        rid = "big-" + uuid.uuid4().hex[:12]
        head = '{"id": "%s", "contract": "twin.request/1", ' \
               '"type": "describe", "pad": "' % rid
        body = head + "x" * (size - len(head) - 2) + '"}'
        assert len(body) == size
        return rid, body

    rid, body = padded(limit + 1)
    client.subscribe(client.topic(ctl, "response", rid))
    start = client.mark()
    client.publish(client.topic(ctl, "request"), body)
    m = client.wait(lambda m: m.topic.endswith("/response/" + rid), 1, 10,
                    start)[0].payload
    expect(m["id"] == rid, "the id was not found in the oversized request")
    rejected_only(m, "too_large", "", limit)
    rid, body = padded(limit)
    client.subscribe(client.topic(ctl, "response", rid))
    start = client.mark()
    client.publish(client.topic(ctl, "request"), body)
    m = client.wait(lambda m: m.topic.endswith("/response/" + rid), 1, 10,
                    start)[0].payload
    expect(m["status"] == "ok", "a request of exactly request_bytes: %r"
           % m)


def check_max_instances(client, ctl):
    resp = run(client, ctl, tanks(4, chained=False)).response()
    rejected_only(resp, "too_large", "/scenario/instances",
                  LIMITS["max_instances"])
    accepted_and_finished(client, ctl, tanks(3, chained=False))


def check_max_connections(client, ctl):
    resp = run(client, ctl, loop3()).response()
    rejected_only(resp, "too_large", "/scenario/connections",
                  LIMITS["max_connections"])
    accepted_and_finished(client, ctl, tanks(3, chained=True))


def check_max_rows(client, ctl):
    limit = LIMITS["max_rows"]
    resp = run(client, ctl, overflow(stop=limit)).response()  # limit + 1
    rejected_only(resp, "too_large", "/scenario/time", limit)
    accepted_and_finished(client, ctl, overflow(stop=limit - 1))
    # Rows are horizon / dt / every: a longer horizon fits with "every".
    scen = overflow(stop=2 * limit)
    scen["every"] = 2
    resp = run(client, ctl, scen).response()
    rejected_only(resp, "too_large", "/scenario/time", limit)
    scen["time"]["stop"] = 2 * (limit - 1)
    accepted_and_finished(client, ctl, scen)


def check_function_samples(client, ctl):
    # Functions hold every tick of each signal they read, and the times:
    # (ticks + 1) × (signals + 1) values, "every" or not.
    limit = LIMITS["function_samples"]
    scen = overflow(stop=limit // 2)                  # 101 × 2 values
    scen["functions"] = [{"name": "m", "function": "mean", "of": "tank0.h"},
                         {"name": "x", "function": "max", "of": "tank0.h"}]
    scen["every"] = 10
    resp = run(client, ctl, scen).response()
    rejected_only(resp, "too_large", "/scenario/functions", limit)
    scen["time"]["stop"] = limit // 2 - 1             # 100 × 2: inside
    accepted_and_finished(client, ctl, scen)


def check_max_runs_and_run_seconds(client, ctl):
    # max_runs paced runs (each would take 100 s; run_seconds stops them
    # after 2 s), then one more: busy, while they run.
    paced = [run(client, ctl, overflow(stop=100, pace={"realtime": 1.0}))
             for _ in range(LIMITS["max_runs"])]
    for r in paced:
        first = r.response()
        expect(first["status"] == "accepted", first)
    t0 = time.monotonic()
    extra = run(client, ctl, overflow()).response()
    e = rejected_only(extra, "busy", "", LIMITS["max_runs"])
    expect(time.monotonic() - t0 < LIMITS["run_seconds"],
           "the busy answer came after the runs could have ended")
    expect("pool" in e["message"] or "later" in e["message"],
           "busy does not say what to do: %r" % e["message"])
    # run_seconds: each ends failed with timeout, with the rows it made.
    for r in paced:
        final = r.final(timeout=15)
        expect(final["status"] == "failed", final)
        err = final["errors"][0]
        expect(err["code"] == "timeout", err)
        expect("limit of %g s" % LIMITS["run_seconds"] in err["message"],
               "the timeout does not give the limit: %r" % err["message"])
        rows = [row for p in client.results(ctl, final["run"],
                                            final["last_seq"],
                                            start=r.first_index)
                for row in p["rows"]]
        expect(rows and [row[0] for row in rows] ==
               list(range(len(rows))) and len(rows) == final["rows"],
               "rows before the timeout: t = %r" % [row[0] for row in rows])
        expect(1 <= len(rows) <= 4, "%d rows in 2 s at speed 1"
               % len(rows))
    # Capacity is back.
    accepted_and_finished(client, ctl, overflow())


def check_models_allowed(client, ctl):
    resp = run(client, ctl, "tank-farm-3").response()
    expect(resp["status"] == "rejected", resp)
    got = sorted((e["code"], e["path"]) for e in resp["errors"])
    want = sorted([("not_allowed", "/scenario/instances/%s%d" % (m, i))
                   for m in ("pump", "pi") for i in range(3)])
    expect(got == want, "want every pump and pi instance not_allowed, got "
           "%r" % got)
    expect(all("'pump'" in e["message"] or "'pi'" in e["message"]
               for e in resp["errors"]), resp["errors"])
    accepted_and_finished(client, ctl, overflow())


def library_tank(params):
    """tank-overflow on library instance TK-101, overriding params."""
    scen = overflow()
    scen["instances"]["tank0"] = {"instance": "TK-101", "params": params,
                                  "start": {"h": 3.5}}
    return scen


def check_overrides_allowed(client, ctl):
    # allow.overrides ["tank.cv"]: cv may be overridden, area and height
    # may not, each refused at its own pointer; a model with full params
    # (no library instance) is not an override at all.
    resp = run(client, ctl, library_tank({"cv": 0.02, "area": 3.0,
                                          "height": 5.0})).response()
    expect(resp["status"] == "rejected", resp)
    got = sorted((e["code"], e["path"]) for e in resp["errors"])
    want = [("not_allowed", "/scenario/instances/tank0/params/area"),
            ("not_allowed", "/scenario/instances/tank0/params/height")]
    expect(got == want, "want area and height not_allowed, got %r" % got)
    expect(all("TK-101" in e["message"] and "allow.overrides" in e["message"]
               for e in resp["errors"]), resp["errors"])
    accepted_and_finished(client, ctl, library_tank({"cv": 0.02}))
    accepted_and_finished(client, ctl, overflow())


def check_realtime_allowed(client, ctl):
    resp = run(client, ctl, overflow(pace={"realtime": 10.0})).response()
    e = rejected_only(resp, "not_allowed", "/scenario/pace", "batch")
    expect("real-time" in e["message"], e["message"])


def check_requests_allowed(client, ctl):
    resp = client.request({"type": "cancel", "run": "nothing"},
                          controller=ctl).response()
    rejected_only(resp, "not_allowed", "/type", "cancel")
    ok = client.request({"type": "status"}, controller=ctl).response()
    expect(ok["status"] == "ok", ok)


def main():
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, "lim", build=BUILD, limits=LIMITS):
            t.check("request_bytes: too_large, unparsed, id found",
                    check_request_bytes, client, "lim")
            t.check("max_instances: too_large at /scenario/instances",
                    check_max_instances, client, "lim")
            t.check("max_connections: too_large at /scenario/connections",
                    check_max_connections, client, "lim")
            t.check("max_rows: too_large at /scenario/time", check_max_rows,
                    client, "lim")
            t.check("function_samples: too_large at /scenario/functions",
                    check_function_samples, client, "lim")
            t.check("max_runs: busy; run_seconds: timeout",
                    check_max_runs_and_run_seconds, client, "lim")
        with Controller(broker, "strict", build=BUILD,
                        allow={"models": ["tank"], "realtime": False,
                               "overrides": ["tank.cv"],
                               "requests": ["describe", "run", "status"]}):
            t.check("allow.models: not_allowed per instance",
                    check_models_allowed, client, "strict")
            t.check("allow.overrides: not_allowed per overridden "
                    "parameter of a library instance",
                    check_overrides_allowed, client, "strict")
            t.check("allow.realtime false: not_allowed at /scenario/pace",
                    check_realtime_allowed, client, "strict")
            t.check("allow.requests: not_allowed at /type",
                    check_requests_allowed, client, "strict")
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
