#!/usr/bin/env python3
"""The broker killed again and again, each time just after the controller
reconnected, while a long fast result stream is on its way: every payload
that arrives parses and equals `twinctl run`'s rows.

This is the pattern under which one live message once arrived with its
first 24 bytes replaced by heap pointers (issue 10, item 2): a reconnect
starts a burst of publishes (the whole window of unacknowledged messages
again, then the backlog), and the kill lands in the middle of it, while
the MQTT client holds partly written packets.

A run of tank-farm-10 (24 h, 86 401 rows) on a controller that sends one
row per message (test_outage.py's LIMITS); a plain subscriber (its
Receiver) checks each message as it arrives — JSON, contract, run,
columns, every row equal to the reference CSV's row of the same t, a seq
seen twice byte for byte the same — and afterwards fills the gaps with
status and replay as docs/orchestrators.md says.  Per run, KILLS times:
wait until the controller logs that it connected again, wait AFTER
seconds, SIGKILL the broker, start it again DOWN seconds later; every
second kill comes after the broker was frozen (SIGSTOP) for FREEZE
seconds, so that the controller's socket is full and its MQTT client
holds a packet written part-way when the connection goes.  The
controller runs with glibc's MALLOC_PERTURB_, so that a freed buffer
sent by mistake arrives as filler bytes, never as plausible rows.  RUNS
runs (TWIN_REKILL_RUNS, default 1, about a minute here; set it higher
for a soak; TWIN_REKILL_STOP shortens the run, for valgrind).

    test_rekill.py [BUILD_DIR]      (else $TWIN_BUILD_DIR, else build/)
"""
import os
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_outage as O  # noqa: E402
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     SOURCE_DIR, Tests, build_dir)

BUILD = build_dir()
KILLS = int(os.environ.get("TWIN_REKILL_KILLS", "6"))  # kills per run
AFTER = float(os.environ.get("TWIN_REKILL_AFTER", "0.3"))  # s after reconnect
DOWN = 0.3         # s the broker stays down
FREEZE = float(os.environ.get("TWIN_REKILL_FREEZE", "0.4"))  # s, odd kills
RUNS = int(os.environ.get("TWIN_REKILL_RUNS", "1"))
# The simulated seconds of the run (under valgrind, fewer).
STOP = int(os.environ.get("TWIN_REKILL_STOP", "86400"))


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def connects(ctl):
    with open(ctl.log, errors="replace") as f:
        return f.read().count("twinctl serve: connected to")


def wait_connects(ctl, more_than, timeout=20.0):
    deadline = time.monotonic() + timeout
    while connects(ctl) <= more_than:
        if time.monotonic() >= deadline:
            # Where it is stuck, and what it said last.
            H._print_stacks(ctl.proc.pid)
            raise HarnessError("the controller did not reconnect within "
                               "%g s; its log ends:\n%s"
                               % (timeout, H._tail(ctl.log, 12)))
        time.sleep(0.01)
    return time.monotonic()


def one_run(broker, client, ctl, scen_path, ref_lines, n, res):
    def log(text):
        print("     run %d: %s" % (n, text))

    run = "rekill-%d-%s" % (n, uuid.uuid4().hex[:8])
    rcv = O.Receiver(broker, run, ref_lines).connect()
    res["rcv"] = rcv
    rcv.subscribe(rcv.result_topic, rcv.response_topic)
    with open(scen_path) as f:
        scen = f.read()
    rcv.publish("twin/%s/request" % O.CTL,
                '{"contract":"twin.request/1","id":"%s","type":"run",'
                '"scenario":%s}' % (run, scen))
    acc = rcv.wait(rcv.is_response, 1, 10.0)[0].payload
    expect(acc.get("status") == "accepted", "the run: %r" % acc)
    # The first kill mid-stream, the next ones just after each reconnect.
    while rcv.rows < 2000:
        expect(time.monotonic() - rcv.heard < 10, "no results")
        time.sleep(0.01)
    kept = []
    for k in range(KILLS):
        before = connects(ctl)
        if k > 0:
            time.sleep(AFTER)    # the reconnect was logged just now
        at_log = os.path.getsize(ctl.log)
        broker.outage(DOWN, kill=True, freeze=FREEZE if k % 2 else 0.0)
        wait_connects(ctl, before)
        kept += O.kept_unacknowledged(ctl.log, at_log)
    back = time.monotonic()
    O.connected(rcv, client)
    log("%d kills, each %.1f s after the controller reconnected (every "
        "second one after a %.1f s freeze); it kept %s unacknowledged "
        "messages at each loss" % (KILLS, AFTER, FREEZE, kept))
    expect(kept and max(kept) > 0, "no kill came while messages were on "
           "their way (kept %s)" % kept)
    res["end"], res["requests"], res["replays"] = O.follow(rcv, back, log)
    res["last_seq"] = res["end"]["last_seq"]
    log("%d status and replay requests, %d messages asked again, %d "
        "duplicates dropped" % (res["requests"], res["replays"],
                                rcv.duplicates))


def main():
    # glibc fills what is freed with 0xa5 bytes (and what is allocated
    # with 0x5a): a freed payload sent cannot pass for rows.
    os.environ.setdefault("MALLOC_PERTURB_", "165")
    t = Tests()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="twin-rekill-") as tmp:
        scen_path = os.path.join(tmp, "tank-farm-10.json")
        subprocess.run([sys.executable, os.path.join(
            SOURCE_DIR, "examples", "gen_tank_farm.py"), "10", "--stop",
            str(STOP), "-o", scen_path], check=True, timeout=30)
        _, ref_data = O.reference(tmp, scen_path)
        ref_lines = ref_data.decode().rstrip("\n").split("\n")
        n_rows = len(ref_lines) - 1
        with Broker() as broker, \
                Controller(broker, O.CTL, build=BUILD,
                           limits=O.LIMITS) as ctl, \
                Client(broker) as client:
            client.mqtt.reconnect_delay_set(min_delay=0.25, max_delay=1)
            for n in range(1, RUNS + 1):
                res = {}
                try:
                    if t.check("run %d: the broker killed %d times just "
                               "after the controller reconnected, the run "
                               "followed to its end" % (n, KILLS), one_run,
                               broker, client, ctl, scen_path, ref_lines, n,
                               res):
                        t.check("run %d: every payload parses and equals "
                                "twinctl run's rows, each row once" % n,
                                O.check_plain, res, n_rows)
                finally:
                    if "rcv" in res:
                        res["rcv"].close()
    print("%d run(s) in %.0f s" % (RUNS, time.monotonic() - t0))
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
