"""tank_py: the reference tank (shared/reference-models.md) as a Python
model, the twin of models/tank/tank.c: dh/dt = (q_in - q_out)/A with
q_out = cv*valve*sqrt(max(h, 0)); overflow is a state event at h = height.
"""
import math

import twin

INF = math.inf


class Tank:
    name = "tank_py"
    version = "1.0.0"
    description = ("Gravity-drained cylindrical tank with an outlet valve; "
                   "overflow is located as a state event at h = height.")
    kind = "continuous"
    n_event_indicators = 1
    variables = [
        dict(name="area", kind="parameter", unit="m2", start=2.0, min=1e-9,
             description="Cross-section of the tank."),
        dict(name="cv", kind="parameter", unit="m2.5/s", start=0.03, min=0.0,
             description="Outlet coefficient: q_out = cv * valve * sqrt(h)."),
        dict(name="height", kind="parameter", unit="m", start=4.0, min=0.0,
             description="Height of the tank wall."),
        dict(name="h", kind="state", unit="m", start=1.0, min=0.0,
             description="Liquid level."),
        dict(name="q_in", kind="input", unit="m3/s", start=0.0,
             description="Inflow."),
        dict(name="valve", kind="input", unit="1", start=0.5, min=0.0, max=1.0,
             description="Outlet valve opening, 0 shut to 1 open."),
        dict(name="q_out", kind="output", unit="m3/s", feedthrough=True,
             description="Outflow through the valve."),
        dict(name="overflow", kind="output", unit="1", min=0.0, max=1.0,
             description="1 while the level is above the tank height."),
    ]
    # As the C tank: dh/dt on h, q_in, valve; q_out on h and valve.
    dependencies = [("h", "h"), ("h", "q_in"), ("h", "valve"),
                    ("q_out", "h"), ("q_out", "valve")]

    def __init__(self, params):
        self.area = params["area"]
        self.cv = params["cv"]
        self.height = params["height"]
        self.overflow = 0

    def q_out(self, x, u):
        return self.cv * u[1] * math.sqrt(max(x[0], 0.0))

    def init(self, t, x, u):
        self.overflow = 1 if x[0] > self.height else 0

    def derivatives(self, t, x, u, dx):
        dx[0] = (u[0] - self.q_out(x, u)) / self.area

    def outputs(self, t, x, u, y):
        y[0] = self.q_out(x, u)
        y[1] = self.overflow

    def event_indicators(self, t, x, u, g):
        g[0] = x[0] - self.height

    def event(self, t, x, u, crossed):
        if crossed is not None and crossed[0] != 0:
            self.overflow = 1 if crossed[0] > 0 else 0
            twin.log(twin.INFO, f"overflow {self.overflow} at t = {t}")
