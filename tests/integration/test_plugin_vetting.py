#!/usr/bin/env python3
"""Bad plugins in a `twinctl serve` model directory (docs/plugin-guide.md,
"How a plugin is vetted"; docs/serve.md, "Reloading"), against a real
mosquitto and the plugins of tests/plugins/vet: a plugin whose entry point
segfaults or aborts, whose descriptor lies about its variable count or
points a name nowhere, or whose create segfaults, is refused at start and
at SIGHUP with a log line naming the file, the phase and the signal; the
daemon stays up, `describe` lists the good plugins beside them and a run
of one works.  A new version of a plugin renamed over the old file is the
version `describe` shows after SIGHUP (dlopen by name kept the old one).

Usage: python3 tests/integration/test_plugin_vetting.py BUILD_DIR"""

import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Client, Controller, HarnessError,  # noqa: E402
                     Tests, build_dir)

BUILD = build_dir()
PLUGINS = os.path.join(BUILD, "tests", "plugins")
VET = os.path.join(PLUGINS, "vet")
WORK = tempfile.mkdtemp(prefix="twin-vetting-")
MODELS = os.path.join(WORK, "models")

# (plugin, words its log line must have), at start and added before SIGHUP
AT_START = [("entry_segfaults", "its entry point died of SIGSEGV "
                                "(segmentation fault)"),
            ("lying_count", "n_variables is 1099511627776"),
            ("garbage_name", "died of SIGSEGV (segmentation fault) reading "
                             "its descriptor")]
AT_RELOAD = [("entry_aborts", "its entry point died of SIGABRT (aborted)"),
             ("create_segfaults", "create died of SIGSEGV (segmentation "
                                  "fault) at the default parameters")]


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def log_text(ctl):
    with open(ctl.log, errors="replace") as f:
        return f.read()


def reload(ctl, timeout=20.0):
    """SIGHUP, and wait until the log says `libraries:` once more."""
    count = log_text(ctl).count("libraries:") + 1
    ctl.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while log_text(ctl).count("libraries:") < count:
        expect(ctl.alive(), "twinctl serve died; its log:\n%s"
               % log_text(ctl)[-3000:])
        expect(time.monotonic() < deadline, "no reload within %g s" % timeout)
        time.sleep(0.05)


def models(client, ctl):
    r = client.request({"type": "describe"}, controller=ctl.id).response()
    return {m["name"]: m["version"] for m in r["models"]}


def check_refused(ctl, plugins):
    text = log_text(ctl)
    for name, words in plugins:
        path = os.path.join(MODELS, name + ".so")
        lines = [ln for ln in text.splitlines() if path in ln]
        expect(lines, "no log line names %s:\n%s" % (path, text[-3000:]))
        expect(any(words in ln and "refused" in ln for ln in lines),
               "the log line on %s does not say '%s' and refused: %r"
               % (name, words, lines))


def check_start(client, ctl):
    have = models(client, ctl)
    expect(have.get("decay") == "0.0.1" and have.get("swap") == "1.0",
           "describe does not list decay 0.0.1 and swap 1.0: %r" % have)
    for name, _ in AT_START:
        expect(name not in have, "describe lists %s: %r" % (name, have))
    check_refused(ctl, AT_START)
    scenario = {"name": "decay-only", "time": {"stop": 5, "dt": 1},
                "instances": {"d0": {"model": "decay"}}}
    acc, final, columns, rows, _ = client.run_scenario(scenario,
                                                       controller=ctl.id)
    expect(final.get("status") == "finished" and len(rows) == 6,
           "the run of decay: %r, %d rows" % (final, len(rows)))


def check_reload_with_bad(client, ctl):
    for name, _ in AT_RELOAD:
        shutil.copy(os.path.join(VET, name + ".so"), MODELS)
    reload(ctl)
    expect(ctl.alive(), "twinctl serve died at SIGHUP")
    have = models(client, ctl)
    expect("decay" in have and "swap" in have, "describe after SIGHUP: %r"
           % have)
    check_refused(ctl, AT_RELOAD)


def check_swap(client, ctl):
    new = os.path.join(MODELS, "swap.so.new")
    shutil.copy(os.path.join(VET, "swap_v2.so"), new)
    os.rename(new, os.path.join(MODELS, "swap.so"))
    reload(ctl)
    have = models(client, ctl)
    expect(have.get("swap") == "2.0",
           "after the new swap.so was renamed over the old and SIGHUP, "
           "describe shows swap %r, not 2.0" % have.get("swap"))


def main():
    t = Tests()
    os.mkdir(MODELS)
    shutil.copy(os.path.join(PLUGINS, "decay.so"), MODELS)
    shutil.copy(os.path.join(VET, "swap_v1.so"),
                os.path.join(MODELS, "swap.so"))
    for name, _ in AT_START:
        shutil.copy(os.path.join(VET, name + ".so"), MODELS)
    try:
        with Broker() as broker, Client(broker) as client:
            with Controller(broker, "vetting", build=BUILD,
                            models=[MODELS]) as ctl:
                t.check("serve starts beside bad plugins, refuses each "
                        "with its reason, runs the good one", check_start,
                        client, ctl)
                t.check("SIGHUP with more bad plugins: alive, each "
                        "refused", check_reload_with_bad, client, ctl)
                t.check("a new version renamed over the old, SIGHUP: "
                        "describe shows the new", check_swap, client, ctl)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
