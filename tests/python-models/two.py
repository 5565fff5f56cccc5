"""Two model classes in one file: decay_a (dx/dt = -x) and decay_b
(dx/dt = -k x, k = 2), each a model of its own."""


class DecayA:
    name = "decay_a"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        pass

    def derivatives(self, t, x, u, dx):
        dx[0] = -x[0]


class DecayB:
    name = "decay_b"
    variables = [dict(name="x", kind="state", start=1.0),
                 dict(name="k", kind="parameter", start=2.0)]

    def __init__(self, params):
        self.k = params["k"]

    def derivatives(self, t, x, u, dx):
        dx[0] = -self.k * x[0]
