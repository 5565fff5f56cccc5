"""Python functions of every type, for the tests of Python function plugins."""
import math


def py_scale(x: float, factor: float = 2.0) -> float:
    """x times factor.

    Args:
        x: the value [m]
        factor: what x is multiplied by
    Returns:
        x * factor [m]
    """
    return x * factor


def py_digits(n: int) -> int:
    """The number of decimal digits of |n|."""
    return len(str(abs(n)))


def py_negate(flag: bool) -> bool:
    """not flag."""
    return not flag


def py_greet(name: str) -> str:
    """'hello, ' and name."""
    return "hello, " + name


def py_cumsum(x: list[float]) -> list[float]:
    """Running sums of x.

    Args:
        x: the values [m3]
    """
    out, s = [], 0.0
    for v in x:
        s += v
        out.append(s)
    return out


def py_norm(x: list[float]) -> float:
    """The Euclidean norm of x, with NumPy."""
    import numpy
    return float(numpy.linalg.norm(numpy.asarray(x)))


def py_log(x: float) -> float:
    """math.log(x): raises ValueError for x <= 0."""
    return math.log(x)


def py_inf(x: float) -> float:
    """x / 0 as IEEE would: infinity (sent as null)."""
    return math.inf if x > 0 else math.nan


def py_nothing(x: float) -> None:
    """Returns nothing."""
    print("py_nothing prints", x)


def py_liar(x: float) -> float:
    """Claims a float, returns a string."""
    return "not a number"


def py_forever(x: float) -> float:
    """Never returns."""
    while True:
        pass


def _helper():
    return 1


def py_peak(y: list[float]) -> float:
    """The largest value of a series: a scenario's function or a KPI.

    Args:
        y: the signal's values, one per tick
    """
    return max(y)


def py_trapz(t: list[float], y: list[float], scale: float = 1.0) -> float:
    """scale times the trapezoid-rule integral of y over t, with NumPy.

    Args:
        t: the tick times [s]
        y: the signal's values
        scale: a factor
    """
    import numpy
    t, y = numpy.asarray(t), numpy.asarray(y)
    return float(scale * numpy.sum((t[1:] - t[:-1]) * (y[1:] + y[:-1]) / 2))


def py_kpi_raises(y: list[float]) -> float:
    """A KPI whose computation fails: raises RuntimeError."""
    raise RuntimeError(f"no KPI on {len(y)} samples")
