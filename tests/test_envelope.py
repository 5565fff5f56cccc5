#!/usr/bin/env python3
"""test_envelope.py — the golden batch (docs/scenarios.md, envelopes):
a reference band made from a real `twinctl batch` by `twinctl plot
--save-envelope`, and a run leaving it raising an alarm.

  band      the saved band (--band 0, --max-points 0) is, at every row,
            the smallest and largest value of the batch's cases, computed
            here from the cases' CSVs: bit for bit, t from the first row
  inside    the batch's first case run again with the envelope: no alarm
            (a member of the ensemble never leaves its min-max band)
  fault     the same chain with a fouled outlet (tank0.cv below the
            batch's range): envelope_hi raised at the first tick from
            which the level has been above the band for "for" seconds,
            computed here from the run's rows and the band; its value is
            the row's, its limit the band's edge there; the run's
            stats count it
  percent   --band 10 saves the 10-90 % band: at every row between the
            case values' 10th and 90th percentiles (numpy, linear)

Usage: test_envelope.py BUILD_DIR"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from checklib import check, summary

BUILD = os.path.abspath(sys.argv[1])
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWINCTL = os.path.join(BUILD, "controller", "twinctl")
WORK = tempfile.mkdtemp(prefix="twin-envelope-")
STOP, CASES, FOR = 1800, 8, 5


def twinctl(*args):
    return subprocess.run([TWINCTL, *args], capture_output=True, text=True,
                          cwd=WORK, timeout=300)


def read_csv(path):
    with open(path) as f:
        r = list(csv.reader(f))
    return r[0], [[float(x) for x in row] for row in r[1:]]


def batch():
    with open(os.path.join(TOP, "examples",
                           "batch-chain-uncertainty.json")) as f:
        b = json.load(f)
    b["scenario"]["time"]["stop"] = STOP
    b["scenario"]["inputs"]["tank0.valve"]["steps"] = [[0, 0.5], [900, 0.8]]
    b["variations"]["monte_carlo"]["count"] = CASES
    with open(os.path.join(WORK, "batch.json"), "w") as f:
        json.dump(b, f)
    r = twinctl("batch", "batch.json", "-o", "mc", "--rows", "-q")
    check(r.returncode == 0, f"the batch runs ({r.stderr[-300:]})")
    return b


def cases():
    with open(os.path.join(WORK, "mc", "summary.csv")) as f:
        summ = list(csv.DictReader(f))
    out = []
    for row in summ:
        head, rows = read_csv(os.path.join(WORK, "mc", "cases",
                                           row["id"] + ".csv"))
        out.append((row, head, rows))
    return out


def save(band, name):
    r = twinctl("plot", "mc", "-c", "tank0.h", "--band", str(band),
                "--max-points", "0", "--save-envelope", name)
    check(r.returncode == 0, f"plot --save-envelope {name} ({r.stderr})")
    with open(os.path.join(WORK, name)) as f:
        return json.load(f)


def test_band(all_cases):
    env = save(0, "golden.json")
    band = env["envelopes"]["tank0.h"]["band"]
    head, first = all_cases[0][1], all_cases[0][2]
    col = head.index("tank0.h")
    check(len(band) == len(first),
          f"a point per row ({len(band)} for {len(first)})")
    bad = [i for i, (t, lo, hi) in enumerate(band)
           if t != first[i][0] - first[0][0] or
           lo != min(c[2][i][col] for c in all_cases) or
           hi != max(c[2][i][col] for c in all_cases)]
    check(not bad, f"the band is the cases' min and max at every row "
          f"(first wrong: {bad[:3]})")
    return env


def run_with(b, env, params, name):
    sc = dict(b["scenario"])
    sc["instances"] = json.loads(json.dumps(sc["instances"]))
    sc["instances"]["tank0"]["params"] = params
    sc["envelopes"] = env["envelopes"]
    sc["envelopes"]["tank0.h"]["for"] = FOR
    with open(os.path.join(WORK, name + ".json"), "w") as f:
        json.dump(sc, f)
    r = twinctl("run", name + ".json", "-o", name + ".csv", "--events",
                name + ".events")
    check(r.returncode == 0, f"{name}: runs ({r.stderr[-300:]})")
    with open(os.path.join(WORK, name + ".events")) as f:
        alarms = [ln for ln in f if ln.startswith("alarm:")]
    head, rows = read_csv(os.path.join(WORK, name + ".csv"))
    return alarms, head, rows, r.stderr


def test_inside(b, env, first_case):
    params = {"area": float(first_case["tank0.area"]),
              "cv": float(first_case["tank0.cv"])}
    alarms, _, _, _ = run_with(b, env, params, "inside")
    check(alarms == [], f"a case of the batch stays in its envelope "
          f"({alarms[:3]})")


def test_fault(b, env):
    alarms, head, rows, err = run_with(b, env, {"cv": 0.018}, "fault")
    band = env["envelopes"]["tank0.h"]["band"]
    col = head.index("tank0.h")
    # the first tick from which the level has been above the band's top
    # for FOR seconds (one point of the band per row)
    since, want = None, None
    for i, row in enumerate(rows):
        if row[col] > band[i][2]:
            since = row[0] if since is None else since
            if row[0] - since >= FOR:
                want = i
                break
        else:
            since = None
    check(want is not None, "the fouled outlet leaves the band")
    m = re.match(r"alarm: t=(\S+) tank0\.h envelope_hi alarm raised: "
                 r"(\S+) > the limit (\S+)", alarms[0] if alarms else "")
    check(m is not None, f"the first alarm is envelope_hi raised ({alarms[:2]})")
    if m and want is not None:
        check(float(m.group(1)) == rows[want][0],
              f"raised at t = {rows[want][0]} ({m.group(1)})")
        check(abs(float(m.group(2)) - rows[want][col]) <= 1e-8 *
              abs(rows[want][col]) and
              abs(float(m.group(3)) - band[want][2]) <= 1e-8 *
              abs(band[want][2]),
              f"with the row's value and the band's top there ({m.groups()} "
              f"{rows[want][col]} {band[want][2]})")
    raised = sum(1 for a in alarms if " raised:" in a)
    check(f"alarms raised {raised}," in err,
          f"the summary counts {raised} ({err[-200:]})")


def test_percentiles(all_cases):
    try:
        import numpy
    except ImportError:
        print("test_envelope: no numpy: the percentile band is not checked")
        return
    env = save(10, "p10.json")
    band = env["envelopes"]["tank0.h"]["band"]
    col = all_cases[0][1].index("tank0.h")
    worst = 0.0
    for i, (t, lo, hi) in enumerate(band):
        v = numpy.array([c[2][i][col] for c in all_cases])
        worst = max(worst, abs(lo - numpy.percentile(v, 10)),
                    abs(hi - numpy.percentile(v, 90)))
    check(worst <= 1e-12, f"the 10-90 % band at every row (worst {worst})")


b = batch()
all_cases = cases()
check(len(all_cases) == CASES and
      all(c[0]["status"] == "finished" for c in all_cases),
      f"{CASES} cases finished")
env = test_band(all_cases)
test_inside(b, json.loads(json.dumps(env)), all_cases[0][0])
test_fault(b, json.loads(json.dumps(env)))
test_percentiles(all_cases)
shutil.rmtree(WORK, ignore_errors=True)
sys.exit(summary("test_envelope"))
