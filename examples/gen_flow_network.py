#!/usr/bin/env python3
"""Write the reference scenario flow-network-K (docs/models.md) as JSON.

A supply at a fixed head feeds K parallel valves (valve0 .. valveK-1) into
one header, which discharges through its outlet orifice into the bottom of
a tank; the tank drains through its own valve.  The header's head depends
at once on the valves' flows and each valve's flow on the header's head: an
algebraic loop of K + 1 static models, solved by the controller inside the
tank's right-hand side.  valve0 closes from its opening to 0.25 at the
step time, so the level moves from one steady state to another.

Branch i (f = i/(K-1), f = 0 for K = 1) has cv = (0.03/K)*(1 + 0.5*f)
m^2.5/s and opening 1 - 0.4*f, so the network's capacity hardly depends
on K.

    python3 examples/gen_flow_network.py 3 > flow-network-3.json
    python3 examples/gen_flow_network.py 8 --stop 3600 -o net8.json

Standard library only.  The output for K = 3 with the defaults is
scenarios/flow-network.json (tests/test_gen_tank_farm.sh checks it).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_tank_farm import check_times, dumps, number, write  # noqa: E402

MAX_BRANCHES = 8     # the header's inlets q1 .. q8
SUPPLY_HEAD = 5.0    # m
STEP_OPENING = 0.25  # valve0's opening after the step


def branches(text):
    value = int(text)
    if not 1 <= value <= MAX_BRANCHES:
        raise argparse.ArgumentTypeError(
            "K must be 1 to %d (the header has %d inlets), got %d"
            % (MAX_BRANCHES, MAX_BRANCHES, value))
    return value


def flow_network(k, stop=1800, dt=1, step=900):
    """The scenario document for k parallel branches, as a dict."""
    instances = {}
    connections = []
    inputs = {}
    outputs = []
    for i in range(k):
        f = i / (k - 1) if k > 1 else 0.0
        valve = "valve%d" % i
        cv = round(0.03 / k * (1 + 0.5 * f), 12)
        opening = round(1 - 0.4 * f, 12)
        instances[valve] = {"model": "valve", "params": {"cv": cv}}
        connections += [
            {"from": valve + ".q", "to": "header0.q%d" % (i + 1)},
            {"from": "header0.h", "to": valve + ".h_down"},
        ]
        inputs[valve + ".h_up"] = {"value": SUPPLY_HEAD}
        inputs[valve + ".opening"] = (
            {"steps": [[0, opening], [step, STEP_OPENING]]} if i == 0
            else {"value": opening})
        outputs.append(valve + ".q")
    instances["header0"] = {"model": "header", "params": {"cv_out": 0.04}}
    instances["tank0"] = {"model": "tank",
                          "params": {"area": 2.0, "cv": 0.03, "height": 4.0},
                          "start": {"h": 1.0}}
    connections += [
        {"from": "header0.q_out", "to": "tank0.q_in"},
        {"from": "tank0.h", "to": "header0.h_out"},
    ]
    inputs["header0.opening"] = {"value": 1.0}
    inputs["tank0.valve"] = {"value": 0.8}
    outputs += ["header0.h", "header0.q_out", "tank0.h", "tank0.q_out"]

    return {
        "name": "flow-network-%d" % k if k != 3 else "flow-network",
        "description": (
            "Reference flow network (docs/models.md): a supply at a head of "
            "%g m feeds %d parallel valve%s into header0, which discharges "
            "through its outlet into the bottom of tank0 (so the tank's "
            "level is the head behind the outlet); tank0 drains through its "
            "valve at 0.8.  The header's head and the valves' flows form an "
            "algebraic loop solved at every evaluation.  valve0 closes to "
            "%g at t = %g s: the level falls from one steady state to "
            "another." % (SUPPLY_HEAD, k, "s" if k > 1 else "", STEP_OPENING,
                         step)),
        "time": {"start": 0, "stop": stop, "dt": dt},
        "pace": "batch",
        "solver": {"method": "bdf", "rtol": 1e-9, "atol": 1e-11},
        "instances": instances,
        "connections": connections,
        "inputs": inputs,
        "outputs": outputs,
        "every": 1,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write the reference scenario flow-network-K as JSON.")
    parser.add_argument("k", metavar="K", type=branches,
                        help="number of parallel valves (1 to %d)"
                             % MAX_BRANCHES)
    parser.add_argument("--stop", type=number, default=1800,
                        metavar="SECONDS",
                        help="end of the simulated time (default 1800)")
    parser.add_argument("--dt", type=number, default=1, metavar="DT",
                        help="tick length in seconds (default 1)")
    parser.add_argument("--step", type=number, default=900,
                        metavar="SECONDS",
                        help="when valve0 closes to %g (default 900)"
                             % STEP_OPENING)
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output")
    args = parser.parse_args(argv)

    check_times(parser, args.stop, args.dt)
    if args.step <= 0:
        parser.error("--step must be positive")

    write(dumps(flow_network(args.k, args.stop, args.dt, args.step)),
          args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
