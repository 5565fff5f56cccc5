#!/usr/bin/env python3
"""Load test against a real mosquitto and one real `twinctl serve` (max_runs
2), loopback only, bounded in count and time: 2,000 requests published as
fast as the client can (QoS 1, without waiting for each), a mix of valid
and invalid —

  describe, status                        ok
  small runs of tank-overflow, every 60   accepted + finished, or busy
  malformed JSON                          bad_json (id unreadable: the
                                          answer goes to the request's
                                          MQTT v5 response topic)
  another contract major                  bad_contract
  a run of an unknown model               unknown_model
  set on an unknown run                   unknown_run

— and checks: every request answered exactly once (one final answer per
request, a run's `accepted` before it; no answer to a request not sent),
the controller alive and answering afterwards, and its resident memory
(VmRSS) back near the baseline measured after a warm-up of 200 requests of
the same mix; its spool back to what the runs' retained results need
(answers to describe, status and rejections, once acknowledged, are not
kept).  Then 30 runs of tank-farm-3 over 6 h, one after another: the
memory of a run that ended must not stay with it.  Prints the figures
(requests/s, answer latency p50/p99, RSS before/after) that
docs/reliability.md reports.

The controller remembers answers for retries (limits.remembered) and the
last 256 ended runs.  Both are bounded by count; remembered is set to the
warm-up's size here so that the baseline already holds as many remembered
answers as the end of the load does (see docs/reliability.md, "Load").

Usage: python3 tests/integration/test_load.py BUILD_DIR"""

import json
import os
import random
import sys
import threading
import time
import uuid

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError, SOURCE_DIR,  # noqa: E402
                     Tests, build_dir, sanitized)

BUILD = build_dir()
# Under AddressSanitizer freed memory stays in its quarantine: the RSS is
# measured and printed but not compared (LeakSanitizer checks at exit).
RSS_CHECKED = not sanitized(BUILD)
CID = "load"
WARMUP = 200
LOAD = 2000
TIME_LIMIT = 120.0           # the whole test, wall clock
MIB = 1 << 20
RSS_SLACK = (0.20, 8 * MIB)  # after ≤ baseline + max(20 %, 8 MiB)
# Runs of 21,601 rows send 7 MB of JSON each in bursts; where the heap's
# high-water mark ends depends on when the broker acknowledges, and
# measured 3–9 MiB above the baseline over 30 runs.  An ended run that
# kept its 1 MiB read buffer adds 30 MiB.
RUNS_SLACK = (0.25, 16 * MIB)

KINDS = [("describe", 10), ("status", 15), ("run", 25), ("bad_json", 10),
         ("bad_contract", 10), ("unknown_model", 10), ("set_unknown", 20)]
# What each kind's final answer must be (a run: finished, or busy).
WANT = {"describe": ("ok", None), "status": ("ok", None),
        "run": ("finished", "busy"), "bad_json": ("rejected", "bad_json"),
        "bad_contract": ("rejected", "bad_contract"),
        "unknown_model": ("rejected", "unknown_model"),
        "set_unknown": ("rejected", "unknown_run")}


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def scenario():
    with open(os.path.join(SOURCE_DIR, "scenarios",
                           "tank-overflow.json")) as f:
        scen = json.load(f)
    scen["every"] = 60
    return scen


class Load:
    """Sends requests and files every answer by request (the payload's id,
    or the correlation data for requests whose id the controller cannot
    read).  It publishes on one client of its own and receives on another,
    so that answers are timed as they arrive, not after the sending
    thread is done (and they bypass the harness's message list)."""

    def __init__(self, client, rx):
        self.client = client
        self.scen = scenario()
        self.sent = {}           # key → (kind, send time)
        self.answers = {}        # key → [(status, code, arrival time)]
        self.strays = []
        self.lock = threading.Lock()
        self.token = "L%s-" % uuid.uuid4().hex[:10]   # in every id sent
        self.reply_topic = "loadtest/%s/replies" % uuid.uuid4().hex[:8]
        rx.mqtt.message_callback_add(self.reply_topic, self._on_answer)
        rx.mqtt.message_callback_add(rx.topic(CID, "response", "#"),
                                     self._on_answer)
        rx.subscribe(rx.topic(CID, "response", "#"), self.reply_topic)

    def _on_answer(self, mqttc, userdata, msg):
        now = time.monotonic()
        corr = getattr(msg.properties, "CorrelationData", None) \
            if getattr(msg, "properties", None) is not None else None
        try:
            p = json.loads(msg.payload)
        except ValueError:
            p = None
        key = corr.decode() if corr else (p or {}).get("id")
        errs = (p or {}).get("errors") or [{}]
        entry = ((p or {}).get("status"), errs[0].get("code"), now)
        with self.lock:
            if key in self.sent:
                self.answers.setdefault(key, []).append(entry)
            elif key is None or key.startswith(self.token):
                self.strays.append((msg.topic, msg.payload[:200]))
            # else: the answer to another client's request

    def _body(self, kind, rid):
        if kind == "describe":
            return {"type": "describe"}
        if kind == "status":
            return {"type": "status"}
        if kind == "run":
            return {"type": "run", "scenario": self.scen}
        if kind == "bad_contract":
            return {"contract": "twin.request/2", "type": "status"}
        if kind == "unknown_model":
            return {"type": "run", "scenario": {
                "time": {"stop": 10, "dt": 1},
                "instances": {"x0": {"model": "no_such_model"}}}}
        if kind == "set_unknown":
            return {"type": "set", "run": "no-such-run-" + rid,
                    "values": {"tank0.valve": 0.5}}
        raise ValueError(kind)

    def send(self, n, rng):
        """Publish n requests of the mix as fast as paho takes them; wait
        until the broker acknowledged them all.  Returns the keys."""
        kinds = [k for k, w in KINDS for _ in range(w)]
        infos, keys = [], []
        topic = self.client.topic(CID, "request")
        for i in range(n):
            kind = rng.choice(kinds)
            rid = "%s%05d" % (self.token, len(self.sent))
            props = None
            if kind == "bad_json":
                payload = '{"contract": "twin.request/1", "id": "%s", ' \
                          '"type": "describe",,}' % rid
            else:
                body = {"contract": "twin.request/1", "id": rid}
                body.update(self._body(kind, rid))
                payload = json.dumps(body)
            if kind == "bad_json" or i % 2 == 0:
                # Half of them (and every unreadable one) through an MQTT
                # v5 response topic with correlation data.
                props = Properties(PacketTypes.PUBLISH)
                props.ResponseTopic = self.reply_topic
                props.CorrelationData = rid.encode()
            with self.lock:
                self.sent[rid] = (kind, time.monotonic())
            infos.append(self.client.mqtt.publish(topic, payload, qos=1,
                                                  properties=props))
            keys.append(rid)
        for info in infos:
            info.wait_for_publish(30)
            expect(info.is_published(), "a request was not acknowledged "
                   "by the broker")
        return keys

    def final_of(self, key):
        return [a for a in self.answers.get(key, []) if a[0] != "accepted"]

    def wait_answered(self, keys, deadline, log=None):
        while time.monotonic() < deadline:
            with self.lock:
                missing = [k for k in keys if not self.final_of(k)]
            if not missing:
                return
            time.sleep(0.05)
        with self.lock:
            missing = [k for k in keys if not self.final_of(k)]
            # What each did get (an `accepted` alone, or nothing), and
            # what the controller's log says of it: enough to tell a
            # request lost at intake from a run whose end never came.
            shown = [(k, self.sent[k][0], [a[:2] for a in
                                           self.answers.get(k, [])])
                     for k in missing[:5]]
        said = []
        if log is not None and os.path.exists(log):
            with open(log, errors="replace") as f:
                said = [line.rstrip() for line in f
                        if any(k in line for k, _, _ in shown)][:20]
        raise HarnessError("%d of %d requests unanswered, e.g. %s%s"
                           % (len(missing), len(keys), shown,
                              "".join("\n       log: " + line
                                      for line in said)))

    def check(self, keys):
        """Exactly one final answer each, of the right kind; a run's
        `accepted` (at most one) before its final answer."""
        time.sleep(0.5)  # an answer sent twice would have arrived by now
        problems = []
        with self.lock:
            for k in keys:
                kind = self.sent[k][0]
                got = self.answers.get(k, [])
                finals = self.final_of(k)
                acc = [a for a in got if a[0] == "accepted"]
                if len(finals) != 1 or len(acc) > 1 or (
                        acc and got[0][0] != "accepted"):
                    problems.append("%s (%s): answers %r" % (
                        k, kind, [(a[0], a[1]) for a in got]))
                    continue
                status, code = finals[0][:2]
                want_status, want_code = WANT[kind]
                if kind == "run":
                    ok = (status == "finished" and acc) or (
                        status == "rejected" and code == "busy" and not acc)
                else:
                    ok = status == want_status and (
                        want_code is None or code == want_code)
                if not ok:
                    problems.append("%s (%s): answered %s/%s" % (
                        k, kind, status, code))
            strays = list(self.strays)
        expect(not strays, "answers to requests never sent: %r" % strays[:3])
        expect(not problems, "%d requests not answered exactly once as "
               "expected: %s" % (len(problems), problems[:5]))

    def latencies(self, keys):
        with self.lock:
            return sorted(self.answers[k][0][2] - self.sent[k][1]
                          for k in keys)

    def count(self, keys, kind, status):
        with self.lock:
            return sum(1 for k in keys if self.sent[k][0] == kind and
                       self.final_of(k)[0][0] == status)


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) * 1024
    raise HarnessError("no VmRSS for %d" % pid)


def settle(client, ctl):
    """Wait until the controller runs nothing, then read its RSS."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        st = client.request({"type": "status"}, controller=CID).response()
        if st.get("load") == 0:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    return rss(ctl.proc.pid)


def spool_bytes(client):
    """The status's spool_bytes once it stopped changing: the controller
    tidies its spool about once a second, so two readings 1.2 s apart
    that agree have a tidying between them."""
    last = None
    for _ in range(6):
        st = client.request({"type": "status"}, controller=CID).response()
        if st.get("spool_bytes") == last:
            return last
        last = st.get("spool_bytes")
        time.sleep(1.2)
    return last


def journals(ctl, runs):
    """Bytes of the runs' journals in the spool (kept for replay)."""
    total = 0
    for r in runs:
        p = os.path.join(ctl.config["spool"], "runs", r + ".log")
        total += os.path.getsize(p) if os.path.exists(p) else 0
    return total


def pct(xs, p):
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def check_load(broker, client, ctl, figures):
    with Client(broker) as tx, Client(broker) as rx:
        run_load(tx, rx, client, ctl, figures)


def run_load(tx, rx, client, ctl, figures):
    t_end = time.monotonic() + TIME_LIMIT - 10
    rng = random.Random(20240611)
    load = Load(tx, rx)
    warm = load.send(WARMUP, rng)
    load.wait_answered(warm, t_end, ctl.log)
    load.check(warm)
    base = settle(client, ctl)
    spool_base = spool_bytes(client)
    # The latency of one request at a time, for comparison.
    one = []
    for _ in range(100):
        k = load.send(1, rng)
        load.wait_answered(k, t_end, ctl.log)
        one.extend(k)
    idle = load.latencies(one)

    t0 = time.monotonic()
    keys = load.send(LOAD, rng)
    t_sent = time.monotonic()
    load.wait_answered(keys, t_end, ctl.log)
    t_done = max(a[2] for k in keys for a in load.answers[k])
    load.check(keys)
    expect(ctl.alive(), "the controller died under the load")
    after = settle(client, ctl)
    spool_after = spool_bytes(client)
    ran = [k for k in keys + one if load.sent[k][0] == "run" and
           load.final_of(k)[0][0] == "finished"]
    kept = journals(ctl, ran)
    lat = load.latencies(keys)
    figures.update({
        "requests": LOAD, "send_seconds": t_sent - t0,
        "send_rate": LOAD / (t_sent - t0),
        "answer_seconds": t_done - t0, "answer_rate": LOAD / (t_done - t0),
        "p50_ms": 1000 * pct(lat, 0.50), "p99_ms": 1000 * pct(lat, 0.99),
        "max_ms": 1000 * lat[-1], "idle_p50_ms": 1000 * pct(idle, 0.50),
        "idle_p99_ms": 1000 * pct(idle, 0.99),
        "runs_finished": load.count(keys, "run", "finished"),
        "runs_busy": load.count(keys, "run", "rejected"),
        "runs": sum(1 for k in keys if load.sent[k][0] == "run"),
        "rss_base_mib": base / MIB, "rss_after_mib": after / MIB,
        "spool_base": spool_base, "spool_after": spool_after,
        "spool_runs": kept})
    limit = base + max(RSS_SLACK[0] * base, RSS_SLACK[1])
    if RSS_CHECKED:
        expect(after <= limit, "RSS %.1f MiB after the load, baseline %.1f "
               "MiB (allowed up to %.1f)" % (after / MIB, base / MIB,
                                             limit / MIB))
    # Still answering, and a run still runs to the end.
    d = client.request({"type": "describe"}, controller=CID).response()
    expect(d["status"] == "ok", d)
    acc, final, _, rows, _ = client.run_scenario(scenario(), controller=CID)
    expect(final["status"] == "finished" and len(rows) == 3, final)
    # The spool keeps the finished runs' results (for replay) and what the
    # broker has not acknowledged, nothing else.
    expect(spool_after - spool_base <= kept + (64 << 10),
           "the spool grew by %d bytes over the load, of which only %d "
           "are the results of the %d runs it keeps for replay: answers "
           "the broker acknowledged are kept" % (
               spool_after - spool_base, kept, len(ran)))


def check_ended_runs(client, ctl, figures):
    """Runs with many rows, one after another: what an ended run keeps
    (its record for status, retained results on disk) is small, so the
    resident memory comes back near its baseline."""
    with open(os.path.join(SOURCE_DIR, "scenarios",
                           "tank-farm-3.json")) as f:
        scen = json.load(f)
    scen["time"]["stop"] = 6 * 3600

    def one():
        req = client.request({"type": "run", "scenario": scen},
                             controller=CID, subscribe_results=False)
        final = req.final(timeout=30)
        expect(final["status"] == "finished", final)
    for _ in range(4):      # the heap's high-water mark of such runs
        one()
    base = settle(client, ctl)
    n = 30
    for _ in range(n):
        one()
    after = settle(client, ctl)
    figures.update({"runs_n": n, "runs_rss_base_mib": base / MIB,
                    "runs_rss_after_mib": after / MIB})
    limit = base + max(RUNS_SLACK[0] * base, RUNS_SLACK[1])
    if RSS_CHECKED:
        expect(after <= limit, "RSS %.1f MiB after %d runs of 21,601 rows, "
               "%.1f MiB before (allowed up to %.1f): about %.2f MiB stays "
               "with each ended run" % (after / MIB, n, base / MIB,
                                        limit / MIB, (after - base) / MIB / n))


def main():
    t = Tests()
    figures = {}
    if not RSS_CHECKED:
        print("     (a sanitizer build: resident memory is printed, not "
              "compared; LeakSanitizer checks the daemon at its exit)")
    t0 = time.monotonic()
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, CID, build=BUILD,
                        limits={"max_runs": 2, "remembered": WARMUP}) as ctl:
            t.check("%d requests as fast as they go: each answered once, "
                    "memory back to its baseline" % LOAD, check_load,
                    broker, client, ctl, figures)
            t.check("30 runs of 21,601 rows: memory back to its baseline",
                    check_ended_runs, client, ctl, figures)
    if "send_rate" in figures:
        print("figures: %d requests sent in %.2f s (%.0f/s), all answered "
              "in %.2f s (%.0f/s); latency p50 %.1f ms, p99 %.1f ms, max "
              "%.1f ms; runs %d: %d finished, %d busy; RSS %.1f MiB after "
              "the warm-up, %.1f MiB after the load" % (
                  figures["requests"], figures["send_seconds"],
                  figures["send_rate"], figures["answer_seconds"],
                  figures["answer_rate"], figures["p50_ms"],
                  figures["p99_ms"], figures["max_ms"], figures["runs"],
                  figures["runs_finished"], figures["runs_busy"],
                  figures["rss_base_mib"], figures["rss_after_mib"]))
        print("figures: one request at a time: latency p50 %.2f ms, p99 "
              "%.2f ms" % (figures["idle_p50_ms"], figures["idle_p99_ms"]))
        print("figures: spool %d bytes after the warm-up, %d after the "
              "load, of which %d the journals of runs kept for replay" % (
                  figures["spool_base"], figures["spool_after"],
                  figures["spool_runs"]))
    if "runs_n" in figures:
        print("figures: RSS %.1f MiB before %d runs of tank-farm-3 over "
              "6 h, %.1f MiB after" % (figures["runs_rss_base_mib"],
                                       figures["runs_n"],
                                       figures["runs_rss_after_mib"]))
    took = time.monotonic() - t0
    if took > TIME_LIMIT:
        print("FAIL the load test took %.0f s, more than %g s"
              % (took, TIME_LIMIT))
        t.failed += 1
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
