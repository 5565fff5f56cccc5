"""bioreactor_py: the reference fed-batch Monod fermenter as a Python
model, the twin of models/bioreactor/bioreactor.c.

    mu = mu_max*s/(ks + s),  D = F/v
    dx/dt = mu*x - D*x
    ds/dt = -mu*x/yxs + D*(s_feed - s)
    dp/dt = ypx*mu*x - D*p
    dv/dt = F
"""
import twin


class Bioreactor:
    name = "bioreactor_py"
    version = "1.0.0"
    description = "Fed-batch Monod fermenter: biomass, substrate, product, volume."
    kind = "continuous"
    variables = [
        dict(name="mu_max", kind="parameter", unit="1/s", start=0.4 / 3600.0,
             min=0.0, description="Maximum specific growth rate."),
        dict(name="ks", kind="parameter", unit="g/L", start=0.1, min=1e-12,
             description="Monod half-saturation constant."),
        dict(name="yxs", kind="parameter", unit="1", start=0.5, min=1e-12,
             description="Biomass yield on substrate."),
        dict(name="ypx", kind="parameter", unit="1", start=0.2, min=0.0,
             description="Product yield on biomass."),
        dict(name="s_feed", kind="parameter", unit="g/L", start=200.0,
             min=0.0, description="Substrate concentration in the feed."),
        dict(name="x", kind="state", unit="g/L", start=0.5, min=0.0,
             description="Biomass."),
        dict(name="s", kind="state", unit="g/L", start=10.0, min=0.0,
             description="Substrate."),
        dict(name="p", kind="state", unit="g/L", start=0.0, min=0.0,
             description="Product."),
        dict(name="v", kind="state", unit="L", start=2.0, min=1e-12,
             description="Broth volume."),
        dict(name="feed", kind="input", unit="L/s", start=0.0, min=0.0,
             description="Feed rate F."),
        dict(name="mu", kind="output", unit="1/s",
             description="Specific growth rate."),
    ]

    def __init__(self, params):
        self.mu_max = params["mu_max"]
        self.ks = params["ks"]
        self.yxs = params["yxs"]
        self.ypx = params["ypx"]
        self.s_feed = params["s_feed"]

    def growth(self, x):
        s = max(x[1], 0.0)
        return self.mu_max * s / (self.ks + s)

    def derivatives(self, t, x, u, dx):
        if not x[3] > 0.0:
            raise twin.Discard("a trial step emptied the vessel")
        mu = self.growth(x)
        d = u[0] / x[3]
        dx[0] = mu * x[0] - d * x[0]
        dx[1] = -mu * x[0] / self.yxs + d * (self.s_feed - x[1])
        dx[2] = self.ypx * mu * x[0] - d * x[2]
        dx[3] = u[0]

    def outputs(self, t, x, u, y):
        y[0] = self.growth(x)
