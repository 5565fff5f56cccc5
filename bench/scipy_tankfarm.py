#!/usr/bin/python3
"""scipy_tankfarm.py — the SciPy anchor: tank-farm-N as a Python script
of the paper's own numerics would run it.

The same equations as bench/floor_chains.c (docs of the reference models:
pump -> tank -> pi per chain, the valve step at 3600 + 10 i s, the PI
sampled once per tick with conditional integration), written as ONE
NumPy right-hand side over all chains' 2N states and integrated with
SciPy's solve_ivp (method LSODA, rtol 1e-8, atol 1e-10, as the scenario)
from tick to tick; the PIs are ticked in Python between the calls, and
every tick's row (t, then h, q_out, w, power, out per chain) is summed
into the checksum as the floor does.  The tank's overflow flag is not
located (it only flips a flag and the levels stay near 2 m of 4).

    scipy_tankfarm.py [--print-final] N [HOURS] [DT]

prints one line in the format of bench/floor_tankfarm ("scipy" in front)
and, with --print-final, each chain's final level, one per line, to
compare with `floor_tankfarm --print-final` (docs/performance.md).
"""
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

PUMP_TAU, PUMP_Q_MAX, PUMP_P_RATED = 5.0, 0.05, 7500.0
TANK_AREA, TANK_CV = 2.0, 0.03
PI_KP, PI_KI, PI_OUT_MIN, PI_OUT_MAX = 0.8, 0.02, 0.0, 1.0
VALVE_BEFORE, VALVE_AFTER = 0.5, 0.8
RTOL, ATOL = 1e-8, 1e-10


def rhs(t, x, cmd, valve):
    """All chains at once: x = [w_0 .. w_{N-1}, h_0 .. h_{N-1}]."""
    n = cmd.size
    w, h = x[:n], x[n:]
    q_out = TANK_CV * valve * np.sqrt(np.maximum(h, 0.0))
    return np.concatenate(((cmd - w) / PUMP_TAU,
                           (PUMP_Q_MAX * w - q_out) / TANK_AREA))


def main(argv):
    print_final = "--print-final" in argv
    pos = [a for a in argv[1:] if a != "--print-final"]
    if not 1 <= len(pos) <= 3:
        sys.exit("usage: scipy_tankfarm.py [--print-final] N [HOURS] [DT]")
    n = int(pos[0])
    hours = float(pos[1]) if len(pos) > 1 else 24.0
    dt = float(pos[2]) if len(pos) > 2 else 1.0
    ticks = round(hours * 3600.0 / dt)

    t0 = time.perf_counter()
    i = np.arange(n)
    sp = 2.0 + 0.01 * i
    step_t = 3600.0 + 10.0 * i
    x = np.concatenate((np.zeros(n), np.ones(n)))
    integral = np.zeros(n)
    checksum, steps, nfev, njev = 0.0, 0, 0, 0
    for k in range(ticks + 1):
        t = k * dt
        w, h = x[:n], x[n:]
        valve = np.where(t < step_t, VALVE_BEFORE, VALVE_AFTER)
        e = sp - h
        inc = PI_KI * e * dt
        cand = PI_KP * e + integral + inc
        integral = np.where((cand >= PI_OUT_MIN) & (cand <= PI_OUT_MAX),
                            integral + inc, integral)
        out = np.clip(PI_KP * e + integral, PI_OUT_MIN, PI_OUT_MAX)
        # The row, summed in the floor's order: t, then per chain
        # h, q_out, w, power, out.
        row = np.empty(1 + 5 * n)
        row[0] = t
        row[1::5] = h
        row[2::5] = TANK_CV * valve * np.sqrt(np.maximum(h, 0.0))
        row[3::5] = w
        row[4::5] = PUMP_P_RATED * w ** 3
        row[5::5] = out
        checksum += float(np.sum(row))
        if k == ticks:
            break
        sol = solve_ivp(rhs, (t, t + dt), x, method="LSODA", rtol=RTOL,
                        atol=ATOL, args=(out, valve))
        if not sol.success:
            sys.exit(f"scipy_tankfarm: solve_ivp failed at t={t}: "
                     f"{sol.message}")
        x = sol.y[:, -1].copy()
        steps += sol.t.size - 1
        nfev += sol.nfev
        njev += sol.njev
    wall = time.perf_counter() - t0
    us_tick = 1e6 * wall / ticks
    print(f"scipy N={n} hours={hours:g} ticks={ticks} wall_s={wall:.3f} "
          f"us_per_tick={us_tick:.1f} us_per_chain_tick={us_tick / n:.3f} "
          f"steps={steps} rhs_evals={nfev} restarts={ticks} "
          f"checksum={checksum:.12e}")
    print(f"# scipy jacobians={njev}", file=sys.stderr)
    if print_final:
        for v in x[n:]:
            print(f"{v:.12e}")


if __name__ == "__main__":
    main(sys.argv)
