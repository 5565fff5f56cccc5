"""twinctl's runner for Python function plugins (docs/functions.md).

twinctl runs this script with the deployment's interpreter, in a process
of its own for every use, never inside the controller:

    python3 pyfunc_runner.py manifest FILE.py     the functions of FILE.py
                                                  as JSON, on fd 3
    python3 pyfunc_runner.py call FILE.py NAME    call NAME with the JSON
                                                  object on stdin as its
                                                  arguments; the result
                                                  as JSON, on fd 3

The manifest is read from the module itself: every public function
defined in FILE.py (not imported into it), its parameters' and return
value's type annotations (float, int, bool, str, list[float]; None for
no value) and its docstring.  The controller checks a call's arguments
against that manifest before it starts this script; the script converts
them to the annotated types and converts the return value back.

Exit status: 0 with the answer on fd 3; 3 when the module does not
import, 4 when the function raised, 5 when it returned a value of another
type than its annotation, each with {"error": ...} on fd 3.
"""
import importlib.util
import inspect
import json
import math
import os
import sys
import traceback
import typing

TYPES = {float: "float", int: "int", bool: "bool", str: "str"}


def type_name(annotation):
    """The manifest's name of an annotation, or None when unsupported."""
    if annotation in TYPES:
        return TYPES[annotation]
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        if text in ("float", "int", "bool", "str", "None"):
            return text
        if text in ("list[float]", "List[float]", "typing.List[float]"):
            return "list[float]"
        return None
    if typing.get_origin(annotation) is list and \
            typing.get_args(annotation) == (float,):
        return "list[float]"
    return None


def unit_of(text):
    """A trailing "[unit]" of a line: (text without it, unit)."""
    text = text.strip()
    if text.endswith("]") and "[" in text:
        at = text.rindex("[")
        return text[:at].strip(), text[at + 1:-1].strip()
    return text, ""


def parse_doc(doc):
    """The docstring: its summary paragraph, the "Args:" lines
    ("name: what it is [unit]") and the "Returns:" line."""
    doc = inspect.cleandoc(doc or "")
    summary, args, returns, section = [], {}, ("", ""), None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            section = "args"
            continue
        if stripped == "Returns:":
            section = "returns"
            continue
        if section is None:
            summary.append(stripped)
        elif section == "args" and ":" in stripped:
            name, text = stripped.split(":", 1)
            args[name.strip()] = unit_of(text)
        elif section == "returns" and stripped:
            returns = unit_of(stripped)
    text = " ".join(" ".join(summary).split())
    return text, args, returns


def load(path):
    """Import the file as a module of its own name, its directory first on
    sys.path (so that it may import a _helper.py beside it)."""
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def functions(module):
    """The module's own public functions, in the order of the file."""
    found = [f for n, f in vars(module).items()
             if inspect.isfunction(f) and not n.startswith("_")
             and f.__module__ == module.__name__]
    return sorted(found, key=lambda f: f.__code__.co_firstlineno)


def describe(f):
    """One function's manifest entry, and its problems."""
    problems = []
    doc, arg_docs, (ret_doc, ret_unit) = parse_doc(f.__doc__)
    if not doc:
        problems.append(f"function '{f.__name__}' has no docstring: its "
                        "first line says what it computes")
    try:
        hints = typing.get_type_hints(f)
    except Exception:
        hints = dict(f.__annotations__)
    sig = inspect.signature(f)
    args = []
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            problems.append(f"function '{f.__name__}': '{p}' is not a "
                            "plain parameter (no *args, **kwargs or "
                            "positional-only ones)")
            continue
        t = type_name(hints.get(p.name, p.annotation)) \
            if p.name in hints or p.annotation is not p.empty else None
        if t is None or t == "None":
            problems.append(f"function '{f.__name__}': parameter '{p.name}'"
                            " needs a type annotation: float, int, bool, str "
                            "or list[float]")
            t = "?"
        text, unit = arg_docs.get(p.name, ("", ""))
        arg = {"name": p.name, "type": t, "doc": text, "unit": unit}
        if p.default is not p.empty:
            arg["optional"] = True
        args.append(arg)
    if "return" not in hints and sig.return_annotation is sig.empty:
        problems.append(f"function '{f.__name__}' needs a return annotation:"
                        " float, int, bool, str, list[float] or None")
        ret = "?"
    else:
        ret = type_name(hints.get("return", sig.return_annotation)) or "?"
        if ret == "?":
            problems.append(f"function '{f.__name__}' returns "
                            f"{sig.return_annotation!r}: a function returns "
                            "float, int, bool, str, list[float] or None")
    entry = {"name": f.__name__, "doc": doc, "args": args,
             "returns": {"type": ret, "doc": ret_doc, "unit": ret_unit}}
    return entry, problems


def import_error(exc, path):
    """{"error"} for a module that does not import."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return {"error": "import", "module": exc.name, "message": str(exc)}
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return {"error": "exception", "message": last,
            "traceback": tail(exc, path)}


def tail(exc, path):
    """The last lines of a traceback, in the user's own file."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [fr for fr in frames if fr.filename == path] or frames[-1:]
    return [f"{os.path.basename(fr.filename)}:{fr.lineno} in {fr.name}"
            for fr in own[-3:]]


def finite(x, name, nonfinite):
    """A float for JSON: None (null) when not finite, named once."""
    x = float(x)
    if math.isfinite(x):
        return x
    if name not in nonfinite:
        nonfinite.append(name)
    return None


def convert(value, t):
    """A JSON argument as the annotated type."""
    if t == "float":
        return float(value)
    if t == "list[float]":
        return [float(v) for v in value]
    return value


def result(value, t, nonfinite):
    """The return value for JSON, or raise TypeError."""
    if t == "None":
        return None
    if t == "float":
        if isinstance(value, (str, bytes, list, tuple, dict)) or \
                value is None or isinstance(value, bool):
            raise TypeError(value)
        return finite(value, "value", nonfinite)
    if t == "int":
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(value)
        return int(value.__index__())
    if t == "bool":
        if type(value).__name__ not in ("bool", "bool_"):
            raise TypeError(value)
        return bool(value)
    if t == "str":
        if not isinstance(value, str):
            raise TypeError(value)
        return value
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(value)
    return [finite(v, "value", nonfinite) for v in value]


def answer(obj, status):
    """Write obj to fd 3 (the controller's pipe) and exit."""
    with os.fdopen(3, "w") as out:
        json.dump(obj, out, allow_nan=False)
    sys.stdout.flush()
    os._exit(status)


def main(argv):
    mode, path = argv[1], os.path.abspath(argv[2])
    try:
        module = load(path)
    except BaseException as exc:  # import-time code may raise anything
        answer(import_error(exc, path), 3)
    if mode == "manifest":
        entries, problems = [], []
        for f in functions(module):
            entry, p = describe(f)
            entries.append(entry)
            problems += p
        doc = inspect.cleandoc(module.__doc__ or "")
        answer({"doc": " ".join(doc.split("\n\n")[0].split()),
                "functions": entries, "problems": problems}, 0)
    name = argv[3]
    f = getattr(module, name)
    entry, _ = describe(f)
    args = json.load(sys.stdin)
    types = {a["name"]: a["type"] for a in entry["args"]}
    kwargs = {k: convert(v, types[k]) for k, v in args.items()}
    try:
        value = f(**kwargs)
    except BaseException as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        answer({"error": "exception", "message": last,
                "traceback": tail(exc, path)}, 4)
    nonfinite = []
    t = entry["returns"]["type"]
    try:
        out = result(value, t, nonfinite)
    except (TypeError, ValueError, OverflowError):
        answer({"error": "return", "message": f"returned {value!r:.200} "
                f"({type(value).__name__}), not {t}"}, 5)
    answer({"value": out, "nonfinite": nonfinite}, 0)


if __name__ == "__main__":
    main(sys.argv)
