#!/usr/bin/env python3
"""Checks of `twinctl plot`'s output for tests/test_plot.sh.

  png FILE W H               a PNG (its signature, an IHDR of W × H)
  svg FILE TEXT...           an SVG that parses as XML and has each TEXT
                             among its text elements; prints its texts
  svg-groups FILE PANEL      how many plotted items panel PANEL ("a" the
                             first) has, each with a path of > 10 points
  envelope SCRIPT T          the envelope in a --script file of the
                             draining tanks of areas 1, 2 and 3 m2 over T s
                             against their analytic levels
  kpi SCRIPT T               the points of "drained" against tank0.area
                             in a --script file against A·(h(0) − h(T))

The draining tank (reference-models.md, inflow 0): dh/dt = −cv·valve·√h/A
with cv = 0.03 m2.5/s, valve = 0.5, h(0) = 1 m, so √h(t) = 1 − k·t/(2A),
k = cv·valve, as long as the tank is not empty.

Exit status 0 when the check holds, 1 (with a sentence) when not."""

import re
import struct
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def fail(what):
    print("plot_check: " + what, file=sys.stderr)
    sys.exit(1)


def png(path, w, h):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        fail("%s is not a PNG" % path)
    got = struct.unpack(">II", head[16:24])
    if got != (int(w), int(h)):
        fail("%s is %d × %d, expected %s × %s" % (path, got[0], got[1], w, h))


def texts(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail("%s does not parse as XML: %s" % (path, e))
    return root, ["".join(t.itertext()) for t in root.iter(SVG + "text")]


def svg(path, *want):
    _, got = texts(path)
    for w in want:
        if w not in got:
            fail("%s has no text %r; it has %r" % (path, w, got))
    print("\n".join(got))


def svg_groups(path, panel):
    root, _ = texts(path)
    n = 0
    for g in root.iter(SVG + "g"):
        m = re.fullmatch(r"gnuplot_plot_(\d+)" + panel, g.get("id", ""))
        if not m:
            continue
        paths = [p.get("d", "") for p in g.iter(SVG + "path")]
        if not any(d.count("L") > 10 for d in paths):
            fail("item %s of %s has no path of more than 10 points"
                 % (g.get("id"), path))
        n += 1
    print(n)


def block(path, name):
    rows, inside = [], False
    for line in open(path):
        if line.startswith("$%s << EOD" % name):
            inside = True
        elif inside and line.startswith("EOD"):
            break
        elif inside:
            rows.append([float(x) for x in line.split()])
    if not inside:
        fail("%s has no datablock $%s" % (path, name))
    return rows


def level(area, t):
    k = 0.03 * 0.5
    return (1 - k * t / (2 * area)) ** 2


def close(what, got, want, tol=1e-7):
    if not abs(got - want) <= tol:
        fail("%s: %.12g, expected %.12g" % (what, got, want))


def envelope(path, stop):
    """Areas 1, 2, 3: the smallest drains fastest, so min is A = 1, max
    A = 3, the median A = 2; percentiles 10 and 90 of three values sit at
    ranks 0.2 and 1.8."""
    band, inner, median = (block(path, "d0_%d" % i) for i in range(3))
    n = int(stop) + 1
    for name, rows in (("min-max", band), ("10-90", inner),
                       ("median", median)):
        if [r[0] for r in rows] != [float(t) for t in range(n)]:
            fail("the %s rows are not at t = 0, 1, ..., %s" % (name, stop))
    for i in range(n):
        h1, h2, h3 = (level(a, float(i)) for a in (1, 2, 3))
        close("min at t = %d" % i, band[i][1], h1)
        close("max at t = %d" % i, band[i][2], h3)
        close("p10 at t = %d" % i, inner[i][1], h1 + 0.2 * (h2 - h1))
        close("p90 at t = %d" % i, inner[i][2], h2 + 0.8 * (h3 - h2))
        close("median at t = %d" % i, median[i][1], h2)


def kpi(path, stop):
    rows = block(path, "d0_0")
    if [r[0] for r in rows] != [1.0, 2.0, 3.0]:
        fail("the points are at areas %r, expected 1, 2, 3" % rows)
    for a, drained in rows:
        close("drained with A = %g" % a, drained,
              a * (1 - level(a, float(stop))))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"png": png, "svg": svg, "svg-groups": svg_groups, "envelope": envelope,
     "kpi": kpi}[cmd](*args)


if __name__ == "__main__":
    main()
