"""dx/dt = -x (x(t) = exp(-t)) that raises twin.Discard the first time a
trial step reaches past t = 2.5: the solver retries with a smaller step
and the answer is still exp(-t)."""
import twin


class Discarding:
    name = "discarding"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        self.discards = 0

    def derivatives(self, t, x, u, dx):
        if t > 2.5 and self.discards == 0:
            self.discards += 1
            raise twin.Discard("a trial step past t = 2.5")
        dx[0] = -x[0]
