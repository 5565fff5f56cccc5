#!/usr/bin/env python3
"""Every limit of a controller, each with its own clear rejection, against
a real mosquitto and a real `twinctl serve` (docs/serve.md, DESIGN.md
"Every limit is explicit and configurable"):

  limits.request_bytes     too_large, path ""            (unparsed); far
                           over it (past the MQTT v5 Maximum Packet Size
                           the controller announces) the broker drops it:
                           no answer, no memory, the controller goes on
  limits.max_instances     too_large, /scenario/instances
  limits.max_connections   too_large, /scenario/connections
  limits.max_rows          too_large, /scenario/time
  limits.function_samples  too_large, /scenario/functions
  limits.max_runs          busy, path ""
  limits.run_seconds       the run ends failed with timeout
  limits.queued_requests   a flood waits at the broker: every request
                           answered once, the controller's memory bounded
  limits.spool_bytes       busy while the spool has no room for the run
                           (status: spool_full), too_large when it never
                           could; runs accepted before finish whole; room
                           comes back as retention expires
  allow.models             not_allowed, /scenario/instances/<name>
  allow.overrides          not_allowed, /scenario/instances/<name>/params/<p>
  allow.realtime           not_allowed, /scenario/pace
  allow.requests           not_allowed, /type
  limits.remembered_bytes  answers kept for retries stay within it: many
                           describe answers (22 KB each) leave the daemon's
                           memory where it was, a recent retry is answered
                           from memory, an old one no longer is

Each check also sends what is just inside the limit and expects it taken,
so a limit is neither missing nor off by one; every rejection names the
limit's figure in its message.

Usage: python3 tests/integration/test_limits.py BUILD_DIR"""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, proc_status, sanitized,
                     spool_reservation, twinctl)

BUILD = build_dir()
LIMITS = {"request_bytes": 8192, "max_instances": 3, "max_connections": 2,
          "max_rows": 150, "max_runs": 2, "run_seconds": 2,
          "function_samples": 200}


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def load(path):
    with open(path) as f:
        return json.load(f)


def overflow(stop=120, pace="batch"):
    scen = load(os.path.join(SOURCE_DIR, "scenarios", "tank-overflow.json"))
    scen["time"]["stop"] = stop
    scen["pace"] = pace
    return scen


def tanks(n, chained):
    """n tanks, each feeding the next when chained (n − 1 connections)."""
    return {"time": {"stop": 10, "dt": 1},
            "instances": {"tank%d" % i: {"model": "tank",
                                         "start": {"h": 1.0}}
                          for i in range(n)},
            "connections": [{"from": "tank%d.q_out" % i,
                             "to": "tank%d.q_in" % (i + 1)}
                            for i in range(n - 1)] if chained else []}


def loop3():
    """pump → tank → pi → pump: 3 instances, 3 connections."""
    return {"time": {"stop": 10, "dt": 1},
            "instances": {"pump0": {"model": "pump"},
                          "tank0": {"model": "tank"},
                          "pi0": {"model": "pi"}},
            "connections": [{"from": "pump0.q", "to": "tank0.q_in"},
                            {"from": "tank0.h", "to": "pi0.pv"},
                            {"from": "pi0.out", "to": "pump0.cmd"}]}


def run(client, ctl, scen):
    return client.request({"type": "run", "scenario": scen},
                          controller=ctl)


def rejected_only(resp, code, path, figure):
    """A rejection with exactly one error: code at path, naming figure."""
    expect(resp["status"] == "rejected", "not rejected: %r" % resp)
    errs = resp["errors"]
    expect(len(errs) == 1, "one problem expected: %r" % errs)
    e = errs[0]
    expect(e["code"] == code and e["path"] == path,
           "want %s at %r, got %s at %r: %s" % (code, path, e["code"],
                                                e["path"], e["message"]))
    expect(str(figure) in e["message"],
           "the message does not give the limit %s: %r" % (figure,
                                                           e["message"]))
    return e


def accepted_and_finished(client, ctl, scen):
    req = run(client, ctl, scen)
    first = req.response()
    expect(first["status"] == "accepted", "just inside the limit, not "
           "accepted: %r" % first)
    final = req.final(timeout=20)
    expect(final["status"] == "finished", final)


def padded(size, rtype="describe"):
    """A request of exactly size bytes, its id first."""
    rid = "big-" + uuid.uuid4().hex[:12]
    head = '{"id": "%s", "contract": "twin.request/1", ' \
           '"type": "%s", "pad": "' % (rid, rtype)
    body = head + "x" * (size - len(head) - 2) + '"}'
    assert len(body) == size
    return rid, body


def send_raw(client, ctl, size, rtype="describe"):
    rid, body = padded(size, rtype)
    client.subscribe(client.topic(ctl, "response", rid))
    start = client.mark()
    client.publish(client.topic(ctl, "request"), body)
    return rid, start


def answer_to(client, rid, start, timeout=10):
    return client.wait(lambda m: m.topic.endswith("/response/" + rid), 1,
                       timeout, start)[0].payload


def check_request_bytes(client, ctl):
    limit = LIMITS["request_bytes"]
    rid, start = send_raw(client, ctl, limit + 1)
    m = answer_to(client, rid, start)
    expect(m["id"] == rid, "the id was not found in the oversized request")
    rejected_only(m, "too_large", "", limit)
    rid, start = send_raw(client, ctl, limit)
    m = answer_to(client, rid, start)
    expect(m["status"] == "ok", "a request of exactly request_bytes: %r"
           % m)


def check_max_packet(client, broker, ctl):
    """Past request_bytes but within the Maximum Packet Size the controller
    announces (2 × request_bytes + 64 KiB): answered too_large.  Far past
    it: the broker drops it (and says so in its log); it never reaches the
    controller, whose memory does not grow, and which goes on answering."""
    limit = LIMITS["request_bytes"]
    max_packet = 2 * limit + 65536
    rid, start = send_raw(client, ctl.id, max_packet - 200)
    m = answer_to(client, rid, start)
    expect(m["id"] == rid, m)
    rejected_only(m, "too_large", "", limit)
    expect(str(max_packet - 200) in m["errors"][0]["message"],
           "the size of the request is not given: %r" % m)
    pid = ctl.proc.pid
    peak = proc_status(pid, "VmHWM")
    huge = 4 << 20
    rid, start = send_raw(client, ctl.id, huge, "status")
    ok = client.request({"type": "status"}, controller=ctl.id).response()
    expect(ok["status"] == "ok", ok)
    time.sleep(1.0)
    expect(not client.messages(lambda m: m.topic.endswith("/response/"
                                                          + rid), start),
           "a request past the maximum packet size was answered")
    with open(broker.log, errors="replace") as f:
        log = f.read()
    expect("Dropping too large outgoing PUBLISH for %s" % ctl.id in log,
           "the broker did not say it dropped the %d-byte request" % huge)
    grown = proc_status(pid, "VmHWM") - peak
    print("     %d-byte request: dropped by the broker, the controller's "
          "peak resident memory grew %d kB" % (huge, grown))
    if not sanitized(BUILD):
        expect(grown < 1024, "the controller's peak memory grew %d kB: the "
               "%d-byte request reached it" % (grown, huge))
    ok = client.request({"type": "status"}, controller=ctl.id).response()
    expect(ok["status"] == "ok", ok)


def check_max_instances(client, ctl):
    resp = run(client, ctl, tanks(4, chained=False)).response()
    rejected_only(resp, "too_large", "/scenario/instances",
                  LIMITS["max_instances"])
    accepted_and_finished(client, ctl, tanks(3, chained=False))


def check_max_connections(client, ctl):
    resp = run(client, ctl, loop3()).response()
    rejected_only(resp, "too_large", "/scenario/connections",
                  LIMITS["max_connections"])
    accepted_and_finished(client, ctl, tanks(3, chained=True))


def check_max_rows(client, ctl):
    limit = LIMITS["max_rows"]
    resp = run(client, ctl, overflow(stop=limit)).response()  # limit + 1
    rejected_only(resp, "too_large", "/scenario/time", limit)
    accepted_and_finished(client, ctl, overflow(stop=limit - 1))
    # Rows are horizon / dt / every: a longer horizon fits with "every".
    scen = overflow(stop=2 * limit)
    scen["every"] = 2
    resp = run(client, ctl, scen).response()
    rejected_only(resp, "too_large", "/scenario/time", limit)
    scen["time"]["stop"] = 2 * (limit - 1)
    accepted_and_finished(client, ctl, scen)


def check_function_samples(client, ctl):
    # Functions hold every tick of each signal they read, and the times:
    # (ticks + 1) × (signals + 1) values, "every" or not.
    limit = LIMITS["function_samples"]
    scen = overflow(stop=limit // 2)                  # 101 × 2 values
    scen["functions"] = [{"name": "m", "function": "mean", "of": "tank0.h"},
                         {"name": "x", "function": "max", "of": "tank0.h"}]
    scen["every"] = 10
    resp = run(client, ctl, scen).response()
    rejected_only(resp, "too_large", "/scenario/functions", limit)
    scen["time"]["stop"] = limit // 2 - 1             # 100 × 2: inside
    accepted_and_finished(client, ctl, scen)


def check_max_runs_and_run_seconds(client, ctl):
    # max_runs paced runs (each would take 100 s; run_seconds stops them
    # after 2 s), then one more: busy, while they run.
    paced = [run(client, ctl, overflow(stop=100, pace={"realtime": 1.0}))
             for _ in range(LIMITS["max_runs"])]
    for r in paced:
        first = r.response()
        expect(first["status"] == "accepted", first)
    t0 = time.monotonic()
    extra = run(client, ctl, overflow()).response()
    e = rejected_only(extra, "busy", "", LIMITS["max_runs"])
    expect(time.monotonic() - t0 < LIMITS["run_seconds"],
           "the busy answer came after the runs could have ended")
    expect("pool" in e["message"] or "later" in e["message"],
           "busy does not say what to do: %r" % e["message"])
    # run_seconds: each ends failed with timeout, with the rows it made.
    for r in paced:
        final = r.final(timeout=15)
        expect(final["status"] == "failed", final)
        err = final["errors"][0]
        expect(err["code"] == "timeout", err)
        expect("limit of %g s" % LIMITS["run_seconds"] in err["message"],
               "the timeout does not give the limit: %r" % err["message"])
        rows = [row for p in client.results(ctl, final["run"],
                                            final["last_seq"],
                                            start=r.first_index)
                for row in p["rows"]]
        expect(rows and [row[0] for row in rows] ==
               list(range(len(rows))) and len(rows) == final["rows"],
               "rows before the timeout: t = %r" % [row[0] for row in rows])
        expect(1 <= len(rows) <= 4, "%d rows in 2 s at speed 1"
               % len(rows))
    # Capacity is back.
    accepted_and_finished(client, ctl, overflow())


def check_models_allowed(client, ctl):
    resp = run(client, ctl, "tank-farm-3").response()
    expect(resp["status"] == "rejected", resp)
    got = sorted((e["code"], e["path"]) for e in resp["errors"])
    want = sorted([("not_allowed", "/scenario/instances/%s%d" % (m, i))
                   for m in ("pump", "pi") for i in range(3)])
    expect(got == want, "want every pump and pi instance not_allowed, got "
           "%r" % got)
    expect(all("'pump'" in e["message"] or "'pi'" in e["message"]
               for e in resp["errors"]), resp["errors"])
    accepted_and_finished(client, ctl, overflow())


def library_tank(params):
    """tank-overflow on library instance TK-101, overriding params."""
    scen = overflow()
    scen["instances"]["tank0"] = {"instance": "TK-101", "params": params,
                                  "start": {"h": 3.5}}
    return scen


def check_overrides_allowed(client, ctl):
    # allow.overrides ["tank.cv"]: cv may be overridden, area and height
    # may not, each refused at its own pointer; a model with full params
    # (no library instance) is not an override at all.
    resp = run(client, ctl, library_tank({"cv": 0.02, "area": 3.0,
                                          "height": 5.0})).response()
    expect(resp["status"] == "rejected", resp)
    got = sorted((e["code"], e["path"]) for e in resp["errors"])
    want = [("not_allowed", "/scenario/instances/tank0/params/area"),
            ("not_allowed", "/scenario/instances/tank0/params/height")]
    expect(got == want, "want area and height not_allowed, got %r" % got)
    expect(all("TK-101" in e["message"] and "allow.overrides" in e["message"]
               for e in resp["errors"]), resp["errors"])
    accepted_and_finished(client, ctl, library_tank({"cv": 0.02}))
    accepted_and_finished(client, ctl, overflow())


def check_realtime_allowed(client, ctl):
    resp = run(client, ctl, overflow(pace={"realtime": 10.0})).response()
    e = rejected_only(resp, "not_allowed", "/scenario/pace", "batch")
    expect("real-time" in e["message"], e["message"])


def check_requests_allowed(client, ctl):
    resp = client.request({"type": "cancel", "run": "nothing"},
                          controller=ctl).response()
    rejected_only(resp, "not_allowed", "/type", "cancel")
    ok = client.request({"type": "status"}, controller=ctl).response()
    expect(ok["status"] == "ok", ok)


QUEUED = {"queued_requests": 20, "remembered": 100}
FLOOD, FLOOD_PAD = 1500, 32000


def check_queued_requests(client, ctl):
    """1,500 requests of 32 KB (48 MB) arrive at once — published while the
    controller is stopped (SIGSTOP), so they are all there when it goes on —
    with queued_requests 20: paho's thread waits whenever 20 are queued,
    the broker holds the rest.  Every request is answered exactly once, and
    the controller's peak resident memory grows by a fraction of the
    flood."""
    pid = ctl.proc.pid
    for _ in range(20):                 # warm-up: the answers' memo etc.
        client.request({"type": "status"}, controller=ctl.id).response()
    peak = proc_status(pid, "VmHWM")
    tag = uuid.uuid4().hex[:8]
    ids = ["flood-%s-%04d" % (tag, i) for i in range(FLOOD)]
    wanted = set(ids)
    client.subscribe(client.topic(ctl.id, "response", "#"))
    start = client.mark()
    topic = client.topic(ctl.id, "request")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGSTOP)
    try:
        sent = [client.mqtt.publish(topic, json.dumps(
            {"contract": "twin.request/1", "id": i, "type": "status",
             "pad": "x" * FLOOD_PAD}), qos=1) for i in ids]
        for info in sent:
            info.wait_for_publish(30)
            expect(info.is_published(), "the broker did not take the flood")
    finally:
        os.kill(pid, signal.SIGCONT)
    t1 = time.monotonic()

    def ours(m):
        return isinstance(m.payload, dict) and m.payload.get("id") in wanted
    client.wait(ours, FLOOD, 60, start)
    t2 = time.monotonic()
    time.sleep(0.5)                     # any second answer would be here
    count = {}
    for m in client.messages(ours, start):
        expect(m.payload["status"] == "ok", m.payload)
        count[m.payload["id"]] = count.get(m.payload["id"], 0) + 1
    twice = [i for i, n in count.items() if n != 1]
    expect(len(count) == FLOOD and not twice,
           "%d of %d requests answered, %d more than once"
           % (len(count), FLOOD, len(twice)))
    expect(ctl.alive(), "the controller died under the flood")
    grown = proc_status(pid, "VmHWM") - peak
    flood_kb = FLOOD * FLOOD_PAD // 1024
    print("     %d requests (%d kB) published in %.2f s, all answered %.2f s "
          "later; peak resident memory +%d kB" % (FLOOD, flood_kb, t1 - t0,
                                                   t2 - t1, grown))
    if not sanitized(BUILD):
        expect(grown < 16 * 1024, "the controller's peak memory grew %d kB "
               "under a flood of %d kB: the queue is not bounded"
               % (grown, flood_kb))


SPOOL_EVENTS, SPOOL_RETENTION = 16384, 5
SPOOL_SPEED = 40.0              # tank-overflow's 120 s in 3 s


def overflow_columns():
    """tank-overflow's columns, from twinctl run's CSV header."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.json")
        with open(path, "w") as f:
            json.dump(overflow(stop=1), f)
        subprocess.run([twinctl(BUILD), "run", "-q", path, "-o",
                        os.path.join(d, "out.csv")], check=True, timeout=60)
        with open(os.path.join(d, "out.csv")) as f:
            return next(csv.reader(f))


def spool_numbers(message):
    """need, free, limit, used, reserved, headroom from a busy message."""
    m = re.search(r"write up to (\d+) bytes, and (\d+) of limits\.spool_bytes "
                  r"(\d+) are free \((\d+) hold .*?, (\d+) are reserved .*?, "
                  r"(\d+) are kept", message)
    expect(m is not None, "the busy message does not give the figures: %r"
           % message)
    return [int(x) for x in m.groups()]


def check_spool_bytes(broker, client):
    cid = "spool"
    cols = overflow_columns()
    tag = uuid.uuid4().hex[:8]
    paced = ["sp-%s-p%d" % (tag, i) for i in (1, 2)]

    def need(rid, rows, paced_seconds=0.0, functions=()):
        return spool_reservation("twin", cid, rid, rid, cols, rows,
                                 paced_seconds, event_bytes=SPOOL_EVENTS,
                                 functions=functions)
    r_paced = need(paced[0], 121, 120 / SPOOL_SPEED)
    # The smallest run (one row of t) is what spool_full is measured by.
    least = spool_reservation("twin", cid, None, "r", ["t"], 1,
                              event_bytes=SPOOL_EVENTS, reply_topic="r",
                              result_topic="r", event_topic="r")
    # Room (the limit less its 16th for answers) for the two paced runs
    # and half the smallest run: with both running, the spool is full.
    limit = 16 * (2 * r_paced + least // 2 + 4096) // 15 + 16
    room = limit - limit // 16
    lim = {"spool_bytes": limit, "retention_seconds": SPOOL_RETENTION,
           "event_bytes": SPOOL_EVENTS, "max_runs": 4}
    with Controller(broker, cid, build=BUILD, limits=lim) as ctl:
        runs_dir = os.path.join(ctl.config["spool"], "runs")
        watch_start = ctl.watch.mark()
        reqs = [client.request({"id": rid, "type": "run", "scenario":
                                overflow(pace={"realtime": SPOOL_SPEED})},
                               controller=cid) for rid in paced]
        for r in reqs:
            first = r.response()
            expect(first["status"] == "accepted", first)
        st = client.request({"type": "status"}, controller=cid).response()
        expect(st["spool_full"] is True and st["spool_limit"] == limit and
               st["spool_free"] < least and st["spool_reserved"] > 0,
               "status with two runs reserving the spool: %r"
               % {k: v for k, v in st.items() if k.startswith("spool")})
        ctl.watch.wait(lambda m: m.topic.endswith("/status") and isinstance(
            m.payload, dict) and m.payload.get("spool_full") is True, 1, 5,
            watch_start)
        # A run that does not fit now: busy, with the figures (its
        # functions' values count, as part of its final response).
        rid = "sp-%s-x1" % tag
        scen = overflow()
        scen["functions"] = [{"name": "h_mean", "function": "mean",
                              "of": "tank0.h"},
                             {"name": "h_max", "function": "max",
                              "of": "tank0.h"}]
        resp = client.request({"id": rid, "type": "run", "scenario": scen},
                              controller=cid).response()
        e = rejected_only(resp, "busy", "", limit)
        n, free, lim_said, used, reserved, headroom = spool_numbers(
            e["message"])
        want = need(rid, 121, functions=("h_mean", "h_max"))
        expect(n == want and lim_said == limit and
               headroom == limit // 16 and free < n and
               free == max(0, limit - used - reserved - headroom),
               "busy figures %r, expected need %d" % (
                   (n, free, lim_said, used, reserved, headroom), want))
        for word in ("limits.retention_seconds", "%g s" % SPOOL_RETENTION,
                     "raise limits.spool_bytes"):
            expect(word in e["message"], "busy does not say %r: %r"
                   % (word, e["message"]))
        # A run that could never fit: too_large.
        resp = client.request({"type": "run", "scenario": overflow(
            stop=20000)}, controller=cid).response()
        e = rejected_only(resp, "too_large", "/scenario/time", limit)
        expect("limits.spool_bytes" in e["message"], e["message"])
        # The runs accepted before finish, every row exactly once, and
        # their journals stay within what they reserved.
        for r in reqs:
            final = r.final(timeout=20)
            expect(final["status"] == "finished" and final["rows"] == 121,
                   final)
            seqs = [m.payload["seq"] for m in client.messages(
                lambda m: m.topic.endswith("/result/" + r.run),
                r.first_index)]
            expect(sorted(seqs) == list(range(final["last_seq"] + 1)),
                   "run %s: seqs %r" % (r.run, seqs))
            rows = [row for p in client.results(cid, r.run,
                                                final["last_seq"],
                                                start=r.first_index)
                    for row in p["rows"]]
            expect([row[0] for row in rows] == list(range(121)),
                   "run %s: t = %r" % (r.run, [row[0] for row in rows]))
            size = os.path.getsize(os.path.join(runs_dir, r.run + ".log"))
            expect(size <= r_paced, "run %s wrote %d bytes, reserved %d"
                   % (r.run, size, r_paced))
        st = client.request({"type": "status"}, controller=cid).response()
        expect(st["spool_reserved"] == 0 and not st["spool_full"], st)
        used = st["spool_bytes"]
        # A run that fits the spool, but not beside the two journals kept
        # for replay: busy until their retention expires, then accepted.
        stop = 120
        while need("sp-%s-y1" % tag, stop + 2) <= room - used // 2:
            stop += 1
        big = need("sp-%s-y1" % tag, stop + 1)
        expect(room - used < big <= room - used // 2, "no size between")
        resp = client.request({"id": "sp-%s-y1" % tag, "type": "run",
                               "scenario": overflow(stop=stop)},
                              controller=cid).response()
        rejected_only(resp, "busy", "", limit)
        deadline = time.monotonic() + SPOOL_RETENTION + 5
        while any(os.path.exists(os.path.join(runs_dir, r.run + ".log"))
                  for r in reqs):
            expect(time.monotonic() < deadline, "the journals outlived "
                   "their retention of %d s" % SPOOL_RETENTION)
            time.sleep(0.2)
        acc, final, _, rows, _ = client.run_scenario(
            overflow(stop=stop), controller=cid, run="sp-%s-y2" % tag,
            request_id="sp-%s-y2" % tag)
        expect(acc is not None and final["status"] == "finished" and
               [row[0] for row in rows] == list(range(stop + 1)),
               "after the retention: %r" % final)


MEMO_BYTES = 2 << 20     # limits.remembered_bytes of the "memo" controller
MEMO_BATCH = 250         # describe requests in flight at once
MEMO_WARMUP = 2          # batches before the baseline: the memo is full
MEMO_LOAD = 12           # batches in all: 3,000 describe answers
MEMO_SLACK = 8 << 20     # the RSS may grow this much past the baseline


def check_remembered_bytes(client, ctl):
    """3,000 describe answers of about 22 KB would hold 55 MB more if the
    memo of answers were bounded by count (10,000) alone."""
    ctl_id = ctl.id
    client.subscribe("twin/%s/response/#" % ctl_id)
    prefix = "twin/%s/response/" % ctl_id

    def status(rid):
        start = client.mark()
        client.publish("twin/%s/request" % ctl_id, {
            "contract": "twin.request/1", "id": rid, "type": "status"})
        return client.wait(lambda m: m.topic == prefix + rid, 1, 10,
                           start)[0]

    # A status answer carries the time it was made: answered again from
    # memory it is the same bytes; made again, it is not.
    old = status("memo-old")
    time.sleep(0.01)
    size = 0
    base = None
    for batch in range(MEMO_LOAD):
        start = client.mark()
        ids = ["memo-%d-%d" % (batch, i) for i in range(MEMO_BATCH)]
        for rid in ids:
            client.mqtt.publish("twin/%s/request" % ctl_id, json.dumps({
                "contract": "twin.request/1", "id": rid,
                "type": "describe"}), qos=1)
        got = client.wait(lambda m: m.topic.startswith(prefix + "memo-%d-"
                                                       % batch),
                          MEMO_BATCH, 60, start)
        size = max(size, len(got[-1].raw))
        if batch + 1 == MEMO_WARMUP:
            time.sleep(0.5)
            base = proc_status(ctl.proc.pid, "VmRSS") * 1024
    time.sleep(0.5)
    after = proc_status(ctl.proc.pid, "VmRSS") * 1024
    recent = status("memo-recent")
    # Retries: the recent one from memory, byte for byte; the first one
    # was forgotten (3,000 answers are well under limits.remembered, so
    # only the byte bound let it go) and is answered anew.
    again = status("memo-recent")
    expect(again.raw == recent.raw, "a recent retry was not answered from "
           "memory: %r vs %r" % (again.raw[:120], recent.raw[:120]))
    old_again = status("memo-old")
    expect(old_again.raw != old.raw, "the oldest answer is still "
           "remembered after %d bytes of answers (limit %d)"
           % (MEMO_LOAD * MEMO_BATCH * size, MEMO_BYTES))
    print("    describe answers of %d bytes, %d of them: RSS %.1f MiB after "
          "%d, %.1f MiB after all" % (size, MEMO_LOAD * MEMO_BATCH,
                                      base / 2**20, MEMO_WARMUP * MEMO_BATCH,
                                      after / 2**20))
    expect(size > 4000, "describe answers of %d bytes only" % size)
    if not sanitized(BUILD):
        expect(after <= base + MEMO_SLACK, "the daemon's RSS grew from "
               "%.1f to %.1f MiB over %d remembered describe answers" % (
                   base / 2**20, after / 2**20,
                   (MEMO_LOAD - MEMO_WARMUP) * MEMO_BATCH))


def main():
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, "lim", build=BUILD, limits=LIMITS) as ctl:
            t.check("request_bytes: too_large, unparsed, id found",
                    check_request_bytes, client, "lim")
            t.check("request_bytes: too_large up to the maximum packet "
                    "size, dropped by the broker past it",
                    check_max_packet, client, broker, ctl)
            t.check("max_instances: too_large at /scenario/instances",
                    check_max_instances, client, "lim")
            t.check("max_connections: too_large at /scenario/connections",
                    check_max_connections, client, "lim")
            t.check("max_rows: too_large at /scenario/time", check_max_rows,
                    client, "lim")
            t.check("function_samples: too_large at /scenario/functions",
                    check_function_samples, client, "lim")
            t.check("max_runs: busy; run_seconds: timeout",
                    check_max_runs_and_run_seconds, client, "lim")
        with Controller(broker, "flood", build=BUILD, limits=QUEUED) as ctl:
            t.check("queued_requests: a flood waits at the broker, every "
                    "request answered once, memory bounded",
                    check_queued_requests, client, ctl)
        t.check("spool_bytes: busy while no room, too_large never, runs "
                "whole, room back after retention", check_spool_bytes,
                broker, client)
        with Controller(broker, "strict", build=BUILD,
                        allow={"models": ["tank"], "realtime": False,
                               "overrides": ["tank.cv"],
                               "requests": ["describe", "run", "status"]}):
            t.check("allow.models: not_allowed per instance",
                    check_models_allowed, client, "strict")
            t.check("allow.overrides: not_allowed per overridden "
                    "parameter of a library instance",
                    check_overrides_allowed, client, "strict")
            t.check("allow.realtime false: not_allowed at /scenario/pace",
                    check_realtime_allowed, client, "strict")
            t.check("allow.requests: not_allowed at /type",
                    check_requests_allowed, client, "strict")
        with Controller(broker, "memo", build=BUILD,
                        limits={"remembered_bytes": MEMO_BYTES}) as ctl:
            t.check("remembered_bytes: memory bounded, recent retries "
                    "answered from memory", check_remembered_bytes, client,
                    ctl)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
