"""pi_py: the reference sampled PI level controller as a Python model, the
twin of models/pi/pi.c (conditional integration anti-windup, output held
over the tick).
"""
import math

INF = math.inf


class PI:
    name = "pi_py"
    version = "1.0.0"
    description = "Sampled PI controller with conditional-integration anti-windup."
    kind = "discrete"
    variables = [
        dict(name="kp", kind="parameter", unit="1", start=0.8, min=-INF,
             description="Proportional gain."),
        dict(name="ki", kind="parameter", unit="1/s", start=0.02, min=-INF,
             description="Integral gain."),
        dict(name="sp", kind="parameter", unit="1", start=2.0, min=-INF,
             description="Setpoint, used while the input sp is not connected."),
        dict(name="out_min", kind="parameter", unit="1", start=0.0, min=-INF,
             description="Lower output limit."),
        dict(name="out_max", kind="parameter", unit="1", start=1.0, min=-INF,
             description="Upper output limit."),
        dict(name="integral", kind="state", unit="1", start=0.0,
             description="Integral term."),
        dict(name="pv", kind="input", unit="1", start=0.0,
             description="Process value."),
        dict(name="sp", kind="input", unit="1", start=math.nan,
             description="Setpoint input; optional, overrides the parameter."),
        dict(name="out", kind="output", unit="1", feedthrough=True,
             description="Controller output, held over the tick."),
    ]

    def __init__(self, params):
        self.kp = params["kp"]
        self.ki = params["ki"]
        self.sp = params["sp"]
        self.out_min = params["out_min"]
        self.out_max = params["out_max"]

    def tick(self, t, dt, x, u, y):
        sp = self.sp if math.isnan(u[1]) else u[1]
        e = sp - u[0]
        step = self.ki * e * dt
        candidate = self.kp * e + x[0] + step
        if self.out_min <= candidate <= self.out_max:
            x[0] += step
        y[0] = min(max(self.kp * e + x[0], self.out_min), self.out_max)
