#!/usr/bin/env python3
"""Integration tests of the `steady` request against a real mosquitto and
a real `twinctl serve`: steady states compared with the equations of
reference-models.md solved by hand here (a tank with fixed
inflow and valve: h = (q_in/(cv·u))²; a pump: w = cmd; a pump feeding a
tank; the tank-farm-3 chains under the PI outputs of their first tick), a
steady state that does not exist (inflow into a shut tank) answered
`failed` with its residual, a rejected scenario with every problem at its
JSON Pointer, a model that crashes or hangs while solving (only its own
process ends: model_crashed, timeout at the wall-clock or the CPU-time
limit), a solve under way when the daemon stops (answered `cancelled`),
a deployment that does not allow steady, a retry answered again, and
every message the controllers sent valid against docs/schema/.

Usage: python3 tests/integration/test_steady_mqtt.py BUILD_DIR"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from harness import (Broker, Client, Controller, HarnessError, Tests,  # noqa: E402
                     build_dir)
import schema_check  # noqa: E402

BUILD = build_dir()
PLUGINS = os.path.join(BUILD, "tests", "plugins")
RTOL = 1e-9


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def close(got, want, what, rtol=RTOL):
    expect(got is not None and abs(got - want) <= rtol * abs(want),
           "%s = %r, expected %r (relative tolerance %g)"
           % (what, got, want, rtol))


def steady(client, body, controller="ctl-1", timeout=30):
    req = client.request(dict(body, type="steady"), controller=controller)
    return req.final(timeout=timeout)


def tank_scenario(q_in, valve, h0=1.0, area=2.0, cv=0.03):
    return {"time": {"start": 0, "stop": 10, "dt": 1},
            "instances": {"tank0": {"model": "tank",
                                    "params": {"area": area, "cv": cv,
                                               "height": 4.0},
                                    "start": {"h": h0}}},
            "inputs": {"tank0.q_in": {"value": q_in},
                       "tank0.valve": {"value": valve}}}


def check_tank(client):
    q_in, cv, u = 0.0075, 0.03, 0.4
    a = steady(client, {"scenario": tank_scenario(q_in, u)})
    expect(a["status"] == "ok", a)
    h = (q_in / (cv * u)) ** 2
    close(a["states"]["tank0.h"], h, "tank0.h")
    close(a["outputs"]["tank0.q_out"], q_in, "tank0.q_out")
    expect(a["outputs"]["tank0.overflow"] == 0, a["outputs"])
    expect(a["residual_norm"] <= 1e-10, a["residual_norm"])
    expect(a["inputs"] == {"tank0.q_in": q_in, "tank0.valve": u}, a["inputs"])
    # The request holds the valve elsewhere; above the wall (4 m) the
    # overflow flag agrees with the level.
    b = steady(client, {"scenario": tank_scenario(q_in, u),
                        "inputs": {"tank0.valve": 0.1}})
    expect(b["status"] == "ok", b)
    h = (q_in / (cv * 0.1)) ** 2
    close(b["states"]["tank0.h"], h, "tank0.h, valve held at 0.1")
    expect(h > 4 and b["outputs"]["tank0.overflow"] == 1, b["outputs"])


def check_pump_chain(client):
    # pump alone: w = cmd, q = q_max·w, power = p_rated·w³.
    tau, q_max, p_rated, cmd = 5.0, 0.05, 7500.0, 0.3
    scen = {"time": {"stop": 10, "dt": 1},
            "instances": {"pump0": {"model": "pump",
                                    "params": {"tau": tau, "q_max": q_max,
                                               "p_rated": p_rated}}},
            "inputs": {"pump0.cmd": {"steps": [[0, cmd], [5, 1.0]]}}}
    a = steady(client, {"scenario": scen})
    expect(a["status"] == "ok", a)
    close(a["states"]["pump0.w"], cmd, "pump0.w")
    close(a["outputs"]["pump0.q"], q_max * cmd, "pump0.q")
    close(a["outputs"]["pump0.power"], p_rated * cmd ** 3, "pump0.power")
    # pump → tank: h = (q_max·cmd/(cv·u))², from an empty tank.
    cv, u = 0.03, 0.6
    scen["instances"]["tank0"] = {"model": "tank", "params": {"cv": cv},
                                  "start": {"h": 0.0}}
    scen["connections"] = [{"from": "pump0.q", "to": "tank0.q_in"}]
    scen["inputs"]["tank0.valve"] = {"value": u}
    b = steady(client, {"scenario": scen})
    expect(b["status"] == "ok", b)
    close(b["states"]["pump0.w"], cmd, "chain pump0.w")
    close(b["states"]["tank0.h"], (q_max * cmd / (cv * u)) ** 2,
          "chain tank0.h")
    close(b["inputs"]["tank0.q_in"], q_max * cmd, "chain tank0.q_in")


def check_tank_farm(client):
    # Stored by name.  The PI controllers tick once at the start, from
    # h = 1 with integral 0: e = sp − 1, out = kp·e + ki·e·dt (inside
    # [0, 1]), held; then w = out and h = (q_max·w/(cv·valve))².
    a = steady(client, {"scenario": "tank-farm-3"})
    expect(a["status"] == "ok", a)
    kp, ki, dt, q_max, cv, valve = 0.8, 0.02, 1.0, 0.05, 0.03, 0.5
    for i in range(3):
        e = 2.0 + 0.01 * i - 1.0
        out = kp * e + ki * e * dt
        close(a["outputs"]["pi%d.out" % i], out, "pi%d.out" % i, 1e-12)
        close(a["states"]["pump%d.w" % i], out, "pump%d.w" % i)
        close(a["states"]["tank%d.h" % i], (q_max * out / (cv * valve)) ** 2,
              "tank%d.h" % i)
        close(a["inputs"]["pi%d.pv" % i], a["states"]["tank%d.h" % i],
              "pi%d.pv" % i, 0)


def check_no_steady_state(client):
    # Inflow into a shut tank: dh/dt = q_in/A whatever the level.
    q_in, area = 0.013, 2.0
    a = steady(client, {"scenario": tank_scenario(q_in, 0.0, h0=3.5),
                        "options": {"max_iterations": 50}})
    expect(a["status"] == "failed", a)
    e = a["errors"]
    expect(len(e) == 1 and e[0]["code"] == "solver_failure" and
           "tank0.h" in e[0]["message"], e)
    close(a["residual_norm"], q_in / area, "residual_norm", 1e-12)
    close(a["residuals"]["tank0.h"], q_in / area, "residual", 1e-12)
    expect(a["largest"][0]["state"] == "tank0.h", a["largest"])
    # Negative inflow into an open tank: the only root of the reflected
    # function lies below h = 0, outside the level's range.
    b = steady(client, {"scenario": tank_scenario(-0.01, 0.5)})
    expect(b["status"] == "failed", b)
    msg = b["errors"][0]["message"]
    expect("outside the range of tank0.h" in msg, msg)
    expect(b["states"]["tank0.h"] == 0.0, b["states"])
    close(b["residual_norm"], 0.01 / area, "residual at the bound", 1e-12)


def check_rejected(client):
    bad = tank_scenario(0.01, 0.5)
    bad["instances"]["pump0"] = {"model": "pumpp"}
    bad["time"]["dt"] = -1
    a = steady(client, {"scenario": bad, "options": {"method": "newton",
                                                      "step_tol": "small"}})
    expect(a["status"] == "rejected", a)
    where = {(e["path"], e["code"]) for e in a["errors"]}
    for want in (("/scenario/time/dt", "out_of_range"),
                 ("/scenario/instances/pump0/model", "unknown_model"),
                 ("/options/method", "out_of_range"),
                 ("/options/step_tol", "wrong_type")):
        expect(want in where, "%r not in %r" % (want, where))
    b = steady(client, {"scenario": tank_scenario(0.01, 0.5),
                        "inputs": {"tank0.valve": 7, "tank0.nope": 1,
                                   "tank0.h": 1, "tank9.q_in": 0}})
    expect(b["status"] == "rejected", b)
    where = {(e["path"], e["code"]) for e in b["errors"]}
    expect(where == {("/inputs/tank0.valve", "out_of_range"),
                     ("/inputs/tank0.nope", "unknown_variable"),
                     ("/inputs/tank0.h", "bad_connection"),
                     ("/inputs/tank9.q_in", "unknown_instance")}, where)
    c = steady(client, {"scenario": "no-such-scenario"})
    expect(c["status"] == "rejected" and
           c["errors"][0]["path"] == "/scenario", c)
    d = steady(client, {})
    expect(d["status"] == "rejected" and
           d["errors"][0]["code"] == "missing_field", d)


def check_retry(client):
    body = {"id": "steady-retry-1", "scenario": tank_scenario(0.01, 0.5)}
    first = steady(client, body)
    again = steady(client, body)
    expect(first["status"] == "ok" and again == first, (first, again))


def failing(mode):
    return {"time": {"stop": 10, "dt": 1},
            "instances": {"bad0": {"model": "failing",
                                   "params": {"mode": mode, "t_fail": 0}}}}


def check_faults(client):
    a = steady(client, {"scenario": failing(4)}, controller="ctl-9")
    expect(a["status"] == "failed", a)
    e = a["errors"][0]
    expect(e["code"] == "model_crashed" and "Segmentation fault" in
           e["message"] and "model 'failing' (instance 'bad0')" in
           e["message"], e)
    b = steady(client, {"scenario": failing(6)}, controller="ctl-9")
    e = b["errors"][0]
    expect(b["status"] == "failed" and e["code"] == "timeout" and
           "limit of 2 s" in e["message"] and "bad0" in e["message"], b)
    c = steady(client, {"scenario": failing(0)}, controller="ctl-9")
    e = c["errors"][0]
    expect(c["status"] == "failed" and e["code"] == "solver_failure" and
           "returned ERROR from derivatives" in e["message"], c)
    f = steady(client, {"scenario": failing(6)}, controller="ctl-8")
    e = f["errors"][0]
    expect(f["status"] == "failed" and e["code"] == "timeout" and
           "CPU-time limit of 1 s" in e["message"], f)
    # The controller is still there, and right.
    d = steady(client, {"scenario": tank_scenario(0.0075, 0.4)},
               controller="ctl-9")
    close(d["states"]["tank0.h"], (0.0075 / (0.03 * 0.4)) ** 2, "after")


def check_stop(broker, client):
    # SIGTERM while a solve hangs: it is ended and answered, and the daemon
    # stops cleanly (the harness checks exit 0 and offline).
    with Controller(broker, "ctl-7", build=BUILD, models=[PLUGINS],
                    limits={"run_seconds": 60}):
        req = client.request({"type": "steady", "scenario": failing(6)},
                             controller="ctl-7")
        time.sleep(0.5)
    a = req.final(timeout=10)
    e = a["errors"][0]
    expect(a["status"] == "failed" and e["code"] == "cancelled" and
           "stopping" in e["message"], a)


def check_not_allowed(client):
    a = steady(client, {"scenario": "tank-farm-3"}, controller="ctl-2")
    expect(a["status"] == "rejected", a)
    e = a["errors"][0]
    expect(e["code"] == "not_allowed" and e["path"] == "/type", e)
    r = client.request({"type": "describe"}, controller="ctl-1").response()
    expect("steady" in r["allowed"]["requests"], r["allowed"])


def check_schemas(client):
    seen = bad = steadies = 0
    for m in client.messages():
        p = m.payload
        if not isinstance(p, dict) or "/request" in m.topic:
            continue
        seen += 1
        steadies += p.get("type") == "steady"
        problems = schema_check.validate("auto", p)
        if problems:
            bad += 1
            print("    invalid %s: %s: %s" % (m.topic, problems[:3],
                                              m.raw[:300]))
    expect(steadies >= 15, "only %d steady responses seen" % steadies)
    expect(bad == 0, "%d of %d messages invalid" % (bad, seen))


def main():
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, "ctl-1", build=BUILD), \
                Controller(broker, "ctl-2", build=BUILD,
                           allow={"requests": ["run", "describe"]}), \
                Controller(broker, "ctl-9", build=BUILD, models=[PLUGINS],
                           limits={"run_seconds": 2}), \
                Controller(broker, "ctl-8", build=BUILD, models=[PLUGINS],
                           limits={"run_seconds": 30, "cpu_seconds": 1}):
            t.check("a tank with fixed inflow and valve", check_tank, client)
            t.check("a pump, and a pump feeding a tank", check_pump_chain,
                    client)
            t.check("tank-farm-3 under its first PI outputs",
                    check_tank_farm, client)
            t.check("no steady state: failed with the residual",
                    check_no_steady_state, client)
            t.check("a rejected steady lists every problem", check_rejected,
                    client)
            t.check("a retry is answered again", check_retry, client)
            t.check("a crashing or hanging model ends only its solve",
                    check_faults, client)
            t.check("a deployment without steady", check_not_allowed, client)
        t.check("stopping ends a solve under way", check_stop, broker,
                client)
        t.check("every message valid against docs/schema/", check_schemas,
                client)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
