"""dx/dt = -x whose derivatives never return after t = 2 (the daemon's
run time limit must end the run)."""


class Hangs:
    name = "hangs"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        pass

    def derivatives(self, t, x, u, dx):
        while t > 2.0:
            pass
        dx[0] = -x[0]
