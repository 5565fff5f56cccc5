"""pump_py: the reference first-order pump as a Python model, the twin of
models/pump/pump.c: dw/dt = (cmd - w)/tau, q = q_max*w, power = p_rated*w^3.
"""


class Pump:
    name = "pump_py"
    version = "1.0.0"
    description = "First-order pump: speed follows the command with tau."
    kind = "continuous"
    variables = [
        dict(name="tau", kind="parameter", unit="s", start=5.0, min=1e-9,
             description="Time constant of the speed response."),
        dict(name="q_max", kind="parameter", unit="m3/s", start=0.05, min=0.0,
             description="Flow at full speed."),
        dict(name="p_rated", kind="parameter", unit="W", start=7500.0,
             min=0.0, description="Shaft power at full speed."),
        dict(name="w", kind="state", unit="1", start=0.0,
             description="Normalised speed."),
        dict(name="cmd", kind="input", unit="1", start=0.0, min=0.0, max=1.0,
             description="Speed command, 0 stopped to 1 full speed."),
        dict(name="q", kind="output", unit="m3/s",
             description="Delivered flow."),
        dict(name="power", kind="output", unit="W",
             description="Shaft power."),
    ]

    def __init__(self, params):
        self.tau = params["tau"]
        self.q_max = params["q_max"]
        self.p_rated = params["p_rated"]

    def derivatives(self, t, x, u, dx):
        dx[0] = (u[0] - x[0]) / self.tau

    def outputs(self, t, x, u, y):
        w = x[0]
        y[0] = self.q_max * w
        y[1] = self.p_rated * w * w * w
