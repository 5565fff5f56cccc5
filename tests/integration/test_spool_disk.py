#!/usr/bin/env python3
"""The spool's disk, not its configured bound, runs out or turns
read-only (docs/spool.md, "When the disk cannot be written"), against a
real mosquitto and a real controller whose spool is on a small tmpfs
mounted for the test:

- a spool directory on a read-only filesystem is reported at start as
  exactly that (the path, the system's sentence, what to do), not as "in
  use by another twinctl serve";
- admission counts the filesystem's free space: a run whose journal
  could not fit on it is refused `busy`, whatever limits.spool_bytes
  says;
- the disk fills in the middle of a run (another file takes it): no
  message that could not be journaled is published; the run pauses, the
  status says `spool_full` and `spool_error`, a new run is refused
  `busy`; once the space is back the run goes on and ends `finished`
  with every row, identical to `twinctl run`'s, and a replay of all of it
  answers `ok` with every seq;
- the spool's directory turns read-only in the middle of a run: no run
  is accepted without a journal.

Needs root (mount -t tmpfs); without it the test is skipped (exit 77) and
says why.

Usage: python3 tests/integration/test_spool_disk.py BUILD_DIR"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     Tests, build_dir, tank_farm, twinctl)

BUILD = build_dir()


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def mount(*args):
    return subprocess.run(["mount"] + list(args), capture_output=True,
                          text=True, timeout=10)


@contextlib.contextmanager
def tmpfs(size):
    d = tempfile.mkdtemp(prefix="twin-disk-")
    r = mount("-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", d)
    if r.returncode != 0:
        os.rmdir(d)
        raise OSError(r.stderr.strip() or "mount failed")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", d], capture_output=True, timeout=10)
        os.rmdir(d)


def cannot_mount():
    """Why a tmpfs cannot be mounted here (None: it can)."""
    if os.geteuid() != 0:
        return "not root: mounting a tmpfs needs root"
    try:
        with tmpfs("64k"):
            return None
    except OSError as e:
        return "mount -t tmpfs failed: %s" % e


def reference(scenario):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        csv = os.path.join(d, "ref.csv")
        subprocess.run([twinctl(BUILD), "run", "-q", path, "-o", csv],
                       check=True, timeout=120)
        with open(csv) as f:
            lines = f.read().strip().splitlines()
    return [[float(x) for x in ln.split(",")] for ln in lines[1:]]


def fill(path):
    """Write into path until the filesystem is full; returns the bytes."""
    n = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 512, 1):
            try:
                while True:
                    n += os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return n


def status(client, cid):
    return client.request({"type": "status"}, controller=cid).response()


def check_readonly_at_start(broker):
    with tmpfs("1m") as d:
        spool = os.path.join(d, "spool")
        os.makedirs(os.path.join(spool, "runs"))
        r = mount("-o", "remount,ro", d)
        expect(r.returncode == 0, "remount ro: " + r.stderr)
        ctl = Controller(broker, "c-ro0", build=BUILD, start_timeout=5,
                         config_extra={"spool": spool})
        try:
            ctl.start()
        except HarnessError as e:
            said = str(e)
        else:
            ctl.stop()
            raise HarnessError("twinctl serve started on a read-only spool")
    expect("in use by another" not in said, "reported as in use: " + said)
    expect("Read-only file system" in said and spool in said and
           "writable" in said, "the error does not say the spool is "
           "read-only: " + said[-800:])


def check_admission_counts_disk(broker, client):
    with tmpfs("2m") as d:
        spool = os.path.join(d, "spool")
        cid = "c-adm"
        with Controller(broker, cid, build=BUILD,
                        config_extra={"spool": spool}):
            scen = tank_farm(3, 2)
            scen["every"] = 1
            r = client.request({"type": "run", "scenario": scen},
                               controller=cid).response()
            expect(r["status"] == "rejected" and
                   r["errors"][0]["code"] == "busy", r)
            msg = r["errors"][0]["message"]
            expect("filesystem" in msg and spool in msg, msg)
            st = status(client, cid)
            expect(st["spool_full"] is False or st["spool_free"] < 2 << 20,
                   st)


def paused_run(broker, client, cid, d, block, unblock):
    """A paced run on the spool in d; block() makes the disk unwritable
    in its middle, unblock() gives it back.  Checks the pause and the
    whole run after it."""
    spool = os.path.join(d, "spool")
    scen = tank_farm(3, 2, speed=900)            # 8 s of wall clock
    scen["every"] = 2
    ref = reference(dict(scen, pace="batch"))
    with Controller(broker, cid, build=BUILD,
                    config_extra={"spool": spool}) as ctl:
        run = "%s-%d" % (cid, time.time())
        topic = "twin/%s/result/%s" % (cid, run)
        req = client.request({"id": run, "type": "run", "scenario": scen},
                             controller=cid)
        expect(req.response()["status"] == "accepted", "accepted")
        client.wait(lambda m: m.topic == topic, 20, 10, req.first_index)
        time.sleep(1.0)
        block()
        try:
            time.sleep(2.0)
            st = status(client, cid)
            expect(isinstance(st.get("spool_error"), str) and
                   st["spool_full"] is True, "status while the spool cannot "
                   "be written: %r" % st)
            seen = len(client.messages(lambda m: m.topic == topic,
                                       req.first_index))
            time.sleep(1.5)
            later = len(client.messages(lambda m: m.topic == topic,
                                        req.first_index))
            expect(later == seen, "results were published while the spool "
                   "could not be written (%d, then %d)" % (seen, later))
            other = client.request({"type": "run", "scenario": "tank-overflow"},
                                   controller=cid).response()
            expect(other["status"] == "rejected" and
                   other["errors"][0]["code"] == "busy" and
                   "spool" in other["errors"][0]["message"],
                   "a run accepted while the spool cannot be written: %r"
                   % other)
        finally:
            unblock()
        final = req.final(timeout=40)
        expect(final["status"] == "finished", final)
        msgs = client.results(cid, run, final["last_seq"],
                              start=req.first_index)
        rows = [r for m in msgs for r in m["rows"]]
        expect(final["rows"] == len(ref) and rows == ref,
               "rows: final says %d, %d came, twinctl run made %d"
               % (final["rows"], len(rows), len(ref)))
        mark = client.mark()
        r = client.request({"type": "replay", "run": run, "from_seq": 0,
                            "to_seq": final["last_seq"]},
                           controller=cid).response(20)
        expect(r["status"] == "ok" and r["sent"] == final["last_seq"] + 1 and
               "lost_seqs" not in r, r)
        client.wait(lambda m: m.topic == topic, r["sent"], 20, mark)
        st = status(client, cid)
        expect("spool_error" not in st, st)
        with open(ctl.log, errors="replace") as f:
            log = f.read()
    return seen, log


def check_disk_fills(broker, client):
    with tmpfs("12m") as d:
        filler = os.path.join(d, "filler")
        seen, log = paused_run(broker, client, "c-fill", d,
                               lambda: fill(filler),
                               lambda: os.unlink(filler))
    expect("No space left on device" in log, log[-1500:])
    print("    paused after %d result messages with the disk full; "
          "resumed when it was freed" % seen)


def check_spool_readonly(broker, client):
    """The spool's directory turns read-only under a running daemon (a
    read-only bind mount over it: the journals it holds open stay
    writable, new files cannot be made): a run is refused `busy`, never
    accepted without a journal; the run going on is not disturbed."""
    with tmpfs("12m") as d:
        spool = os.path.join(d, "spool")
        cid = "c-ro"
        with Controller(broker, cid, build=BUILD,
                        config_extra={"spool": spool}):
            scen = tank_farm(3, 1, speed=900)    # 4 s of wall clock
            run = "%s-%d" % (cid, time.time())
            req = client.request({"id": run, "type": "run",
                                  "scenario": scen}, controller=cid)
            expect(req.response()["status"] == "accepted", "accepted")
            r = mount("--bind", spool, spool)
            expect(r.returncode == 0, "bind mount: " + r.stderr)
            try:
                r = mount("-o", "remount,bind,ro", spool)
                expect(r.returncode == 0, "remount ro: " + r.stderr)
                other = client.request({"type": "run",
                                        "scenario": "tank-overflow"},
                                       controller=cid).response()
            finally:
                subprocess.run(["umount", spool], capture_output=True,
                               timeout=10)
            expect(other["status"] == "rejected" and
                   other["errors"][0]["code"] == "busy", "a run accepted "
                   "without a journal: %r" % other)
            msg = other["errors"][0]["message"]
            expect("Read-only file system" in msg and "journal" in msg, msg)
            final = req.final(timeout=30)
            expect(final["status"] == "finished", final)
            r = client.request({"type": "replay", "run": run, "from_seq": 0,
                                "to_seq": final["last_seq"]},
                               controller=cid).response(20)
            expect(r["status"] == "ok" and
                   r["sent"] == final["last_seq"] + 1, r)
    print("    refused: " + msg)


def main():
    why = cannot_mount()
    if why:
        print("test_spool_disk: skipped: " + why)
        return 77
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        t.check("a read-only spool at start is reported as read-only",
                check_readonly_at_start, broker)
        t.check("admission counts the filesystem's free space",
                check_admission_counts_disk, broker, client)
        t.check("the disk fills mid-run: the run pauses, nothing unjournaled "
                "is published, every row once the space is back",
                check_disk_fills, broker, client)
        t.check("the spool turns read-only mid-run: no run is accepted "
                "without a journal", check_spool_readonly, broker, client)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
