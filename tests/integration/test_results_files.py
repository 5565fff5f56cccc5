#!/usr/bin/env python3
"""Result files (docs/results.md): `twinctl run -o x.mat|x.h5` read back by
independent readers — SciPy's loadmat, h5py — against the CSV of the same
run, bit for bit (a CSV cell is the shortest text that reads back, so
float(text) is the double that was written), on the reference scenario
tank-farm-3 (pumps, tanks and PI controllers):

  same_rows      CSV, MAT, HDF5 (and HDF5 with --compress) of one run hold
                 the same doubles; the MAT file has the Modelica tools'
                 layout (Aclass, name, description with units, dataInfo,
                 data_1, data_2), the HDF5 dataset the column names, units
                 and the scenario as attributes;
  cancelled      a run paced in real time and stopped by SIGINT leaves a
                 valid HDF5 file, and a valid MAT file, holding the rows up
                 to the stop: the first rows of the CSV of the whole run;
  killed         a run paced in real time whose `twinctl run` is killed
                 outright (SIGKILL, nothing finishes the file) leaves a MAT
                 file that loadmat reads, holding the CSV's first rows up
                 to its last write (data_2's size is kept current);
  bad_inputs     an unknown --format, a binary format to stdout, a path
                 that cannot be written: a clear error, no rows;
  submit         `twinctl submit -o x.h5|x.mat` against a real `twinctl
                 serve` on a real mosquitto: the same doubles as the run's
                 CSV (and the scenario in the HDF5 file);
  batch          `twinctl batch --rows --format hdf5|mat`, here and on a
                 controller over MQTT: each case's file holds the doubles
                 of the same case's CSV;
  plot           `twinctl plot` of the CSV, the MAT and the HDF5 file
                 writes the same gnuplot script and data (--script); a
                 damaged .h5 or .mat is refused with a clear error.

Usage: /usr/bin/python3 tests/integration/test_results_files.py BUILD_DIR"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import scipy.io

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Broker, Controller, HarnessError, Tests,  # noqa: E402
                     build_dir, twinctl)

BUILD = build_dir()
TWINCTL = twinctl(BUILD)
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCENARIO = os.path.join(SOURCE, "scenarios", "tank-farm-3.json")


def expect(cond, what):
    if not cond:
        raise HarnessError(what)


def run(args, timeout=120):
    return subprocess.run([TWINCTL] + args, capture_output=True, text=True,
                          timeout=timeout)


def read_csv(path):
    """(names, rows as a float64 array) of a run's CSV, each cell read with
    float() — the exact double for the shortest text."""
    with open(path) as f:
        names = f.readline().rstrip("\n").split(",")
        rows = [[float(x) for x in line.rstrip("\n").split(",")]
                for line in f if line.strip()]
    return names, np.array(rows, dtype=np.float64).reshape(-1, len(names))


def mat_strings(m, key):
    """A character matrix of the Modelica layout (one string per column)
    as a list of str."""
    return ["".join(col).rstrip() for col in m[key].T]


def read_mat(path):
    """(names, rows, the loadmat dict): names with "time" for "t"."""
    m = scipy.io.loadmat(path, chars_as_strings=False)
    names = mat_strings(m, "name")
    return names, np.ascontiguousarray(m["data_2"].T), m


def read_h5(path):
    with h5py.File(path, "r") as f:
        d = f["results"]
        attrs = {k: d.attrs[k] for k in d.attrs}
        return [str(x) for x in attrs["columns"]], d[...], attrs, d.chunks


def same_bits(a, b):
    """Equal to the bit (NaN patterns included) and of the same shape."""
    return (a.shape == b.shape and a.dtype == b.dtype and
            np.array_equal(a.view(np.uint64), b.view(np.uint64)))


def check_same_rows(tmp):
    csv_path = os.path.join(tmp, "run.csv")
    for out, extra in ((csv_path, []), (os.path.join(tmp, "run.mat"), []),
                       (os.path.join(tmp, "run.h5"), []),
                       (os.path.join(tmp, "runz.h5"), ["--compress=6"]),
                       (os.path.join(tmp, "run.bin"), ["--format", "hdf5"])):
        p = run(["run", "-q", SCENARIO, "-o", out] + extra)
        expect(p.returncode == 0, "run -o %s: %s" % (out, p.stderr))
    names, rows = read_csv(csv_path)
    expect(rows.shape == (86401, 16), "the CSV has %s rows × columns, "
           "86401 × 16 expected" % (rows.shape,))
    expect(not os.path.exists(os.path.join(tmp, "run.mat.spill")),
           "the MAT spill file was removed")

    mnames, mrows, m = read_mat(os.path.join(tmp, "run.mat"))
    expect(same_bits(mrows, rows), "MAT data_2 equals the CSV bit for bit")
    expect(mnames == ["time"] + names[1:], "MAT names %s" % mnames[:4])
    expect(["".join(r).rstrip() for r in m["Aclass"]] ==
           ["Atrajectory", "1.1", "", "binTrans"],
           "Aclass is Atrajectory 1.1 binTrans")
    info = m["dataInfo"]
    expect(info.shape == (4, 16) and list(info[:, 0]) == [0, 1, 0, -1] and
           all(list(info[:, k]) == [2, k + 1, 0, -1] for k in range(1, 16)),
           "dataInfo: time the abscissa, each column a row of data_2")
    expect(list(m["data_1"].ravel()) == [0.0, 86400.0],
           "data_1 holds the first and the last time")
    desc = dict(zip(mnames, mat_strings(m, "description")))
    expect(desc["tank0.h"].endswith("[m]") and
           desc["time"] == "Time [s]",
           "descriptions end in units: %r" % desc["tank0.h"])

    for f in ("run.h5", "runz.h5", "run.bin"):
        hnames, hrows, attrs, chunks = read_h5(os.path.join(tmp, f))
        expect(same_bits(hrows, rows),
               "%s: the dataset equals the CSV bit for bit" % f)
        expect(hnames == names, "%s: columns attribute %s" % (f, hnames[:4]))
        expect(chunks is not None and chunks[1] == 16, "%s chunked" % f)
    _, _, attrs, _ = read_h5(os.path.join(tmp, "run.h5"))
    units = dict(zip(names, (str(u) for u in attrs["units"])))
    expect(units["t"] == "s" and units["tank0.h"] == "m" and
           units["tank0.q_out"] == "m3/s", "HDF5 units %s" % units)
    with open(SCENARIO) as f:
        expect(json.loads(str(attrs["scenario"])) == json.load(f),
               "the scenario attribute is the scenario run")
    with h5py.File(os.path.join(tmp, "runz.h5"), "r") as f:
        expect(f["results"].compression == "gzip" and
               f["results"].shuffle, "--compress: shuffle and deflate")
    expect(os.path.getsize(os.path.join(tmp, "runz.h5")) <
           os.path.getsize(os.path.join(tmp, "run.h5")) / 2,
           "--compress makes the file smaller")


def cancel_run(out, after):
    """Start tank-farm-3 paced at 20 000× real time (86 400 ticks in about
    4 s), stop it with SIGINT after `after` seconds; returns stderr."""
    proc = subprocess.Popen([TWINCTL, "run", "-q", "--realtime=20000",
                             SCENARIO, "-o", out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    expect(proc.returncode == 1, "a stopped run exits 1, not %d: %s"
           % (proc.returncode, err))
    expect("stopped" in err or "cancelled" in err, "it says it was "
           "stopped: %s" % err)
    return err


def check_cancelled(tmp):
    names, rows = read_csv(os.path.join(tmp, "run.csv"))
    h5 = os.path.join(tmp, "cancelled.h5")
    cancel_run(h5, 1.5)
    hnames, hrows, _, _ = read_h5(h5)
    n = hrows.shape[0]
    expect(0 < n < rows.shape[0], "the stopped run's HDF5 file has %d "
           "rows, some and not all of %d" % (n, rows.shape[0]))
    expect(hnames == names and same_bits(hrows, rows[:n]),
           "its %d rows are the CSV's first %d, bit for bit" % (n, n))
    mat = os.path.join(tmp, "cancelled.mat")
    cancel_run(mat, 1.5)
    _, mrows, m = read_mat(mat)
    n = mrows.shape[0]
    expect(0 < n < rows.shape[0], "the stopped run's MAT file has %d rows"
           % n)
    expect(same_bits(mrows, rows[:n]),
           "its %d rows are the CSV's first %d, bit for bit" % (n, n))
    expect(m["data_1"].ravel()[1] == rows[n - 1, 0],
           "data_1 ends at the last row's time")
    expect(not os.path.exists(mat + ".spill"), "no spill file is left")


def check_killed(tmp):
    names, rows = read_csv(os.path.join(tmp, "run.csv"))
    mat = os.path.join(tmp, "killed.mat")
    proc = subprocess.Popen([TWINCTL, "run", "-q", "--realtime=20000",
                             SCENARIO, "-o", mat], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    time.sleep(2.0)
    proc.kill()  # the run process dies of the broken pipe
    proc.communicate(timeout=30)
    expect(proc.returncode == -signal.SIGKILL, "killed: %d" % proc.returncode)
    _, mrows, m = read_mat(mat)
    n = mrows.shape[0]
    expect(0 < n < rows.shape[0], "the killed run's MAT file has %d rows, "
           "some and not all of %d" % (n, rows.shape[0]))
    expect(same_bits(mrows, rows[:n]),
           "its %d rows are the CSV's first %d, bit for bit" % (n, n))
    expect(list(m["data_1"].ravel()) == [rows[0, 0], rows[n - 1, 0]],
           "data_1 is the first and the last row's time: %s"
           % m["data_1"].ravel())


def check_bad_inputs(tmp):
    p = run(["run", "-q", SCENARIO, "--format", "xls", "-o",
             os.path.join(tmp, "x.xls")])
    expect(p.returncode == 2 and "unknown --format 'xls': csv, mat, hdf5 "
           "or none" in p.stderr, "unknown format: %d %s"
           % (p.returncode, p.stderr))
    p = run(["run", "-q", SCENARIO, "--format", "mat"])
    expect(p.returncode == 2 and "give it with -o FILE" in p.stderr and
           p.stdout == "", "MAT to stdout: %d %s" % (p.returncode, p.stderr))
    for name in ("x.mat", "x.h5", "x.csv"):
        path = os.path.join(tmp, "no-such-dir", name)
        p = run(["run", "-q", SCENARIO, "-o", path])
        expect(p.returncode == 1 and "cannot write %s: No such file or "
               "directory" % path in p.stderr,
               "unwritable %s: %d %s" % (name, p.returncode, p.stderr))
    p = run(["run", "-q", SCENARIO, "--compress=12", "-o",
             os.path.join(tmp, "x.h5")])
    expect(p.returncode == 2 and "--compress takes a deflate level from 1 "
           "to 9, not '12'" in p.stderr, "bad --compress: %s" % p.stderr)


def check_submit(tmp):
    _, rows = read_csv(os.path.join(tmp, "run.csv"))
    with Broker() as broker, Controller(broker, "ctl-r", build=BUILD):
        for name in ("sub.h5", "sub.mat", "sub.csv"):
            out = os.path.join(tmp, name)
            p = run(["submit", "-q", "--broker", broker.url, SCENARIO,
                     "-o", out], timeout=300)
            expect(p.returncode == 0, "submit -o %s: %s" % (name, p.stderr))
    _, crows = read_csv(os.path.join(tmp, "sub.csv"))
    _, hrows, attrs, _ = read_h5(os.path.join(tmp, "sub.h5"))
    _, mrows, _ = read_mat(os.path.join(tmp, "sub.mat"))
    expect(same_bits(crows, rows), "submit's CSV equals run's bit for bit")
    expect(same_bits(hrows, rows), "submit's HDF5 equals run's CSV")
    expect(same_bits(mrows, rows), "submit's MAT equals run's CSV")
    with open(SCENARIO) as f:
        expect(json.loads(str(attrs["scenario"])) == json.load(f),
               "submit's HDF5 holds the scenario it sent")


def batch_case_rows(out, ext, reader):
    # {case id: rows} of a batch directory's cases/ID.ext
    d = os.path.join(out, "cases")
    found = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(ext):
            found[name[:-len(ext)]] = reader(os.path.join(d, name))[1]
    return found


def check_batch(tmp):
    with open(SCENARIO) as f:
        scenario = json.load(f)
    scenario["time"]["stop"] = 3600
    doc = os.path.join(tmp, "batch.json")
    with open(doc, "w") as f:
        json.dump({"contract": "twin.batch/1", "name": "files",
                   "scenario": scenario, "variations": {"grid": [
                       {"param": "pi0.sp", "values": [1.5, 2.5]}]}}, f)
    outs = {}
    for fmt in ("csv", "hdf5", "mat"):
        outs[fmt] = os.path.join(tmp, "batch-" + fmt)
        p = run(["batch", doc, "-o", outs[fmt], "-j", "2", "-q", "--rows",
                 "--format", fmt])
        expect(p.returncode == 0, "batch --format %s: %s" % (fmt, p.stderr))
    ref = batch_case_rows(outs["csv"], ".csv", read_csv)
    expect(len(ref) == 2, "two cases' CSV: %s" % list(ref))
    for fmt, ext, reader in (("hdf5", ".h5", read_h5),
                             ("mat", ".mat", read_mat)):
        got = batch_case_rows(outs[fmt], ext, reader)
        expect(sorted(got) == sorted(ref) and
               all(same_bits(got[k], ref[k]) for k in ref),
               "batch --format %s: each case's rows equal its CSV" % fmt)
        expect(not [n for n in os.listdir(os.path.join(outs[fmt], "cases"))
                    if n.endswith((".tmp", ".spill"))],
               "no temporary file left in cases/")
    p = run(["batch", doc, "-o", os.path.join(tmp, "b-x"), "--format", "mat"])
    expect(p.returncode == 2 and "goes with --rows" in p.stderr,
           "--format without --rows: %s" % p.stderr)
    with Broker() as broker, Controller(broker, "ctl-b", build=BUILD):
        out = os.path.join(tmp, "batch-remote")
        p = run(["batch", doc, "-o", out, "-q", "--rows", "--format", "hdf5",
                 "--broker", broker.url], timeout=300)
        expect(p.returncode == 0, "batch --broker --format hdf5: %s"
               % p.stderr)
    got = batch_case_rows(out, ".h5", read_h5)
    expect(sorted(got) == sorted(ref) and
           all(same_bits(got[k], ref[k]) for k in ref),
           "batch --broker --format hdf5: each case's rows equal its CSV")


def plot_script(path, script):
    p = run(["plot", path, "-c", "tank*.h", "-c", "pump0.w", "--scenario",
             SCENARIO, "--script", script, "-o",
             os.path.join(os.path.dirname(script), "fig.png")])
    expect(p.returncode == 0, "plot %s: %s" % (path, p.stderr))
    with open(script) as f:
        return f.read().replace(os.path.basename(path), "RUN")


def check_plot(tmp):
    ref = plot_script(os.path.join(tmp, "run.csv"),
                      os.path.join(tmp, "csv.gp"))
    for name in ("run.mat", "run.h5"):
        got = plot_script(os.path.join(tmp, name), os.path.join(tmp, "x.gp"))
        expect(got == ref, "plot of %s draws what the CSV's draws" % name)
    # damaged files: cut short, and another format under the extension
    for name in ("cut.h5", "cut.mat"):
        src = os.path.join(tmp, "run" + os.path.splitext(name)[1])
        with open(src, "rb") as f, open(os.path.join(tmp, name), "wb") as g:
            g.write(f.read(4000))
    shutil.copy(os.path.join(tmp, "run.csv"), os.path.join(tmp, "text.h5"))
    for name, want in (("cut.h5", "damaged"),
                       ("text.h5", "is not an HDF5 file"),
                       ("cut.mat", "damaged"),
                       ("missing.h5", "no such file")):
        path = os.path.join(tmp, name)
        p = run(["plot", path, "-c", "tank0.h", "--script",
                 os.path.join(tmp, "bad.gp"), "-o",
                 os.path.join(tmp, "bad.png")])
        expect(p.returncode != 0 and want in p.stderr and path in p.stderr,
               "plot of %s: %d %s" % (name, p.returncode, p.stderr))


def main():
    tests = Tests()
    tmp = tempfile.mkdtemp(prefix="twin-results.")
    try:
        if tests.check("run: CSV, MAT and HDF5 hold the same doubles",
                       check_same_rows, tmp):
            tests.check("run stopped by SIGINT: valid HDF5 and MAT with the "
                        "rows so far", check_cancelled, tmp)
            tests.check("run killed by SIGKILL: a MAT file that reads, with "
                        "the rows written", check_killed, tmp)
            tests.check("submit -o x.h5|x.mat over MQTT equals run's CSV",
                        check_submit, tmp)
            tests.check("plot reads CSV, MAT and HDF5 alike; damaged "
                        "files refused", check_plot, tmp)
        tests.check("batch --rows --format hdf5|mat, here and remote",
                    check_batch, tmp)
        tests.check("bad inputs: clear errors", check_bad_inputs, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tests.summary()


if __name__ == "__main__":
    sys.exit(main())
