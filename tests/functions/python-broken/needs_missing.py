"""A function file whose import fails: the module does not exist."""
import twinctl_no_such_module  # noqa: F401


def never(x: float) -> float:
    """Never loaded."""
    return x
