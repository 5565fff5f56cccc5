"""dx/dt = -k*x with k from the module twinctl_venv_probe, which only the
test's virtual environment holds (--python-venv); prints once, to show
that a model's prints reach the run's stderr."""
import twinctl_venv_probe


class UsesVenv:
    name = "uses_venv"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        self.k = twinctl_venv_probe.K
        print("uses_venv: k =", self.k)

    def derivatives(self, t, x, u, dx):
        dx[0] = -self.k * x[0]
