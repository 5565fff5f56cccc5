"""Time events every 0.35 s (never on a whole-second tick): at each the
count n steps by one and last takes the event's time."""


class Ticker:
    name = "ticker_py"
    variables = [
        dict(name="period", kind="parameter", unit="s", start=0.35),
        dict(name="n", kind="state", unit="1", start=0.0),
        dict(name="last", kind="state", unit="s", start=0.0),
    ]

    def __init__(self, params):
        self.period = params["period"]
        self.k = 0

    def derivatives(self, t, x, u, dx):
        dx[0] = 0.0
        dx[1] = 0.0

    def next_event_time(self, t):
        return (self.k + 1) * self.period

    def event(self, t, x, u, crossed):
        self.k += 1
        x[0] = self.k
        x[1] = t
