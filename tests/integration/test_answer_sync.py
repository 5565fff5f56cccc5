#!/usr/bin/env python3
"""Which answers wait for the spool's disk (docs/spool.md, What is
synced), against a real mosquitto and a `twinctl serve` whose disk is
made slow: tests/shims/slow_sync.c, preloaded, makes every fdatasync
take 0.5 s and writes one line per sync, naming the file, to a log.

- Answers a restart can give again by validating again (a rejection,
  `describe`, `status`, a built-in `call`, a retry answered from memory,
  the retained status) wait for no sync: each arrives within 0.25 s,
  and the daemon syncs nothing meanwhile.  (Before, every one was
  journaled and synced first: 0.5 s each, one sync each.)
- A run's acceptance, rows and final response still are synced before
  they leave: `accepted` comes no sooner than one slow sync after the
  request, its journal is synced, and the result rows equal
  `twinctl run`'s.
- The promises across a controller killed with SIGKILL and started
  again on its spool: a retried rejected id gets the same rejection,
  byte for byte (validated again); a retried accepted id is answered
  with the run's own end (`finished`, or `failed` for the run the kill
  cut short) and is not run again (no second `accepted`).
- Answers made while the broker is gone wait in memory and are
  delivered once it is back (the controller frozen while the broker
  restarts, so that the test's client has subscribed again first); a
  request lost with the broker is answered when asked again.

Usage: python3 tests/integration/test_answer_sync.py BUILD_DIR"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     SOURCE_DIR, Tests, build_dir, run_rows)

BUILD = build_dir()
SLOW_MS = 500
QUICK = 0.25      # s: an answer that waited for no sync
CTL = "ctl-1"


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def shim():
    path = os.path.join(BUILD, "tests", "shims", "slow_sync.so")
    expect(os.path.exists(path), "the shim %s is not built" % path)
    return path


def slow_env(log):
    env = {"LD_PRELOAD": shim(), "TWIN_SLOW_SYNC_MS": str(SLOW_MS),
           "TWIN_SYNC_LOG": log}
    # A sanitizer build wants its runtime first; the shim is harmless.
    asan = os.environ.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
        "verify_asan_link_order=0"
    return env


def syncs(log):
    try:
        with open(log) as f:
            return [line.split(" ", 1)[1].strip() for line in f]
    except FileNotFoundError:
        return []


def scenario(name, **changes):
    with open(os.path.join(SOURCE_DIR, "scenarios", name + ".json")) as f:
        sc = json.load(f)
    sc.update(changes)
    return sc


def timed(client, req):
    """(response, seconds from publishing to the answer)."""
    r = client.request(req, controller=CTL)
    t0 = time.monotonic()   # the request is published inside request()
    m = r.responses(1, 10)[0]
    return m.payload, m.time - t0, r


def check_quick_answers(broker):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "syncs.log")
        with Controller(broker, cid=CTL, env=slow_env(log)), \
                Client(broker).connect() as c:
            time.sleep(1.2)         # the start's own writes, a tidy
            before = len(syncs(log))
            asks = [
                ("a rejection", {"type": "run"}, "rejected"),
                ("describe", {"type": "describe"}, "ok"),
                ("status", {"type": "status"}, "ok"),
                ("status of an unknown run", {"type": "status",
                                              "run": "nosuch"}, "rejected"),
                ("a built-in call", {"type": "call", "function": "mean",
                                     "args": {"y": [1, 2, 4]}}, "ok"),
                ("set of an unknown run", {"type": "set", "run": "nosuch",
                                           "values": {"a.b": 1}},
                 "rejected"),
                ("cancel of an unknown run", {"type": "cancel",
                                              "run": "nosuch"}, "rejected"),
            ]
            slow = []
            for what, req, status in asks:
                resp, took, r = timed(c, req)
                expect(resp.get("status") == status,
                       "%s: %r" % (what, resp))
                if took >= QUICK:
                    slow.append("%s %.3f s" % (what, took))
                # The retry of that id: from memory, as quick.
                again = c.request(dict(req, id=r.id), controller=CTL)
                t0 = time.monotonic()
                m = again.responses(1, 10)[0]
                expect(m.payload == resp, "%s: the retry got %r, not %r"
                       % (what, m.payload, resp))
                if m.time - t0 >= QUICK:
                    slow.append("%s's retry %.3f s" % (what, m.time - t0))
            made = syncs(log)[before:]
            expect(not slow, "answers waited for the disk (syncs take %d ms): "
                   "%s" % (SLOW_MS, ", ".join(slow)))
            expect(not made, "the daemon synced %d times while answering "
                   "(%s)" % (len(made), ", ".join(made[:4])))


def check_run_still_synced(broker):
    sc = scenario("tank-overflow")
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "syncs.log")
        with Controller(broker, cid=CTL, env=slow_env(log)), \
                Client(broker).connect() as c:
            time.sleep(1.2)
            before = len(syncs(log))
            resp, took, r = timed(c, {"type": "run", "scenario": sc})
            expect(resp.get("status") == "accepted", resp)
            expect(took >= SLOW_MS / 1000.0 * 0.9, "`accepted` came %.3f s "
                   "after the request: before its journal was synced (%d ms)"
                   % (took, SLOW_MS))
            final = r.final(60)
            expect(final["status"] == "finished", final)
            journal = [p for p in syncs(log)[before:]
                       if p.endswith("/runs/%s.log" % r.run)]
            # Its acceptance and first row share a sync; its other rows
            # and its end may come in time for that one too.
            expect(len(journal) >= 1, "the run's journal was never synced")
            rows = [row for m in c.results(CTL, r.run, final["last_seq"])
                    for row in m["rows"]]
            expect(rows == run_rows(sc, BUILD), "the rows differ from twinctl "
                   "run's")
            # Its id again, after its end: the final response, from memory.
            again = c.request({"type": "run", "id": r.id, "scenario": sc},
                              controller=CTL)
            t0 = time.monotonic()
            m = again.responses(1, 10)[0]
            expect(m.payload == final, "the retry got %r" % m.payload)
            expect(m.time - t0 < QUICK, "the retry waited %.3f s"
                   % (m.time - t0))


def check_restart(broker):
    spool = tempfile.mkdtemp(prefix="twin-answers-")
    done_sc = scenario("tank-overflow")
    paced = scenario("tank-overflow", pace={"realtime": 1.0})
    try:
        with Client(broker).connect() as c:
            ctl = Controller(broker, cid=CTL,
                             config_extra={"spool": spool}).start()
            bad = c.request({"type": "run", "scenario": scenario(
                "tank-overflow", instances={"t": {"model": "nosuch",
                                                  "params": {}}})},
                controller=CTL)
            rejected = bad.responses(1, 10)[0]
            expect(rejected.payload["status"] == "rejected",
                   rejected.payload)
            done = c.request({"type": "run", "scenario": done_sc},
                             controller=CTL)
            finished = done.final(60)
            expect(finished["status"] == "finished", finished)
            cut = c.request({"type": "run", "scenario": paced},
                            controller=CTL)
            expect(cut.response(10)["status"] == "accepted", "paced run")
            time.sleep(2.5)         # a few rows; marks written
            ctl.kill()
            mark = c.mark()
            with Controller(broker, cid=CTL, config_extra={"spool": spool}):
                # The rejected id: validated again, the same answer.
                again = c.request(dict(bad.obj), controller=CTL)
                m = again.responses(1, 10)[0]
                expect(m.raw == rejected.raw, "the retried rejected id got "
                       "%r, not %r" % (m.raw, rejected.raw))
                # The finished run: its final response, not run again.
                again = c.request(dict(done.obj), controller=CTL)
                m = again.responses(1, 10)[0]
                expect(m.payload == finished, "the retried finished run got "
                       "%r" % m.payload)
                # The run the kill cut short: `failed`, not started again.
                again = c.request(dict(cut.obj), controller=CTL)
                m = again.responses(1, 10)[0]
                expect(m.payload.get("status") == "failed" and "stopped "
                       "while this run was running" in json.dumps(
                           m.payload), "the retried cut-short run got %r"
                       % m.payload)
                time.sleep(1.0)
                for req in (done, cut):
                    accepted = [x for x in c.messages(start=mark)
                                if isinstance(x.payload, dict)
                                and x.payload.get("id") == req.id
                                and x.payload.get("status") == "accepted"]
                    expect(not accepted, "run %s was accepted again after "
                           "the restart" % req.id)
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def subscribe(client, *topics):
    """Subscribe, once more if the SUBACK does not come (paho's client
    sometimes drops its first connection just after connecting)."""
    for attempt in range(3):
        try:
            return client.subscribe(*topics, timeout=3.0)
        except HarnessError:
            if attempt == 2:
                raise


def check_broker_outage(broker):
    with Controller(broker, cid=CTL) as ctl, \
            Client(broker).connect() as c:
        reqs = [{"type": "describe"}, {"type": "run"},
                {"type": "status", "run": "nosuch"}]
        for i, req in enumerate(reqs):
            req["id"] = "outage-%d-%d" % (os.getpid(), i)
        subscribe(c, *[c.topic(CTL, "response", req["id"]) for req in reqs])
        start = c.mark()
        # Frozen, the controller takes the requests into its socket's
        # buffer only; it answers them after the broker is gone.
        ctl.proc.send_signal(signal.SIGSTOP)
        try:
            for req in reqs:
                req["contract"] = "twin.request/1"
                c.publish(c.topic(CTL, "request"), json.dumps(req))
            time.sleep(0.5)
            broker.proc.kill()
            broker.proc.wait(5)
            time.sleep(0.5)
            if not broker._start_once(broker.port, broker.tls_port):
                raise HarnessError("mosquitto would not start again")
            # The test's client back and subscribed before the controller
            # (paho reconnects it; the harness subscribes again at once).
            deadline = time.monotonic() + 20
            while not c.mqtt.is_connected():
                expect(time.monotonic() < deadline, "the test's client did "
                       "not come back")
                time.sleep(0.05)
            time.sleep(1.0)
        finally:
            ctl.proc.send_signal(signal.SIGCONT)
        got = {}
        deadline = time.monotonic() + 10  # it reconnects 1 to 4 s apart
        while len(got) < len(reqs) and time.monotonic() < deadline:
            for m in c.messages(start=start):
                if isinstance(m.payload, dict) and "/response/" in m.topic:
                    got[m.payload.get("id")] = m.payload.get("status")
                    # What it answered goes out together.
                    deadline = min(deadline, time.monotonic() + 1.0)
            time.sleep(0.1)
        want = {reqs[0]["id"]: "ok", reqs[1]["id"]: "rejected",
                reqs[2]["id"]: "rejected"}
        # A request the broker had not handed over whole before it died
        # is lost with it (its PUBACK never came): asked again, it is
        # answered.  What the controller took is answered after the
        # outage, from memory.
        expect(got and all(want.get(k) == v for k, v in got.items()),
               "answers after the outage: %r, want %r" % (got, want))
        for req in reqs:
            if req["id"] not in got:
                r = c.request(dict(req), controller=CTL).response(10)
                got[req["id"]] = r.get("status")
        expect(got == want, "answers after asking again: %r, want %r"
               % (got, want))


def main():
    tests = Tests()
    with Broker() as broker:
        tests.check("answers a restart can give again wait for no disk",
                    check_quick_answers, broker)
        tests.check("a run's acceptance, rows and end are still synced",
                    check_run_still_synced, broker)
        tests.check("retried ids after a controller kill: the same "
                    "rejection, no run twice", check_restart, broker)
        tests.check("answers made while the broker is gone are delivered",
                    check_broker_outage, broker)
    return tests.summary()


if __name__ == "__main__":
    sys.exit(main())
