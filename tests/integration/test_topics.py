#!/usr/bin/env python3
"""Topics a request makes the controller publish to (docs/contract.md,
"Response topic"): one request must not silence a controller.

(a) A request whose MQTT v5 response topic is not a topic one can publish
    to (a wildcard `#` or `+`, a `$` first, as under `$SYS/`) is rejected
    with `out_of_range` at path "" naming the property, on the
    controller's own P/C/response/<id>, with its correlation data; no run
    starts; the controller keeps its connection (no "lost the broker"),
    answers the next request at once, and a run going on meanwhile gets
    its `finished`.
(b) A request published retained is answered once: not again when the
    controller subscribes again (after its connection was taken over and
    it reconnected), nor when a new controller starts.
(c) A spool with what a controller journaled before it was killed, right
    after such requests: the next controller on it starts, goes online and
    answers (nothing journaled wedges a restart).
(d) Under examples/mosquitto-secure.conf and examples/acl, a response
    topic the ACL would let the controller write but that is a wildcard
    (twin/ctl-1/response/#) is rejected the same way, and the controller
    keeps its connection.

Every controller is stopped with SIGTERM at the end of its part and must
exit 0 and publish `offline` (the harness checks it): a controller wedged
by a publish that fails, or crashing in the publish-failure callback,
fails here.

    test_topics.py [BUILD_DIR]      (else $TWIN_BUILD_DIR, else build/)
"""
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     SOURCE_DIR, Tests, build_dir)

BUILD = build_dir()
CTL = "ctl-t"
BAD_TOPICS = ["twin/%s/response/#" % CTL, "+", "twin/+/response/x", "#",
              "$SYS/twinctl/reply", "$reply/x"]


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def log_of(ctl):
    with open(ctl.log, errors="replace") as f:
        return f.read()


def connects(ctl):
    return log_of(ctl).count("twinctl serve: connected to")


def default_answer(client, rid, start, timeout=10.0):
    topic = "twin/%s/response/%s" % (CTL, rid)
    return client.wait(lambda m: m.topic == topic, 1, timeout, start)[0]


def rejected_topic(m, rid):
    p = m.payload
    expect(isinstance(p, dict) and p.get("status") == "rejected",
           "request %s: not rejected: %r" % (rid, m.raw[:300]))
    errs = p.get("errors") or []
    expect(len(errs) == 1 and errs[0].get("code") == "out_of_range" and
           errs[0].get("path") == "" and
           "response topic" in errs[0].get("message", ""),
           "request %s: errors %r (want one out_of_range at \"\" naming the "
           "response topic)" % (rid, errs))


def answered_quickly(client, seconds=3.0):
    req = client.request({"type": "describe"}, controller=CTL)
    t0 = time.monotonic()
    r = req.response(timeout=seconds)
    expect(r.get("status") == "ok", "describe: %r" % r)
    return time.monotonic() - t0


def check_bad_response_topics(client, ctl):
    before = connects(ctl)
    # A run going on while the bad requests come (tank-overflow's 120 s
    # paced at 30 times the wall clock).
    with open(os.path.join(SOURCE_DIR, "scenarios", "tank-overflow.json")) as f:
        scen = json.load(f)
    scen["pace"] = {"realtime": 30.0}
    run_id = "long-" + uuid.uuid4().hex[:8]
    long_run = client.request({"type": "run", "id": run_id,
                               "scenario": scen}, controller=CTL)
    expect(long_run.response().get("status") == "accepted", "run refused")
    client.subscribe("twin/%s/response/#" % CTL)
    for i, topic in enumerate(BAD_TOPICS):
        for rtype in ("status", "run", "describe"):
            rid = "bad-%d-%s-%s" % (i, rtype, uuid.uuid4().hex[:6])
            obj = {"type": rtype, "id": rid}
            if rtype == "run":
                obj["scenario"] = "tank-overflow"
            start = client.mark()
            client.request(obj, controller=CTL, response_topic=topic,
                           correlation=b"corr-" + rid.encode(),
                           subscribe_results=False)
            m = default_answer(client, rid, start)
            rejected_topic(m, rid)
            expect(m.correlation == b"corr-" + rid.encode(),
                   "request %s: correlation %r not echoed" % (rid,
                                                            m.correlation))
    final = long_run.final(timeout=60)
    expect(final.get("status") == "finished", "the run ended %r" % final)
    took = answered_quickly(client)
    time.sleep(0.5)
    expect(connects(ctl) == before and "lost the broker" not in log_of(ctl),
           "the controller lost the broker:\n" + log_of(ctl)[-2000:])
    print("     next describe answered in %.3f s" % took)


def take_over(broker):
    """Connect with the controller's client id (the broker drops the
    controller, which reconnects and subscribes again), then leave."""
    intruder = Client(broker, client_id=CTL).connect()
    time.sleep(0.3)
    intruder.close()


def check_retained_once(broker, client, ctl):
    rid = "retained-" + uuid.uuid4().hex[:8]
    watch = Client(broker).connect()
    try:
        watch.subscribe("twin/%s/response/%s" % (CTL, rid))
        before = connects(ctl)
        client.publish("twin/%s/request" % CTL,
                       '{"contract":"twin.request/1","id":"%s",'
                       '"type":"status"}' % rid, retain=True)
        first = watch.wait(lambda m: True, 1, 10)[0]
        expect(first.payload.get("status") == "ok", first.raw[:200])
        take_over(broker)
        deadline = time.monotonic() + 15
        while connects(ctl) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        expect(connects(ctl) > before, "the controller did not reconnect")
        time.sleep(1.5)
        got = watch.messages()
        expect(len(got) == 1, "the retained request was answered %d times "
               "(again after the controller subscribed again)" % len(got))
        # A new controller on the same broker does not answer it either.
        with Controller(broker, CTL + "-b", build=BUILD) as other:
            pass
        other_rid_topic = "twin/%s-b/response/%s" % (CTL, rid)
        expect(not [m for m in watch.messages()
                    if m.topic == other_rid_topic], "answered again")
    finally:
        # Clear the retained request.
        client.publish("twin/%s/request" % CTL, b"", retain=True)
        watch.close()


def check_retained_bad_topic_restart(broker, client):
    """A retained request with a wildcard response topic, then a controller
    starts: it goes online, keeps its connection and answers."""
    rid = "retained-bad-" + uuid.uuid4().hex[:8]
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "twin/%s/response/#" % CTL
    client.publish("twin/%s/request" % CTL,
                   '{"contract":"twin.request/1","id":"%s","type":"status"}'
                   % rid, retain=True, properties=props)
    try:
        for _ in range(2):
            with Controller(broker, CTL, build=BUILD) as ctl:
                answered_quickly(client)
                time.sleep(1.0)
                expect(connects(ctl) == 1 and
                       "lost the broker" not in log_of(ctl),
                       "the controller lost the broker:\n" +
                       log_of(ctl)[-2000:])
    finally:
        client.publish("twin/%s/request" % CTL, b"", retain=True)


def check_spool_restart(broker, client):
    """Requests with bad response topics, the controller killed at once;
    the next one on its spool starts and answers."""
    spool = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                         "twin-topics-spool-" + uuid.uuid4().hex[:8])
    first = Controller(broker, CTL, build=BUILD, config_extra={"spool": spool})
    first.start()
    try:
        for topic in BAD_TOPICS:
            client.request({"type": "status"}, controller=CTL,
                           response_topic=topic, subscribe_results=False)
        time.sleep(0.3)
    finally:
        first.proc.kill()
        first.proc.wait(5)
        first.proc = None
        first.watch.close()
    with Controller(broker, CTL, build=BUILD,
                    config_extra={"spool": spool}) as ctl:
        took = answered_quickly(client)
        time.sleep(1.0)
        expect(connects(ctl) == 1 and "lost the broker" not in log_of(ctl),
               "the restarted controller lost the broker:\n" +
               log_of(ctl)[-2000:])
        print("     restarted controller answered in %.3f s" % took)


def check_secure_acl():
    """(d): imports test_tls's PKI and secure configuration."""
    import test_tls as tls
    pki = tls.Pki()
    try:
        with Broker(tls_conf=tls.secure_example_conf(pki)) as broker:
            with Controller(broker, "ctl-1", build=BUILD, config_extra={
                    "broker": broker.tls_url,
                    "security": tls.controller_security(
                        pki, "ctl-1", pki.path("ctl-1.pw"))}) as ctl:
                orch = tls.tls_client(broker, pki, "orchestrator")
                try:
                    rid = "acl-" + uuid.uuid4().hex[:8]
                    orch.subscribe("twin/ctl-1/response/%s" % rid)
                    start = orch.mark()
                    orch.request({"type": "status", "id": rid},
                                 controller="ctl-1",
                                 response_topic="twin/ctl-1/response/#",
                                 subscribe_results=False)
                    m = orch.wait(lambda m: m.topic ==
                                  "twin/ctl-1/response/%s" % rid, 1, 10,
                                  start)[0]
                    rejected_topic(m, rid)
                    time.sleep(1.0)
                    expect(connects(ctl) == 1 and
                           "lost the broker" not in log_of(ctl),
                           "ctl-1 lost the broker:\n" + log_of(ctl)[-2000:])
                finally:
                    orch.close()
    finally:
        pki.remove()


def main():
    t = Tests()
    with Broker() as broker, Client(broker) as client:
        with Controller(broker, CTL, build=BUILD) as ctl:
            t.check("(a) bad response topics: out_of_range, connection kept",
                    check_bad_response_topics, client, ctl)
            t.check("(b) a retained request is answered once",
                    check_retained_once, broker, client, ctl)
        t.check("(b) a retained request with a wildcard response topic "
                "does not wedge a start", check_retained_bad_topic_restart,
                broker, client)
        t.check("(c) the spool after such requests does not wedge a restart",
                check_spool_restart, broker, client)
    t.check("(d) the secure example configuration: a wildcard of its own "
            "topics is refused", check_secure_acl)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
