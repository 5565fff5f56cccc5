#!/usr/bin/env python3
"""Result messages in CBOR (issue 12, item 2) against a real mosquitto.

The same scenario is run twice on one controller, once with the default
encoding and once with "encoding": "cbor": every CBOR result message,
read with python3-cbor2 (an independent decoder; the rows are RFC 8746
tag 86, float64 little-endian, row-major), has the members of its JSON
twin and the same values bit for bit, and both equal `twinctl run`'s
CSV; the MQTT v5 content type is application/cbor on the one and
application/json on the other.  A replay sends a run's results in the
encoding it asks for, byte for byte when that is how they were sent and
with the same values when not.  A bad "encoding" is rejected at
/encoding; `describe` lists the encodings.  A controller killed in the
middle of a CBOR run and started again on its spool sends the rest of
the run in CBOR, with its content type, the same bytes a replay gives.

Usage: python3 tests/integration/test_cbor.py BUILD_DIR"""

import csv
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import cbor2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     Tests, build_dir, run_csv, tank_farm, twinctl)

BUILD = build_dir()
CID = "c-cbor"


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def bits(v):
    """A value's bits: a JSON integer and a float of the same value are the
    same double; None (not finite) stays None."""
    return None if v is None else struct.pack("<d", float(v))


def same(a, b):
    """Two result messages' members equal, their values bit for bit."""
    rest = [{k: v for k, v in p.items() if k != "rows"} for p in (a, b)]
    return rest[0] == rest[1] and \
        [[bits(v) for v in r] for r in a["rows"]] == \
        [[bits(v) for v in r] for r in b["rows"]]


def reference(scenario):
    """twinctl run's CSV text of the scenario."""
    return run_csv(scenario, BUILD)


def result_msgs(client, run, start=0):
    return [m for m in client.messages(
        lambda m: m.topic.endswith("/result/" + run), start)]


def farm():
    s = tank_farm(3, 1)
    s["every"] = 5
    return s


def check_same_values(client, state):
    scen = farm()
    tag = "%d" % (time.time() * 1000)
    runs = {}
    for enc in ("json", "cbor"):
        extra = {"encoding": "cbor"} if enc == "cbor" else {}
        acc, final, cols, rows, _ = client.run_scenario(
            scen, controller=CID, run="%s-%s" % (enc, tag), extra=extra)
        expect(acc is not None and final["status"] == "finished", final)
        expect(acc.get("encoding") == enc, "accepted says %r" % acc)
        msgs = result_msgs(client, acc["run"])
        runs[enc] = (acc, final, cols, rows, msgs)
    (_, fj, cj, rj, mj), (_, fc, cc, rc, mc) = runs["json"], runs["cbor"]
    expect(fj["rows"] == fc["rows"] == len(rj),
           "rows: %r vs %r" % (fj["rows"], fc["rows"]))
    expect(cj == cc, "columns differ")
    for m in mj:
        expect(m.content_type == "application/json",
               "JSON result with content type %r" % m.content_type)
    for m in mc:
        expect(m.content_type == "application/cbor",
               "CBOR result with content type %r" % m.content_type)
        raw = cbor2.loads(m.raw)
        expect(set(raw) == {"contract", "run", "seq", "columns", "rows"},
               "CBOR members %r" % sorted(raw))
        expect(isinstance(raw["rows"], cbor2.CBORTag) and
               raw["rows"].tag == 86, "rows are not tag 86")
    # Batches are cut by time as well as by rows, so the two runs' messages
    # may hold other rows each: the members of each, and the rows of all.
    for enc, msgs in (("json", mj), ("cbor", mc)):
        for m in msgs:
            p = m.payload
            expect(sorted(p) == ["columns", "contract", "rows", "run", "seq"]
                   and p["contract"] == "twin.result/1" and
                   p["run"] == runs[enc][0]["run"] and p["columns"] == cj,
                   "%s seq %s members" % (enc, p.get("seq")))
    expect(len(rj) == len(rc) and all(
        [bits(v) for v in a] == [bits(v) for v in b] for a, b in zip(rj, rc)),
        "the rows in CBOR differ from the rows in JSON")
    # Both equal twinctl run's CSV, read as doubles.
    ref = list(csv.reader(reference(scen).splitlines()))
    expect(ref[0] == cc, "CSV header differs")
    refv = [[bits(float(x)) for x in r] for r in ref[1:]]
    expect([[bits(v) for v in r] for r in rc] == refv,
           "CBOR rows differ from twinctl run's CSV")
    state.update(runs)


def check_replay(client, state):
    for enc, other in (("json", "cbor"), ("cbor", "json")):
        acc, final, _, _, first = state[enc]
        run = acc["run"]
        by_seq = {m.payload["seq"]: m for m in first}
        for ask in (enc, other):
            start = client.mark()
            req = {"type": "replay", "run": run, "from_seq": 0,
                   "to_seq": final["last_seq"]}
            if ask == "cbor" or enc == "cbor":
                req["encoding"] = ask
            r = client.request(req, controller=CID).response()
            expect(r["status"] == "ok" and r["sent"] == final["last_seq"] + 1,
                   r)
            again = client.wait(lambda m: m.topic.endswith("/result/" + run),
                                final["last_seq"] + 1, 10, start)
            for m in again:
                seq = m.payload["seq"]
                want = "application/" + ask
                expect(m.content_type == want, "replay %s of a %s run: %r"
                       % (ask, enc, m.content_type))
                if ask == enc:
                    expect(m.raw == by_seq[seq].raw,
                           "replayed seq %d differs" % seq)
                else:
                    # The other encoding, the same members and values.
                    expect(same(m.payload, by_seq[seq].payload),
                           "seq %d sent again in %s differs" % (seq, ask))


def check_bad_encoding(client):
    for req, path in (({"type": "run", "scenario": "tank-overflow"}, "/run"),
                      ({"type": "replay", "run": "nope", "from_seq": 0,
                        "to_seq": 0}, "/replay")):
        for value, code in (("xml", "out_of_range"), (5, "wrong_type"),
                            ("CBOR", "out_of_range"), (None, "wrong_type")):
            r = client.request(dict(req, encoding=value),
                               controller=CID).response()
            expect(r["status"] == "rejected", r)
            errs = [(e["code"], e["path"]) for e in r["errors"]]
            expect((code, "/encoding") in errs, "%s %r: %r"
                   % (path, value, r["errors"]))
            msg = [e["message"] for e in r["errors"]
                   if e["path"] == "/encoding"][0]
            expect("\"json\"" in msg and "\"cbor\"" in msg, msg)


def check_describe(client):
    r = client.request({"type": "describe"}, controller=CID).response()
    expect(r["status"] == "ok" and r.get("encodings") == ["json", "cbor"],
           r.get("encodings"))


def check_crash(broker, client):
    spool = tempfile.mkdtemp(prefix="twin-spool-")
    scen = tank_farm(3, 2, speed=1200)
    scen["every"] = 10
    run = "cbor-crash-%d" % time.time()
    ctl = Controller(broker, "c-cbor-k", build=BUILD,
                     config_extra={"spool": spool}).start()
    req = client.request({"id": run, "type": "run", "scenario": scen,
                          "encoding": "cbor"}, controller="c-cbor-k")
    expect(req.response()["status"] == "accepted", "accepted")
    time.sleep(2.0)
    ctl.kill()
    before = len(result_msgs(client, run))
    expect(before > 0, "no results before the kill")
    with Controller(broker, "c-cbor-k", build=BUILD,
                    config_extra={"spool": spool}):
        final = req.final(timeout=20)
        expect(final["status"] == "failed", final)
        msgs = client.results("c-cbor-k", run, final["last_seq"],
                              start=req.first_index)
        every = result_msgs(client, run, req.first_index)
        expect(all(m.content_type == "application/cbor" for m in every),
               "a result without application/cbor: %r"
               % sorted({m.content_type for m in every}))
        rows = [r for m in msgs for r in m["rows"]]
        ref = list(csv.reader(reference(dict(scen, pace="batch"))
                              .splitlines()))[1:]
        expect(len(rows) == final["rows"] > 0 and len(rows) < len(ref),
               "rows %d, final %d, ref %d" % (len(rows), final["rows"],
                                              len(ref)))
        expect([[bits(v) for v in r] for r in rows] ==
               [[bits(float(x)) for x in r] for r in ref[:len(rows)]],
               "rows differ from twinctl run's")
        # Sent again after the restart: the journal's bytes.
        start = client.mark()
        r = client.request({"type": "replay", "run": run, "from_seq": 0,
                            "to_seq": final["last_seq"],
                            "encoding": "cbor"},
                           controller="c-cbor-k").response()
        expect(r["sent"] == final["last_seq"] + 1, r)
        again = client.wait(lambda m: m.topic.endswith("/result/" + run),
                            final["last_seq"] + 1, 10, start)
        first = {}
        for m in every:
            first.setdefault(m.payload["seq"], m.raw)
        expect(all(m.raw == first[m.payload["seq"]] for m in again),
               "replayed bytes differ from those first sent")


def submit(broker, scen, encoding, d):
    """twinctl submit's CSV of the scenario (encoding None: the
    default), and what it printed."""
    path = os.path.join(d, "s.json")
    with open(path, "w") as f:
        json.dump(scen, f)
    out = os.path.join(d, "%s.csv" % encoding)
    cmd = [twinctl(BUILD), "submit", "--broker", broker.url, "--controller",
           CID, path, "-o", out]
    if encoding:
        cmd += ["--encoding", encoding]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    expect(r.returncode == 0, "submit %s: %s" % (encoding, r.stderr[-2000:]))
    with open(out) as f:
        return f.read(), r.stderr


def check_submit(broker, client):
    scen = tank_farm(10, 2)
    ref = reference(scen)
    with tempfile.TemporaryDirectory() as d:
        start = client.mark()
        client.subscribe("twin/%s/result/#" % CID)
        by_default, err = submit(broker, scen, None, d)
        as_json, _ = submit(broker, scen, "json", d)
        as_cbor, _ = submit(broker, scen, "cbor", d)
        expect('"encoding":"cbor"' in err, "submit's accepted: %s"
               % err[:500])
        bad = subprocess.run([twinctl(BUILD), "submit", "--encoding", "xml",
                              os.path.join(d, "s.json")],
                             capture_output=True, text=True, timeout=30)
        expect(bad.returncode == 2 and "--encoding takes cbor or json, not "
               "'xml'" in bad.stderr, bad.stderr)
    expect(as_cbor == as_json == by_default == ref,
           "submit's CSV in CBOR (%d bytes), in JSON (%d) and by default "
           "(%d) against twinctl run's (%d)" % (len(as_cbor), len(as_json),
                                                len(by_default), len(ref)))
    types = {m.content_type for m in client.messages(
        lambda m: "/result/" in m.topic, start)}
    expect(types == {"application/cbor", "application/json"}, types)


def main():
    t = Tests()
    state = {}
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, CID, build=BUILD):
            if t.check("the same run in JSON and in CBOR: the same members "
                       "and values bit for bit, content types, twinctl "
                       "run's CSV", check_same_values, client, state):
                t.check("replay in the encoding asked for: byte for byte, "
                        "or the same values", check_replay, client, state)
            t.check("a bad \"encoding\" is rejected at /encoding",
                    check_bad_encoding, client)
            t.check("describe lists the encodings", check_describe, client)
            t.check("twinctl submit: CBOR by default, --encoding json; its "
                    "CSV byte for byte twinctl run's either way",
                    check_submit, broker, client)
        t.check("SIGKILL mid-run in CBOR, restart on the spool: the rest "
                "in CBOR, application/cbor, the journal's bytes",
                check_crash, broker, client)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
