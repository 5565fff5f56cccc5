"""A decay dx/dt = -x whose derivatives raise after t = 5 (the failure
test of test_python_models.py)."""


class Raises:
    name = "raises"
    variables = [
        dict(name="x", kind="state", start=1.0),
        dict(name="after", kind="parameter", start=5.0),
    ]

    def __init__(self, params):
        self.after = params["after"]

    def derivatives(self, t, x, u, dx):
        if t > self.after:
            raise ZeroDivisionError("the model divides by zero on purpose")
        dx[0] = -x[0]
