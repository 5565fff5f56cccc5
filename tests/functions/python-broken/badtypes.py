"""A function file with annotations the manifest cannot take."""


def untyped(x) -> float:
    """No annotation on x."""
    return x


def dicty(x: float) -> dict:
    """Returns a dict."""
    return {}
