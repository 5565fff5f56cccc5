#!/usr/bin/env python3
"""Runs that try to escape their limits (issue 10, item 6), against a real
mosquitto and a real `twinctl serve`, with tests/plugins/escaping.c:

- a model that forks in its create a child that sleeps for ever: after
  `cancel`, after limits.run_seconds and after the run finished, that
  child (found by the pid the model logs) is gone, and no process of the
  controller is left but the daemon itself — each run is its own process
  group and is ended as a whole; a steady solve of the same model leaves
  no process behind either;
- a model that sleeps in its create past limits.run_seconds: the run ends
  `failed` with `timeout` (creation is under the limit too), not
  `finished`;
- a model that writes megabytes to stdout and stderr: the daemon's log
  grows by a bounded amount, every line of the model's output in it is
  labelled with the run (and its instance), and one line says how much
  was dropped.

Usage: python3 tests/integration/test_escape.py BUILD_DIR"""

import os
import re
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     Tests, build_dir)

BUILD = build_dir()
PLUGINS = os.path.join(BUILD, "tests", "plugins")
RUN_SECONDS = 3
OUTPUT_BUDGET = 64 << 10   # bytes of a run's output the daemon logs


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def escaping(mode, stop=5, realtime=False, **params):
    params["mode"] = mode
    scen = {"name": "escaping-%d" % mode, "time": {"stop": stop, "dt": 1},
            "instances": {"esc0": {"model": "escaping", "params": params}}}
    if realtime:
        scen["pace"] = {"realtime": 1.0}
    return scen


def start(client, cid, scen):
    req = client.request({"id": "e-" + uuid.uuid4().hex[:12], "type": "run",
                          "scenario": scen}, controller=cid)
    acc = req.response(timeout=10)
    expect(acc["status"] == "accepted", "not accepted: %r" % acc)
    return req, acc["run"]


def forked_pid(client, cid, run, timeout=10):
    """The pid the model logged ("forked pid N") from its create."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in client.events(cid, run):
            m = re.search(r"forked pid (\d+)", str(ev.get("message", "")))
            if m:
                return int(m.group(1))
        time.sleep(0.05)
    raise HarnessError("no 'forked pid' event from run %s" % run)


def alive(pid):
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def expect_gone(pid, what, timeout=3.0):
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(not alive(pid), "%s: the model's child pid %d still runs"
           % (what, pid))


def leftovers(ctl):
    """Live processes started by this controller, besides the daemon:
    forks of it carry its command line (the config file's path)."""
    conf = os.path.join(ctl.dir, "config.json").encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == ctl.proc.pid:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if conf in f.read() and alive(int(d)):
                    found.append(int(d))
        except OSError:
            pass
    return found


def expect_no_leftovers(ctl, what, timeout=3.0):
    deadline = time.monotonic() + timeout
    while leftovers(ctl) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = leftovers(ctl)
    expect(not left, "%s: processes %r of the controller remain" % (what,
                                                                    left))


def check_fork_cancel(client, ctl):
    req, run = start(client, ctl.id, escaping(1, stop=60, realtime=True))
    pid = forked_pid(client, ctl.id, run)
    expect(alive(pid), "the model's child %d is not running" % pid)
    c = client.request({"type": "cancel", "run": run}, controller=ctl.id)
    expect(c.response()["status"] == "ok", "cancel refused")
    final = req.final(timeout=10)
    expect(final["status"] == "cancelled", "final: %r" % final)
    expect_gone(pid, "after cancel")
    expect_no_leftovers(ctl, "after cancel")


def check_fork_timeout(client, ctl):
    req, run = start(client, ctl.id, escaping(1, stop=60, realtime=True))
    pid = forked_pid(client, ctl.id, run)
    final = req.final(timeout=RUN_SECONDS + 10)
    expect(final["status"] == "failed" and
           final["errors"][0]["code"] == "timeout", "final: %r" % final)
    expect_gone(pid, "after limits.run_seconds")
    expect_no_leftovers(ctl, "after limits.run_seconds")


def check_fork_finished(client, ctl):
    req, run = start(client, ctl.id, escaping(1, stop=3))
    pid = forked_pid(client, ctl.id, run)
    final = req.final(timeout=10)
    expect(final["status"] == "finished", "final: %r" % final)
    expect_gone(pid, "after the run finished")
    expect_no_leftovers(ctl, "after the run finished")


def check_fork_steady(client, ctl):
    r = client.request({"type": "steady", "scenario": escaping(1)},
                       controller=ctl.id).response(timeout=RUN_SECONDS + 10)
    expect(r["status"] in ("ok", "failed"), "steady: %r" % r)
    expect_no_leftovers(ctl, "after a steady solve")


def check_sleepy_create(client, ctl):
    t0 = time.monotonic()
    req, run = start(client, ctl.id, escaping(2, seconds=RUN_SECONDS + 5))
    final = req.final(timeout=RUN_SECONDS + 15)
    took = time.monotonic() - t0
    expect(final["status"] == "failed", "final: %r" % final)
    e = final["errors"][0]
    expect(e["code"] == "timeout" and "limits.run_seconds" in e["message"]
           or "limit of %d s" % RUN_SECONDS in e["message"],
           "error: %r" % e)
    expect(took < RUN_SECONDS + 3, "the limit took %.1f s" % took)


def check_chatty(client, ctl):
    before = os.path.getsize(ctl.log)
    req, run = start(client, ctl.id, escaping(3, stop=20, lines=200))
    final = req.final(timeout=30)
    expect(final["status"] == "finished", "final: %r" % final)
    time.sleep(0.5)  # the last lines of the log
    with open(ctl.log, "rb") as f:
        f.seek(before)
        grown = f.read()
    expect(len(grown) < OUTPUT_BUDGET + (16 << 10),
           "the daemon's log grew by %d bytes for one run's output"
           % len(grown))
    lines = grown.decode(errors="replace").splitlines()
    mine = [ln for ln in lines if "escaping std" in ln or "LLLL" in ln]
    expect(mine, "none of the model's output is in the log")
    label = "run %s (instance esc0): " % run
    bad = [ln for ln in mine if label not in ln]
    expect(not bad, "lines without the label %r: %r" % (label, bad[:3]))
    long_line = [ln for ln in mine if "LLLL" in ln]
    expect(long_line and len(long_line[0]) < 2048,
           "the 100 000-character line is not cut short")
    expect(any("dropped" in ln and run in ln for ln in lines),
           "no line says how much of the output was dropped")


def main():
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, "escape", build=BUILD, models=[PLUGINS],
                        limits={"run_seconds": RUN_SECONDS,
                                "max_runs": 4}) as ctl:
            t.check("a forked child of a model ends with cancel",
                    check_fork_cancel, client, ctl)
            t.check("a forked child of a model ends at limits.run_seconds",
                    check_fork_timeout, client, ctl)
            t.check("a forked child of a model ends with its finished run",
                    check_fork_finished, client, ctl)
            t.check("a forked child of a model ends with its steady solve",
                    check_fork_steady, client, ctl)
            t.check("a model sleeping in create past limits.run_seconds: "
                    "timeout", check_sleepy_create, client, ctl)
            t.check("a model's stdout and stderr: bounded and labelled in "
                    "the daemon's log", check_chatty, client, ctl)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
