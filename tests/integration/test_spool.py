#!/usr/bin/env python3
"""Integration tests of the on-disk spool against a real mosquitto:
`replay` sends any seq range of a retained run again, byte for byte; a
controller killed with SIGKILL in the middle of a run and started again on
the same spool reports the run `failed` with a reason that says so, and
every row it had computed reaches the orchestrator — identical to
`twinctl run`'s; a replay after the restart still works.  A controller
whose spool is full (two runs hold all its room), whose broker is gone
and whose memory bound for results is reached stops within seconds of
SIGTERM, and started again on its spool delivers both runs, cancelled,
with every row they made.

A large replay (a run of 30,601 result messages, one row each) is sent a
step at a time: `describe` and `status` asked while it streams are
answered before it ends; a second replay asked meanwhile ends first; a
retry of the replay's id starts nothing (one answer where the request
was, one where the retry asked); every seq asked for arrives exactly once,
in order, byte for byte as first sent.  SIGTERM in the middle of a replay
answers it `busy`, saying how far it got, and the daemon stops cleanly.

Usage: python3 tests/integration/test_spool.py BUILD_DIR"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, Request,  # noqa: E402
                     SOURCE_DIR, Tests, build_dir, run_rows,
                     spool_reservation, tank_farm)

BUILD = build_dir()


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def reference(scenario, header=False):
    """twinctl run's rows of the scenario (and its header, if asked)."""
    return run_rows(scenario, BUILD, header)


def farm(hours, speed=None):
    s = tank_farm(3, hours, speed)
    s["every"] = 10
    return s


def check_replay(client):
    acc, final, _, rows, _ = client.run_scenario(farm(2), controller="c-sp",
                                                 run="rp-%d" % time.time())
    expect(final["status"] == "finished" and final["last_seq"] >= 3, final)
    run = acc["run"]
    first = {m.payload["seq"]: m.raw for m in client.messages(
        lambda m: m.topic.endswith("/result/" + run))}
    start = client.mark()
    r = client.request({"type": "replay", "run": run, "from_seq": 1,
                        "to_seq": 3}, controller="c-sp").response()
    expect(r["status"] == "ok" and r["sent"] == 3, r)
    again = client.wait(lambda m: m.topic.endswith("/result/" + run), 3, 10,
                        start)
    for m in again:
        expect(m.raw == first[m.payload["seq"]],
               "replayed seq %d differs" % m.payload["seq"])
    bad = client.request({"type": "replay", "run": "never-ran", "from_seq": 0,
                          "to_seq": 1}, controller="c-sp").response()
    expect(bad["errors"][0]["code"] == "unknown_run", bad)
    bad = client.request({"type": "replay", "run": run, "from_seq": 5,
                          "to_seq": 1}, controller="c-sp").response()
    expect([(e["code"], e["path"]) for e in bad["errors"]] ==
           [("out_of_range", "/to_seq")], bad)


def check_crash(broker, client, spool):
    # 2 h of tank-farm-3 paced at speed 1200: 6 s of wall clock; killed
    # after about 2 s.
    scen = farm(2, speed=1200)
    run = "crash-%d" % time.time()
    ctl = Controller(broker, "c-crash", build=BUILD,
                     config_extra={"spool": spool}).start()
    req = client.request({"id": run, "type": "run", "scenario": scen},
                         controller="c-crash")
    expect(req.response()["status"] == "accepted", "accepted")
    time.sleep(2.0)
    ctl.kill()
    seen_before = len(client.messages(lambda m: "/result/" + run in m.topic))
    expect(seen_before > 0, "no results before the kill")
    # Started again on the same spool: the run is reported, its rows come.
    with Controller(broker, "c-crash", build=BUILD,
                    config_extra={"spool": spool}):
        final = req.final(timeout=20)
        expect(final["status"] == "failed", final)
        e = final["errors"][0]
        expect("stopped while this run was running" in e["message"], e)
        msgs = client.results("c-crash", run, final["last_seq"],
                              start=req.first_index)
        rows = [r for m in msgs for r in m["rows"]]
        expect(len(rows) == final["rows"] > 0, "rows %d vs %d"
               % (len(rows), final["rows"]))
        ref = reference(dict(scen, pace="batch"))
        expect(rows == ref[:len(rows)], "rows differ from twinctl run's")
        expect(len(rows) < len(ref), "the run was not cut short")
        st = client.request({"type": "status", "run": run},
                            controller="c-crash").response()
        expect(st["state"] == "failed" and st["rows"] == len(rows), st)
        start = client.mark()
        r = client.request({"type": "replay", "run": run, "from_seq": 0,
                            "to_seq": 0}, controller="c-crash").response()
        expect(r["sent"] == 1, r)
        client.wait(lambda m: m.topic.endswith("/result/" + run), 1, 5, start)


def check_stop_when_full(broker, client, spool):
    cid = "c-full"
    speed, stop = 60.0, 600                 # 601 rows in 10 s each
    with open(os.path.join(SOURCE_DIR, "scenarios",
                           "tank-overflow.json")) as f:
        scen = json.load(f)
    scen["time"]["stop"] = stop
    cols, ref = reference(scen, header=True)
    scen["pace"] = {"realtime": speed}
    events = 16384
    tag = "%d" % time.time()
    runs = ["full-%s-%d" % (tag, i) for i in (1, 2)]
    need = spool_reservation("twin", cid, runs[0], runs[0], cols, stop + 1,
                             stop / speed, event_bytes=events)
    least = spool_reservation("twin", cid, None, "r", ["t"], 1,
                              event_bytes=events, reply_topic="r",
                              result_topic="r", event_topic="r")
    limit = 16 * (2 * need + least // 2 + 4096) // 15 + 16
    lim = {"spool_bytes": limit, "event_bytes": events, "max_runs": 4,
           "buffer_bytes": 16384, "retention_seconds": 600}
    ctl = Controller(broker, cid, build=BUILD, limits=lim,
                     config_extra={"spool": spool}).start()
    try:
        reqs = [client.request({"id": r, "type": "run", "scenario": scen},
                               controller=cid) for r in runs]
        for r in reqs:
            expect(r.response()["status"] == "accepted", "accepted")
        st = client.request({"type": "status"}, controller=cid).response()
        expect(st["spool_full"] is True, "the spool is not full: %r" % st)
        time.sleep(1.5)
        # The broker goes: results pile up past buffer_bytes, the runs
        # wait for the sender, nothing can be delivered.
        broker.proc.send_signal(signal.SIGTERM)
        broker.proc.wait(5)
        time.sleep(2.0)
        t0 = time.monotonic()
        ctl.proc.send_signal(signal.SIGTERM)
        rc = ctl.proc.wait(15)
        took = time.monotonic() - t0
        print("     stopped %.2f s after SIGTERM (exit %d)" % (took, rc))
        expect(rc == 0 and took < 5.0, "SIGTERM took %.2f s (exit %d)"
               % (took, rc))
        with open(ctl.log) as f:
            log = f.read()
        expect("they stay in the spool" in log, "the log does not say what "
               "was kept: " + log[-1500:])
    finally:
        if ctl.proc is not None and ctl.proc.poll() is None:
            ctl.proc.kill()
        ctl.proc = None
        ctl.watch.close()
    shutil.rmtree(ctl.dir, ignore_errors=True)
    # Started again (broker and controller) on the same spool: a new
    # receiver, subscribed first, gets what was not delivered.
    if not broker._start_once(broker.port):
        raise HarnessError("mosquitto would not start again")
    with Client(broker) as late:
        late.subscribe("twin/%s/#" % cid)
        start = late.mark()
        with Controller(broker, cid, build=BUILD, limits=lim,
                        config_extra={"spool": spool}):
            for run in runs:
                final = late.wait(lambda m, run=run: m.topic.endswith(
                    "/response/" + run) and m.payload.get("status") in
                    ("finished", "failed", "cancelled"), 1, 20,
                    start)[0].payload
                expect(final["status"] == "cancelled" and
                       0 < final["rows"] < stop + 1, final)
                last = final["last_seq"]
                got = {}
                for c in (client, late):
                    for m in c.messages(lambda m, run=run: m.topic.endswith(
                            "/result/" + run)):
                        got[m.payload["seq"]] = m.payload
                missing = [q for q in range(last + 1) if q not in got]
                print("     %s: %d rows in %d messages, %d lost with the "
                      "broker, replayed" % (run, final["rows"], last + 1,
                                            len(missing)))
                if missing:
                    rp = late.mark()
                    ok = late.request({"type": "replay", "run": run,
                                       "from_seq": min(missing),
                                       "to_seq": max(missing)},
                                      controller=cid).response()
                    expect(ok["status"] == "ok", ok)
                    for m in late.wait(lambda m, run=run: m.topic.endswith(
                            "/result/" + run), ok["sent"], 10, rp):
                        got[m.payload["seq"]] = m.payload
                rows = [row for q in range(last + 1)
                        for row in got[q]["rows"]]
                expect(len(rows) == final["rows"] and rows == ref[:len(rows)],
                       "%s: the rows differ from twinctl run's" % run)
                st = late.request({"type": "status", "run": run},
                                  controller=cid).response()
                expect(st["state"] == "cancelled" and
                       st["rows"] == len(rows), st)


BIG_HOURS = 8.5        # 30,601 rows: as many result messages
BIG_LIMITS = {"batch_rows": 1}


def big_run(client, ctl):
    """A retained run of tens of thousands of result messages; returns its
    id, last_seq and {seq: payload bytes as first sent}."""
    scen = farm(BIG_HOURS)
    scen["every"] = 1
    run = "big-%d" % time.time()
    acc, final, _, rows, _ = client.run_scenario(scen, controller=ctl,
                                                 run=run, timeout=120)
    expect(final["status"] == "finished", final)
    last = final["last_seq"]
    expect(last + 1 == len(rows) >= 30000, "%d messages" % (last + 1))
    topic = "twin/%s/result/%s" % (ctl, run)
    first = {m.payload["seq"]: m.raw for m in client.messages(
        lambda m: m.topic == topic)}
    expect(len(first) == last + 1, "first sending incomplete")
    return run, last, first


def replayed(client, topic, start):
    """(seq, raw) of the results on topic from message start on."""
    return [(m.payload["seq"], m.raw) for m in client.messages(
        lambda m: m.topic == topic, start)]


def index_of(client, pred, start):
    """The index in the client's log of the first message from start on
    that satisfies pred."""
    for i, m in enumerate(client.messages(None, start)):
        if pred(m):
            return start + i
    raise HarnessError("no such message")


def check_incremental(broker, client, ctl, big):
    """client receives the replayed results; other, on its own connection
    (so that the flood of results does not delay its requests), asks
    meanwhile.  On one connection the broker keeps the controller's order,
    so an answer that reaches `other` before the replay's `ok` was sent
    while the replay was still going."""
    run, last, first = big
    topic = "twin/c-big/result/" + run
    lo, hi = 200, last - 10        # the big replay
    small = (0, 99)                # a second one, asked while it streams
    rid = "replay-big-%d" % time.time()
    with Client(broker) as other:
        # Subscribed once, and requests published without waiting for the
        # broker: a busy broker then delays them least.
        other.subscribe("twin/c-big/response/#")

        def ask(obj, response_topic=None, correlation=None):
            obj = dict(obj, contract="twin.request/1")
            obj.setdefault("id", "req-%d-%d" % (os.getpid(), len(asked)))
            props = None
            if response_topic:
                props = Properties(PacketTypes.PUBLISH)
                props.ResponseTopic = response_topic
                props.CorrelationData = correlation.encode()
            req = Request(other, obj, "c-big", response_topic or
                          "twin/c-big/response/" + obj["id"],
                          correlation.encode() if correlation else None,
                          other.mark())
            other.mqtt.publish("twin/c-big/request", json.dumps(obj), qos=1,
                               properties=props)
            asked.append((req, time.monotonic()))
            return req

        asked = []
        start, ostart = client.mark(), other.mark()
        t0 = time.monotonic()
        big_req = client.request({"id": rid, "type": "replay", "run": run,
                                  "from_seq": lo, "to_seq": hi},
                                 controller="c-big")
        big_ok = Request(other, big_req.obj, "c-big", big_req.response_topic,
                         None, ostart)
        # Right behind it (the daemon takes about a second to send it all):
        # describe, a second replay, and two retries of the first (to
        # where it was asked, and to another response topic); then status
        # every 20 ms until the replay has answered.
        desc = ask({"type": "describe"})
        second = ask({"type": "replay", "run": run, "from_seq": small[0],
                      "to_seq": small[1]})
        retry_same = ask({"id": rid, "type": "replay", "run": run,
                          "from_seq": lo, "to_seq": hi})
        retry_other = ask(
            {"id": rid, "type": "replay", "run": run, "from_seq": lo,
             "to_seq": hi},
            response_topic="twin/c-big/response/elsewhere-" + rid,
            correlation="retry-2")
        while not big_ok.received() and time.monotonic() - t0 < 120:
            ask({"type": "status", "run": run})
            time.sleep(0.02)
        ok = big_req.final(timeout=120)
        t_end = time.monotonic()
        expect(ok["status"] == "ok" and ok["sent"] == hi - lo + 1 and
               ok["last_seq"] == last, ok)
        # Answered while the replay streamed, not after it.
        end = index_of(other, big_ok._is_response, ostart)
        before = []
        for req, at in asked:
            if req.obj["type"] != "status":
                continue
            r = req.final(timeout=30)
            expect(r["status"] == "ok" and r["state"] == "finished", r)
            m = other.messages(req._is_response, ostart)[0]
            if index_of(other, req._is_response, ostart) < end:
                before.append(m.time - at)
        expect(before, "none of %d status requests was answered before "
               "the replay ended" % len(asked))
        for req, what in ((desc, "describe"), (second, "a second replay")):
            r = req.final(timeout=30)
            expect(r["status"] == "ok", r)
            expect(index_of(other, req._is_response, ostart) < end,
                   "%s answered after the replay" % what)
        expect(second.final()["sent"] == small[1] - small[0] + 1, "second")
        # Every seq asked for, once, in order, as first sent.
        client.wait(lambda m: m.topic == topic and m.payload["seq"] ==
                    small[1], 1, 30, start)
        got = replayed(client, topic, start)
        seqs = [s for s, _ in got]
        expect(len(got) == hi - lo + 1 + small[1] - small[0] + 1,
               "%d result messages replayed (a retry replayed again?)"
               % len(got))
        expect(sorted(seqs) == list(range(small[0], small[1] + 1)) +
               list(range(lo, hi + 1)), "not every seq exactly once")
        big_seqs = [s for s in seqs if s >= lo]
        small_seqs = [s for s in seqs if s <= small[1]]
        expect(big_seqs == sorted(big_seqs) and
               small_seqs == sorted(small_seqs), "a replay out of order")
        bad = [s for s, raw in got if raw != first[s]]
        expect(not bad, "replayed seqs differ from the first sending: %s"
               % bad[:5])
        # Retries: one answer each, where they asked, the same as the
        # first; the retry to the same place adds none there.
        time.sleep(0.5)
        oks = other.messages(big_ok._is_response, ostart)
        expect(len(oks) == 1, "%d answers where the replay was asked, "
               "want 1 (a retry to the same place gets none of its own)"
               % len(oks))
        elsewhere = retry_other.responses(1, 10)
        expect(elsewhere[0].raw == oks[0].raw,
               "the retry elsewhere got another answer")
        expect(len(retry_other.received()) == 1, "retry elsewhere: %d "
               "answers" % len(retry_other.received()))
        expect(retry_same.received() == [oks[0].payload], "retry")
        expect(not [m for m in other.messages(None, ostart) if
                    m.payload.get("status") not in ("ok", None)],
               "an answer other than ok")
    before.sort()
    with open(ctl.log, errors="replace") as f:
        took = [ln.split(" in ")[-1].strip() for ln in f
                if "replay of run %s, seq %d to %d" % (run, lo, hi) in ln]
    print("    replay of %d messages: sent in %s by the daemon, %.2f s to "
          "its answer here; %d status requests answered during it, latency "
          "p50 %.1f ms, max %.1f ms" % (
              hi - lo + 1, took[0] if took else "?", t_end - t0, len(before),
              1000 * before[len(before) // 2], 1000 * before[-1]))


def check_stop_mid_replay(client, ctl, big):
    run, last, _ = big
    topic = "twin/c-big/result/" + run
    start = client.mark()
    req = client.request({"type": "replay", "run": run, "from_seq": 0,
                          "to_seq": last}, controller="c-big")
    # SIGTERM once the replay has begun: it takes the daemon more than a
    # second to send them all.
    client.wait(lambda m: m.topic == topic, 1, 30, start)
    with open(ctl.log, errors="replace") as f:
        log = f.read()
    problems = ctl.stop()
    expect(not problems, problems)
    r = req.final(timeout=10)
    expect(r["status"] == "rejected" and r["errors"][0]["code"] == "busy",
           "%s; the daemon's log before the stop: %s" % (r, log[-600:]))
    expect("cut short" in r["errors"][0]["message"], r)
    expect(len(replayed(client, topic, start)) < last + 1,
           "the whole replay went before the stop")


def main():
    t = Tests()
    spool = tempfile.mkdtemp(prefix="twin-spool-")
    try:
        with Broker() as broker, Client(broker) as client:
            with Controller(broker, "c-sp", build=BUILD):
                t.check("replay sends a seq range again, byte for byte",
                        check_replay, client)
            t.check("SIGKILL mid-run, restart on the spool: failed, every "
                    "row delivered", check_crash, broker, client, spool)
            ctl = Controller(broker, "c-big", build=BUILD,
                             limits=BIG_LIMITS).start()
            try:
                big = big_run(client, "c-big")
                t.check("a large replay goes a step at a time: other "
                        "answers in between, every seq once, in order",
                        check_incremental, broker, client, ctl, big)
                t.check("SIGTERM mid-replay: answered busy, clean stop",
                        check_stop_mid_replay, client, ctl, big)
            finally:
                for p in ctl.stop():
                    print("harness: " + p, file=sys.stderr)
            full = tempfile.mkdtemp(prefix="twin-spool-")
            try:
                t.check("SIGTERM with the spool full, the broker gone and "
                        "the memory bound reached: stops within seconds; "
                        "restarted, every row delivered",
                        check_stop_when_full, broker, client, full)
            finally:
                shutil.rmtree(full, ignore_errors=True)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
