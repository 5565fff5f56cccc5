#!/usr/bin/env python3
"""`twinctl batch --broker` end to end: a real mosquitto on a loopback
port, two real `twinctl serve` (capacity 1 each), the real models
(docs/batch.md, "Across machines").  The reference is `twinctl batch` run
here on the same file (itself checked against single runs by
test_batch_run.py):

  spread    16 cases with --rows over two controllers: the summary and
            every case's rows equal the local run's byte for byte, both
            controllers ran cases (each result names its controller, and
            that controller's log has the run), every request the batch
            sent is a valid twin.request/1 with the id of its case;
  killed    one controller SIGKILLed while it runs a case (with --rows):
            its last will says offline, the case it held is sent again and
            finished by the other, every case is in the summary once, which
            equals the local one, and so do the rows;
  stopped   one controller SIGSTOPped while it runs a case: the case times
            out (answer timeout and check interval of 2 s), is sent again
            and finished by the other; the stopped one, continued, answers
            late (a listener sees two finals for a case), and the summary
            still holds every case once and equals the local one;
  resume    interrupted with SIGINT (its running cases cancelled on their
            controllers), then started again: only the missing cases run,
            a cancelled one under a new id, and the summary equals the
            local one;
  refusals  --broker with --timeout, a timeout flag without --broker, no
            broker at the URL (exit 3, resumable).

Usage: python3 tests/integration/test_batch_remote.py BUILD_DIR"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     SOURCE_DIR, Tests, build_dir, free_port, twinctl)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests"))
import schema_check  # noqa: E402

BUILD = build_dir()
TWINCTL = twinctl(BUILD)

# One chain of tank-farm-N and its KPIs, as test_batch_run.py has them.
from test_batch_run import BASE, KPIS, expect, summary  # noqa: E402

# Slower cases (about 1 s each here): 6 h in ticks of 50 ms, a row every
# 10 s; so a controller is in the middle of one when it is killed.
SLOW = dict(BASE, time={"start": 0, "stop": 21600, "dt": 0.05}, every=200)


def batch_doc(tmp, name, scenario, sps):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump({"contract": "twin.batch/1", "name": name,
                   "scenario": scenario,
                   "variations": {"grid": [
                       {"param": "pi0.sp", "values": sps},
                       {"param": "tank0.area",
                        "range": {"from": 1.5, "to": 3.0, "steps": 3}}]},
                   "kpis": KPIS}, f)
    return path


def local(doc, out, rows=False):
    """The reference: the same batch run here."""
    p = subprocess.run([TWINCTL, "batch", doc, "-o", out, "-j", "2", "-q"]
                       + (["--rows"] if rows else []),
                       capture_output=True, text=True, timeout=300)
    expect(p.returncode == 0, "local batch: %s" % p.stderr)


def remote_args(broker, doc, out, *extra):
    return [TWINCTL, "batch", doc, "-o", out, "--broker", broker.url] + \
        list(extra)


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def results(out):
    d = os.path.join(out, "results")
    return {n[:-5]: json.loads(read(os.path.join(d, n)))
            for n in os.listdir(d) if n.endswith(".json")}


def same_summary(out, ref, n):
    """Every case once, finished, with the local run's values to the
    bit (the files compared byte for byte: the numbers are written so that
    they read back to the same double)."""
    rows = summary(out)
    ids = [r["id"] for r in rows]
    expect(len(rows) == n and len(set(ids)) == n,
           "%d cases once each in the summary, got %d (%d distinct)"
           % (n, len(rows), len(set(ids))))
    expect(all(r["status"] == "finished" for r in rows),
           "every case finished: %s" % [(r["id"], r["status"], r["message"])
                                        for r in rows
                                        if r["status"] != "finished"])
    expect(all(r["mean_level"] and r["energy"] for r in rows),
           "every case has its KPIs")
    expect(len(results(out)) == n, "one result file per case")
    a = read(os.path.join(out, "summary.csv"), "rb")
    b = read(os.path.join(ref, "summary.csv"), "rb")
    expect(a == b, "the summary differs from the local run's:\n%s\n---\n%s"
           % (a.decode()[:1500], b.decode()[:1500]))


class Stderr:
    """A running process's stderr, read line by line on a thread."""

    def __init__(self, proc):
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc,),
                                       daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stderr:
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError("no '%s' on the batch's stderr within "
                                       "%g s:\n%s" % (text, timeout,
                                                      "".join(self.lines)))
                self.cond.wait(left)

    def text(self):
        self.thread.join(10)
        with self.cond:
            return "".join(self.lines)


class Setup:
    """A batch file, its local reference run, a broker with a listener
    and two controllers of capacity 1."""

    def __init__(self, tmp, name, scenario, sps, listen, rows=False):
        self.doc = batch_doc(tmp, name, scenario, sps)
        self.ref = os.path.join(tmp, name + "-local")
        self.out = os.path.join(tmp, name)
        local(self.doc, self.ref, rows)
        self.listen = listen
        self.ctls = []

    def __enter__(self):
        self.broker = Broker().start()
        try:
            self.listener = Client(self.broker).connect()
            self.listener.subscribe(*self.listen)
            for cid in ("ctl-1", "ctl-2"):
                self.ctls.append(Controller(self.broker, cid, build=BUILD,
                                            limits={"max_runs": 1}).start())
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, etype, value, tb):
        problems = []
        for c in self.ctls:
            problems += c.stop()       # none for a killed one
        if getattr(self, "listener", None):
            self.listener.close()
        problem = self.broker.stop()
        problems += [problem] if problem else []
        if problems and etype is None:
            raise HarnessError("\n".join(problems))
        return False

    def run(self, *extra):
        """The remote batch, to its end."""
        return subprocess.run(remote_args(self.broker, self.doc, self.out,
                                          *extra),
                              capture_output=True, text=True, timeout=240)

    def start(self, *extra):
        """The remote batch in the background, and its stderr."""
        proc = subprocess.Popen(remote_args(self.broker, self.doc, self.out,
                                            *extra),
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        return proc, Stderr(proc)


def kill(ctl):
    """SIGKILL a controller (no clean stop to check afterwards)."""
    ctl.proc.kill()
    ctl.proc.wait(10)
    ctl.proc = None
    ctl.watch.close()
    shutil.rmtree(ctl.dir, ignore_errors=True)


def answer(cid, status):
    """A predicate: a response of controller cid with that status."""
    def pred(m):
        return (m.topic.startswith("twin/%s/response/" % cid)
                and isinstance(m.payload, dict)
                and m.payload.get("status") == status)
    return pred


def held_by(listener, cid):
    """The requests cid accepted and has not answered finally (yet)."""
    done = {m.payload["id"] for m in listener.messages(answer(cid,
                                                              "finished"))}
    return {m.payload["id"] for m in listener.messages(answer(cid,
                                                              "accepted"))
            if m.payload["id"] not in done}


def case_of(request_id):
    """b<hash>-<case id>[.n] → the case id."""
    return request_id.split("-", 1)[1].split(".")[0]


def check_spread(tmp):
    with Setup(tmp, "spread", BASE, [1.5, 2.0, 2.5, 3.0],
               ("twin/pool/request", "twin/+/request"), rows=True) as t:
        p = t.run("--rows")
        out, ref, listener = t.out, t.ref, t.listener
        logs = {c.id: read(c.log) for c in t.ctls}
        expect(p.returncode == 0, "remote batch exit %d:\n%s"
               % (p.returncode, p.stderr))
        same_summary(out, ref, 16)
        same_rows(out, ref)
        by = {}
        for cid, rec in results(out).items():
            by.setdefault(rec.get("controller"), []).append(rec)
        expect(set(by) == {"ctl-1", "ctl-2"},
               "both controllers ran cases: %s" % {k: len(v)
                                                   for k, v in by.items()})
        for cid, recs in by.items():
            for rec in recs:
                expect("run %s finished" % rec["request"] in logs[cid],
                       "%s's log has run %s" % (cid, rec["request"]))
        check_requests(listener, "spread", 16, BASE)


def same_rows(out, ref):
    """cases/*.csv byte for byte as the local run's."""
    cases = sorted(os.listdir(os.path.join(ref, "cases")))
    expect(sorted(os.listdir(os.path.join(out, "cases"))) == cases,
           "one rows file per case")
    for name in cases:
        expect(read(os.path.join(out, "cases", name), "rb") ==
               read(os.path.join(ref, "cases", name), "rb"),
               "cases/%s differs from the local run's" % name)


def check_requests(listener, name, n, scenario, thin=False):
    """The run requests the batch sent: valid twin.request/1, each with
    its case's scenario, paced as a batch; thinned to two rows of t
    without --rows."""
    requests = [m.payload for m in listener.messages(
        lambda m: m.topic.endswith("/request") and
        isinstance(m.payload, dict) and m.payload.get("type") == "run")]
    expect(len(requests) >= n, "the batch sent its %d requests" % n)
    ticks = round((scenario["time"]["stop"] - scenario["time"]["start"]) /
                  scenario["time"]["dt"])
    for req in requests:
        problems = schema_check.validate("twin.request", req)
        expect(not problems, "request %s: %s" % (req.get("id"), problems))
        sc = req["scenario"]
        expect(sc["name"] == name + "/" + case_of(req["id"]) and
               sc["pace"] == "batch", "request %s runs its case's scenario"
               % req["id"])
        expect((sc["outputs"], sc["every"]) == ([], ticks) if thin else
               sc["outputs"] == scenario["outputs"],
               "request %s: outputs %s every %s" % (req["id"], sc["outputs"],
                                                    sc.get("every")))


def check_killed(tmp):
    with Setup(tmp, "killed", SLOW, [1.5, 2.0, 2.5],
               ("twin/+/response/#",), rows=True) as t:
        proc, err = t.start("--answer-timeout", "10", "--rows")
        try:
            # ctl-2 takes its second case: mid-batch, mid-case.
            t.listener.wait(answer("ctl-2", "accepted"), 2, timeout=60)
            kill(t.ctls[1])
            held = held_by(t.listener, "ctl-2")
            rc = proc.wait(180)
        finally:
            if proc.poll() is None:
                proc.kill()
        text = err.text()
        expect(rc == 0, "remote batch exit %d:\n%s" % (rc, text))
        expect("ctl-2 went offline" in text, "the last will was seen:\n%s"
               % text)
        same_summary(t.out, t.ref, 12)
        same_rows(t.out, t.ref)
        expect(held, "ctl-2 held a case when it was killed")
        for rid in held:
            rec = results(t.out)[case_of(rid)]
            expect(rec["controller"] == "ctl-1" and rec["sent"] >= 2,
                   "the case ctl-2 held (%s) was sent again and finished by "
                   "ctl-1: %s" % (rid, rec))


def check_stopped(tmp):
    with Setup(tmp, "stopped", SLOW, [1.5, 2.0, 2.5],
               ("twin/+/response/#",)) as t:
        ctl2 = t.ctls[1].proc.pid
        proc, err = t.start("--answer-timeout", "2", "--check-after", "2")
        stopped = False
        try:
            t.listener.wait(answer("ctl-2", "accepted"), 2, timeout=60)
            os.kill(ctl2, signal.SIGSTOP)
            stopped = True
            time.sleep(0.3)           # what it sent before is in
            held = held_by(t.listener, "ctl-2")
            expect(held, "ctl-2 held a case when it was stopped")
            held = held.pop()
            err.wait_for("did not answer within 2 s", 60)
            # ctl-1 takes the case over; then ctl-2 goes on.
            t.listener.wait(lambda m: answer("ctl-1", "accepted")(m) and
                            m.payload["id"] == held, 1, timeout=60)
            os.kill(ctl2, signal.SIGCONT)
            stopped = False
            rc = proc.wait(180)
            # ctl-2 answers what it held, late: a final of the held case
            # from each controller.
            for cid in ("ctl-1", "ctl-2"):
                t.listener.wait(lambda m: answer(cid, "finished")(m) and
                                m.payload["id"] == held, 1, timeout=60)
        finally:
            if stopped:
                os.kill(ctl2, signal.SIGCONT)
            if proc.poll() is None:
                proc.kill()
        text = err.text()
        expect(rc == 0, "remote batch exit %d:\n%s" % (rc, text))
        same_summary(t.out, t.ref, 12)
        rec = results(t.out)[case_of(held)]
        expect(rec["sent"] >= 2, "the case ctl-2 held (%s) was sent again: "
               "%s" % (held, rec))


def check_resume(tmp):
    with Setup(tmp, "resume", SLOW, [1.5, 2.0],
               ("twin/+/response/#", "twin/pool/request",
                "twin/+/request")) as t:
        results_dir = os.path.join(t.out, "results")
        proc, err = t.start()
        try:
            deadline = time.monotonic() + 60
            while (not os.path.isdir(results_dir) or
                   len(os.listdir(results_dir)) < 2):
                expect(time.monotonic() < deadline and proc.poll() is None,
                       "two cases have a result within 60 s")
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
        text = err.text()
        expect(rc == 130 and "interrupted (SIGINT)" in text and
               "run the same command again to resume" in text,
               "interrupted: exit %d:\n%s" % (rc, text))
        done = len(results(t.out))
        expect(2 <= done < 8, "%d of 8 cases done when interrupted" % done)
        p = t.run()
        expect(p.returncode == 0, "resumed: exit %d:\n%s"
               % (p.returncode, p.stderr))
        expect("%d with a result already" % done in p.stderr,
               "the resumed run skips the %d cases done:\n%s"
               % (done, p.stderr))
        same_summary(t.out, t.ref, 8)
        check_requests(t.listener, "resume", 8, SLOW, thin=True)
        # A case cancelled by the interruption ran again: not the
        # cancelled request on its controller (whose id is spent there).
        for m in t.listener.messages(
                lambda m: isinstance(m.payload, dict) and
                m.payload.get("status") == "cancelled"):
            rid, cid = m.payload["id"], m.payload["controller"]
            rec = results(t.out)[case_of(rid)]
            expect((rec["request"], rec["controller"]) != (rid, cid),
                   "request %s cancelled on %s is not the result: %s"
                   % (rid, cid, rec))


def check_refusals(tmp):
    doc = batch_doc(tmp, "refusals", BASE, [1.5])
    out = os.path.join(tmp, "refusals")
    for args, code, text in (
            (["--broker", "tcp://127.0.0.1:1", "--timeout", "5"], 2,
             "--timeout and --max-steps are for a batch run here"),
            (["--answer-timeout", "5"], 2, "go with --broker URL"),
            (["--broker", "tcp://127.0.0.1:1", "--answer-timeout", "0"], 2,
             "--answer-timeout takes a positive number of seconds"),
            (["--broker", "tcp://127.0.0.1:%d" % free_port()], 3,
             "run the same command again to resume")):
        p = subprocess.run([TWINCTL, "batch", doc, "-o", out] + args,
                           capture_output=True, text=True, timeout=60)
        expect(p.returncode == code and text in p.stderr,
               "%s: exit %d (want %d), stderr:\n%s"
               % (" ".join(args), p.returncode, code, p.stderr))
    rows = summary(out)
    expect(len(rows) == 4 and all(r["status"] == "pending" for r in rows),
           "without a broker every case is pending")


def main():
    tmp = tempfile.mkdtemp(prefix="twin-batch-remote-")
    t = Tests()
    t.check("spread", check_spread, tmp)
    t.check("killed", check_killed, tmp)
    t.check("stopped", check_stopped, tmp)
    t.check("resume", check_resume, tmp)
    t.check("refusals", check_refusals, tmp)
    rc = t.summary()
    if rc == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
