#!/usr/bin/env python3
"""The example orchestrators against a real mosquitto and two real
`twinctl serve`: each runs scenarios/tank-overflow.json on one controller
and on the pool, and its CSV must equal, number by number, what
`twinctl run scenarios/tank-overflow.json -o ref.csv` writes.
orchestrator.py asks for results in CBOR by default (python3-cbor2) and
writes the same CSV, byte for byte, as with --encoding json.  A stored
scenario that does not exist must make them exit 1.

    test_orchestrators.py [BUILD_DIR]       (else $TWIN_BUILD_DIR, else build/)

Ends with a line `N passed, N failed`; exits non-zero on a failure.
"""
import csv
import math
import os
import subprocess
import sys
import tempfile
import uuid

try:
    import paho.mqtt.client  # noqa: F401
except ImportError:
    # Debian's python3-paho-mqtt is for Debian's python3; another python3
    # earlier in PATH (pyenv, a venv) does not see it.
    if os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != os.path.realpath(
                "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("test_orchestrators: needs paho-mqtt (Debian: python3-paho-mqtt)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = harness.SOURCE_DIR
SCENARIO = os.path.join(SRC, "scenarios", "tank-overflow.json")
ORCH_PY = [sys.executable, os.path.join(SRC, "examples", "orchestrator.py")]
ORCH_SH = ["sh", os.path.join(SRC, "examples", "orchestrator.sh")]


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise AssertionError("%s is empty" % path)
    return rows[0], [[float(v) for v in r] for r in rows[1:]]


def same_number(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def compare_csv(got_path, ref_path):
    head, rows = read_csv(got_path)
    rhead, rrows = read_csv(ref_path)
    if head != rhead:
        raise AssertionError("columns %s, expected %s" % (head, rhead))
    if len(rows) != len(rrows):
        raise AssertionError("%d rows, expected %d" % (len(rows), len(rrows)))
    for i, (r, rr) in enumerate(zip(rows, rrows)):
        if len(r) != len(rr) or not all(map(same_number, r, rr)):
            raise AssertionError("row %d is %s, expected %s" % (i + 1, r, rr))


def session_of(pid):
    """The session id of a process (field 6 of /proc/<pid>/stat), or None
    when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ...": comm may hold anything.
    return int(stat[stat.rindex(")") + 2:].split()[3])


def leftovers(session):
    """Processes still alive in the orchestrator's own session (it was
    started as a session leader, so only what it started is there: an
    orchestrator must not leave its mosquitto_sub behind); killed by
    pid."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if session_of(int(pid)) == session:
            found.append(int(pid))
            try:
                os.kill(int(pid), 15)
            except OSError:
                pass
    return found


def orchestrate(cmd, broker, target, scenario, out, want_rc):
    args = cmd + ["--broker", broker.url, "-o", out, "--timeout", "60"]
    args += ["--pool"] if target == "pool" else ["--controller", target]
    p = subprocess.Popen(args + ([scenario] if scenario else []),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    left = leftovers(p.pid)
    if left:
        raise AssertionError("%s left processes running: pids %s"
                             % (args[1], left))
    if p.returncode != want_rc:
        raise AssertionError("%s exited %d, expected %d; stderr:\n%s"
                             % (" ".join(args[:2]), p.returncode, want_rc,
                                stderr[-3000:]))
    return subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)


def main():
    build = harness.build_dir()
    tests = harness.Tests()
    work = tempfile.mkdtemp(prefix="twin-orch-")
    ref = os.path.join(work, "ref.csv")

    def reference():
        p = subprocess.run([harness.twinctl(build), "run", SCENARIO, "-o",
                            ref], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("twinctl run exited %d:\n%s"
                                 % (p.returncode, p.stderr))
    if not tests.check("reference: twinctl run tank-overflow", reference):
        return tests.summary()

    try:
        with harness.Broker() as broker, \
                harness.Controller(broker, "ctl-1", build=build), \
                harness.Controller(broker, "ctl-2", build=build):
            for name, cmd in (("orchestrator.py", ORCH_PY),
                              ("orchestrator.sh", ORCH_SH)):
                for target in ("ctl-1", "ctl-2", "pool"):
                    out = os.path.join(work, "%s-%s.csv" % (name, target))

                    def run_and_compare():
                        orchestrate(cmd, broker, target, SCENARIO, out, 0)
                        compare_csv(out, ref)
                    tests.check("%s on %s: CSV equals twinctl run's"
                                % (name, target), run_and_compare)
                tests.check("%s exits 1 on a rejected run" % name,
                            orchestrate, cmd, broker, "pool",
                            "no-such-scenario",
                            os.path.join(work, "rejected.csv"), 1)

            def harness_client():
                with harness.Client(broker) as client:
                    accepted, final, columns, rows, _ = client.run_scenario(
                        "tank-overflow", pool=True, timeout=60)
                if accepted is None or final["status"] != "finished":
                    raise AssertionError("run ended %r" % final)
                head, rrows = read_csv(ref)
                if columns != head or len(rows) != len(rrows) or not all(
                        same_number(float("nan" if v is None else v), w)
                        for r, rr in zip(rows, rrows) for v, w in zip(r, rr)):
                    raise AssertionError("harness client rows differ")
            tests.check("harness client on the pool: rows equal", harness_client)

            # orchestrator.py asks for CBOR by default (read with cbor2),
            # JSON with --encoding json: the same CSV either way.
            def encodings():
                outs = []
                for enc in (None, "json"):
                    out = os.path.join(work, "enc-%s.csv" % enc)
                    p = orchestrate(ORCH_PY + (["--encoding", enc] if enc
                                               else []),
                                    broker, "ctl-1", SCENARIO, out, 0)
                    want = '"encoding": "%s"' % (enc or "cbor")
                    if want not in p.stderr:
                        raise AssertionError("accepted without %s:\n%s"
                                             % (want, p.stderr[-2000:]))
                    compare_csv(out, ref)
                    with open(out) as f:
                        outs.append(f.read())
                if outs[0] != outs[1]:
                    raise AssertionError("the CSV from CBOR differs from "
                                         "the CSV from JSON")
            tests.check("orchestrator.py: CBOR by default, --encoding json; "
                        "the same CSV", encodings)

            # The example's gap repair, end to end: a run that ended before
            # the orchestrator subscribed is all gaps; status + replay must
            # bring back every row.
            def collect_earlier_run():
                rid = "orch-collect-" + uuid.uuid4().hex[:8]
                with harness.Client(broker) as client:
                    _, final, _, _, _ = client.run_scenario(
                        "tank-overflow", controller="ctl-2",
                        request_id=rid, timeout=60)
                if final["status"] != "finished":
                    raise AssertionError("run ended %r" % final)
                out = os.path.join(work, "collected.csv")
                p = orchestrate(ORCH_PY + ["--collect", rid], broker, "ctl-2",
                                None, out, 0)
                if "asking for %d result messages again" % (
                        final["last_seq"] + 1) not in p.stderr:
                    raise AssertionError("no replay asked:\n" + p.stderr)
                compare_csv(out, ref)
            tests.check("orchestrator.py --collect: an earlier run's rows "
                        "through status and replay equal twinctl run's",
                        collect_earlier_run)
            def collect_unknown_run():
                p = orchestrate(ORCH_PY + ["--collect", "no-such-run"],
                                broker, "ctl-1", None,
                                os.path.join(work, "unknown.csv"), 1)
                if "unknown_run" not in p.stderr:
                    raise AssertionError("no unknown_run:\n" + p.stderr)
            tests.check("orchestrator.py --collect of an unknown run exits 1 "
                        "saying unknown_run", collect_unknown_run)
    except Exception as e:      # the broker or a controller misbehaved
        tests.failed += 1
        print("FAIL set-up or tear-down: %s: %s" % (type(e).__name__, e))
    return tests.summary()


if __name__ == "__main__":
    sys.exit(main())
