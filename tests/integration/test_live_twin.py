#!/usr/bin/env python3
"""A live twin's inputs bound to plant signals (issue 16, item 1;
docs/live-twin.md), against a real mosquitto, a real `twinctl serve` and
the demo plant of examples/plant-sim:

(a) the twin follows the plant tick by tick: the demo plant publishes its
    valve and level every 0.3 s, the twin (dt 0.1 s) has tank0.valve bound
    to the valve (pointer /value) and tank1.q_in to the level (scale 0.01,
    offset 0.001); its input columns hold exactly what was published,
    transformed (each value, in order, none skipped or invented, the
    default before the first), each first seen at the first tick after it
    reached the broker: not before it was published, not a tick later;
(b) a stale signal is said once and held ("hold"), or put back to the
    input's default ("default"); a signal that never comes is "missing";
    the final stats count them; the daemon unsubscribes after the run;
(c) malformed payloads (not JSON, a string, no member at the pointer, out
    of the input's range, too large to forward) are counted and said, the
    run goes on and takes the good value that follows;
(d) a topic outside allow.signals is rejected (not_allowed, at the
    topic's path), and so is any topic on a controller that allows none;
    `twinctl run` (no broker) refuses such a scenario, saying where to run
    it;
(e) allow.signals entries that are not topic filters stop the daemon at
    start, each named;
(f) the demo plant's parameter fault: with --fault T:tank0.cv=0 its
    outflow (cv × valve × sqrt(h)) is published positive up to T and
    exactly 0 after, its level goes on from where it was (no jump), and
    every tick is published once.

    test_live_twin.py [BUILD_DIR]      (else $TWIN_BUILD_DIR, else build/)
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     SOURCE_DIR, Tests, build_dir, twinctl)

BUILD = build_dir()
CTL = "ctl-sig"
# Seconds the first result may come after tick 0 started, and a message
# reach the daemon after the test's client.
TOL = 0.04
PLANT = os.path.join(SOURCE_DIR, "examples", "plant-sim", "plant_sim.py")
TANK = {"model": "tank", "start": {"h": 1.0}}


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def twin(inputs, stop, dt=0.1, outputs=None, tanks=("tank0",)):
    return {"time": {"stop": stop, "dt": dt}, "pace": {"realtime": 1},
            "instances": {t: dict(TANK) for t in tanks},
            "inputs": inputs,
            "outputs": outputs or sorted(inputs)}


def start(client, scenario):
    """Send the run; returns (request, accepted, monotonic time before)."""
    t_req = time.monotonic()
    req = client.request({"type": "run", "scenario": scenario},
                         controller=CTL)
    acc = req.response()
    expect(acc.get("status") == "accepted", "not accepted: %r" % acc)
    return req, acc, t_req


def finish(client, req, acc, timeout=30):
    final = req.final(timeout)
    expect(final.get("status") == "finished", "run ended %r" % final)
    msgs = client.results(CTL, acc["run"], final["last_seq"],
                          start=req.first_index)
    rows = [r for p in msgs for r in p["rows"]]
    expect(len(rows) == final["rows"], "rows %d, final says %d"
           % (len(rows), final["rows"]))
    events = client.events(CTL, acc["run"], req.first_index)
    return final, acc["columns"], rows, events


def first_result_time(client, req, run):
    topic = "twin/%s/result/%s" % (CTL, run)
    ms = client.messages(lambda m: m.topic == topic, req.first_index)
    return min(m.time for m in ms)


def runs_of(seq):
    """Consecutive distinct values: [(value, first index)]."""
    out = []
    for i, v in enumerate(seq):
        if not out or v != out[-1][0]:
            out.append((v, i))
    return out


def signal_events(events, state=None, inp=None):
    return [e for e in events if e.get("kind") == "signal"
            and (state is None or e.get("state") == state)
            and (inp is None or e.get("input") == inp)]


# ---- (a) ------------------------------------------------------------------

def check_follows_plant(client, ctl):
    dt = 0.1
    scenario = twin({
        "tank0.valve": {"signal": {"topic": "plant/TK-101/valve",
                                   "pointer": "/value", "max_age": 10}},
        "tank1.q_in": {"signal": {"topic": "plant/TK-101/level",
                                  "pointer": "/value", "scale": 0.01,
                                  "offset": 0.001}}},
        stop=6.5, dt=dt, tanks=("tank0", "tank1"))
    client.subscribe("plant/#")
    mark = client.mark()
    req, acc, _ = start(client, scenario)
    plant = subprocess.Popen(
        [sys.executable, PLANT, "--broker", client_url(client), "--twinctl",
         twinctl(BUILD), "--stop", "4.44", "--dt", "0.37", "--noise",
         "tank0.h=0.001", "--seed", "7", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        final, cols, rows, events = finish(client, req, acc)
        _, err = plant.communicate(timeout=20)
        expect(plant.returncode == 0, "the plant failed: %s" % err)
    finally:
        if plant.poll() is None:
            plant.kill()
            plant.wait()
    r0 = first_result_time(client, req, acc["run"])
    pub = {}
    for topic in ("plant/TK-101/valve", "plant/TK-101/level"):
        pub[topic] = [(m.payload["value"], m.time) for m in client.messages(
            lambda m, t=topic: m.topic == t, mark)]
        expect(len(pub[topic]) == 13, "%s: %d messages from the plant, "
               "want 13" % (topic, len(pub[topic])))
        gaps = [b[1] - a[1] for a, b in zip(pub[topic], pub[topic][1:])]
        expect(min(gaps) > 0.2, "%s: the plant's messages came in bursts "
               "(gaps %r), not at its ticks" % (topic, gaps))
    t = [r[0] for r in rows]
    expect(len(rows) == 66 and abs(t[-1] - 6.5) < 1e-9, "rows %d" % len(rows))
    checks = [("tank0.valve", "plant/TK-101/valve", lambda v: v, 0.5),
              ("tank1.q_in", "plant/TK-101/level", lambda v: v * 0.01 + 0.001,
               0.0)]
    for col, topic, f, default in checks:
        seq = [r[cols.index(col)] for r in rows]
        want = [default] + [f(v) for v, _ in pub[topic]]
        got = runs_of(seq)
        want_runs = runs_of(want)
        expect([v for v, _ in got] == [v for v, _ in want_runs],
               "%s: the column's values %r, published %r"
               % (col, [v for v, _ in got][:20],
                  [v for v, _ in want_runs][:20]))
        # Where each published value is first in force: at the first tick
        # after it arrived.  wall(tick t) = wall0 + t, where wall0 is at
        # most r0, when the first result came (results are not held back:
        # batch_delay_ms 1), and only a few ms less.  The plant's tick
        # (0.37 s) is no multiple of the twin's, so the values arrive at
        # every phase of a twin tick: one taken a tick late fails the
        # second bound for most of them.
        by_value = {}
        for v, when in pub[topic]:
            by_value.setdefault(f(v), when)
        for v, i in got[1:]:
            p = by_value[v]
            ti = t[i]
            expect(ti >= p - r0 - 0.05, "%s: %r in force at t=%g, before it "
                   "was published (%.3f s after the first result)"
                   % (col, v, ti, p - r0))
            expect(ti <= p - r0 + dt + TOL, "%s: %r in force only at "
                   "t=%g, published %.3f s after the first result: later "
                   "than the next tick" % (col, v, ti, p - r0))
    st = final["stats"]["signals"]
    expect(st["tank0.valve"] == {"topic": "plant/TK-101/valve",
                                 "received": 13, "bad": 0, "stale": 0},
           "stats %r" % st)
    expect(st["tank1.q_in"]["received"] == 13, "stats %r" % st)
    fresh = signal_events(events, "fresh")
    expect(len(fresh) == 2, "fresh events %r" % fresh)


def client_url(client):
    return client.broker.url


# ---- (b) ------------------------------------------------------------------

def check_stale_and_missing(client, ctl):
    scenario = twin({
        "tank0.valve": {"signal": {"topic": "plant/test/valve",
                                   "max_age": 0.5}},
        "tank0.q_in": {"signal": {"topic": "plant/test/q", "pointer": "/v",
                                  "max_age": 0.5, "on_stale": "default"},
                       "value": 0.002},
        "tank1.valve": {"signal": {"topic": "plant/test/never",
                                   "max_age": 0.5}}},
        stop=2.5, tanks=("tank0", "tank1"))
    req, acc, _ = start(client, scenario)
    time.sleep(0.4)
    client.publish("plant/test/valve", "0.7")
    client.publish("plant/test/q", json.dumps({"v": 0.004}))
    final, cols, rows, events = finish(client, req, acc)
    valve = [r[cols.index("tank0.valve")] for r in rows]
    q = [r[cols.index("tank0.q_in")] for r in rows]
    never = [r[cols.index("tank1.valve")] for r in rows]
    expect([v for v, _ in runs_of(valve)] == [0.5, 0.7],
           "valve %r (held after stale)" % runs_of(valve))
    expect([v for v, _ in runs_of(q)] == [0.002, 0.004, 0.002],
           "q_in %r (back to its default when stale)" % runs_of(q))
    expect(set(never) == {0.5}, "never %r" % set(never))
    # The value went stale 0.5 s (5 ticks) after it came, give or take one.
    i_in = runs_of(q)[1][1]
    i_out = runs_of(q)[2][1]
    expect(5 <= i_out - i_in <= 7, "q_in stale after %d ticks" %
           (i_out - i_in))
    for inp, states in (("tank0.valve", ["fresh", "stale"]),
                        ("tank0.q_in", ["fresh", "stale"]),
                        ("tank1.valve", ["missing"])):
        got = [e["state"] for e in signal_events(events, inp=inp)]
        expect(got == states, "%s: events %r, want %r" % (inp, got, states))
    stale = signal_events(events, "stale", "tank0.q_in")[0]
    expect(stale["age"] > 0.5 and stale["instance"] == "tank0" and
           stale["topic"] == "plant/test/q", "stale event %r" % stale)
    missing = signal_events(events, "missing")[0]
    expect(0.5 <= missing["t"] <= 0.8, "missing said at t=%r" % missing["t"])
    st = final["stats"]["signals"]
    expect(st["tank0.valve"]["stale"] == 1 and st["tank1.valve"] == {
        "topic": "plant/test/never", "received": 0, "bad": 0, "stale": 1},
        "stats %r" % st)
    log = open(ctl.log, errors="replace").read()
    for topic in ("plant/test/valve", "plant/test/q", "plant/test/never"):
        expect("unsubscribed from plant signal %s" % topic in log,
               "no unsubscribe from %s in the log" % topic)


# ---- (c) ------------------------------------------------------------------

def check_bad_payloads(client, ctl):
    scenario = twin({"tank0.valve": {"signal": {"topic": "plant/test/bad",
                                                "pointer": "/value"}}},
                    stop=2.5)
    req, acc, _ = start(client, scenario)
    time.sleep(0.3)
    bad = ["abc", json.dumps({"value": "x"}), json.dumps({"nope": 1}),
           json.dumps({"value": 2}), json.dumps({"value": 0.1,
                                                 "pad": "x" * 5000})]
    for b in bad:
        client.publish("plant/test/bad", b)
    time.sleep(0.3)
    client.publish("plant/test/bad", json.dumps({"value": 0.25}))
    final, cols, rows, events = finish(client, req, acc)
    valve = [r[cols.index("tank0.valve")] for r in rows]
    expect([v for v, _ in runs_of(valve)] == [0.5, 0.25],
           "valve %r" % runs_of(valve))
    st = final["stats"]["signals"]["tank0.valve"]
    expect(st["received"] == 6 and st["bad"] == 5, "stats %r" % st)
    said = signal_events(events, "bad")
    expect(len(said) >= 1, "no bad event")
    # At most one a second is said; every refusal is counted.
    expect(said[-1]["bad"] + 0 <= 5 and said[0]["bad"] == 1, "bad %r" % said)
    words = " ".join(e["message"] for e in said)
    expect("not JSON" in words, "the first refusal's reason: %s" % words)


def check_measured_signal(client, ctl):
    """A measured variable's plant value on a signal: the measured column
    follows what was published, the residual is plant minus model in
    every row, the run goes stale when the plant stops (max_age), and
    the stats say both the signal's counts and the synchronisation."""
    scenario = twin({"tank0.valve": {"value": 0.5}}, stop=2.5,
                    outputs=["tank0.h"])
    scenario["measured"] = {"tank0.h": {
        "signal": {"topic": "plant/test/level", "pointer": "/value",
                   "max_age": 0.4},
        "tolerance": 5.0}}
    req, acc, _ = start(client, scenario)
    expect(acc["columns"][-2:] == ["tank0.h:measured", "tank0.h:residual"],
           acc["columns"])
    time.sleep(0.3)
    client.publish("plant/test/level", json.dumps({"value": 1.7}))
    time.sleep(0.3)
    client.publish("plant/test/level", json.dumps({"value": 1.9}))
    final, cols, rows, events = finish(client, req, acc)
    h, m, r = (cols.index(c) for c in ("tank0.h", "tank0.h:measured",
                                       "tank0.h:residual"))
    seen = [v for v, _ in runs_of([row[m] for row in rows])]
    expect(seen == [None, 1.7, 1.9], "the plant values in force %r" % seen)
    fresh = [row for row in rows if row[r] is not None]
    expect(len(fresh) >= 3, "rows with a residual: %d" % len(fresh))
    expect(all(row[r] == row[m] - row[h] for row in fresh),
           "residual = plant - model in every row")
    expect(rows[-1][r] is None, "stale at the end: no residual %r"
           % rows[-1])
    sync = [e["sync"] for e in events if e.get("kind") == "sync"]
    expect(sync[:1] == ["stale"] and "synchronised" in sync and
           sync[-1] == "stale", "sync events %r" % sync)
    st = final["stats"]
    expect(st["signals"]["tank0.h"]["received"] == 2 and
           st["signals"]["tank0.h"]["topic"] == "plant/test/level",
           "signal stats %r" % st.get("signals"))
    expect(st["measured"]["sync"] == "stale", "measured %r"
           % st.get("measured"))


# ---- (d) ------------------------------------------------------------------

def check_topic_refused(client, ctl, topic, says):
    scenario = twin({"tank0.valve": {"signal": {"topic": topic}}}, stop=1)
    req = client.request({"type": "run", "scenario": scenario},
                         controller=CTL)
    r = req.response()
    expect(r.get("status") == "rejected", "not rejected: %r" % r)
    errs = r["errors"]
    expect(len(errs) == 1 and errs[0]["code"] == "not_allowed" and
           errs[0]["path"] == "/scenario/inputs/tank0.valve/signal/topic" and
           says in errs[0]["message"], "errors %r" % errs)


def check_run_refuses(tmpdir):
    path = os.path.join(tmpdir, "live.json")
    with open(path, "w") as f:
        json.dump(twin({"tank0.valve": {"signal": {
            "topic": "plant/TK-101/valve"}}}, stop=1), f)
    p = subprocess.run([twinctl(BUILD), "run", path], capture_output=True,
                       text=True, timeout=30)
    expect(p.returncode == 2 and p.stdout == "" and
           "no broker" in p.stderr and "twinctl serve" in p.stderr and
           "plant/TK-101/valve" in p.stderr,
           "twinctl run: %d, %r" % (p.returncode, p.stderr))


def check_bad_filters(tmpdir, broker):
    conf = os.path.join(tmpdir, "bad.json")
    with open(conf, "w") as f:
        json.dump({"id": "ctl-bad", "broker": broker.url,
                   "spool": os.path.join(tmpdir, "spool"),
                   "allow": {"signals": ["plant/#", "plant/#/x", "a+/b", "",
                                         "site/+/level"]}}, f)
    p = subprocess.run([twinctl(BUILD), "serve", "--config", conf],
                       capture_output=True, text=True, timeout=30)
    bad = [ln for ln in p.stderr.splitlines() if "is not an MQTT topic "
           "filter" in ln]
    expect(p.returncode != 0 and len(bad) == 3 and
           all("#/allow/signals" in ln for ln in bad) and
           '"plant/#/x"' in bad[0] and '"a+/b"' in bad[1] and
           '""' in bad[2], "serve: %d, %r" % (p.returncode, p.stderr))


def check_plant_fault(client):
    client.subscribe("plant/#")
    mark = client.mark()
    p = subprocess.run(
        [sys.executable, PLANT, "--broker", client.broker.url, "--twinctl",
         twinctl(BUILD), "--stop", "3", "--dt", "0.5", "--fault",
         "1.5:tank0.cv=0", "--quiet"], capture_output=True, text=True,
        timeout=30)
    expect(p.returncode == 0, "the plant failed: %s" % p.stderr)

    def values(topic):
        return [m.payload for m in client.wait(
            lambda m: m.topic == topic, 7, 10, mark)]
    out = values("plant/TK-101/outflow")
    level = values("plant/TK-101/level")
    expect(len(client.messages(lambda m: m.topic == "plant/TK-101/level",
                               mark)) == 7, "not 7 ticks published")
    q = [m["value"] for m in out]
    expect(all(v > 0 for v in q[:4]) and q[4:] == [0, 0, 0],
           "outflow %r: positive to t=1.5, 0 after" % q)
    h = [m["value"] for m in level]
    # With the outlet shut the level rises at q_in/area, from where it was:
    # no jump at the fault (the states carried over).
    expect(all(b > a for a, b in zip(h[3:], h[4:])) and
           abs((h[4] - h[3]) - (h[5] - h[4])) < 0.5 * (h[5] - h[4]) + 1e-3,
           "level %r" % h)
    # The pump spins up (tau 4 s) through the fault: its speed, a state,
    # carried over, not started again from 0.
    flow = [m["value"] for m in values("plant/TK-101/pump/flow")]
    expect(all(b > a for a, b in zip(flow, flow[1:])),
           "pump flow %r: not rising through the fault" % flow)
    stamps = [m["t"] for m in level]
    expect(all(b > a for a, b in zip(stamps, stamps[1:])),
           "stamps not increasing: %r" % stamps)


def main():
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        client.broker = broker
        with Controller(broker, CTL, allow={"signals": ["plant/#"]},
                        limits={"batch_delay_ms": 1}) as ctl:
            t.check("the twin follows the demo plant tick by tick",
                    check_follows_plant, client, ctl)
            t.check("stale signals said once, held or back to default; "
                    "missing said", check_stale_and_missing, client, ctl)
            t.check("malformed payloads counted and said, the run goes on",
                    check_bad_payloads, client, ctl)
            t.check("a measured variable follows its plant signal",
                    check_measured_signal, client, ctl)
            t.check("a topic outside allow.signals is rejected",
                    check_topic_refused, client, ctl, "other/TK-101/valve",
                    "allow.signals")
            t.check("a topic under the controller's own prefix is rejected",
                    check_topic_refused, client, ctl, "twin/x/valve",
                    "own prefix")
        with Controller(broker, CTL) as ctl:
            t.check("no topic at all without allow.signals",
                    check_topic_refused, client, ctl, "plant/TK-101/valve",
                    "none are set")
        with tempfile.TemporaryDirectory() as d:
            t.check("twinctl run refuses signal inputs", check_run_refuses, d)
            t.check("allow.signals entries that are no filters",
                    check_bad_filters, d, broker)
        t.check("the demo plant's parameter fault", check_plant_fault,
                client)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
