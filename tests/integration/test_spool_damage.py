#!/usr/bin/env python3
"""A damaged spool, against a real mosquitto and a real controller killed
in the middle of a run (docs/spool.md, "Damage"): its journal has bytes
flipped in three records, bytes cut out across two more, and its ack mark
holds -1.  Started again on that spool, the controller must not crash,
must keep every intact record — delivered at the restart, and by
`replay`, byte for byte as first written — and must say, in its log and
in a `log` event of the run (`lost_seqs`), exactly which seqs are lost.
The journal is read here by a reader of its own, written from the
format in docs/spool.md, not from the C.

Usage: python3 tests/integration/test_spool_damage.py BUILD_DIR"""

import os
import shutil
import struct
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
import schema_check  # noqa: E402
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     Tests, build_dir, tank_farm)

BUILD = build_dir()
CID = "c-dmg"


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def records(data):
    """The records of an undamaged journal: (offset, size, index, seq,
    topic, payload) each, checked against their CRC-32."""
    out, at = [], 0
    while at < len(data):
        magic, length, crc = struct.unpack_from("<4sII", data, at)
        body = data[at + 12:at + 12 + length]
        if magic == b"TWR1":    # the old format: no index, CRC of the body
            expect(zlib.crc32(body) == crc, "record at %d fails its CRC" % at)
            seq, _, tl, cl = struct.unpack_from("<qBHH", body)
            index, fixed = len(out), 13
        else:
            expect(magic == b"TWR2", "no record at offset %d" % at)
            expect(zlib.crc32(data[at + 4:at + 8] + body) == crc,
                   "record at %d fails its CRC" % at)
            index, seq, _, tl, cl = struct.unpack_from("<qqBHH", body)
            fixed = 21
        expect(index == len(out), "record %d at offset %d has index %d"
               % (len(out), at, index))
        topic = body[fixed:fixed + tl].decode()
        payload = body[fixed + tl + cl:]
        out.append((at, 12 + length, index, seq, topic, payload))
        at += 12 + length
    return out


def killed_mid_run(broker, client, spool, run):
    """A paced run of tank-farm-3 (one row per message), its controller
    SIGKILLed after about 2 s: the journal it left."""
    scen = tank_farm(3, 2, speed=1200)
    scen["every"] = 10
    ctl = Controller(broker, CID, build=BUILD, limits={"batch_rows": 1},
                     config_extra={"spool": spool}).start()
    req = client.request({"id": run, "type": "run", "scenario": scen},
                         controller=CID)
    expect(req.response()["status"] == "accepted", "accepted")
    time.sleep(2.0)
    ctl.kill()
    return req


def damage(path, recs):
    """Flip a byte in three result records and cut bytes out across two
    more (from the middle of one into the middle of the next); returns
    the seqs of the five."""
    results = [r for r in recs if r[3] >= 0]
    expect(len(results) > 60, "only %d results before the kill"
           % len(results))
    n = len(results)
    flip = [results[n // 5], results[2 * n // 5], results[3 * n // 5]]
    cut = [results[4 * n // 5], results[4 * n // 5 + 1]]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    for i, r in enumerate(flip):
        # The payload, a length, and a marker.
        where = [r[0] + r[1] - 5, r[0] + 5, r[0] + 1][i]
        data[where] ^= 0x24
    a = cut[0][0] + cut[0][1] // 2
    b = cut[1][0] + cut[1][1] // 2
    del data[a:b]
    with open(path, "wb") as f:
        f.write(data)
    return sorted(r[3] for r in flip + cut)


def seqs_from(client, topic, want, start, timeout=20.0):
    """The result messages on topic from start on, by seq, once every seq
    in want has come (a message may come twice: overlapping
    subscriptions)."""
    deadline = time.monotonic() + timeout
    while True:
        got = {m.payload["seq"]: m.raw for m in client.messages(
            lambda m: m.topic == topic, start)}
        if set(want) <= set(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def ranges(seqs):
    out = []
    for s in seqs:
        if out and out[-1][1] == s - 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def check_damaged_restart(broker, client, spool):
    run = "dmg-%d" % time.time()
    req = killed_mid_run(broker, client, spool, run)
    path = os.path.join(spool, "runs", run + ".log")
    with open(path, "rb") as f:
        recs = records(f.read())
    first = {r[3]: r[5] for r in recs if r[3] >= 0}
    lost = damage(path, recs)
    with open(os.path.join(spool, "runs", run + ".acked"), "w") as f:
        f.write("-1\n")
    kept = sorted(s for s in first if s not in lost)
    # What the killed controller had published is through the broker
    # before what the next one sends is counted.
    time.sleep(1.0)
    start = client.mark()
    ctl = Controller(broker, CID, build=BUILD,
                     config_extra={"spool": spool})
    with ctl:
        final = req.final(timeout=20)
        expect(final["status"] == "failed", final)
        expect(final["last_seq"] == max(kept), "last_seq %s, want %d"
               % (final["last_seq"], max(kept)))
        expect("lost_seqs" in final["errors"][0]["message"], final)
        # The event that names what is lost.
        topic = "twin/%s/event/%s" % (CID, run)
        evs = [m.payload for m in client.wait(
            lambda m: m.topic == topic and "lost_seqs" in m.payload, 1, 10,
            start)]
        ev = evs[0]
        expect(ev["kind"] == "log" and ev["level"] == "error", ev)
        expect(ev["lost_seqs"] == ranges(lost), "lost_seqs %s, want %s"
               % (ev["lost_seqs"], ranges(lost)))
        problems = schema_check.validate("twin.event", ev)
        expect(not problems, "the event fails its schema: %s" % problems)
        # The ack mark was garbage: every intact record is sent again.
        rtopic = "twin/%s/result/%s" % (CID, run)
        got = seqs_from(client, rtopic, kept, start)
        expect(sorted(got) == kept, "sent again at the restart: %d seqs, "
               "want %d" % (len(got), len(kept)))
        # And replay: every intact one, byte for byte, none of the lost.
        mark = client.mark()
        r = client.request({"type": "replay", "run": run, "from_seq": 0,
                            "to_seq": max(kept)},
                           controller=CID).response(20)
        expect(r["status"] == "ok" and r["sent"] == len(kept), r)
        expect(r.get("lost_seqs") == ranges(lost), "replay's answer: %s" % r)
        problems = schema_check.validate("twin.response", r)
        expect(not problems, "the answer fails its schema: %s" % problems)
        replayed = seqs_from(client, rtopic, kept, mark)
        expect(sorted(replayed) == kept, "replayed seqs differ")
        for seq, raw in replayed.items():
            expect(raw == first[seq], "seq %d differs from its journal" % seq)
        with open(ctl.log, errors="replace") as f:
            log = f.read()
    said = ", ".join("%d" % a if a == b else "%d-%d" % (a, b)
                     for a, b in ranges(lost))
    expect("result seqs lost: %s (%d)" % (said, len(lost)) in log,
           "the log does not name the lost seqs %s:\n%s" % (said, log[-2000:]))
    print("    " + next(ln for ln in log.splitlines() if "damaged:" in ln))
    expect("ack mark is not a count" in log, "the log does not say the ack "
           "mark was garbage:\n" + log[-2000:])
    print("    %d results journaled before the kill, %d lost to the "
          "damage (%s), %d delivered again and replayed" % (
              len(first), len(lost), said, len(kept)))


def main():
    t = Tests()
    spool = tempfile.mkdtemp(prefix="twin-spool-")
    try:
        with Broker() as broker, Client(broker) as client:
            client.subscribe("twin/%s/#" % CID)
            t.check("a damaged journal of a killed controller: every intact "
                    "record delivered and replayed, the lost seqs named",
                    check_damaged_restart, broker, client, spool)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
