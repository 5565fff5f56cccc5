"""A decay dx/dt = -x that fails after t = t_fail in the way its mode
says, as tests/fmus/faulty.c does for FMUs:
  0  raises ZeroDivisionError from derivatives
  1  writes NaN into dx
  2  crashes the interpreter (ctypes reads address 0, as a faulty
     extension would)
  3  never returns"""
import ctypes
import math


class Faulty:
    name = "faulty_py"
    variables = [dict(name="x", kind="state", start=1.0),
                 dict(name="mode", kind="parameter", start=0.0, min=0.0,
                      max=3.0, integer=True),
                 dict(name="t_fail", kind="parameter", unit="s", start=5.0)]

    def __init__(self, params):
        self.mode = int(params["mode"])
        self.t_fail = params["t_fail"]

    def derivatives(self, t, x, u, dx):
        dx[0] = -x[0]
        if t <= self.t_fail:
            return
        if self.mode == 0:
            raise ZeroDivisionError("the model divides by zero on purpose")
        if self.mode == 1:
            dx[0] = math.nan
        elif self.mode == 2:
            ctypes.string_at(0)
        else:
            while True:
                pass
