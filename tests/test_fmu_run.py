#!/usr/bin/env python3
"""test_fmu_run.py — FMUs running as models through `twinctl run`
(issue 13, items 3, 4 and 6; docs/fmi.md), each against an analytic or
independent answer.

The test FMUs are built from tests/fmus/ into BUILD/tests/fmus (FMI 2.0
and 3.0, each offering Model Exchange and Co-Simulation); every case runs
for both versions and both interfaces:
  ball     state events with a state reset: the bounce times and the
           height against the closed form, to 1e-6
  ticker   time events every 0.3 s, never on a tick: the event times
           exactly (bit for bit), the state with its jumps to 1e-6
  ticker   with limit: the FMU asks to terminate; the run ends there
  through  Real, Integer and Boolean feedthrough, with an offset read
           from the FMU's resources
  through  two wired into an algebraic loop: solved to its closed form
           (Model Exchange) or refused (Co-Simulation)
  source   an FMU feeding the reference tank (valve shut): the level
           against its closed form (Model Exchange) or the exact sum of
           the held flows (Co-Simulation)
  through  reading a tank's level: 2·h + offset in the same row
  faulty   an error status, a NaN, a crash: the run ends with the
           plugins' codes and names the instance
When /work/shared/fmus (or $TWIN_REFERENCE_FMUS) holds the Reference
FMUs, BouncingBall and Feedthrough of both versions are run too and
compared with the analytic bounce times and with the feedthrough values;
without it those cases are skipped with a message.

Usage: python3 tests/test_fmu_run.py BUILD_DIR"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

from checklib import check, summary

BUILD = os.path.abspath(sys.argv[1])
TWINCTL = os.path.join(BUILD, "controller", "twinctl")
FMUS = os.path.join(BUILD, "tests", "fmus")
REFERENCE = os.environ.get("TWIN_REFERENCE_FMUS", "/work/shared/fmus")
WORK = tempfile.mkdtemp(prefix="twin-fmu-run-")
VERSIONS = ("2", "3")
INTERFACES = ("model-exchange", "co-simulation")


def instance(model, iface, **kw):
    inst = {"model": model}
    if iface == "co-simulation":
        inst["fmi_interface"] = iface
    inst.update(kw)
    return inst


def run(name, scenario, models=(FMUS,), want_status=0):
    """Run the scenario; return (rows as dicts of floats, stderr)."""
    path = os.path.join(WORK, name + ".json")
    out = os.path.join(WORK, name + ".csv")
    scenario.setdefault("name", name)
    scenario.setdefault("pace", "batch")
    scenario.setdefault("solver", {"method": "bdf", "rtol": 1e-10,
                                   "atol": 1e-12})
    with open(path, "w") as f:
        json.dump(scenario, f)
    cmd = [TWINCTL, "run"]
    for m in models:
        cmd += ["--models", m]
    cmd += [path, "-o", out]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    check(p.returncode == want_status,
          "%s: exit status %d, want %d; stderr: %s"
          % (name, p.returncode, want_status, p.stderr[-2000:]))
    rows = []
    if os.path.exists(out):
        with open(out) as f:
            rows = [{k: float(v) for k, v in r.items()}
                    for r in csv.DictReader(f)]
    return rows, p.stderr


def close(a, b, tol):
    return abs(a - b) <= tol


# ---- the bouncing ball ---------------------------------------------------

def bounces(h0, g, e, v_min, t_end):
    """[(t_k, speed after bounce k)] of h'' = -g from rest at h0; the last
    speed 0 when it fell below v_min (the ball stays down)."""
    t = math.sqrt(2 * h0 / g)
    s = g * t
    out = []
    while t <= t_end:
        s = e * s
        if s < v_min:
            out.append((t, 0.0))
            break
        out.append((t, s))
        t += 2 * s / g
    return out


def ball_height(t, h0, g, bs):
    last = None
    for tb, s in bs:
        if tb <= t:
            last = (tb, s)
    if last is None:
        return h0 - g * t * t / 2
    tb, s = last
    return s * (t - tb) - g * (t - tb) ** 2 / 2 if s > 0 else 0.0


def test_ball(v, iface):
    name = "ball%s-%s" % (v, iface)
    rows, err = run(name, {
        "time": {"start": 0, "stop": 3, "dt": 0.05},
        "instances": {"b": instance("ball" + v, iface)},
        "outputs": ["b.h", "b.bounces", "b.t_bounce"]})
    bs = bounces(1.0, 9.81, 0.7, 0.5, 3.0)
    check(len(bs) >= 5, "%s: the analytic ball bounces %d times" % (name,
                                                                   len(bs)))
    check(len(rows) == 61, "%s: %d rows, want 61" % (name, len(rows)))
    worst_h = worst_t = 0.0
    for r in rows:
        t = r["t"]
        n = sum(1 for tb, _ in bs if tb <= t)
        check(r["b.bounces"] == n, "%s: at t = %g %g bounces, want %d"
              % (name, t, r["b.bounces"], n))
        if n > 0:
            worst_t = max(worst_t, abs(r["b.t_bounce"] - bs[n - 1][0]))
        worst_h = max(worst_h, abs(r["b.h"] - ball_height(t, 1.0, 9.81, bs)))
    check(worst_t <= 1e-6, "%s: bounce times off by %g s" % (name, worst_t))
    check(worst_h <= 1e-6, "%s: height off by %g m" % (name, worst_h))
    check(rows and rows[-1]["b.bounces"] == len(bs),
          "%s: the ball did not come to rest after %d bounces"
          % (name, len(bs)))


# ---- time events ------------------------------------------------------------

def test_ticker(v, iface):
    name = "ticker%s-%s" % (v, iface)
    # Events at n·0.3, ticks at m·0.25: none falls on a tick up to 1.25.
    rows, err = run(name, {
        "time": {"start": 0, "stop": 1.25, "dt": 0.25},
        "instances": {"k": instance("ticker" + v, iface)},
        "outputs": ["k.x", "k.count", "k.t_event"]})
    check(len(rows) == 6, "%s: %d rows, want 6" % (name, len(rows)))
    for r in rows:
        t = r["t"]
        n = 0
        while float(n + 1) * 0.3 <= t:
            n += 1
        check(r["k.count"] == n, "%s: at t = %g %g events, want %d"
              % (name, t, r["k.count"], n))
        if n > 0:
            check(r["k.t_event"] == float(n) * 0.3,
                  "%s: event %d at t = %.17g, want exactly %.17g"
                  % (name, n, r["k.t_event"], float(n) * 0.3))
        # x: decays at rate 1, jumps by 1 at each event.
        x, tp = 1.0, 0.0
        for i in range(1, n + 1):
            x = x * math.exp(-(i * 0.3 - tp)) + 1
            tp = i * 0.3
        x *= math.exp(-(t - tp))
        check(close(r["k.x"], x, 1e-6), "%s: x(%g) = %.12g, want %.12g"
              % (name, t, r["k.x"], x))


def test_terminate(v, iface):
    name = "terminate%s-%s" % (v, iface)
    rows, err = run(name, {
        "time": {"start": 0, "stop": 10, "dt": 0.25},
        "instances": {"k": instance("ticker" + v, iface,
                                    params={"limit": 3})},
        "outputs": ["k.count", "k.t_event"]})
    check(rows and rows[-1]["k.count"] == 3,
          "%s: last row %r, want count 3" % (name, rows[-1:] or None))
    check(rows and 0.9 <= rows[-1]["t"] <= 1.0,
          "%s: the run ended at t = %r, want at the third event (0.9) or "
          "the tick after it" % (name, rows and rows[-1]["t"]))
    check("terminate" in err, "%s: stderr does not say the FMU asked to "
          "terminate: %s" % (name, err[-500:]))


# ---- feedthrough, resources -------------------------------------------------

def test_through(v, iface):
    name = "through%s-%s" % (v, iface)
    rows, err = run(name, {
        "time": {"start": 0, "stop": 1, "dt": 0.25},
        "instances": {"f": instance("through" + v, iface)},
        "inputs": {"f.r_in": {"steps": [[0, 1.5], [0.5, -2.25]]},
                   "f.i_in": {"steps": [[0, 3], [0.5, -7]]},
                   "f.b_in": {"steps": [[0, 0], [0.5, 1]]}},
        "outputs": ["f.r_in", "f.i_in", "f.b_in", "f.r_out", "f.i_out",
                    "f.b_out", "f.offset"]})
    check(len(rows) == 5, "%s: %d rows, want 5" % (name, len(rows)))
    for r in rows:
        late = r["t"] >= 0.5
        want = {"f.r_in": -2.25 if late else 1.5,
                "f.i_in": -7 if late else 3, "f.b_in": 1 if late else 0}
        want.update({"f.r_out": 2 * want["f.r_in"] + 0.125,
                     "f.i_out": want["f.i_in"] + 1,
                     "f.b_out": 1 - want["f.b_in"], "f.offset": 0.125})
        for k, w in want.items():
            check(r[k] == w, "%s: %s(%g) = %r, want %r"
                  % (name, k, r["t"], r[k], w))


def test_through_loop(v, iface):
    """Two through FMUs wired output to input: an algebraic loop.  Model
    Exchange: solved at every tick, z = f.r_in = 2 (2 z + o) + o, so
    z = -3 o / 3 = -o with the offset o = 0.125.  Co-Simulation: refused
    (a step cannot be taken again with other inputs)."""
    name = "through-loop%s-%s" % (v, iface)
    scenario = {
        "time": {"start": 0, "stop": 1, "dt": 0.25},
        "instances": {"f": instance("through" + v, iface),
                      "g": instance("through" + v, iface)},
        "connections": [{"from": "f.r_out", "to": "g.r_in"},
                        {"from": "g.r_out", "to": "f.r_in"}],
        "outputs": ["f.r_in", "f.r_out", "g.r_out"]}
    if iface == "co-simulation":
        _, err = run(name, scenario, want_status=1)
        for w in ("algebraic loop of f (through%s), g (through%s)" % (v, v),
                  "Co-Simulation FMU of instance 'f'",
                  "use its Model Exchange interface"):
            check(w in err, "%s: %r not in: %s" % (name, w, err[-1000:]))
        return
    rows, err = run(name, scenario)
    check(len(rows) == 5, "%s: %d rows, want 5" % (name, len(rows)))
    for r in rows:
        for k, w in (("f.r_in", -0.125), ("g.r_out", -0.125),
                     ("f.r_out", 2 * -0.125 + 0.125)):
            check(close(r[k], w, 1e-10), "%s: %s(%g) = %r, want %r"
                  % (name, k, r["t"], r[k], w))


# ---- with the reference plugins -----------------------------------------

def test_source_into_tank(v, iface):
    name = "source%s-%s" % (v, iface)
    q0, a, area, h0, dt = 0.01, 1e-5, 2.0, 1.0, 1.0
    rows, err = run(name, {
        "time": {"start": 0, "stop": 100, "dt": dt},
        "instances": {"src": instance("source" + v, iface),
                      "tank": {"model": "tank", "start": {"h": h0}}},
        "connections": [{"from": "src.q", "to": "tank.q_in"}],
        "inputs": {"tank.valve": {"steps": [[0, 0.0]]}},
        "outputs": ["src.q", "tank.h"]})
    check(len(rows) == 101, "%s: %d rows" % (name, len(rows)))
    held = 0.0
    worst = 0.0
    for k, r in enumerate(rows):
        t = r["t"]
        if iface == "model-exchange":   # q(t) integrated: closed form
            h = h0 + (q0 * t + a * t * t / 2) / area
        else:                           # q held over each tick
            h = h0 + held / area
            held += (q0 + a * t) * dt
        worst = max(worst, abs(r["tank.h"] - h))
        check(r["src.q"] == q0 + a * t, "%s: q(%g) = %r" % (name, t,
                                                           r["src.q"]))
    check(worst <= 1e-6, "%s: tank level off by %g" % (name, worst))


def test_tank_into_through(v, iface):
    name = "reader%s-%s" % (v, iface)
    rows, err = run(name, {
        "time": {"start": 0, "stop": 50, "dt": 1},
        "instances": {"tank": {"model": "tank", "start": {"h": 1.0}},
                      "f": instance("through" + v, iface)},
        "connections": [{"from": "tank.h", "to": "f.r_in"}],
        "inputs": {"tank.valve": {"steps": [[0, 0.5]]},
                   "tank.q_in": {"steps": [[0, 0.02]]}},
        "outputs": ["tank.h", "f.r_out"]})
    check(len(rows) == 51, "%s: %d rows" % (name, len(rows)))
    worst = max((abs(r["f.r_out"] - (2 * r["tank.h"] + 0.125))
                 for r in rows), default=1)
    check(worst <= 1e-12, "%s: r_out is not 2·h + offset (off by %g)"
          % (name, worst))
    check(rows and rows[-1]["tank.h"] != 1.0, "%s: the tank did not move"
          % name)


# ---- faults ---------------------------------------------------------------

def test_fault(v, iface, mode, want_status, words, rows_after=False):
    """rows_after: the run goes on (a NaN output of a Co-Simulation FMU
    is, as a discrete plugin's, a warning in the events, not a failure:
    the FMU's own solver stepped; nothing of the host's diverged)."""
    name = "faulty%s-%s-mode%d" % (v, iface, mode)
    rows, err = run(name, {
        "time": {"start": 0, "stop": 10, "dt": 1},
        "instances": {"bad0": instance("faulty" + v, iface,
                                       params={"mode": mode,
                                               "t_fail": 2.5})},
        "outputs": ["bad0.y"]}, want_status=want_status)
    ts = [r["t"] for r in rows]
    want = [float(t) for t in range(11 if rows_after else 3)]
    check(ts == want, "%s: rows t = %r, want %r" % (name, ts, want))
    for w in words:
        check(w in err, "%s: stderr does not say %r: %s"
              % (name, w, err[-800:]))


# ---- the Reference FMUs ---------------------------------------------------

def test_reference_ball(v, iface):
    name = "reference-ball%s-%s" % (v, iface)
    d = os.path.join(REFERENCE, "fmi" + v)
    rows, err = run(name, {
        "time": {"start": 0, "stop": 3, "dt": 0.01},
        "instances": {"b": instance("BouncingBall", iface)},
        "outputs": ["b.h", "b.v"]}, models=(d,))
    check(len(rows) == 301, "%s: %d rows" % (name, len(rows)))
    if iface == "co-simulation":
        # The FMU integrates itself (forward Euler at its fixed step of
        # 1e-3 s), as the Reference FMUs' own run did: the same doubles.
        with open(os.path.join(REFERENCE, "BouncingBall_out.csv")) as f:
            ref = list(csv.DictReader(f))
        worst = max((max(abs(r["b.h"] - float(w["h"])),
                         abs(r["b.v"] - float(w["v"])))
                     for r, w in zip(rows, ref)), default=1)
        check(len(ref) == len(rows) and worst <= 1e-12,
              "%s: off BouncingBall_out.csv by %g" % (name, worst))
        return
    # Reference rules: g = 9.81, e = 0.7, stops below 0.1 m/s.
    bs = bounces(1.0, 9.81, 0.7, 0.1, 3.0)
    worst = max((abs(r["b.h"] - ball_height(r["t"], 1.0, 9.81, bs))
                 for r in rows), default=1)
    check(worst <= 1e-6, "%s: height off the analytic one by %g"
          % (name, worst))


def test_reference_feedthrough(v, iface):
    name = "reference-feedthrough%s-%s" % (v, iface)
    d = os.path.join(REFERENCE, "fmi" + v)
    integer, integer_out = "Int32_input", "Int32_output"
    rows, err = run(name, {
        "time": {"start": 0, "stop": 2, "dt": 0.1},
        "instances": {"f": instance("Feedthrough", iface)},
        "inputs": {"f.Float64_continuous_input": {"steps": [[0, 0.5],
                                                            [1, -1.25]]},
                   "f.%s" % integer: {"steps": [[0, -3], [1, 7]]},
                   "f.Boolean_input": {"steps": [[0, 0], [1, 1]]}},
        "outputs": ["f.*"]}, models=(d,))
    with open(os.path.join(REFERENCE, "Feedthrough_out.csv")) as f:
        ref = list(csv.DictReader(f))
    check(len(rows) == len(ref), "%s: %d rows, Feedthrough_out.csv has %d"
          % (name, len(rows), len(ref)))
    for r, want in zip(rows, ref):
        late = r["t"] >= 1
        check(close(r["t"], float(want["time"]), 1e-12),
              "%s: t %r against %r" % (name, r["t"], want["time"]))
        check(r["f.Float64_continuous_output"] == (-1.25 if late else 0.5),
              "%s: Float64 output at %g" % (name, r["t"]))
        check(r["f." + integer_out] == (7 if late else -3),
              "%s: integer output at %g" % (name, r["t"]))
        check(r["f.Boolean_output"] == (1 if late else 0),
              "%s: Boolean output at %g" % (name, r["t"]))
        # What nothing drives keeps the values the reference run has.
        for k in ("Float64_discrete_output", "Enumeration_output"):
            if k in want and "f." + k in r:
                check(r["f." + k] == float(want[k]),
                      "%s: %s = %r, reference %r" % (name, k, r["f." + k],
                                                     want[k]))


def test_interface_refused():
    """An "fmi_interface" that cannot be: not one of the two, or on a
    plugin; each is a rejection naming the member."""
    cases = (
        ({"model": "ball2", "fmi_interface": "both"},
         ['/instances/b/fmi_interface', '"model-exchange" or '
          '"co-simulation"']),
        ({"model": "ball2", "fmi_interface": 3},
         ['/instances/b/fmi_interface', '"model-exchange" or '
          '"co-simulation"']),
        ({"model": "tank", "fmi_interface": "co-simulation"},
         ['/instances/b/fmi_interface', "is a plugin, not an FMU"]),
    )
    for k, (inst, words) in enumerate(cases):
        _, err = run("interface-refused-%d" % k, {
            "time": {"start": 0, "stop": 1, "dt": 0.1},
            "instances": {"b": inst}}, want_status=2)
        for w in words:
            check(w in err, "interface-refused-%d: %r not in: %s"
                  % (k, w, err[-1000:]))


def main():
    for v in VERSIONS:
        for iface in INTERFACES:
            test_ball(v, iface)
            test_ticker(v, iface)
            test_terminate(v, iface)
            test_through(v, iface)
            test_through_loop(v, iface)
            test_source_into_tank(v, iface)
            test_tank_into_through(v, iface)
            test_fault(v, iface, 0, 1, ["instance 'bad0'", "on purpose"])
            if iface == "model-exchange":
                test_fault(v, iface, 2, 1, ["instance 'bad0'", "non-finite"])
            else:
                test_fault(v, iface, 2, 0, ["bad0.y is nan"],
                           rows_after=True)
            test_fault(v, iface, 4, 3, ["instance 'bad0'", "SIGSEGV"])
    test_interface_refused()
    if os.path.isdir(REFERENCE):
        for v in VERSIONS:
            for iface in INTERFACES:
                test_reference_ball(v, iface)
                test_reference_feedthrough(v, iface)
    else:
        print("test_fmu_run: %s is absent: the Reference FMUs are skipped"
              % REFERENCE)
    return summary("test_fmu_run")


if __name__ == "__main__":
    sys.exit(main())
