#!/usr/bin/env python3
"""A minimal twinctl orchestrator: run one scenario, write its rows as CSV.

    orchestrator.py --controller ctl-1 scenarios/tank-overflow.json -o out.csv
    orchestrator.py --pool tank-overflow            # a stored scenario, any controller

It speaks the wire contract of docs/contract.md over MQTT v5 (python3-paho-mqtt
1.6): subscribe to the answers first, then publish the request, print every
response on stderr, gather the result messages by seq, and when the final
response has come and seq 0 ... last_seq are all here, write the CSV.
Exit status: 0 finished; 1 rejected, failed, cancelled or rows missing;
2 bad usage; 3 no connection or no answer in time.
"""
import argparse
import csv
import json
import os
import queue
import sys
import time
import uuid

try:
    import paho.mqtt.client as mqtt
except ImportError:
    sys.exit("orchestrator: needs paho-mqtt (Debian: python3-paho-mqtt)")

FINAL = ("finished", "failed", "cancelled", "rejected")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=
                                 argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", help="a scenario JSON file, or the name of a "
                    "scenario stored on the controller")
    ap.add_argument("--broker", default="tcp://127.0.0.1:1883",
                    help="broker as tcp://HOST:PORT (default %(default)s)")
    ap.add_argument("--prefix", default="twin", help="topic prefix "
                    "(default %(default)s)")
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--controller", metavar="ID", help="send to this "
                     "controller")
    who.add_argument("--pool", action="store_true", help="send to the pool: "
                     "any controller of the group takes it")
    ap.add_argument("-o", "--output", default="-", help="CSV file "
                    "(default: stdout)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to "
                    "wait for the run to end (default %(default)s)")
    a = ap.parse_args()

    if os.path.exists(a.scenario):          # a file: send the scenario itself
        with open(a.scenario) as f:
            scenario = json.load(f)
    else:                                   # else the name of a stored one
        scenario = a.scenario
    rid = "orch-" + uuid.uuid4().hex        # request id = run id
    request = {"contract": "twin.request/1", "id": rid, "type": "run",
               "scenario": scenario}

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
    c = "+" if a.pool else a.controller
    topics = ["%s/%s/%s/%s" % (a.prefix, c, what, rid)
              for what in ("response", "result", "event")]
    client.subscribe([(t, 1) for t in topics])
    kind, rcs = next_event(deadline)
    if kind != "suback" or any(r.value >= 128 for r in rcs):
        sys.exit("orchestrator: subscription refused: %s" % rcs)

    # 2. Then publish the request (QoS 1).
    dest = "%s/%s/request" % (a.prefix, "pool" if a.pool else a.controller)
    client.publish(dest, json.dumps(request), qos=1)

    # 3. Read responses, results and events until the final response has
    # come and so have result seq 0 ... last_seq.
    controller = None if a.pool else a.controller
    final, columns, batches = None, None, {}

    def missing():
        return [s for s in range(final.get("last_seq", -1) + 1)
                if s not in batches]
    deadline = time.monotonic() + a.timeout
    while final is None or missing():
        try:
            kind, m = inbox.get(timeout=max(0, deadline - time.monotonic()))
        except queue.Empty:
            if final is None:
                print("orchestrator: no final response in time",
                      file=sys.stderr)
                sys.exit(3)
            sys.exit("orchestrator: result seq %s never came (ask `status`, "
                     "then `replay`)" % missing()[:10])
        if kind != "msg":
            continue                    # paho reconnected: nothing to do
        level = m.topic.split("/")
        msg = json.loads(m.payload)
        if controller is None and level[-2] == "response":
            controller = msg.get("controller")      # the one that answered
        if level[-3] != controller:
            continue                                # another controller
        if level[-2] == "response":
            print(json.dumps(msg), file=sys.stderr)
            if msg.get("status") in FINAL:
                final = msg     # wait for late results, but not forever:
                deadline = min(deadline, time.monotonic() + 10)
            elif msg.get("status") == "accepted":
                columns = msg.get("columns")
        elif level[-2] == "result":
            batches[msg["seq"]] = msg               # a duplicate just replaces
            columns = columns or msg["columns"]
        elif level[-2] == "event":
            print("event: " + json.dumps(msg), file=sys.stderr)
    client.disconnect()
    client.loop_stop()

    # 4. Write the rows in seq order.
    if final["status"] != "rejected":
        out = sys.stdout if a.output == "-" else open(a.output, "w", newline="")
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        for s in sorted(batches):
            for row in batches[s]["rows"]:
                w.writerow(["nan" if v is None else v for v in row])
        if out is not sys.stdout:
            out.close()
    sys.exit(0 if final["status"] == "finished" else 1)


if __name__ == "__main__":
    main()
