#!/bin/bash
# python_bench.sh — what running a model in Python costs (issue 15):
# tank-farm-N with the Python twins of the models (examples/python-models:
# tank_py, pump_py, pi_py) through twinctl, against the same scenario with
# the C plugins (the floor measured in the same run) and against the SciPy
# anchor (bench/scipy_tankfarm.py: the same equations as one NumPy
# right-hand side integrated with solve_ivp, LSODA, from tick to tick, as
# the paper's Python scripts would), alternating, REPEAT times: medians of
# wall and CPU time (user + system, children included), and the ratios.
# Target: the Python models through twinctl at least 2x faster than the
# SciPy program.
#
# The overhead per model call: (Python's CPU time - C's) / the number of
# method calls, which one more, untimed, run counts with counting
# subclasses of the same Python models; it includes the model's own
# arithmetic in Python.
#
# Usage: bench/python_bench.sh BUILD_DIR [REPEAT [STOP [N...]]]
#   REPEAT (default 3), STOP simulated seconds (default 86400), N (default
#   10).  Keep the machine otherwise idle; on a busy one, read the CPU
#   columns.  Needs Python support built in (python3-dev) and SciPy
#   (python3-scipy).
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [REPEAT [STOP [N...]]]" >&2
                  exit 2; }
build=$(cd "$1" && pwd)
repeat=${2:-3}
stop=${3:-86400}
shift $(( $# >= 3 ? 3 : $# ))
sizes=${*:-10}
src=$(cd "$(dirname "$0")/.." && pwd)
twinctl="$build/controller/twinctl"
pymodels="$src/examples/python-models"
python=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$src/bench/measure.sh"

hours=$($python -c "print($stop / 3600)")

# The counting twins: each class a subclass of the example's, every method
# counted, the count appended to a file when the instance goes.
mkdir -p "$tmp/counted"
cat >"$tmp/counted/counted_models.py" <<PY
import sys
sys.path.insert(0, "$pymodels")
import tank_py, pump_py, pi_py

METHODS = ("init", "derivatives", "outputs", "event_indicators", "event",
           "tick", "next_event_time")


def counted(base):
    def wrap(f):
        def method(self, *args):
            self._calls += 1
            return f(self, *args)
        return method

    body = {m: wrap(getattr(base, m)) for m in METHODS if hasattr(base, m)}

    def __init__(self, params):
        base.__init__(self, params)
        self._calls = 0

    def __del__(self):
        with open("$tmp/calls", "a") as f:
            f.write("%d\n" % self._calls)

    body.update(__init__=__init__, __del__=__del__, __module__=__name__)
    return type(base.__name__, (base,), body)


Tank = counted(tank_py.Tank)
Pump = counted(pump_py.Pump)
PI = counted(pi_py.PI)
PY

printf '%-5s %-9s %9s %9s %18s %10s %10s\n' N program "wall s" "CPU s" \
    "CPU µs/chain·tick" "wall / py" "CPU / py"
for n in $sizes; do
    $python "$src/examples/gen_tank_farm.py" "$n" --stop "$stop" \
        -o "$tmp/c$n.json" || exit 1
    $python "$src/examples/gen_tank_farm.py" "$n" --stop "$stop" --python \
        -o "$tmp/py$n.json" || exit 1
    for i in $(seq "$repeat"); do
        measure "$tmp/tc$n" "$twinctl" run -q "$tmp/c$n.json" --format none
        measure "$tmp/tp$n" "$twinctl" run -q --models "$pymodels" \
            "$tmp/py$n.json" --format none
        measure "$tmp/ts$n" $python "$src/bench/scipy_tankfarm.py" "$n" \
            "$hours"
    done
    rm -f "$tmp/calls"
    "$twinctl" run -q --models "$tmp/counted" "$tmp/py$n.json" \
        --format none >/dev/null || exit 1
    calls=$($python -c "print(sum(int(l) for l in open('$tmp/calls')))")
    pw=$(median "$tmp/tp$n" 0 3); pc=$(median "$tmp/tp$n" 1 3)
    for prog in c:C p:Python s:SciPy; do
        f=${prog%%:*}; name=${prog#*:}
        w=$(median "$tmp/t$f$n" 0 3); c=$(median "$tmp/t$f$n" 1 3)
        $python -c "print('%-5s %-9s %9s %9s %18.2f %10.2f %10.2f' % (
            $n, '$name', '$w', '$c', $c * 1e6 / ($n * $stop), $w / $pw,
            $c / $pc))"
    done
    cc=$(median "$tmp/tc$n" 1 3)
    $python -c "print('N=%d: %d Python method calls; overhead per call '
                      '(Python CPU - C CPU) / calls = %.3f µs' % (
                      $n, $calls, ($pc - $cc) * 1e6 / $calls))"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
