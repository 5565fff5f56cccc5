"""A model whose import fails: the module it needs is not installed."""
import twinctl_no_such_module  # noqa: F401


class Missing:
    name = "missing"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        pass

    def derivatives(self, t, x, u, dx):
        dx[0] = 0.0
