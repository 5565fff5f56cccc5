#!/usr/bin/env python3
"""Write the reference scenario tank-farm-N (reference-models.md) as JSON.

N independent chains, i = 0 .. N-1: pump_i feeds tank_i, pi_i reads the
level of tank_i and drives the command of pump_i.  The valve of tank_i steps
from 0.5 to 0.8 at t = 3600 + 10*i.  Every tick emits, per chain, the tank
level and outflow, the pump speed and power, and the controller output.

    python3 examples/gen_tank_farm.py 3 > tank-farm-3.json
    python3 examples/gen_tank_farm.py 1000 --stop 3600 -o big.json
    python3 examples/gen_tank_farm.py 10 --realtime 1.0
    python3 examples/gen_tank_farm.py 10 --python   # tank_py, pump_py, pi_py

Standard library only.  The output for N = 3 with the defaults is
scenarios/tank-farm-3.json (tests/test_gen_tank_farm.sh checks it).
"""

import argparse
import json
import math
import sys


def number(text):
    """A finite number from the command line; integral values stay int."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("not a finite number: %r" % text)
    return int(value) if value.is_integer() else value


def finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError("not a finite number: %r" % text)
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("N must be at least 1, got %d" % value)
    return value


def check_times(parser, stop, dt):
    """Refuse, through the parser, a --stop and --dt that make no ticks."""
    if dt <= 0:
        parser.error("--dt must be positive")
    if stop <= 0:
        parser.error("--stop must be positive")
    ticks = stop / dt
    if abs(ticks - round(ticks)) > 1e-9 * max(1.0, ticks):
        parser.error("--stop must be a whole number of --dt (stop/dt = %g)"
                     % ticks)


def tank_farm(n, stop=86400, dt=1, realtime=None, suffix=""):
    """The scenario document for n chains, as a dict in output order; the
    models are tank, pump and pi with suffix appended (\"_py\": the Python
    twins in examples/python-models)."""
    instances = {}
    connections = []
    inputs = {}
    outputs = []
    for i in range(n):
        pump, tank, pi = "pump%d" % i, "tank%d" % i, "pi%d" % i
        instances[pump] = {"model": "pump" + suffix, "start": {"w": 0.0}}
        instances[tank] = {"model": "tank" + suffix, "start": {"h": 1.0}}
        instances[pi] = {"model": "pi" + suffix, "params": {"sp": 2.0 + 0.01 * i},
                         "start": {"integral": 0.0}}
        connections += [
            {"from": pump + ".q", "to": tank + ".q_in"},
            {"from": tank + ".h", "to": pi + ".pv"},
            {"from": pi + ".out", "to": pump + ".cmd"},
        ]
        inputs[tank + ".valve"] = {"steps": [[0, 0.5], [3600 + 10 * i, 0.8]]}
        outputs += [tank + ".h", tank + ".q_out", pump + ".w",
                    pump + ".power", pi + ".out"]

    return {
        "name": "tank-farm-%d" % n,
        "description": (
            "Reference scenario tank-farm-%d (reference-models.md): %d "
            "independent chains pump_i -> tank_i, with pi_i holding the "
            "level of tank_i at 2.0 + 0.01*i m by the speed of pump_i; the "
            "outlet valve of tank_i steps from 0.5 to 0.8 at "
            "t = 3600 + 10*i s." % (n, n)),
        "time": {"start": 0, "stop": stop, "dt": dt},
        "pace": "batch" if realtime is None else {"realtime": realtime},
        "solver": {"method": "bdf", "rtol": 1e-8, "atol": 1e-10},
        "instances": instances,
        "connections": connections,
        "inputs": inputs,
        "outputs": outputs,
        "every": 1,
    }


def dumps(doc):
    """JSON text with one member of each top-level object or array per line:
    one line per instance, connection, input and output."""
    def flat(value):
        return json.dumps(value, separators=(", ", ": "))

    lines = ["{"]
    members = list(doc.items())
    for k, (key, value) in enumerate(members):
        comma = "," if k + 1 < len(members) else ""
        if isinstance(value, dict) and key in ("instances", "inputs"):
            inner = ["    %s: %s" % (flat(ik), flat(iv))
                     for ik, iv in value.items()]
            lines.append("  %s: {" % flat(key))
            lines.append(",\n".join(inner))
            lines.append("  }" + comma)
        elif isinstance(value, list) and value:
            inner = ["    " + flat(item) for item in value]
            lines.append("  %s: [" % flat(key))
            lines.append(",\n".join(inner))
            lines.append("  ]" + comma)
        else:
            lines.append("  %s: %s%s" % (flat(key), flat(value), comma))
    lines.append("}")
    return "\n".join(lines) + "\n"


def write(text, path):
    """text to the file path, or to standard output when path is None."""
    if path is None:
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write the reference scenario tank-farm-N as JSON.")
    parser.add_argument("n", metavar="N", type=positive_int,
                        help="number of pump-tank-controller chains")
    parser.add_argument("--stop", type=number, default=86400,
                        metavar="SECONDS",
                        help="end of the simulated time (default 86400)")
    parser.add_argument("--dt", type=number, default=1, metavar="DT",
                        help="tick length in seconds (default 1)")
    parser.add_argument("--realtime", type=finite_float, metavar="SPEED",
                        help="pace the run in real time at SPEED times the "
                             "wall clock (default: batch, as fast as it "
                             "goes)")
    parser.add_argument("--python", action="store_true",
                        help="use the Python twins of the models (tank_py, "
                             "pump_py, pi_py in examples/python-models: run "
                             "with --models examples/python-models)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output")
    args = parser.parse_args(argv)

    check_times(parser, args.stop, args.dt)
    if args.realtime is not None and args.realtime <= 0:
        parser.error("--realtime must be positive")

    write(dumps(tank_farm(args.n, args.stop, args.dt, args.realtime,
                         "_py" if args.python else "")),
          args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
