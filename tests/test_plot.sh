#!/bin/sh
# test_plot.sh — twinctl plot as a user meets it, with the real gnuplot:
# run CSVs and a small batch (three draining tanks and a case that fails)
# drawn to PNG and SVG; the files are valid (PNG signature and size, SVG
# parsed as XML), the axes carry names with units from the model library
# ("tank0.h [m]", a KPI's "drained [m3]"), overlay draws one line per
# finished case and the caption counts the failed one; the envelope and
# the KPI points in --script's data against the tanks' analytic levels;
# and the errors: an unknown channel names those there are, no such file,
# an empty CSV, a batch without rows, an unknown KPI or factor, no
# gnuplot on PATH (exit 3, and --script still works).
# Usage: tests/test_plot.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
twinctl="$build/controller/twinctl"
python=${PYTHON:-/usr/bin/python3}
pc="$src/tests/plot_check.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-plot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0

ok() { passes=$((passes + 1)); }
bad() { # bad NAME: report the last command's output
    echo "test_plot: FAIL: $1" >&2
    sed 's/^/    /' "$tmp/err" "$tmp/out" 2>/dev/null | head -20 >&2
    failures=$((failures + 1))
}
check() { # check NAME COMMAND...: must succeed; output kept in out, err
    name=$1; shift
    if "$@" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "$name"; fi
}
holds() { # holds NAME COMMAND...: a check on earlier output
    name=$1; shift
    if "$@" >"$tmp/holds" 2>&1; then ok; else
        echo "test_plot: FAIL: $name" >&2
        sed 's/^/    /' "$tmp/holds" "$tmp/err" | head -20 >&2
        failures=$((failures + 1))
    fi
}
expect_status() { # expect_status CODE NAME COMMAND...
    want=$1; name=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$name: exit $got, expected $want"; fi
}
says() { # says NAME TEXT: stderr of the last command has TEXT
    holds "$1" grep -qF -- "$2" "$tmp/err"
}

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "test_plot: gnuplot is not installed (scripts/deps.sh installs gnuplot-nox)" >&2
    exit 1
fi

# A tank draining from 1 m through its half-open valve, 120 s; area A.
drain_scenario() { # drain_scenario AREA
    cat <<EOF
{"name": "drain", "time": {"start": 0, "stop": 120, "dt": 1},
 "solver": {"method": "bdf", "rtol": 1e-10, "atol": 1e-12},
 "instances": {"tank0": {"model": "tank", "params": {"area": $1},
                         "start": {"h": 1.0}}},
 "outputs": ["tank0.h", "tank0.q_out"]}
EOF
}
drain_scenario 1 >"$tmp/drain.json"
drain_scenario 2 >"$tmp/drain2.json"
check "run drain" "$twinctl" run "$tmp/drain.json" -o "$tmp/run.csv"
check "run drain2" "$twinctl" run "$tmp/drain2.json" -o "$tmp/run2.csv"

check "plot --help" sh -c "'$twinctl' plot --help | grep -q '^usage: twinctl plot'"
check "twinctl --help lists plot" sh -c "'$twinctl' --help | grep -q '^  plot '"

# ---- run CSVs -------------------------------------------------------------

check "CSV to PNG" "$twinctl" plot "$tmp/run.csv" --scenario "$tmp/drain.json" \
    -c tank0.h -c tank0.q_out -o "$tmp/run.png"
holds "PNG: signature, 960 x (140 + 2 x 260)" "$python" "$pc" png "$tmp/run.png" 960 660
check "CSV to SVG" "$twinctl" plot "$tmp/run.csv" --scenario "$tmp/drain.json" \
    -c 'tank0.*' -o "$tmp/run.svg" --size 800,500
holds "SVG: labels with units" "$python" "$pc" svg "$tmp/run.svg" \
    "tank0.h [m]" "tank0.q_out [m3/s]" "time [s]" "$tmp/run.csv"
holds "SVG: one line per channel" sh -c \
    "[ \$('$python' '$pc' svg-groups '$tmp/run.svg' a) = 1 ] &&
     [ \$('$python' '$pc' svg-groups '$tmp/run.svg' b) = 1 ]"
check "--panels one" "$twinctl" plot "$tmp/run.csv" --scenario "$tmp/drain.json" \
    -c tank0.h -c tank0.q_out --panels one --title 'a "quoted" \ title' -o "$tmp/one.svg"
holds "one panel: each channel with its unit; the title escaped" "$python" "$pc" svg \
    "$tmp/one.svg" "tank0.h [m], tank0.q_out [m3/s]" 'a "quoted" \ title'
check "two runs" "$twinctl" plot "$tmp/run.csv" "$tmp/run2.csv" --scenario "$tmp/drain.json" \
    -c tank0.h -o "$tmp/two.svg"
holds "two runs: a line each, named by file" sh -c \
    "[ \$('$python' '$pc' svg-groups '$tmp/two.svg' a) = 2 ] &&
     '$python' '$pc' svg '$tmp/two.svg' 'tank0.h ($tmp/run2.csv)' >/dev/null"
check "without --scenario" "$twinctl" plot "$tmp/run.csv" -c tank0.h -o "$tmp/nounit.svg"
says "units unknown said" "units unknown: name the runs' scenario with --scenario"
holds "labels without units" sh -c "'$python' '$pc' svg '$tmp/nounit.svg' tank0.h |
    grep -q '\[m\]' && exit 1 || exit 0"
check "--from --to, --time min" "$twinctl" plot "$tmp/run.csv" -c tank0.h --from 60 \
    --to 90 --time min --script "$tmp/window.gp" -o "$tmp/window.png"
holds "the window's rows, in minutes" sh -c \
    "grep -q '^ 1 ' '$tmp/window.gp' && grep -q '^ 1.5 ' '$tmp/window.gp' &&
     ! grep -q '^ 0.98' '$tmp/window.gp' && grep -q 'time \[min\]' '$tmp/window.gp'"

# ---- errors ------------------------------------------------------------------

expect_status 2 "unknown channel" "$twinctl" plot "$tmp/run.csv" -c tank0.x -o "$tmp/x.png"
says "unknown channel names the columns" \
    "run.csv has no column 'tank0.x'; its columns are tank0.h, tank0.q_out"
expect_status 2 "no such file" "$twinctl" plot "$tmp/nope.csv" -c tank0.h -o "$tmp/x.png"
says "no such file said" "nope.csv: no such file"
: >"$tmp/empty.csv"
expect_status 2 "empty CSV" "$twinctl" plot "$tmp/empty.csv" -c tank0.h -o "$tmp/x.png"
says "empty CSV said" "empty.csv is empty"
head -1 "$tmp/run.csv" >"$tmp/header.csv"
expect_status 2 "header only" "$twinctl" plot "$tmp/header.csv" -c tank0.h -o "$tmp/x.png"
says "header only said" "header.csv has a header but no rows"
expect_status 2 "no -c" "$twinctl" plot "$tmp/run.csv" -o "$tmp/x.png"
says "no -c said" "give the channels to draw with -c NAME"
expect_status 2 "bad extension" "$twinctl" plot "$tmp/run.csv" -c tank0.h -o "$tmp/x.pdf"
expect_status 2 "--overlay on CSVs" "$twinctl" plot "$tmp/run.csv" -c tank0.h --overlay -o "$tmp/x.png"
holds "no image left by the errors" sh -c "! ls '$tmp'/x.* 2>/dev/null"

# gnuplot missing: a PATH without it.
expect_status 3 "no gnuplot" env PATH=/nonexistent "$twinctl" plot "$tmp/run.csv" \
    -c tank0.h -o "$tmp/x.png"
says "no gnuplot: what to install" "gnuplot is not installed"
says "no gnuplot: the package" "apt-get install gnuplot-nox"
holds "no gnuplot, no image" test ! -e "$tmp/x.png"
check "--script without gnuplot" env PATH=/nonexistent "$twinctl" plot "$tmp/run.csv" \
    --scenario "$tmp/drain.json" -c tank0.h -o "$tmp/later.svg" --script "$tmp/later.gp"
check "the script renders elsewhere" gnuplot "$tmp/later.gp"
holds "the script's image" "$python" "$pc" svg "$tmp/later.svg" "tank0.h [m]"

# ---- a batch ---------------------------------------------------------------

# Three draining tanks of 1, 2 and 3 m2, and a fourth case whose other
# instance fails at 60 s (tests/plugins/failing.c).
cat >"$tmp/batch.json" <<EOF
{"contract": "twin.batch/1", "name": "drains",
 "scenario": {"name": "drain", "time": {"start": 0, "stop": 120, "dt": 1},
   "solver": {"method": "bdf", "rtol": 1e-10, "atol": 1e-12},
   "instances": {"tank0": {"model": "tank", "start": {"h": 1.0}},
                 "f0": {"model": "failing", "params": {"mode": 0}}},
   "outputs": ["tank0.h", "tank0.q_out"]},
 "variations": {"list": {"factors": [{"param": "tank0.area"},
                                     {"param": "f0.t_fail"}],
   "values": [[1, 1000], [2, 1000], [3, 1000], [2, 60]]}},
 "kpis": [{"name": "final_level", "function": "final", "of": "tank0.h"},
          {"name": "drained", "function": "integral", "of": "tank0.q_out"}]}
EOF
models="--models $build/tests/plugins"
expect_status 1 "the batch runs, one case fails" "$twinctl" batch "$tmp/batch.json" \
    -o "$tmp/B" --rows $models -q

check "overlay SVG" "$twinctl" plot "$tmp/B" $models -c tank0.h -c tank0.q_out \
    --overlay -o "$tmp/overlay.svg"
holds "overlay: labels with units, the failed case counted" "$python" "$pc" svg \
    "$tmp/overlay.svg" "tank0.h [m]" "tank0.q_out [m3/s]" "time [s]" \
    "1 of 4 cases not shown: 1 failed" "drains: 3 cases" "each case (3)"
holds "overlay: a line per finished case in each panel" sh -c \
    "[ \$('$python' '$pc' svg-groups '$tmp/overlay.svg' a) = 3 ] &&
     [ \$('$python' '$pc' svg-groups '$tmp/overlay.svg' b) = 3 ]"
check "overlay PNG" "$twinctl" plot "$tmp/B" $models -c tank0.h --overlay -o "$tmp/overlay.png"
holds "overlay PNG valid" "$python" "$pc" png "$tmp/overlay.png" 960 400

check "envelope SVG" "$twinctl" plot "$tmp/B" $models -c tank0.h -o "$tmp/envelope.svg"
holds "envelope: its key and labels" "$python" "$pc" svg "$tmp/envelope.svg" \
    "tank0.h [m]" "min–max" "10–90 %" "median" "drains: envelope of 3 cases"
check "envelope script" "$twinctl" plot "$tmp/B" $models -c tank0.h --max-points 0 \
    -o "$tmp/envelope.png" --script "$tmp/envelope.gp"
holds "envelope = analytic levels of A = 1, 2, 3" "$python" "$pc" envelope "$tmp/envelope.gp" 120

check "KPI SVG" "$twinctl" plot "$tmp/B" $models --kpi drained --vs tank0.area -o "$tmp/kpi.svg"
holds "KPI: its unit from the function library, the factor's from the model" \
    "$python" "$pc" svg "$tmp/kpi.svg" "drained [m3]" "tank0.area [m2]" \
    "1 of 4 cases not shown: 1 failed"
check "KPI script" "$twinctl" plot "$tmp/B" $models --kpi drained --vs tank0.area \
    -o "$tmp/kpi.png" --script "$tmp/kpi.gp"
holds "KPI points = A (h(0) - h(T))" "$python" "$pc" kpi "$tmp/kpi.gp" 120
check "KPI --by" "$twinctl" plot "$tmp/B" $models --kpi final_level --vs tank0.area \
    --by f0.t_fail -o "$tmp/by.svg"
holds "KPI --by: a line per value" "$python" "$pc" svg "$tmp/by.svg" \
    "final_level [m]" "f0.t_fail = 1000 s"

expect_status 2 "unknown KPI" "$twinctl" plot "$tmp/B" $models --kpi nope --vs tank0.area -o "$tmp/x.png"
says "unknown KPI lists them" "its KPIs are final_level, drained"
expect_status 2 "unknown factor" "$twinctl" plot "$tmp/B" $models --kpi drained --vs nope -o "$tmp/x.png"
says "unknown factor lists them" "its factors are tank0.area, f0.t_fail"
expect_status 2 "unknown channel in a batch" "$twinctl" plot "$tmp/B" $models -c tank0.x -o "$tmp/x.png"
says "unknown channel in a batch names the columns" "its columns are tank0.h, tank0.q_out"
check "a batch without its models" "$twinctl" plot "$tmp/B" -c tank0.h -o "$tmp/nomodels.svg"
says "units unknown: why" "units unknown: the batch in $tmp/B/batch.json is refused here"
cp -r "$tmp/B" "$tmp/norows" && rm -r "$tmp/norows/cases"
expect_status 2 "a batch without rows" "$twinctl" plot "$tmp/norows" $models -c tank0.h -o "$tmp/x.png"
says "without rows: what to do" "the batch ran without --rows"
expect_status 2 "not a batch directory" "$twinctl" plot "$tmp" -c tank0.h -o "$tmp/x.png"
says "not a batch directory said" "is not a batch's output directory"

echo "test_plot: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
