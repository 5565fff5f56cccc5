#!/usr/bin/env python3
"""What a controller holds must not grow with its uptime (docs/reliability.md,
"Resources over time"): against a real mosquitto and a real `twinctl serve`,
loopback only, bounded in count and time —

  runs at a rate     a few hundred short runs sent at about 50 a second,
                     their results kept for replay (retention an hour):
                     the daemon's open descriptors (/proc/<pid>/fd) and
                     resident memory after the last are where they were
                     after a warm-up of as many (past the 256 ended runs
                     the daemon remembers, and at the heap's high-water
                     mark of 8 runs at once): an ended run keeps no
                     descriptor,
                     and the spool on disk (every file's bytes, as `du
                     --apparent-size` counts them) stays within
                     limits.spool_bytes, runs that would not fit being
                     answered `busy`
  few descriptors    the daemon started with RLIMIT_NOFILE 64 and sent
                     more runs at once than it has descriptors for: the
                     excess is answered `busy` with a sentence naming the
                     limit, none `failed`; once they ended, runs are taken
                     again

Prints the figures docs/reliability.md reports.

Usage: python3 tests/integration/test_soak.py BUILD_DIR"""

import json
import os
import resource
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, proc_status, sanitized)

BUILD = build_dir()
RSS_CHECKED = not sanitized(BUILD)
MIB = 1 << 20
CID = "soak"
WARMUP = 300
RUNS = 400
RATE = 50.0                 # runs sent per second
SPOOL_LIMIT = 1 << 20
FD_SLACK = 4                # descriptors more at the end than after warm-up
RSS_SLACK = 2 * MIB
NOFILE = 64                 # the low RLIMIT_NOFILE of the second check
FINAL = ("finished", "failed", "cancelled", "rejected")


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def scenario(stop):
    with open(os.path.join(SOURCE_DIR, "scenarios",
                           "tank-overflow.json")) as f:
        scen = json.load(f)
    scen["time"]["stop"] = stop
    return scen


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss(pid):
    return proc_status(pid, "VmRSS") * 1024


def spool_size(path, blocks=False):
    """Every file's bytes in the spool, as du --apparent-size counts (or
    the blocks they take, as du counts)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            total += st.st_blocks * 512 if blocks else st.st_size
    return total


class Runs:
    """Sends run requests without waiting for each, files the answers."""

    def __init__(self, client, cid):
        self.client = client
        self.cid = cid
        self.token = "s%s-" % uuid.uuid4().hex[:8]
        self.n = 0
        client.subscribe(client.topic(cid, "response", "#"))

    def send(self, count, rate, scen):
        """count runs of scen, rate a second (0: as fast as they go)."""
        ids = []
        topic = self.client.topic(self.cid, "request")
        for _ in range(count):
            t0 = time.monotonic()
            rid = "%s%05d" % (self.token, self.n)
            self.n += 1
            ids.append(rid)
            self.client.mqtt.publish(topic, json.dumps(
                {"contract": "twin.request/1", "id": rid, "type": "run",
                 "scenario": scen}), qos=1)
            if rate:
                time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - t0)))
        return ids

    def finals(self, ids, timeout):
        """The final answer of each id (waits for them all)."""
        want = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            got = {}
            for m in self.client.messages(
                    lambda m: isinstance(m.payload, dict) and
                    m.payload.get("id") in want and
                    m.payload.get("status") in FINAL):
                got.setdefault(m.payload["id"], m.payload)
            if len(got) == len(want) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        missing = want - set(got)
        expect(not missing, "%d of %d runs got no final answer, e.g. %s"
               % (len(missing), len(want), sorted(missing)[:3]))
        return [got[i] for i in ids]


def idle(client, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = client.request({"type": "status"}, controller=CID).response()
        if st.get("load") == 0:
            time.sleep(1.5)   # a tidy of the spool, and acknowledgements
            return st
        time.sleep(0.1)
    raise HarnessError("the controller still runs something after %g s"
                       % timeout)


def tally(answers):
    out = {}
    for a in answers:
        key = a["status"] if a["status"] != "rejected" else \
            "rejected/" + (a.get("errors") or [{}])[0].get("code", "?")
        out[key] = out.get(key, 0) + 1
    return out


def check_flat(broker, figures):
    limits = {"max_runs": 8, "remembered": 50, "event_bytes": 4096,
              "spool_bytes": SPOOL_LIMIT, "retention_seconds": 3600}
    with Client(broker) as client, \
            Controller(broker, CID, build=BUILD, limits=limits) as ctl:
        runs = Runs(client, CID)
        scen = scenario(20)
        pid = ctl.proc.pid
        warm = runs.finals(runs.send(WARMUP, RATE, scen), 40)
        expect(set(tally(warm)) <= {"finished", "rejected/busy"} and
               tally(warm).get("finished", 0) >= WARMUP // 2,
               "warm-up runs did not finish: %s" % tally(warm))
        idle(client)
        fd0, rss0 = fds(pid), rss(pid)
        t0 = time.monotonic()
        answers = runs.finals(runs.send(RUNS, RATE, scen), 40)
        took = time.monotonic() - t0
        st = idle(client)
        fd1, rss1 = fds(pid), rss(pid)
        on_disk = spool_size(ctl.config["spool"])
        figures["blocks"] = spool_size(ctl.config["spool"], blocks=True)
        counts = tally(answers)
        figures.update({"runs": RUNS, "seconds": took, "fd0": fd0,
                        "fd1": fd1, "rss0": rss0 / MIB, "rss1": rss1 / MIB,
                        "spool": on_disk, "status_spool": st["spool_bytes"],
                        "counts": counts})
        expect(set(counts) <= {"finished", "rejected/busy"},
               "runs must finish or be answered busy: %s" % counts)
        expect(counts.get("finished", 0) >= RUNS // 4,
               "too few runs finished to measure anything: %s" % counts)
        expect(fd1 <= fd0 + FD_SLACK,
               "the daemon holds %d descriptors after %d more runs, %d "
               "after the warm-up: ended runs keep descriptors"
               % (fd1, RUNS, fd0))
        if RSS_CHECKED:
            expect(rss1 <= rss0 + RSS_SLACK,
                   "RSS %.1f MiB after %d more runs, %.1f MiB after the "
                   "warm-up" % (rss1 / MIB, RUNS, rss0 / MIB))
        expect(on_disk <= SPOOL_LIMIT,
               "the spool holds %d bytes on disk, past its limit of %d "
               "(its status says %d)" % (on_disk, SPOOL_LIMIT,
                                         st["spool_bytes"]))
        expect(counts.get("rejected/busy", 0) > 0,
               "the spool limit was never reached (%d bytes on disk): the "
               "test measures nothing" % on_disk)


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def check_few_descriptors(broker, figures):
    limits = {"max_runs": 64, "event_bytes": 4096}
    with Client(broker) as client, \
            Controller(broker, CID + "-fd", build=BUILD, limits=limits,
                       preexec_fn=low_nofile) as ctl:
        runs = Runs(client, ctl.id)
        # Long enough that many are running at once.
        scen = scenario(120)
        scen["pace"] = {"realtime": 60}
        answers = runs.finals(runs.send(48, 0, scen), 40)
        counts = tally(answers)
        figures["nofile"] = counts
        failed = [a for a in answers if a["status"] == "failed"]
        expect(not failed, "%d runs failed for want of descriptors: %s"
               % (len(failed), failed[0].get("errors") if failed else ""))
        busy = [a for a in answers if a["status"] == "rejected"]
        expect(busy, "no run was refused with %d descriptors: the test "
               "measures nothing (%s)" % (NOFILE, counts))
        for a in busy:
            e = a["errors"][0]
            expect(e["code"] == "busy" and "descriptor" in e["message"] and
                   str(NOFILE) in e["message"], "refused, but not busy "
                   "naming the descriptor limit: %s" % e)
        # Taken again once they ended.
        again = tally(runs.finals(runs.send(20, 20, scenario(5)), 30))
        expect(again.get("finished", 0) == 20,
               "after the runs ended, short runs one at a time: %s" % again)


def main():
    t = Tests()
    figures = {}
    with Broker() as broker:
        t.check("%d runs at %g/s: descriptors, memory and spool flat"
                % (RUNS, RATE), check_flat, broker, figures)
        t.check("RLIMIT_NOFILE %d: runs past it answered busy, none failed"
                % NOFILE, check_few_descriptors, broker, figures)
    if "fd0" in figures:
        print("figures: %d runs in %.1f s: %s; descriptors %d after the "
              "warm-up, %d after; RSS %.1f MiB, %.1f MiB; spool %d bytes on "
              "disk (%d in blocks; status %d), limit %d" % (
                  figures["runs"], figures["seconds"], figures["counts"],
                  figures["fd0"], figures["fd1"], figures["rss0"],
                  figures["rss1"], figures["spool"], figures["blocks"],
                  figures["status_spool"], SPOOL_LIMIT))
    if "nofile" in figures:
        print("figures: RLIMIT_NOFILE %d, 48 runs at once: %s"
              % (NOFILE, figures["nofile"]))
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
