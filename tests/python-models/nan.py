"""A decay dx/dt = -x whose derivative is NaN after t = 5."""


class Nan:
    name = "nan_model"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        pass

    def derivatives(self, t, x, u, dx):
        dx[0] = float("nan") if t > 5.0 else -x[0]
