#!/usr/bin/env python3
"""Integration tests of the on-disk spool against a real mosquitto:
`replay` sends any seq range of a retained run again, byte for byte; a
controller killed with SIGKILL in the middle of a run and started again on
the same spool reports the run `failed` with a reason that says so, and
every row it had computed reaches the orchestrator — identical to
`twinctl run`'s; a replay after the restart still works.

Usage: python3 tests/integration/test_spool.py BUILD_DIR"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, twinctl)

BUILD = build_dir()


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def reference(scenario):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        subprocess.run([twinctl(BUILD), "run", "-q", path, "-o",
                        os.path.join(d, "ref.csv")], check=True, timeout=120)
        with open(os.path.join(d, "ref.csv")) as f:
            rows = list(csv.reader(f))
    return [[float(x) for x in r] for r in rows[1:]]


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
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
