#!/usr/bin/env python3
"""A minimal twinctl orchestrator: run one scenario, write its rows as CSV.

    orchestrator.py --controller ctl-1 scenarios/tank-overflow.json -o out.csv
    orchestrator.py --pool tank-overflow            # a stored scenario, any controller
    orchestrator.py --controller ctl-1 --collect RUN -o out.csv  # an earlier run

It speaks the wire contract of docs/contract.md over MQTT v5 (python3-paho-mqtt
1.6): subscribe to the answers first, then publish the request, print every
response on stderr, gather the result messages by seq, and when the final
response has come and seq 0 ... last_seq are all here, write the CSV.
When the results go quiet with something missing (or without a final
response), ask the controller `status` and `replay` what is missing, as
docs/orchestrators.md says; --collect RUN does only that, for a run that
ended earlier.
Results are asked for in CBOR (python3-cbor2): the rows come as the
controller's doubles, 8 bytes each, with nothing to parse; --encoding json
asks for JSON.  Each result message is read by its MQTT v5 content type
(application/cbor or application/json), so a controller that predates
CBOR, and answers JSON, works all the same.
Exit status: 0 finished; 1 rejected, failed, cancelled or rows missing;
2 bad usage; 3 no connection or no answer in time.
"""
import argparse
import csv
import json
import math
import os
import queue
import struct
import sys
import time
import uuid

try:
    import cbor2
except ImportError:                 # JSON only (Debian: python3-cbor2)
    cbor2 = None

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError:
    sys.exit("orchestrator: needs paho-mqtt (Debian: python3-paho-mqtt)")

FINAL = ("finished", "failed", "cancelled", "rejected")


def content_type(m):
    return getattr(getattr(m, "properties", None), "ContentType", None)


def read_result(payload, ctype):
    """A twin.result/1 message as a dict, rows as lists of numbers (None
    where not finite).  CBOR: rows are one RFC 8746 typed array, tag 86,
    float64 little-endian, row after row, len(columns) values each."""
    if ctype != "application/cbor":
        return json.loads(payload)
    if cbor2 is None:
        raise ValueError("a CBOR result, and no cbor2 to read it")
    msg = cbor2.loads(payload)
    rows, n = msg["rows"], len(msg["columns"])
    if not isinstance(rows, cbor2.CBORTag) or rows.tag != 86 or n == 0 \
            or len(rows.value) % (8 * n):
        raise ValueError("rows are not a float64 typed array of whole rows")
    v = struct.unpack("<%dd" % (len(rows.value) // 8), rows.value)
    msg["rows"] = [[x if math.isfinite(x) else None for x in v[i:i + n]]
                   for i in range(0, len(v), n)]
    return msg


def number(v):
    """A value for the CSV, the same whichever encoding brought it."""
    if v is None:
        return "nan"
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


class Run:
    """What has arrived of one run, and the requests that fill its gaps."""

    def __init__(self, client, inbox, prefix, controller, rid, encoding):
        self.client, self.inbox, self.prefix = client, inbox, prefix
        self.encoding = encoding
        self.controller, self.rid = controller, rid
        self.final, self.columns, self.batches = None, None, {}
        self.last_seq = None            # from the final response or status
        self.answers = {}               # status/replay answers by id

    def missing(self):
        if self.last_seq is None:
            return None
        return [s for s in range(self.last_seq + 1) if s not in self.batches]

    def take(self, m):
        """File one MQTT message; returns True if it was of this run."""
        level = m.topic.split("/")
        try:
            msg = read_result(m.payload, content_type(m)) \
                if level[-2] == "result" else json.loads(m.payload)
        except (ValueError, KeyError, TypeError) as e:
            print("orchestrator: unreadable on %s: %s" % (m.topic, e),
                  file=sys.stderr)
            return False
        if level[-1] == "repair":               # P/C/response/<rid>/repair
            self.answers[msg.get("id")] = msg
            return True
        if self.controller is None and level[-2] == "response":
            self.controller = msg.get("controller")  # the one that answered
        if level[-3] != self.controller:
            return False                            # another controller
        if level[-2] == "response":
            print(json.dumps(msg), file=sys.stderr)
            if msg.get("status") in FINAL:
                self.final = msg
                self.last_seq = msg.get("last_seq", -1)
            elif msg.get("status") == "accepted":
                self.columns = msg.get("columns")
        elif level[-2] == "result":
            self.batches[msg["seq"]] = msg          # a duplicate just replaces
            self.columns = self.columns or msg["columns"]
        elif level[-2] == "event":
            print("event: " + json.dumps(msg), file=sys.stderr)
        return True

    def pump(self, seconds, until=lambda: False):
        """Take messages until until() holds or nothing came for seconds.
        Returns whether until() holds."""
        while not until():
            try:
                kind, m = self.inbox.get(timeout=seconds)
            except queue.Empty:
                return until()
            if kind == "msg":
                self.take(m)
        return True

    def ask(self, body, timeout):
        """Send a status or replay request to the controller that has the
        run, its answer to our repair topic; returns the answer or None."""
        rid = "orch-" + uuid.uuid4().hex            # a new id every time
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "%s/%s/response/%s/repair" % (
            self.prefix, self.controller, self.rid)
        req = dict({"contract": "twin.request/1", "id": rid}, **body)
        self.client.publish("%s/%s/request" % (self.prefix, self.controller),
                            json.dumps(req), qos=1, properties=props)
        self.pump(timeout, lambda: rid in self.answers)
        return self.answers.pop(rid, None)

    def repair(self, rounds=5, chunk=2000):
        """Fill the gaps with `status` and `replay` (docs/orchestrators.md,
        "Filling gaps"). Returns True when seq 0 ... last_seq are here."""
        for _ in range(rounds):
            st = self.ask({"type": "status", "run": self.rid}, 30)
            if st is None:
                print("orchestrator: no answer to status", file=sys.stderr)
                continue
            if st.get("status") != "ok":            # unknown_run: gone
                sys.exit("orchestrator: status of %s: %s" % (
                    self.rid, json.dumps(st.get("errors", st))))
            if st.get("state") == "running":
                return False                        # not over: keep reading
            self.last_seq = st.get("last_seq", -1)
            if self.final is None:                  # status stands in for it
                self.final = {"status": st["state"], "rows": st.get("rows"),
                              "last_seq": self.last_seq}
            todo = self.missing()
            if not todo:
                return True
            print("orchestrator: asking for %d result messages again"
                  % len(todo), file=sys.stderr)
            while todo:
                lo = todo[0]
                hi = min(todo[-1], lo + chunk - 1)
                ans = self.ask({"type": "replay", "run": self.rid,
                                "from_seq": lo, "to_seq": hi,
                                "encoding": self.encoding},
                               30 + (hi - lo + 1) / 1000)
                if ans is None or ans.get("status") != "ok":
                    print("orchestrator: replay %d-%d: %s" % (
                        lo, hi, json.dumps(ans)), file=sys.stderr)
                    break
                self.pump(2, lambda: all(s in self.batches
                                         for s in range(lo, hi + 1)))
                todo = [s for s in self.missing() if s > hi]
            if not self.missing():
                return True
        return not self.missing()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=
                                 argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", help="a scenario JSON file, or the "
                    "name of a scenario stored on the controller")
    ap.add_argument("--broker", default="tcp://127.0.0.1:1883",
                    help="broker as tcp://HOST:PORT (default %(default)s)")
    ap.add_argument("--prefix", default="twin", help="topic prefix "
                    "(default %(default)s)")
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--controller", metavar="ID", help="send to this "
                     "controller")
    who.add_argument("--pool", action="store_true", help="send to the pool: "
                     "any controller of the group takes it")
    ap.add_argument("--collect", metavar="RUN", help="run nothing: collect "
                    "the retained results of an earlier run RUN from "
                    "--controller, with status and replay")
    ap.add_argument("-o", "--output", default="-", help="CSV file "
                    "(default: stdout)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to "
                    "wait for the run to end (default %(default)s)")
    ap.add_argument("--quiet", type=float, default=3, help="seconds without "
                    "a message before asking the controller `status` "
                    "(default %(default)s)")
    ap.add_argument("--encoding", choices=("cbor", "json"), default=None,
                    help="result messages in CBOR (the default; needs "
                    "python3-cbor2) or JSON")
    a = ap.parse_args()
    if a.encoding is None:
        a.encoding = "cbor" if cbor2 is not None else "json"
    if a.encoding == "cbor" and cbor2 is None:
        ap.error("--encoding cbor needs cbor2 (Debian: python3-cbor2)")
    if (a.collect is None) == (a.scenario is None):
        ap.error("give a scenario, or --collect RUN")
    if a.collect and a.pool:
        ap.error("--collect needs --controller: the pool keeps no runs")

    request = None
    if a.collect:
        rid = a.collect
    else:
        if os.path.exists(a.scenario):  # a file: send the scenario itself
            with open(a.scenario) as f:
                scenario = json.load(f)
        else:                           # else the name of a stored one
            scenario = a.scenario
        rid = "orch-" + uuid.uuid4().hex        # request id = run id
        request = {"contract": "twin.request/1", "id": rid, "type": "run",
                   "scenario": scenario, "encoding": a.encoding}

    # paho calls back from its network thread; hand everything to a queue.
    inbox = queue.Queue()
    client = mqtt.Client(protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, u, f, rc, p=None: inbox.put(("connect", rc))
    client.on_subscribe = lambda c, u, mid, rcs, p=None: inbox.put(("suback",
                                                                    rcs))
    client.on_message = lambda c, u, m: inbox.put(("msg", m))
    url = a.broker.split("://", 1)[-1]
    host, _, port = url.rpartition(":")
    try:
        client.connect(host or url, int(port) if host else 1883)
    except OSError as e:
        sys.exit("orchestrator: cannot connect to %s: %s" % (a.broker, e))
    client.loop_start()

    def next_event(deadline):
        try:
            return inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            print("orchestrator: no answer in time", file=sys.stderr)
            sys.exit(3)

    deadline = time.monotonic() + 10
    kind, rc = next_event(deadline)
    if kind != "connect" or rc != 0:
        sys.exit("orchestrator: broker refused the connection: %s" % rc)

    # 1. Subscribe first.  For the pool we do not know yet which controller
    # takes the run, so '+' stands for it; results are published only after
    # `accepted`, but may follow it at once, so we cannot wait to subscribe.
    # The answers to status and replay come to .../response/<rid>/repair.
    c = "+" if a.pool else a.controller
    topics = ["%s/%s/%s/%s" % (a.prefix, c, what, rid)
              for what in ("response", "result", "event")]
    topics.append("%s/%s/response/%s/repair" % (a.prefix, c, rid))
    client.subscribe([(t, 1) for t in topics])
    kind, rcs = next_event(deadline)
    if kind != "suback" or any(r.value >= 128 for r in rcs):
        sys.exit("orchestrator: subscription refused: %s" % rcs)

    # 2. Then publish the request (QoS 1).
    if request is not None:
        dest = "%s/%s/request" % (a.prefix, "pool" if a.pool else
                                  a.controller)
        client.publish(dest, json.dumps(request), qos=1)

    # 3. Read responses, results and events until the final response has
    # come and so have result seq 0 ... last_seq.  When the results are
    # quiet with something missing (a broker outage loses messages: QoS 1
    # reaches only the broker), ask `status`, then `replay` what is missing.
    run = Run(client, inbox, a.prefix, None if a.pool else a.controller, rid,
              a.encoding)
    deadline = time.monotonic() + a.timeout
    complete = False
    skip_wait = a.collect is not None   # nothing will come by itself
    while not complete:
        if not skip_wait:
            wait = 1 if run.final is not None else a.quiet
            if run.pump(min(wait, max(0.0, deadline - time.monotonic())),
                        lambda: run.final is not None
                        and not run.missing()):
                complete = True
                continue
        if run.controller is None:      # a pool run nobody accepted
            if time.monotonic() >= deadline:
                print("orchestrator: no controller took the run",
                      file=sys.stderr)
                sys.exit(3)
            continue
        skip_wait = False
        complete = run.repair()
        if not complete and time.monotonic() >= deadline:
            if run.final is None:
                print("orchestrator: no final response in time",
                      file=sys.stderr)
                sys.exit(3)
            sys.exit("orchestrator: result seq %s never came"
                     % run.missing()[:10])
    client.disconnect()
    client.loop_stop()
    final = run.final

    # 4. Write the rows in seq order.
    if final["status"] != "rejected":
        out = sys.stdout if a.output == "-" else open(a.output, "w", newline="")
        w = csv.writer(out, lineterminator="\n")
        w.writerow(run.columns or [])
        for s in sorted(run.batches):
            for row in run.batches[s]["rows"]:
                w.writerow([number(v) for v in row])
        if out is not sys.stdout:
            out.close()
    sys.exit(0 if final["status"] == "finished" else 1)


if __name__ == "__main__":
    main()
