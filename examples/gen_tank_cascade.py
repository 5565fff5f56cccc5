#!/usr/bin/env python3
"""Write the reference scenario tank-cascade-N (issue 14, item 5) as JSON.

N tanks (model tank) in series, each draining into the next, fed by one
pump (model pump) whose speed a PI (model pi) sets from the level of the
first tank; every K-th tank (K = --pi-every, tanks K, 2K, ...) has its
outlet valve set by a PI of its own.  Tank i's outflow is tank i+1's
inflow, so the pump and all the tanks form ONE connected integration group
of N + 1 states, whatever N is; the PIs are discrete, outside the group.

The equations (reference-models.md; A = 2, cv = 0.03, H = 4, tau = 5,
q_max = 0.05, the model defaults):

    dw/dt   = (cmd - w)/tau                      pump, cmd = pi0.out
    q_0     = cv*u_0*sqrt(h_0),  q_i = cv*u_i*sqrt(h_i)
    dh_0/dt = (q_max*w - q_0)/A
    dh_i/dt = (q_{i-1} - q_i)/A                  i = 1 .. N-1
    u_i     = pi_i.out on the tanks with a valve PI, else 0.5 (the
              valve's start value)
    h_i(0)  = (10 + i mod 10)/10 m,  w(0) = 0

The PIs tick once per tick on h(t_k) and hold their output over the tick
(reference-models.md).  pi0 (kp 0.8, ki 0.02) drives the pump; its
setpoint is 2.0 m and steps to 2.5 m at half the horizon.  The valve PIs
act in reverse (kp -0.8, ki -0.02: a level above the setpoint opens the
valve) and hold their tank at 1.5 m.  At steady state every tank passes the
same flow, q = 0.015*sqrt(h_0), so the tanks without a valve PI settle at
the level of tank 0 and the levels stay well inside (0, H): no overflow
event.

    python3 examples/gen_tank_cascade.py 10 > tank-cascade-10.json
    python3 examples/gen_tank_cascade.py 1000 --stop 60 --linear-solver klu

Standard library only.  The output for N = 10 with the defaults is
scenarios/tank-cascade-10.json (tests/test_gen_scenario.sh checks it, tests/test_gen_tank_cascade.sh the
options).
"""

import argparse
import sys

from gen_tank_farm import (check_times, dumps, finite_float, number,
                           positive_int, write)

LINEAR_SOLVERS = ("auto", "dense", "band", "klu")
INTEGRATORS = ("auto", "separate", "stacked")


def start_level(i):
    """Tank i's start level: 1.0 to 1.9 m, repeating every ten tanks
    (computed as (10 + i mod 10)/10, the nearest double to the decimal)."""
    return (10 + i % 10) / 10


def tank_cascade(n, stop=3600, dt=1, pi_every=5, linear_solver=None,
                 integrators=None, rtol=1e-8, atol=1e-10):
    """The scenario document for n tanks, as a dict in output order."""
    instances = {"pump0": {"model": "pump", "start": {"w": 0.0}},
                 "pi0": {"model": "pi", "start": {"integral": 0.0}}}
    connections = [{"from": "pump0.q", "to": "tank0.q_in"},
                   {"from": "tank0.h", "to": "pi0.pv"},
                   {"from": "pi0.out", "to": "pump0.cmd"}]
    outputs = ["pump0.w", "pi0.out"]
    valve_pis = []
    for i in range(n):
        tank = "tank%d" % i
        instances[tank] = {"model": "tank", "start": {"h": start_level(i)}}
        outputs.append(tank + ".h")
        if i + 1 < n:
            connections.append({"from": tank + ".q_out",
                                "to": "tank%d.q_in" % (i + 1)})
        if pi_every > 0 and i > 0 and i % pi_every == 0:
            pi = "pi%d" % i
            instances[pi] = {"model": "pi",
                             "params": {"kp": -0.8, "ki": -0.02, "sp": 1.5},
                             "start": {"integral": 0.0}}
            connections += [{"from": tank + ".h", "to": pi + ".pv"},
                            {"from": pi + ".out", "to": tank + ".valve"}]
            outputs.append(pi + ".out")
            valve_pis.append(i)

    doc = {
        "name": "tank-cascade-%d" % n,
        "description": (
            "Reference scenario tank-cascade-%d (issue 14): %d tanks in "
            "series, tank_i.q_out -> tank_{i+1}.q_in, one integration group "
            "of %d states; pump0 feeds tank0 at the speed pi0 sets from "
            "tank0's level (setpoint 2.0 m, 2.5 m from t = %s s); %s"
            % (n, n, n + 1, number(str(stop / 2)),
               "a reverse PI holding 1.5 m sets the outlet valve of tank "
               + ", ".join(str(i) for i in valve_pis) + "."
               if valve_pis else "no valve PIs.")),
        "time": {"start": 0, "stop": stop, "dt": dt},
        "pace": "batch",
        "solver": {"method": "bdf", "rtol": rtol, "atol": atol},
    }
    if linear_solver is not None:
        doc["linear_solver"] = linear_solver
    if integrators is not None:
        doc["integrators"] = integrators
    doc.update({
        "instances": instances,
        "connections": connections,
        "inputs": {"pi0.sp": {"steps": [[0, 2.0],
                                        [number(str(stop / 2)), 2.5]]}},
        "outputs": outputs,
        "every": 1,
    })
    return doc


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Write the reference scenario tank-cascade-N as JSON: "
                    "N tanks in series fed by a PI-controlled pump, one "
                    "connected integration group of N + 1 states.")
    parser.add_argument("n", metavar="N", type=positive_int,
                        help="number of tanks in series")
    parser.add_argument("--stop", type=number, default=3600,
                        metavar="SECONDS",
                        help="end of the simulated time (default 3600); "
                             "pi0's setpoint steps at half of it")
    parser.add_argument("--dt", type=number, default=1, metavar="DT",
                        help="tick length in seconds (default 1)")
    parser.add_argument("--pi-every", type=int, default=5, metavar="K",
                        help="a valve PI on tanks K, 2K, ... (default 5; "
                             "0 for none)")
    parser.add_argument("--rtol", type=finite_float, default=1e-8,
                        help="CVODE's relative tolerance (default 1e-8)")
    parser.add_argument("--atol", type=finite_float, default=1e-10,
                        help="CVODE's absolute tolerance (default 1e-10)")
    parser.add_argument("--linear-solver", choices=LINEAR_SOLVERS,
                        help="write the scenario's \"linear_solver\" "
                             "(default: leave it out, which means auto)")
    parser.add_argument("--integrators", choices=INTEGRATORS,
                        help="write the scenario's \"integrators\" "
                             "(default: leave it out, which means auto)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output")
    args = parser.parse_args(argv)

    check_times(parser, args.stop, args.dt)
    if not 0 < args.rtol < 1:
        parser.error("--rtol must be in (0, 1)")
    if args.atol <= 0:
        parser.error("--atol must be positive")
    if args.pi_every < 0:
        parser.error("--pi-every must be 0 (no valve PIs) or positive")

    doc = tank_cascade(args.n, args.stop, args.dt, args.pi_every,
                       args.linear_solver, args.integrators, args.rtol,
                       args.atol)
    write(dumps(doc), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
