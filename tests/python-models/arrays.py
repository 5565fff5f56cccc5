"""dx/dt = -k x with k = (1, 2): x(t) = (exp(-t), exp(-2 t)), computed
through NumPy views of the host's arrays, after checking at every call
what a twin.Array does (docs/python.md, Arrays): an AssertionError fails
the run, naming the check."""
import numpy

import twin

K = numpy.array([1.0, 2.0])


def refuses(what, error, f):
    try:
        f()
    except error:
        return
    raise AssertionError(f"{what} was not refused with {error.__name__}")


class Arrays:
    name = "arrays_py"
    variables = [dict(name="a", kind="state", start=1.0),
                 dict(name="b", kind="state", start=1.0),
                 dict(name="u0", kind="input", start=3.0),
                 dict(name="s", kind="output")]

    def __init__(self, params):
        pass

    def derivatives(self, t, x, u, dx):
        assert isinstance(x, twin.Array) and len(x) == 2, "len"
        assert x.readonly and u.readonly and not dx.readonly, "readonly"
        assert x[-1] == x[1] and x[-2] == x[0], "negative indices"
        assert list(x) == x.tolist() == [x[0], x[1]], "iteration, tolist"
        assert x[0:2] == x.tolist() and x[5:] == [], "a slice"
        assert x[::-1] == [x[1], x[0]], "a reversed slice"
        assert u[0] == 3.0 and len(u) == 1, "the input"
        assert "twin.Array(" in repr(x), "repr"
        refuses("x[2]", IndexError, lambda: x[2])
        refuses("x[-3]", IndexError, lambda: x[-3])
        refuses("x['a']", TypeError, lambda: x["a"])
        refuses("writing x", TypeError, lambda: x.__setitem__(0, 1.0))
        refuses("writing u", TypeError, lambda: u.__setitem__(0, 1.0))
        refuses("a writable NumPy array on x", ValueError,
                lambda: numpy.frombuffer(x).__setitem__(0, 1.0))
        refuses("writing a string", TypeError,
                lambda: dx.__setitem__(0, "one"))
        dx[0:2] = [7.0, 8.0]
        assert dx.tolist() == [7.0, 8.0], "slice assignment"
        dx[::-1] = (1, 2)
        assert dx.tolist() == [2.0, 1.0], "reversed slice assignment"
        refuses("a slice of another length", ValueError,
                lambda: dx.__setitem__(slice(0, 2), [1.0]))
        refuses("a slice of strings", TypeError,
                lambda: dx.__setitem__(slice(0, 1), ["one"]))
        assert dx.tolist() == [2.0, 1.0], "a refused slice writes nothing"
        refuses("a slice of x", TypeError,
                lambda: x.__setitem__(slice(0, 1), [1.0]))
        dx[-1] = 9.0
        assert dx[1] == 9.0, "assignment at a negative index"
        xs = numpy.asarray(x)
        assert xs.dtype == numpy.float64 and xs.shape == (2,), "NumPy view"
        numpy.asarray(dx)[:] = -K * xs

    def outputs(self, t, x, u, y):
        y[0] = sum(x)
