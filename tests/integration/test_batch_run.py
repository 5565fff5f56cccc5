#!/usr/bin/env python3
"""`twinctl batch` end to end, with the real models and no broker
(docs/batch.md):

  grid        a 3 × 3 grid over a pump–tank–PI chain gives 9 cases whose
              KPIs equal, to the bit, those of `twinctl run --functions`
              on each variant written here from the base scenario, and
              whose rows equal the single runs' CSV byte for byte;
  monte_carlo the same seed gives the same summary byte for byte with -j1
              and -j2, another seed other draws in every case;
  failures    a case that fails, crashes or runs past --timeout is
              reported with its status and the others finish (the one
              that finishes against the analytic solution);
  resume      interrupted with SIGINT, and with SIGKILL, then started
              again in the same directory: only the cases without a
              result run, and the summary equals an uninterrupted run's;
  refusals    another batch in the same directory, a rejected document;
  examples    examples/batch-*.json list and export their cases.

Usage: python3 tests/integration/test_batch_run.py BUILD_DIR"""

import copy
import csv
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HarnessError, Tests, build_dir, twinctl  # noqa: E402

BUILD = build_dir()
TWINCTL = twinctl(BUILD)
PLUGINS = os.path.join(BUILD, "tests", "plugins")

# One chain of tank-farm-N (reference-models.md) over STOP seconds.
BASE = {
    "name": "chain",
    "time": {"start": 0, "stop": 7200, "dt": 1},
    "solver": {"method": "bdf", "rtol": 1e-8, "atol": 1e-10},
    "instances": {
        "pump0": {"model": "pump", "start": {"w": 0.0}},
        "tank0": {"model": "tank", "start": {"h": 1.0}},
        "pi0": {"model": "pi", "params": {"sp": 2.0}},
    },
    "connections": [
        {"from": "pump0.q", "to": "tank0.q_in"},
        {"from": "tank0.h", "to": "pi0.pv"},
        {"from": "pi0.out", "to": "pump0.cmd"},
    ],
    "inputs": {"tank0.valve": {"steps": [[0, 0.5], [3600, 0.8]]}},
    "outputs": ["tank0.h", "pump0.w", "pump0.power", "pi0.out"],
}
KPIS = [
    {"name": "mean_level", "function": "mean", "of": "tank0.h"},
    {"name": "peak_level", "function": "max", "of": "tank0.h"},
    {"name": "energy", "function": "integral", "of": "pump0.power"},
    {"name": "settle", "function": "settling_time", "of": "tank0.h",
     "band": 0.02},
]


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def batch(args, check=None, timeout=120):
    """Run twinctl batch ARGS; returns (exit status, stderr)."""
    p = subprocess.run([TWINCTL, "batch"] + args, capture_output=True,
                       text=True, timeout=timeout)
    if check is not None and p.returncode != check:
        raise HarnessError("twinctl batch %s: exit %d, expected %d:\n%s"
                           % (" ".join(args), p.returncode, check,
                              p.stderr[-2000:]))
    return p.returncode, p.stderr


def summary(out_dir):
    with open(os.path.join(out_dir, "summary.csv"), newline="") as f:
        return list(csv.DictReader(f))


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def grid_doc(tmp):
    return write_json(os.path.join(tmp, "grid.json"), {
        "contract": "twin.batch/1", "name": "grid", "scenario": BASE,
        "variations": {"grid": [
            {"param": "pi0.sp", "values": [1.5, 2.0, 2.5]},
            {"param": "tank0.area", "range": {"from": 1.5, "to": 3.0,
                                              "steps": 2}}]},
        "kpis": KPIS})


def check_grid(tmp):
    doc = grid_doc(tmp)
    out = os.path.join(tmp, "grid")
    batch([doc, "-o", out, "-j", "2", "--rows", "-q"], check=0)
    rows = summary(out)
    expect(len(rows) == 9, "9 cases, got %d" % len(rows))
    listed = subprocess.run([TWINCTL, "batch", doc, "--dry-run", "-q"],
                            capture_output=True, text=True, check=True)
    ids = [line.split(",")[0] for line in listed.stdout.splitlines()[1:]]
    expect(ids == [r["id"] for r in rows], "--dry-run lists the same ids")
    means = set()
    for k, r in enumerate(rows):
        sp, area = [1.5, 2.0, 2.5][k // 3], [1.5, 2.25, 3.0][k % 3]
        expect(r["id"].startswith("%04d-" % k), "case order: %s" % r["id"])
        expect(float(r["pi0.sp"]) == sp and float(r["tank0.area"]) == area,
               "case %s varies sp=%s area=%s, expected %s %s"
               % (r["id"], r["pi0.sp"], r["tank0.area"], sp, area))
        expect(r["status"] == "finished", "case %s: %s %s"
               % (r["id"], r["status"], r["message"]))
        # The same variant, written here and run alone.
        scen = copy.deepcopy(BASE)
        scen["instances"]["pi0"]["params"]["sp"] = sp
        scen["instances"]["tank0"]["params"] = {"area": area}
        scen["functions"] = KPIS
        sfile = write_json(os.path.join(tmp, "v%d.json" % k), scen)
        csv_file = os.path.join(tmp, "v%d.csv" % k)
        fn_file = os.path.join(tmp, "v%d.fn.json" % k)
        subprocess.run([TWINCTL, "run", sfile, "-o", csv_file, "--functions",
                        fn_file, "-q"], check=True, timeout=60)
        with open(fn_file) as f:
            single = json.load(f)["functions"]
        for kpi in KPIS:
            name = kpi["name"]
            expect(single[name] is not None and
                   float(r[name]) == single[name],
                   "case %s: %s = %s in the batch, %r run alone"
                   % (r["id"], name, r[name], single[name]))
        expect(read_bytes(csv_file) ==
               read_bytes(os.path.join(out, "cases", r["id"] + ".csv")),
               "case %s: its rows differ from the single run's" % r["id"])
        means.add(tuple(r[k["name"]] for k in KPIS))
    expect(len(means) == 9, "the variants differ (%d distinct KPI sets)"
           % len(means))


def mc_doc(tmp, seed):
    return write_json(os.path.join(tmp, "mc%d.json" % seed), {
        "contract": "twin.batch/1", "name": "mc", "scenario": BASE,
        "variations": {"monte_carlo": {"count": 6, "seed": seed, "factors": [
            {"param": "tank0.area", "dist": "normal", "mean": 2.0,
             "sd": 0.2, "min": 1.0},
            {"param": "tank0.cv", "dist": "uniform", "min": 0.02,
             "max": 0.04}]}},
        "kpis": KPIS[:1]})


def check_monte_carlo(tmp):
    a, b, c = (os.path.join(tmp, d) for d in ("mc-a", "mc-b", "mc-c"))
    batch([mc_doc(tmp, 42), "-o", a, "-j", "1", "-q"], check=0)
    batch([mc_doc(tmp, 42), "-o", b, "-j", "2", "-q"], check=0)
    batch([mc_doc(tmp, 43), "-o", c, "-j", "2", "-q"], check=0)
    sa = read_bytes(os.path.join(a, "summary.csv"))
    expect(sa == read_bytes(os.path.join(b, "summary.csv")),
           "seed 42: -j1 and -j2 summaries differ")
    ra, rc = summary(a), summary(c)
    expect(len(ra) == 6 and len(rc) == 6, "6 draws")
    for x, y in zip(ra, rc):
        for name in ("tank0.area", "tank0.cv"):
            expect(x[name] != y[name], "seed 42 and 43 drew the same %s (%s)"
                   % (name, x[name]))
        expect(float(x["tank0.area"]) >= 1.0 and
               0.02 <= float(x["tank0.cv"]) <= 0.04, "draws in bounds")
        expect(x["status"] == "finished", "draw %s finished" % x["id"])


def check_failures(tmp):
    doc = write_json(os.path.join(tmp, "faults.json"), {
        "contract": "twin.batch/1", "name": "faults",
        "scenario": {"time": {"stop": 20, "dt": 1},
                     "solver": {"rtol": 1e-10, "atol": 1e-20},
                     "instances": {"f0": {"model": "failing",
                                          "params": {"t_fail": 5}}}},
        "variations": {"list": {
            "factors": [{"param": "f0.mode"}, {"param": "f0.t_fail"}],
            "values": [[0, 5], [4, 5], [6, 5], [0, 100]]}},
        "kpis": [{"name": "x_end", "function": "final", "of": "f0.x"}]})
    out = os.path.join(tmp, "faults")
    code, err = batch([doc, "-o", out, "--models", PLUGINS, "--timeout",
                       "2", "-j", "2"], check=1)
    rows = summary(out)
    got = [(r["status"], r["message"].split("[")[-1]) for r in rows]
    expect(got == [("failed", "solver_failure]"),
                   ("crashed", "model_crashed]"), ("timeout", "timeout]"),
                   ("finished", "")], "statuses %r" % got)
    expect("SIGSEGV in model 'failing'" in rows[1]["message"],
           "the crash names its signal and model: %s" % rows[1]["message"])
    x = float(rows[3]["x_end"])  # dx/dt = −x, x(0) = 1: x(20) = e^−20
    expect(abs(x - math.exp(-20)) < 1e-6 * math.exp(-20),
           "x(20) = %r, expected e^-20 = %r" % (x, math.exp(-20)))
    for r in rows[:3]:
        expect("case %s %s" % (r["id"], r["status"]) in err,
               "a line for case %s on stderr" % r["id"])


def resume_doc(tmp):
    scen = copy.deepcopy(BASE)
    scen["time"]["stop"] = 21600
    return write_json(os.path.join(tmp, "resume.json"), {
        "contract": "twin.batch/1", "name": "resume", "scenario": scen,
        "variations": {"grid": [
            {"param": "pi0.sp", "range": {"from": 1.5, "to": 2.5,
                                          "steps": 3}},
            {"start": "tank0.h", "values": [0.5, 1.0, 1.5]}]},
        "kpis": KPIS})


def results_in(out):
    d = os.path.join(out, "results")
    try:
        return sorted(n for n in os.listdir(d) if n.endswith(".json"))
    except FileNotFoundError:
        return []


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def interrupt(doc, out, sig, extra):
    """Start the batch, stop it with sig once 3 cases have a result;
    returns the names of the results it left and its stderr."""
    p = subprocess.Popen([TWINCTL, "batch", doc, "-o", out, "-j", "2"] +
                         extra, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(results_in(out)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    kids = children(p.pid)
    while not kids and time.monotonic() < deadline:  # between two cases
        kids = children(p.pid)
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    if sig == signal.SIGINT:
        expect(p.returncode == 130, "SIGINT: exit %d, expected 130"
               % p.returncode)
        expect("run the same command again to resume" in err,
               "SIGINT says how to resume:\n" + err)
    else:
        expect(p.returncode == -signal.SIGKILL, "killed")
        expect(kids, "cases were running when the batch was killed")
        deadline = time.monotonic() + 5
        while any(alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.01)
        expect(not any(alive(k) for k in kids),
               "the cases' processes outlived their batch")
    left = results_in(out)
    expect(3 <= len(left) < 12, "interrupted mid-way: %d of 12 results"
           % len(left))
    return left


def check_resume(tmp):
    doc = resume_doc(tmp)
    whole = os.path.join(tmp, "whole")
    batch([doc, "-o", whole, "-j", "2", "-q"], check=0)
    expected = read_bytes(os.path.join(whole, "summary.csv"))
    for sig, extra in ((signal.SIGINT, []),
                       (signal.SIGINT, ["--rows", "--format", "mat"]),
                       (signal.SIGKILL, ["--rows"]),
                       (signal.SIGKILL, ["--rows", "--format", "mat"])):
        out = os.path.join(tmp, "resume-%d-%s" % (sig, "-".join(extra)))
        left = interrupt(doc, out, sig, extra)
        stamps = {n: os.stat(os.path.join(out, "results", n)).st_mtime_ns
                  for n in left}
        if sig == signal.SIGINT:
            stale = [n for sub in ("results", "cases")
                     if os.path.isdir(os.path.join(out, sub))
                     for n in os.listdir(os.path.join(out, sub))
                     if n.endswith(".tmp") or n.endswith(".spill")]
            expect(not stale, "half-written files left: %r" % stale)
            pending = [r for r in summary(out) if r["status"] == "pending"]
            expect(len(pending) == 12 - len(left), "the interrupted summary "
                   "lists %d pending cases, expected %d"
                   % (len(pending), 12 - len(left)))
        _, err = batch([doc, "-o", out, "-j", "2"] + extra, check=0)
        line = "12 cases, %d with a result already; running %d" % (
            len(left), 12 - len(left))
        expect(line in err, "resumed run says '%s':\n%s" % (line, err))
        for n, t in stamps.items():
            expect(os.stat(os.path.join(out, "results", n)).st_mtime_ns == t,
                   "case %s ran again" % n)
        expect(len(results_in(out)) == 12, "every case has a result")
        expect(read_bytes(os.path.join(out, "summary.csv")) == expected,
               "the resumed summary differs from an uninterrupted run's")
        # Nothing half-written stays behind: a killed case's .tmp, or the
        # spill file of a MAT case (ID.mat.tmp.spill).
        stale = [n for sub in ("results", "cases")
                 if os.path.isdir(os.path.join(out, sub))
                 for n in os.listdir(os.path.join(out, sub))
                 if ".tmp" in n or n.endswith(".spill")]
        expect(not stale, "after the resume, half-written files are left: %r"
               % stale)
        if "mat" in extra:
            import scipy.io
            for r in summary(out):
                m = scipy.io.loadmat(os.path.join(out, "cases",
                                                  r["id"] + ".mat"))
                n = m["data_2"].shape[1]
                expect(n == 21601, "case %s has %d rows, not 21601"
                       % (r["id"], n))
        elif extra:
            for r in summary(out):
                with open(os.path.join(out, "cases", r["id"] + ".csv")) as f:
                    n = sum(1 for _ in f)
                expect(n == 21602, "case %s has %d lines of rows, not 21602"
                       % (r["id"], n))


def check_refusals(tmp):
    out = os.path.join(tmp, "grid")  # holds the grid batch
    if not os.path.isdir(out):
        batch([grid_doc(tmp), "-o", out, "-q"], check=0)
    code, err = batch([mc_doc(tmp, 42), "-o", out], check=2)
    expect("holds another batch" in err, "another batch refused:\n" + err)
    bad = write_json(os.path.join(tmp, "bad.json"), {
        "contract": "twin.batch/1", "scenario": BASE,
        "variations": {"grid": [{"param": "tank0.areaa", "values": [1]},
                                {"param": "tank0.area", "values": [-1]}]}})
    code, err = batch([bad, "-o", os.path.join(tmp, "bad")], check=2)
    expect("2 problems" in err and "/variations/grid/0/param" in err and
           "/variations/grid/1/values/0" in err,
           "every problem listed:\n" + err)
    expect(not os.path.exists(os.path.join(tmp, "bad")),
           "a rejected batch makes no directory")


def check_examples(tmp):
    """The batch files shipped in examples/ load, with their cases."""
    src = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for name, n in (("batch-tank-farm.json", 9),
                    ("batch-monte-carlo.json", 40)):
        p = subprocess.run([TWINCTL, "batch", os.path.join(src, "examples",
                                                             name),
                            "--dry-run", "--export", os.path.join(tmp, name)],
                           capture_output=True, text=True, timeout=60)
        expect(p.returncode == 0, "%s: %s" % (name, p.stderr))
        expect(len(p.stdout.splitlines()) == n + 1 and
               len(os.listdir(os.path.join(tmp, name))) == n,
               "%s: %d cases listed and exported" % (name, n))


def main():
    tests = Tests()
    tmp = tempfile.mkdtemp(prefix="twin-batch.")
    try:
        tests.check("grid 3x3 equals single runs", check_grid, tmp)
        tests.check("monte carlo reproducible", check_monte_carlo, tmp)
        tests.check("failing cases reported, others go on", check_failures,
                    tmp)
        tests.check("resume after SIGINT and SIGKILL", check_resume, tmp)
        tests.check("refusals", check_refusals, tmp)
        tests.check("examples", check_examples, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tests.summary()


if __name__ == "__main__":
    sys.exit(main())
