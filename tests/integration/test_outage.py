#!/usr/bin/env python3
"""The broker stopped in the middle of a fast result stream, and started
again: nothing is lost, nothing is corrupted, nothing arrives twice.

QoS 1 only reaches the broker; a broker that is stopped (SIGTERM) or
killed (SIGKILL) loses what it had acknowledged to the controller but not
yet delivered, the final response included, and what is published before
a receiver has subscribed again after it came back.  The controller keeps
every run's result messages in its spool, and a receiver that sees a gap
in seq, or no final response, asks `status` and `replay`.

Each outage hits a run of tank-farm-10 (24 h, 86 401 rows) on a
controller that sends 1 row per message (limits.batch_rows), so results
stream at 10 000 messages per second or more here; the broker goes down
for OUTAGE seconds when 30 % of the run's messages went through it
(a round whose run went through before that is run again).  The
test checks that the outage came mid-run on both sides: the broker had
not yet taken all of the run's messages, and the controller says it kept
unacknowledged messages when it lost the broker.  The
run has two receivers:

  (a) `twinctl submit` (a subprocess, --broker, -o), which sent it: it
      exits 0, and its CSV is byte for byte `twinctl run`'s of the same
      scenario;
  (b) a plain subscriber (the harness Client, below) on the same run,
      which collects the results as they come, drops duplicates by seq,
      and uses `status` and `replay` itself as docs/orchestrators.md says:
      it holds every row exactly once, every message parses, has the
      run's columns, rows of the right width with the values `twinctl
      run` computes, and a seq within 0 … last_seq.  (It is slower than
      submit, so the broker loses more of its messages, and its own
      replays are needed; submit's replays reach it too, and are dropped
      as duplicates when they are.)

Both with SIGTERM and with SIGKILL, REPEAT times each, since the failure
it guards against is intermittent.  The rate at which the broker took
messages before each outage is printed.

    test_outage.py [BUILD_DIR]       (else $TWIN_BUILD_DIR, else build/)

Ends with a line `N passed, N failed`; exits non-zero on a failure.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
import zlib

try:
    import paho.mqtt.client  # noqa: F401
except ImportError:
    # Debian's python3-paho-mqtt is for Debian's python3.
    if os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != os.path.realpath(
                "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("test_outage: needs paho-mqtt (Debian: python3-paho-mqtt)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, cbor_result, twinctl)

BUILD = build_dir()
CTL = "c-out"
BATCH_ROWS = 1         # rows per result message: many small messages
                       # (86 401 for the run: at 10 000/s there are still
                       # seconds left after the outage starts)
OUTAGE = 3.0           # s the broker stays down
ATTEMPTS = 3           # a round whose run was through before the
                       # outage could start is run again, this many times
AT = 0.3               # the outage starts when this share of the run's
                       # messages went through the broker
REPEAT = int(os.environ.get("TWIN_OUTAGE_REPEAT", "3"))  # outages of each kind
# The plain subscriber waits a little longer than submit (1 s and 3 s)
# before it asks: submit's replays reach it too, and it then asks only for
# what it alone lost, instead of the controller replaying everything twice.
GAP_WAIT = 2.0         # s of quiet before a seq is called missing
QUIET_WAIT = 4.0       # s of quiet, without a final response, before
                       # status is asked
ROUNDS = 5             # status + replay rounds at most, once the end is
                       # known
CHUNK = 2000           # seqs per replay request
RUN_TIMEOUT = 120.0    # s for one run, outage and repair included
ANSWER_WAIT = 60.0     # s for an answer: a controller's answers queue
                       # behind the result messages it has not sent yet,
                       # and a replay's `ok` comes after its last message
SYS_RECEIVED = "$SYS/broker/publish/messages/received"
# Every run's journal (about 75 MB here) stays in the spool for its
# retention: with the default 1 GiB, a spool filled by the earlier rounds
# would hold back the later runs (never dropping a row).  The retention
# outlasts the slowest repair seen: under a load average of 15-18 on two
# cores, a 60 s retention ran out before the slow subscriber asked for its
# replays (answered unknown_run), failing rounds that lost nothing.
LIMITS = {"batch_rows": BATCH_ROWS, "retention_seconds": 600,
          "spool_bytes": 4 << 30}


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


# --------------------------------------------------------------------------
# The plain subscriber


_REF_ROWS = {}


def ref_rows(ref_lines):
    """The reference CSV's rows as lists of floats, parsed once per test
    (a receiver compares every row it takes with its reference row)."""
    key = id(ref_lines)
    if key not in _REF_ROWS:
        _REF_ROWS[key] = [[float(x) for x in line.split(",")]
                          for line in ref_lines[1:]]
    return _REF_ROWS[key]


class Receiver(Client):
    """The harness Client, taking one run's results as they arrive instead
    of keeping them: each message is parsed and checked at once, a seq
    seen before is dropped (and must be byte for byte the first one), and
    every row is compared with the reference by its t (dt = 1 s, so t is
    the row's index)."""

    def __init__(self, broker, run, ref_lines):
        super().__init__(broker)
        self.run = run
        self.result_topic = "twin/%s/result/%s" % (CTL, run)
        self.response_topic = "twin/%s/response/%s" % (CTL, run)
        self.ref = ref_rows(ref_lines)  # the CSV's rows as numbers
        self.columns = ref_lines[0].split(",")
        self.crc = {}                   # seq → CRC-32 of its payload
        self.row_seen = bytearray(len(ref_lines) - 1)
        self.rows = 0
        self.duplicates = 0
        self.problems = []
        self.heard = time.monotonic()   # the last result message
        self.arrivals = []              # (time, count), for the rate
        # paho's default waits 1, 2, 4 ... s before it tries again; a
        # receiver that means to lose little after an outage tries sooner
        # (what it loses meanwhile, status and replay bring back).
        self.mqtt.reconnect_delay_set(min_delay=0.25, max_delay=1)

    def _on_message(self, client, userdata, msg):
        if msg.topic != self.result_topic:
            super()._on_message(client, userdata, msg)
            return
        now = time.monotonic()
        problem = self._take(msg.payload, getattr(
            getattr(msg, "properties", None), "ContentType", None))
        with self._cond:
            self.heard = now
            if len(self.arrivals) < 200000:
                self.arrivals.append(now)
            if problem and len(self.problems) < 20:
                self.problems.append(problem)
            self._cond.notify_all()

    def _take(self, raw, ctype):
        """Check one result message (CBOR by its content type: submit asks
        for it; else JSON); returns a problem sentence or None."""
        try:
            p = cbor_result(raw) if ctype == "application/cbor" else \
                json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return "a result message is not %s: %r" % (
                "CBOR" if ctype == "application/cbor" else "JSON", raw[:120])
        seq = p.get("seq") if isinstance(p, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            return "a result message without a seq: %r" % raw[:120]
        if p.get("contract") != "twin.result/1" or p.get("run") != self.run:
            return "seq %d: contract or run wrong: %r" % (seq, raw[:120])
        crc = zlib.crc32(raw)
        with self._cond:
            first = self.crc.get(seq)
            if first is None:
                self.crc[seq] = crc
            else:
                self.duplicates += 1
        if first is not None:
            return None if first == crc else \
                "seq %d arrived twice with different bytes" % seq
        if p.get("columns") != self.columns:
            return "seq %d: columns %r" % (seq, p.get("columns"))
        rows = p.get("rows")
        if not isinstance(rows, list) or not rows:
            return "seq %d: no rows" % seq
        for row in rows:
            if not isinstance(row, list) or len(row) != len(self.columns):
                return "seq %d: a row of %s values for %d columns" % (
                    seq, len(row) if isinstance(row, list) else "no",
                    len(self.columns))
            t = row[0]
            k = int(t) if isinstance(t, (int, float)) else -1
            if k != t or not 0 <= k < len(self.row_seen):
                return "seq %d: a row with t = %r" % (seq, t)
            want = self.ref[k]
            if row == want:             # every value equal (the usual case)
                with self._cond:
                    self.row_seen[k] += 1
                    self.rows += 1
                continue
            for v, w in zip(row, want):
                if v is None and math.isnan(w):
                    continue
                if isinstance(v, bool) or not isinstance(v, (int, float)) \
                        or v != w:
                    return "seq %d, t = %d: %r, expected %r" % (seq, k, row,
                                                                want)
            with self._cond:
                self.row_seen[k] += 1
                self.rows += 1
        return None

    def is_response(self, m):
        return m.topic == self.response_topic and \
            isinstance(m.payload, dict)

    def first_missing(self, first, last):
        with self._cond:
            return next((s for s in range(first, last + 1)
                         if s not in self.crc), None)

    def missing(self, last_seq):
        with self._cond:
            return [s for s in range(last_seq + 1) if s not in self.crc]

    def beyond(self, last_seq):
        with self._cond:
            return sorted(s for s in self.crc if s > last_seq)

    def quiet(self):
        with self._cond:
            return time.monotonic() - self.heard

    def received_between(self, t0, t1):
        with self._cond:
            return sum(1 for t in self.arrivals if t0 <= t < t1)


def ranges(seqs):
    """Sorted seqs as coalesced [first, last] ranges (holes of up to 8
    seqs closed: a few duplicates, fewer requests)."""
    out = []
    for s in seqs:
        if out and s - out[-1][1] <= 9:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def status_of(rcv, run, known=True):
    """The run's status answer (state, last_seq, rows); with known=False,
    None while the controller does not know the run yet."""
    r = rcv.request({"type": "status", "run": run},
                    controller=CTL).response(timeout=ANSWER_WAIT)
    if not known and r.get("status") == "rejected":
        return None
    expect(r.get("status") == "ok", "status of %s: %r" % (run, r))
    return r


def sys_samples(client, start):
    """The broker's count of messages received, as (time, count), since
    the client's mark start."""
    return [(m.time, m.payload) for m in client.messages(
        lambda m: m.topic == SYS_RECEIVED and isinstance(m.payload, int),
        start)]


def connected(*clients, timeout=20.0):
    """Wait until paho has reconnected each client (it does by itself,
    retrying after 1, 2, 4 ... s; the harness subscribes again)."""
    deadline = time.monotonic() + timeout
    for c in clients:
        while not c.mqtt.is_connected():
            expect(time.monotonic() < deadline, "a test client did not "
                   "reconnect within %g s of the broker's restart" % timeout)
            time.sleep(0.05)


def idle(client, timeout=RUN_TIMEOUT):
    """Wait until the controller runs nothing (after a failed round)."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.request({"type": "status"},
                           controller=CTL).response(ANSWER_WAIT)
        if not [x for x in r.get("runs", []) if x["state"] == "running"]:
            return
        expect(time.monotonic() < deadline, "runs still running: %r"
               % r.get("runs"))
        time.sleep(0.5)


def follow(rcv, back_at, log):
    """What a plain subscriber does after the outage: wait for the final
    response; when seqs are missing GAP_WAIT after it (or after the last
    result), or no final response came QUIET_WAIT after the broker was
    back, ask status, then replay each missing range, and again, at most
    ROUNDS times once the end is known.  Returns (end, requests, replays):
    the final response, or the status that said the run ended; the status
    and replay requests sent; the seqs asked for again."""
    deadline = time.monotonic() + RUN_TIMEOUT
    rounds = requests = replays = 0
    end = None
    while True:
        finals = [m.payload for m in rcv.messages(rcv.is_response)
                  if m.payload.get("status") in ("finished", "failed",
                                                 "cancelled")]
        if finals:
            end = finals[0]
        if end is not None and not rcv.missing(end["last_seq"]):
            return end, requests, replays
        expect(time.monotonic() < deadline,
               "run %s: no end after %g s (final %s, %d seqs missing)"
               % (rcv.run, RUN_TIMEOUT, end is not None,
                  len(rcv.missing(end["last_seq"])) if end else -1))
        since = min(rcv.quiet(), time.monotonic() - back_at)
        if since < (GAP_WAIT if end is not None else QUIET_WAIT):
            time.sleep(0.1)
            continue
        # A round: status, then replay of what is missing.
        try:
            st = status_of(rcv, rcv.run)
        except HarnessError as e:       # no answer: the next round asks
            log("status of %s: %s" % (rcv.run, e))
            back_at = time.monotonic()
            continue
        requests += 1
        if st["state"] != "running" and end is None:
            end = st
            log("no final response for %s; its status says %s, last_seq "
                "%d" % (rcv.run, st["state"], st["last_seq"]))
        if end is not None:
            rounds += 1
            expect(rounds <= ROUNDS, "run %s: %d seqs still missing after "
                   "%d rounds" % (rcv.run, len(rcv.missing(end["last_seq"])),
                                  ROUNDS))
        missing = rcv.missing(end["last_seq"] if end else st["last_seq"])
        if not missing:
            back_at = time.monotonic()   # running, nothing missing yet
            continue
        asked = ranges(missing)
        log("%s: %d seqs missing (%s)"
            % (rcv.run, len(missing),
               ", ".join("%d-%d" % tuple(r) for r in asked[:6])))
        # CHUNK seqs per request, the next when the one before is
        # answered: what came meanwhile (submit's replays) is not asked.
        for first, last in asked:
            a = rcv.first_missing(first, last)
            while a is not None:
                b = min(a + CHUNK - 1, last)
                # In CBOR, as submit asked for the run: a seq that comes
                # twice comes with the same bytes.
                r = rcv.request({"type": "replay", "run": rcv.run,
                                 "from_seq": a, "to_seq": b,
                                 "encoding": "cbor"},
                                controller=CTL).response(timeout=ANSWER_WAIT)
                requests += 1
                replays += b - a + 1
                expect(r.get("status") == "ok" and r.get("sent") ==
                       b - a + 1, "replay %d-%d: %r" % (a, b, r))
                a = rcv.first_missing(b + 1, last)
        # Wait for them: until they are all in, or quiet, bounded.
        sent = time.monotonic()
        until = sent + ANSWER_WAIT
        while time.monotonic() < until and rcv.missing(asked[-1][1]) and \
                min(rcv.quiet(), time.monotonic() - sent) < GAP_WAIT:
            time.sleep(0.05)


# --------------------------------------------------------------------------
# One outage, two runs


def farm(tmp):
    path = os.path.join(tmp, "tank-farm-10.json")
    subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "examples",
                                                 "gen_tank_farm.py"), "10",
                    "-o", path], check=True, timeout=30)
    return path


def reference(tmp, scen_path):
    path = os.path.join(tmp, "ref.csv")
    subprocess.run([twinctl(BUILD), "run", "-q", scen_path, "-o", path],
                   check=True, timeout=120)
    with open(path, "rb") as f:
        data = f.read()
    return path, data


class TooLate(HarnessError):
    """The run went through the broker before the outage could start (the
    broker counts in whole seconds); the round is run again."""


def kept_unacknowledged(log_path, since):
    """The numbers of unacknowledged messages the controller said it kept
    when it lost the broker, in its log after byte offset since."""
    with open(log_path, errors="replace") as f:
        f.seek(since)
        return [int(m.group(1)) for m in re.finditer(
            r"lost the broker .*keeping (\d+) unacknowledged", f.read())]


def outage(broker, client, ctl, kill, tmp, scen_path, ref_lines, n):
    """Start a run with `twinctl submit`, a plain subscriber on it too;
    stop the broker half way through, start it again, and
    follow the run to its end.  Returns what the two checks look at."""
    how = "SIGKILL" if kill else "SIGTERM"

    def log(text):
        print("     %s %d: %s" % (how, n, text))

    mark = client.mark()
    idle(client)                # and the broker's count moves: a sample
    base = client.wait(lambda m: m.topic == SYS_RECEIVED, 1, 5.0,
                       mark)[0].payload
    run = "outage-%s-%d-%s" % (how.lower(), n, uuid.uuid4().hex[:8])
    out_csv = os.path.join(tmp, run + ".csv")
    err_path = os.path.join(tmp, run + ".err")
    rcv = Receiver(broker, run, ref_lines).connect()
    rcv.subscribe(rcv.result_topic, rcv.response_topic)
    res = {"out": out_csv, "rcv": rcv}
    with open(err_path, "w") as err:
        sub = subprocess.Popen(
            [twinctl(BUILD), "submit", "--broker", broker.url,
             "--controller", CTL, "--id", run, "--timeout",
             str(RUN_TIMEOUT), scen_path, "-o", out_csv],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    res["submit"] = sub
    try:
        acc = rcv.wait(rcv.is_response, 1, 10.0)[0].payload
        expect(acc.get("status") == "accepted", "the run: %r" % acc)
        expect(acc.get("columns") == rcv.columns, "accepted columns")
        messages = (acc["rows_expected"] + BATCH_ROWS - 1) // BATCH_ROWS
        # The broker counts the messages it receives ($SYS, every second):
        # the outage starts when a share AT of the run's went through, and
        # the rate is taken over the 2 s before.
        while True:
            got = sys_samples(client, mark)
            if got and got[-1][1] - base >= AT * messages:
                break
            expect(sub.poll() is None, "submit ended before the outage")
            time.sleep(0.05)
        t1, v1 = got[-1]
        t0, v0 = next((s for s in reversed(got) if t1 - s[0] >= 2.0),
                      got[0])
        res["rate"] = (v1 - v0) / (t1 - t0) if t1 > t0 else 0.0
        log("before the outage: the broker took %.0f messages/s (%d of the "
            "run's %d went through); the plain subscriber received %.0f/s"
            % (res["rate"], v1 - base, messages,
               rcv.received_between(t0, t1) / max(t1 - t0, 1e-9)))
        # Mid-run, as the broker saw it: some of the run's messages had
        # not reached it yet.
        if v1 - base >= messages:
            raise TooLate("the outage came too late: the broker had all %d "
                          "messages already (rate %.0f/s)"
                          % (messages, res["rate"]))
        log_at = os.path.getsize(ctl.log)
        broker.outage(OUTAGE, kill=kill)
        back = time.monotonic()
        connected(rcv, client)
        # ... and as the controller saw it: its spool held messages the
        # broker had not acknowledged.
        kept = kept_unacknowledged(ctl.log, log_at)
        expect(kept and kept[0] > 0, "the controller kept no unacknowledged "
               "messages when it lost the broker (log: %s)" % kept)
        log("the controller lost the broker keeping %d unacknowledged "
            "messages" % kept[0])
        res["end"], res["requests"], res["replays"] = follow(rcv, back,
                                                             log)
        res["last_seq"] = res["end"]["last_seq"]
        log("the plain subscriber made %d status and replay requests, "
            "asked for %d messages again, dropped %d duplicates"
            % (res["requests"], res["replays"], rcv.duplicates))
        sub.wait(RUN_TIMEOUT + 30)
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait(5)
        rcv.close()
    with open(err_path) as f:
        res["submit_err"] = f.read()
    for line in res["submit_err"].splitlines():
        if "asking for" in line or "never arrived" in line or \
                "its status says" in line:
            log("submit: " + line.split(": ", 1)[-1][:160])
    return res


def check_submit(res, ref_data):
    sub = res["submit"]
    expect(sub.returncode == 0, "twinctl submit exited %s:\n%s"
           % (sub.returncode, res["submit_err"][-2000:]))
    with open(res["out"], "rb") as f:
        got = f.read()
    if got != ref_data:
        g, r = got.split(b"\n"), ref_data.split(b"\n")
        first = next((i for i, (x, y) in enumerate(zip(g, r)) if x != y),
                     min(len(g), len(r)))
        raise HarnessError("submit's CSV differs from twinctl run's: %d vs "
                           "%d lines, first difference at line %d"
                           % (len(g), len(r), first + 1))


def check_plain(res, n_rows):
    rcv = res["rcv"]
    expect(not rcv.problems, "bad payloads: %s" % rcv.problems[:5])
    end, last = res["end"], res["last_seq"]
    expect(end.get("state", end.get("status")) == "finished", end)
    expect(end.get("rows") == n_rows, "%s rows, expected %d"
           % (end.get("rows"), n_rows))
    expect(not rcv.missing(last), "seqs missing: %s" % rcv.missing(last)[:20])
    expect(not rcv.beyond(last), "seqs beyond last_seq %d: %s"
           % (last, rcv.beyond(last)[:20]))
    twice = [k for k, c in enumerate(rcv.row_seen) if c > 1]
    never = [k for k, c in enumerate(rcv.row_seen) if c == 0]
    expect(not twice and not never and rcv.rows == n_rows,
           "rows: %d taken, t twice %s, t never %s"
           % (rcv.rows, twice[:10], never[:10]))


def main():
    t = Tests()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="twin-outage-") as tmp:
        scen_path = farm(tmp)
        ref_path, ref_data = reference(tmp, scen_path)
        ref_lines = ref_data.decode().rstrip("\n").split("\n")
        n_rows = len(ref_lines) - 1
        rates, outcomes, requests = [], [], []
        with Broker(extra_conf="sys_interval 1\n") as broker, \
                Controller(broker, CTL, build=BUILD,
                           limits=LIMITS) as ctl, \
                Client(broker) as client:
            client.subscribe(SYS_RECEIVED)
            for kill in (False, True):
                how = "SIGKILL" if kill else "SIGTERM"
                for n in range(1, REPEAT + 1):
                    res = {}

                    def one():
                        for attempt in range(1, ATTEMPTS + 1):
                            try:
                                res.update(outage(broker, client, ctl, kill,
                                                  tmp, scen_path, ref_lines,
                                                  n))
                                return
                            except TooLate as e:
                                print("     %s %d: %s; again (%d of %d)"
                                      % (how, n, e, attempt, ATTEMPTS))
                        raise HarnessError("every attempt came too late")
                    name = "broker %s outage %d" % (how, n)
                    if not t.check(name + ": down %g s mid-run, the run "
                                   "followed to its end" % OUTAGE, one):
                        outcomes.append((name, "failed"))
                        continue
                    rates.append(res["rate"])
                    requests.append(res["replays"])
                    a = t.check(name + ": twinctl submit exits 0, CSV = "
                                "twinctl run's", check_submit, res, ref_data)
                    b = t.check(name + ": plain subscriber with status and "
                                "replay holds every row once, intact",
                                check_plain, res, n_rows)
                    outcomes.append((name, "ok" if a and b else "failed"))
        # Else the outages tested nothing.
        t.check("the outages made gaps that status and replay filled",
                expect, sum(requests) > 0, "no outage lost a message")
        if rates:
            print("rate before the outages: %.0f to %.0f result messages/s "
                  "(mean %.0f), %d row(s) per message"
                  % (min(rates), max(rates), sum(rates) / len(rates),
                     BATCH_ROWS))
        print("outages: %s; %.0f s in all"
              % (", ".join("%s %s" % o for o in outcomes),
                 time.monotonic() - t0))
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
