"""A bouncing ball: h' = v, v' = -g; when h falls through 0 the ball
bounces, v = -e v and h = 0 (a state event with a state reset)."""


class Ball:
    name = "ball_py"
    n_event_indicators = 1
    variables = [
        dict(name="g", kind="parameter", unit="m/s2", start=9.81),
        dict(name="e", kind="parameter", unit="1", start=0.7, min=0.0,
             max=1.0),
        dict(name="h", kind="state", unit="m", start=1.0),
        dict(name="v", kind="state", unit="m/s", start=0.0),
        dict(name="bounces", kind="output", unit="1"),
    ]

    def __init__(self, params):
        self.g = params["g"]
        self.e = params["e"]
        self.bounces = 0

    def derivatives(self, t, x, u, dx):
        dx[0] = x[1]
        dx[1] = -self.g

    def outputs(self, t, x, u, y):
        y[0] = self.bounces

    def event_indicators(self, t, x, u, g):
        g[0] = x[0]

    def event(self, t, x, u, crossed):
        if crossed is not None and crossed[0] < 0:
            x[0] = 0.0
            x[1] = -self.e * x[1]
            self.bounces += 1
