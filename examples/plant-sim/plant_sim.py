#!/usr/bin/env python3
"""A demo plant for the live twin (docs/live-twin.md): it runs a plant
scenario of its own with `twinctl run --realtime` and publishes chosen
variables at every tick to MQTT topics, as {"value": v, "t": wall time}
(JSON; t in Unix seconds, the clock a twin's "timestamp" reads).

    plant_sim.py --broker tcp://127.0.0.1:1883 [--plant plant.json]
                 [--stop S] [--dt S] [--noise VAR=SIGMA]... [--seed N]
                 [--fault T:INSTANCE.PARAM=VALUE] [--twinctl PATH]
                 [--retain] [--quiet]

The plant file (plant.json beside this script by default) holds:

  scenario  a scenario (docs/scenarios.md), paced in real time;
  publish   {"instance.variable": "topic", ...}: what is published where;
  states    the states carried over a fault (below).

--noise adds Gaussian noise of standard deviation SIGMA to one published
variable (repeatable; --seed makes it repeatable too).  --fault changes a
parameter at simulated time T (a whole number of ticks): the plant runs to
T, then on from T with the parameter changed, its states taken from the
row at T (the row at T is published once).  The plant ends at its stop
time, or on SIGINT/SIGTERM.

Standard library plus python3-paho-mqtt (scripts/deps.sh installs it).
"""
import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--broker", default=os.environ.get(
        "TWIN_BROKER", "tcp://127.0.0.1:1883"))
    p.add_argument("--plant", default=os.path.join(HERE, "plant.json"))
    p.add_argument("--twinctl", default=os.path.join(
        SOURCE, "build", "controller", "twinctl"))
    p.add_argument("--stop", type=float, help="stop time, s (default: the "
                   "scenario's)")
    p.add_argument("--dt", type=float, help="tick, s (default: the "
                   "scenario's)")
    p.add_argument("--noise", action="append", default=[],
                   metavar="VAR=SIGMA")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fault", metavar="T:INSTANCE.PARAM=VALUE")
    p.add_argument("--retain", action="store_true",
                   help="publish retained (a twin started later gets the "
                   "last values at once)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    noise = {}
    for n in a.noise:
        var, _, sigma = n.partition("=")
        try:
            noise[var] = float(sigma)
        except ValueError:
            p.error("--noise %s: give VAR=SIGMA, e.g. tank0.h=0.002" % n)
    a.noise = noise
    if a.fault:
        try:
            t, _, rest = a.fault.partition(":")
            name, _, value = rest.partition("=")
            inst, _, param = name.partition(".")
            a.fault = (float(t), inst, param, float(value))
            if not inst or not param:
                raise ValueError
        except ValueError:
            p.error("--fault %s: give T:INSTANCE.PARAM=VALUE, e.g. "
                    "30:tank0.cv=0.02" % a.fault)
    return a


def host_port(url):
    for scheme in ("tcp://", "mqtt://"):
        if url.startswith(scheme):
            url = url[len(scheme):]
    host, _, port = url.rpartition(":")
    return (host or url), int(port or 1883) if host else 1883


class Plant:
    def __init__(self, a):
        self.a = a
        with open(a.plant) as f:
            self.doc = json.load(f)
        self.publish = self.doc["publish"]
        self.states = self.doc.get("states", [])
        for var in a.noise:
            if var not in self.publish:
                sys.exit("plant_sim: --noise %s: not a published variable "
                         "(%s)" % (var, ", ".join(self.publish)))
        self.rng = random.Random(a.seed)
        self.proc = None
        self.stopping = False
        self.sent = 0
        host, port = host_port(a.broker)
        self.mq = mqtt.Client(client_id="plant-sim-%d" % os.getpid(),
                              protocol=mqtt.MQTTv5)
        self.mq.connect(host, port, keepalive=30)
        self.mq.loop_start()

    def segment(self, start, stop, params, states):
        """Run the scenario from start to stop with params changed and
        states as start values; publish every row (not the first when
        states are given: it was the last of the segment before); returns
        the last row."""
        sc = json.loads(json.dumps(self.doc["scenario"]))
        sc["time"] = dict(sc["time"], start=start, stop=stop)
        if self.a.dt:
            sc["time"]["dt"] = self.a.dt
        sc["outputs"] = sorted(set(self.publish) | set(self.states))
        for (inst, param), v in params.items():
            sc["instances"][inst].setdefault("params", {})[param] = v
        for name, v in states.items():
            inst, _, var = name.partition(".")
            sc["instances"][inst].setdefault("start", {})[var] = v
        with tempfile.NamedTemporaryFile("w", suffix=".json",
                                         delete=False) as f:
            json.dump(sc, f)
            path = f.name
        try:
            self.proc = subprocess.Popen(
                [self.a.twinctl, "run", "--realtime", path],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            reader = csv.reader(self.proc.stdout)
            header = next(reader)
            last = None
            for row in reader:
                values = dict(zip(header, (float(x) for x in row)))
                if last is None and states:
                    last = values  # the row at the fault: published before
                    continue
                self.send(values)
                last = values
            rc = self.proc.wait()
            if rc != 0 and not self.stopping:
                sys.exit("plant_sim: twinctl run ended with status %d" % rc)
            return last
        finally:
            os.unlink(path)

    def send(self, values):
        now = time.time()
        for var, topic in self.publish.items():
            v = values[var]
            if var in self.a.noise:
                v += self.rng.gauss(0.0, self.a.noise[var])
            self.mq.publish(topic, json.dumps({"value": v, "t": now}),
                            qos=1, retain=self.a.retain)
            self.sent += 1
        if not self.a.quiet:
            print("t=%g %s" % (values["t"], " ".join(
                "%s=%.6g" % (k, values[k]) for k in self.publish)),
                flush=True)

    def run(self):
        t = self.doc["scenario"]["time"]
        start, stop = t.get("start", 0.0), self.a.stop or t["stop"]
        params = {}
        if self.a.fault and start < self.a.fault[0] < stop:
            tf, inst, param, value = self.a.fault
            last = self.segment(start, tf, params, {})
            if self.stopping or last is None:
                return
            params[(inst, param)] = value
            if not self.a.quiet:
                print("fault at t=%g: %s.%s = %g" % (tf, inst, param, value),
                      flush=True)
            self.segment(tf, stop, params,
                         {s: last[s] for s in self.states})
        else:
            self.segment(start, stop, params, {})

    def stop(self, *_):
        self.stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()

    def close(self):
        self.mq.loop_stop()
        self.mq.disconnect()


def main(argv):
    a = parse_args(argv)
    plant = Plant(a)
    signal.signal(signal.SIGTERM, plant.stop)
    signal.signal(signal.SIGINT, plant.stop)
    try:
        plant.run()
    finally:
        time.sleep(0.2)  # the last publishes out
        plant.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
