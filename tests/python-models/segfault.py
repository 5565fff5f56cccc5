"""dx/dt = -x whose derivatives crash the interpreter (a segmentation
fault through ctypes, as a faulty extension would) after t = 3."""
import ctypes


class Segfault:
    name = "segfault"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        pass

    def derivatives(self, t, x, u, dx):
        if t > 3.0:
            ctypes.string_at(0)
        dx[0] = -x[0]
