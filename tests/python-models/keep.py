"""dx/dt = -x, with two faults on demand: __init__ raises when the
parameter bad is 1; derivatives keeps its view of x and reads it at the
next call, which must raise (the view was released after its call)."""


class Keep:
    name = "keep"
    variables = [dict(name="x", kind="state", start=1.0),
                 dict(name="bad", kind="parameter", start=0.0)]

    def __init__(self, params):
        if params["bad"] == 1.0:
            raise ValueError("the parameter bad is 1")
        self.old = None

    def derivatives(self, t, x, u, dx):
        if self.old is not None:
            self.old[0]
        self.old = x
        dx[0] = -x[0]
