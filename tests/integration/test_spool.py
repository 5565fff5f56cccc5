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

Usage: python3 tests/integration/test_spool.py BUILD_DIR"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, spool_reservation, twinctl)

BUILD = build_dir()


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def reference(scenario, header=False):
    """twinctl run's rows of the scenario (and its header, if asked)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        subprocess.run([twinctl(BUILD), "run", "-q", path, "-o",
                        os.path.join(d, "ref.csv")], check=True, timeout=120)
        with open(os.path.join(d, "ref.csv")) as f:
            rows = list(csv.reader(f))
    values = [[float(x) for x in r] for r in rows[1:]]
    return (rows[0], values) if header else values


def farm(hours, speed=None):
    out = subprocess.run(
        [sys.executable, os.path.join(SOURCE_DIR, "examples",
                                      "gen_tank_farm.py"), "3", "--stop",
         str(int(hours * 3600))] +
        (["--realtime", str(speed)] if speed else []),
        check=True, capture_output=True, text=True)
    s = json.loads(out.stdout)
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
    ctl.proc.kill()
    ctl.proc.wait(5)
    ctl.proc = None
    ctl.watch.close()
    shutil.rmtree(ctl.dir, ignore_errors=True)
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
