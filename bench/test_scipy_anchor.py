#!/usr/bin/python3
"""test_scipy_anchor.py — the SciPy anchor (bench/scipy_tankfarm.py)
computes what the floor (bench/floor_tankfarm) computes: tank-farm-10
over 0.05 h (in the PIs' transient) and over 1.01 h (just after the first
valve steps), the final levels to 1e-6 relative and the checksums (the
sum of every row) to 1e-7 relative.  Two integrators (SciPy's LSODA,
CVODE's BDF) at rtol 1e-8 agree to a few 1e-8.

Usage: test_scipy_anchor.py BUILDDIR
"""
import os
import subprocess
import sys

build = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         timeout=120).stdout.split("\n")
    fields = dict(kv.split("=", 1) for kv in out[0].split()[1:])
    return fields, [float(v) for v in out[1:] if v]


bad = []
for hours in ("0.05", "1.01"):
    floor, fh = run([os.path.join(build, "bench", "floor_tankfarm"),
                     "--print-final", "10", hours])
    scipy, sh = run([sys.executable, os.path.join(here, "scipy_tankfarm.py"),
                     "--print-final", "10", hours])
    if len(fh) != 10 or len(sh) != 10:
        bad.append(f"{hours} h: {len(fh)} and {len(sh)} final levels")
        continue
    worst = max(abs(a - b) / abs(a) for a, b in zip(fh, sh))
    if not worst <= 1e-6:
        bad.append(f"{hours} h: final levels differ by {worst:.3g} relative")
    ca, cb = float(floor["checksum"]), float(scipy["checksum"])
    if not abs(ca - cb) <= 1e-7 * abs(ca):
        bad.append(f"{hours} h: checksums {ca!r} and {cb!r}")
    if floor["ticks"] != scipy["ticks"]:
        bad.append(f"{hours} h: ticks {floor['ticks']} and {scipy['ticks']}")
    print(f"{hours} h: levels within {worst:.2g}, checksums within "
          f"{abs(ca - cb) / abs(ca):.2g} relative")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
