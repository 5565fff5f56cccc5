#!/usr/bin/env python3
"""Integration tests of the daemon's own behaviour against a real
mosquitto: it reconnects by itself after a broker outage and delivers what
it held meanwhile; live inputs on P/C/input/<run>; a run past its time
limit ends with `timeout`; a model that crashes or aborts ends only its own
run with `model_crashed`, while the controller stays up and answers;
SIGHUP reloads the libraries; more short runs than the controller
remembers, all during one long run, and then its end; a fatal signal in the daemon (SIGSEGV,
SIGABRT, sent with kill) is reported on its stderr with a backtrace, and
the daemon ends by that signal, leaving a core where the limits allow one.

Usage: python3 tests/integration/test_daemon.py BUILD_DIR"""

import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, sanitized, twinctl)

BUILD = build_dir()
SCEN = os.path.join(SOURCE_DIR, "scenarios")
PLUGINS = os.path.join(BUILD, "tests", "plugins")


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def load(path):
    with open(path) as f:
        return json.load(f)


def paced_overflow(speed, stop=120, live=False):
    scen = load(os.path.join(SCEN, "tank-overflow.json"))
    scen["pace"] = {"realtime": speed}
    scen["time"]["stop"] = stop
    if live:
        scen["inputs"]["tank0.valve"] = {"live": True, "value": 0.0}
    return scen


def check_outage(broker, client):
    # 120 s simulated at speed 20: 6 s of wall clock; the broker is down
    # from about 1.5 s to 3.5 s.
    rid = "outage-%d" % int(time.time() * 1000)
    req = client.request({"id": rid, "type": "run",
                          "scenario": paced_overflow(20.0)},
                         controller="ctl-1")
    expect(req.response()["status"] == "accepted", "accepted")
    time.sleep(1.5)
    broker.outage(2.0)
    final = req.final(timeout=30)
    expect(final["status"] == "finished", final)
    # Rows made while the broker was away were held and sent after it came
    # back: simulated seconds 40 to 60 are well inside the outage.
    got = {}
    for m in client.messages(lambda m: m.topic.endswith("/result/" + rid),
                             req.first_index):
        got[m.payload["seq"]] = m.payload
    ts = {r[0] for p in got.values() for r in p["rows"]}
    missing = [t for t in range(40, 61) if t not in ts]
    expect(not missing, "rows of the outage missing: t = %s" % missing)
    # And it is online again, and answers.
    r = client.request({"type": "describe"}, controller="ctl-1").response()
    expect(r["status"] == "ok", r)
    with Client(broker) as fresh:
        fresh.subscribe("twin/ctl-1/status")
        st = fresh.wait(lambda m: m.topic == "twin/ctl-1/status", 1, 5)[0]
        expect(st.payload["state"] == "online", st.payload)


def check_input_topic(client):
    rid = "input-%d" % int(time.time() * 1000)
    req = client.request({"id": rid, "type": "run",
                          "scenario": paced_overflow(20.0, stop=60,
                                                     live=True)},
                         controller="ctl-1")
    acc = req.response()
    expect(acc["status"] == "accepted", acc)
    time.sleep(0.8)
    client.publish("twin/ctl-1/input/" + rid,
                   json.dumps({"values": {"tank0.valve": 0.7}}))
    client.publish("twin/ctl-1/input/" + rid,
                   json.dumps({"values": {"tank0.valve": 7}}))
    final = req.final(timeout=20)
    expect(final["status"] == "finished", final)
    rows = [r for p in client.results("ctl-1", rid, final["last_seq"],
                                      start=req.first_index)
            for r in p["rows"]]
    iv = acc["columns"].index("tank0.valve")
    k = next(i for i, r in enumerate(rows) if r[iv] == 0.7)
    expect(0 < k < len(rows) - 1 and
           all(r[iv] == 0.7 for r in rows[k:]), "valve %d" % k)
    logs = [e for e in client.events("ctl-1", rid, req.first_index)
            if e["kind"] == "log"]
    expect(any(e.get("errors", [{}])[0].get("code") == "out_of_range"
               for e in logs), "refused input not reported: %r" % logs)


def failing(mode, stop=20):
    return {"time": {"stop": stop, "dt": 1},
            "instances": {"bad0": {"model": "failing",
                                   "params": {"mode": mode,
                                              "t_fail": 5.5}}}}


def check_isolation(client):
    for mode, sig in ((4, "Segmentation fault"), (5, "Aborted")):
        acc, final, _, rows, _ = client.run_scenario(failing(mode),
                                                     controller="ctl-9")
        expect(final["status"] == "failed", final)
        e = final["errors"][0]
        expect(e["code"] == "model_crashed" and sig in e["message"], e)
        expect(len(rows) == final["rows"] == 6, "rows before the crash")
    # A healthy run on the same controller is complete and right.
    acc, final, _, rows, _ = client.run_scenario("tank-overflow",
                                                 controller="ctl-9")
    expect(final["status"] == "finished" and len(rows) == 121, final)


def check_timeout(client):
    acc, final, _, rows, _ = client.run_scenario(failing(6),
                                                 controller="ctl-9",
                                                 timeout=30)
    expect(final["status"] == "failed", final)
    e = final["errors"][0]
    expect(e["code"] == "timeout" and "limit of 2 s" in e["message"], e)
    expect(len(rows) == 6, "rows before the hang")


def check_sighup(client, ctl, instances):
    doc = load(os.path.join(instances, "TK-101.json"))
    doc["id"] = "TK-999"
    with open(os.path.join(instances, "TK-999.json"), "w") as f:
        json.dump(doc, f)
    before = client.request({"type": "describe"},
                            controller="ctl-9").response()
    expect("TK-999" not in [i["id"] for i in before["instances"]], "early")
    os.kill(ctl.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = client.request({"type": "describe"},
                           controller="ctl-9").response()
        if "TK-999" in [i["id"] for i in r["instances"]]:
            return
        time.sleep(0.1)
    raise HarnessError("SIGHUP did not reload the instance library")


KEEP_ENDED_RUNS = 256     # serve.c: the ended runs a controller remembers


def check_many_runs_during_one(client):
    """A long run, and more short runs than the controller remembers
    (KEEP_ENDED_RUNS) started and ended meanwhile: when the long one ends,
    it is the oldest ended run and is forgotten at once.  That used to
    happen inside the walk over the runs that was ending it (a use after
    free, a crash in practice)."""
    long_run = client.request({"type": "run", "scenario":
                               paced_overflow(1.0, stop=600)},
                              controller="ctl-many")
    expect(long_run.response()["status"] == "accepted", "long run")
    short = load(os.path.join(SCEN, "tank-overflow.json"))
    short["time"]["stop"] = 2
    for i in range(KEEP_ENDED_RUNS + 1):
        final = client.request({"type": "run", "scenario": short},
                               controller="ctl-many").final(timeout=20)
        expect(final["status"] == "finished", "short run %d: %r"
               % (i, final))
    c = client.request({"type": "cancel", "run": long_run.run},
                       controller="ctl-many").response()
    expect(c["status"] == "ok", c)
    final = long_run.final(timeout=20)
    expect(final["status"] == "cancelled", final)
    st = client.request({"type": "status"}, controller="ctl-many").response()
    expect(st["status"] == "ok" and st["load"] == 0, st)
    expect(len(st["runs"]) == KEEP_ENDED_RUNS and long_run.run not in
           [r["run"] for r in st["runs"]], "runs remembered: %d"
           % len(st["runs"]))


def core_pattern_is_file():
    """Cores go to a file in the process's directory (not to a program
    such as systemd-coredump, which keeps them elsewhere)."""
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            return not f.read().startswith("|")
    except OSError:
        return False


def check_fatal_signal(broker, sig, core):
    """kill -sig the daemon: its report on stderr, with a backtrace through
    twinctl's own code, then death by that very signal; with core, in a
    directory of its own with RLIMIT_CORE unlimited, a core file (cores are
    written where /proc/sys/kernel/core_pattern says: "core" here)."""
    where = tempfile.mkdtemp(prefix="twin-core-")
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    cwd = os.getcwd()
    ctl = Controller(broker, "c-sig-%d" % sig, build=BUILD)
    try:
        resource.setrlimit(resource.RLIMIT_CORE,
                           (hard if core else 0, hard))
        os.chdir(where)
        ctl.start()
    finally:
        os.chdir(cwd)
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    try:
        time.sleep(0.2)
        os.kill(ctl.proc.pid, sig)
        deadline = time.monotonic() + 20
        while True:
            pid, status = os.waitpid(ctl.proc.pid, os.WNOHANG)
            if pid or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        expect(pid, "the daemon is still there after kill -%d" % sig)
        ctl.proc.returncode = -sig
        ctl.proc = None
        with open(ctl.log, errors="replace") as f:
            log = f.read()
        name = signal.Signals(sig).name
        expect(os.WIFSIGNALED(status) and os.WTERMSIG(status) == sig,
               "exit status %#x, not death by %s; its log:\n%s"
               % (status, name, log[-2000:]))
        head = "twinctl serve: fatal signal %d (%s" % (sig, name)
        expect(head in log and "sent by pid %d" % os.getpid() in log,
               "no report of %s: %s" % (name, log[-2000:]))
        frames = log[log.index(head):].split("\n")[1:]
        ours = [ln for ln in frames if ln.startswith(twinctl(BUILD) + "(")]
        expect(len(ours) >= 2, "no backtrace through twinctl: %s"
               % frames[:10])
        expect("ending with the signal's default action" in log, log[-500:])
        cores = [f for f in os.listdir(where) if f.startswith("core")]
        if core:
            expect(cores and os.path.getsize(
                os.path.join(where, cores[0])) > 0 and os.WCOREDUMP(status),
                "no core dumped in %s (core_pattern: %s)" % (
                    where, open("/proc/sys/kernel/core_pattern").read()))
        else:
            expect(not cores, "a core with RLIMIT_CORE 0")
    finally:
        if ctl.proc is not None:
            ctl.proc.kill()
            ctl.proc.wait()
        ctl.watch.close()
        shutil.rmtree(where, ignore_errors=True)
        shutil.rmtree(ctl.dir, ignore_errors=True)


def main():
    t = Tests()
    instances = tempfile.mkdtemp(prefix="twin-inst-")
    try:
        for f in os.listdir(os.path.join(SOURCE_DIR, "instance-library")):
            shutil.copy(os.path.join(SOURCE_DIR, "instance-library", f),
                        instances)
        with Broker() as broker, Client(broker) as client:
            with Controller(broker, "ctl-1", build=BUILD):
                t.check("broker outage: reconnects, delivers what it held",
                        check_outage, broker, client)
                t.check("live input on P/C/input/<run>", check_input_topic,
                        client)
            with Controller(broker, "ctl-9", build=BUILD, group="g9",
                            models=[PLUGINS], instances=instances,
                            limits={"run_seconds": 2}) as ctl:
                t.check("a crashing model ends only its run",
                        check_isolation, client)
                t.check("a hanging model ends with timeout", check_timeout,
                        client)
                t.check("SIGHUP reloads the libraries", check_sighup, client,
                        ctl, instances)
            with Controller(broker, "ctl-many", build=BUILD):
                t.check("more short runs than remembered during a long one",
                        check_many_runs_during_one, client)
            # Under AddressSanitizer SIGSEGV is the sanitizer's (which
            # reports it itself, and keeps no core); SIGABRT stays ours.
            if not sanitized(BUILD):
                t.check("SIGSEGV: reported with a backtrace, ends by it%s"
                        % (", core dumped" if core_pattern_is_file() else ""),
                        check_fatal_signal, broker, signal.SIGSEGV,
                        core_pattern_is_file())
            t.check("SIGABRT: reported with a backtrace, ends by it",
                    check_fatal_signal, broker, signal.SIGABRT, False)
    finally:
        shutil.rmtree(instances, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
