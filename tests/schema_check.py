#!/usr/bin/env python3
"""schema_check.py — validate twinctl wire messages against docs/schema/.

Command line:

    python3 tests/schema_check.py KIND FILE...
    python3 tests/schema_check.py KIND -        # one JSON document per line

KIND names a schema, docs/schema/<KIND>.schema.json: twin.request,
twin.response, twin.result, twin.event, twin.status, twin.scenario,
twin.instance, twin.functions (a function plugin's manifest), twin.batch
(a what-if batch; the short forms request, ... and contract strings like
twin.result/1 work too), or "auto": the kind named by each document's
"contract" member.  Every failure is printed as

    WHERE: /json/pointer: what is wrong

(WHERE is the file, or <stdin>:LINE).  Exit 0 when every document is
valid, 1 when one is not, 2 on a usage error or unreadable input.

As a module (standard library + python3-jsonschema):

    import schema_check
    schema_check.validate("twin.result", msg)    # -> [] or ["/rows/0/1: ..."]
    schema_check.check("twin.result", msg)       # raises InvalidMessage

Beyond the JSON Schemas it applies the wire rules a schema cannot express
(draft-07 compares no two members):

- integers are JSON integers: 1.0 is not an integer (jansson, which the
  controller reads with, makes the same distinction);
- result: every row has one value per column;
- response: messages = last_seq + 1;
- request: replay's to_seq >= from_seq;
- status: load = the number of runs listed, and load <= capacity.

Documents are parsed strictly: NaN/Infinity and duplicate keys are errors.
The schemas are read from docs/schema/ beside this tests/ directory, or
from $TWIN_SCHEMA_DIR.
"""

import json
import os
import sys

import jsonschema
from jsonschema import Draft7Validator, validators

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.environ.get(
    "TWIN_SCHEMA_DIR", os.path.join(os.path.dirname(HERE), "docs", "schema"))

KINDS = ("twin.request", "twin.response", "twin.result", "twin.event",
         "twin.status", "twin.scenario", "twin.instance", "twin.functions",
         "twin.batch")


class InvalidMessage(ValueError):
    """A document that does not satisfy its schema; .errors lists why."""

    def __init__(self, kind, errors):
        self.kind = kind
        self.errors = list(errors)
        super().__init__("not a valid %s: %s" % (kind, "; ".join(self.errors)))


class BadJSON(ValueError):
    pass


# ---- parsing ------------------------------------------------------------

def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise BadJSON("duplicate key %r" % k)
        obj[k] = v
    return obj


def _no_constant(name):
    raise BadJSON("%s is not JSON" % name)


def loads(text):
    """Parse one JSON document strictly (no NaN/Infinity, no duplicate
    keys); raises BadJSON."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise BadJSON(str(e)) from None


# ---- schemas ------------------------------------------------------------

def kind_name(kind):
    """Normalise "result", "twin.result", "twin.result/1" to "twin.result"."""
    k = kind.split("/", 1)[0]
    if not k.startswith("twin."):
        k = "twin." + k
    if k not in KINDS:
        raise KeyError("unknown kind %r (one of %s)" % (kind, ", ".join(KINDS)))
    return k


def kind_of(obj):
    """The kind a document's "contract" member names, or None."""
    c = obj.get("contract") if isinstance(obj, dict) else None
    if not isinstance(c, str):
        return None
    try:
        return kind_name(c)
    except KeyError:
        return None


def _is_int(checker, x):
    return isinstance(x, int) and not isinstance(x, bool)


_Strict = validators.extend(
    Draft7Validator,
    type_checker=Draft7Validator.TYPE_CHECKER.redefine("integer", _is_int))

_schemas = None
_validators = {}


def load_schemas(schema_dir=None):
    """{kind: schema} of every docs/schema/*.schema.json."""
    out = {}
    d = schema_dir or SCHEMA_DIR
    for name in sorted(os.listdir(d)):
        if name.endswith(".schema.json"):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                out[name[:-len(".schema.json")]] = json.load(f)
    return out


def _make_validator(schema, schemas, cls=_Strict):
    try:  # jsonschema >= 4.18: a referencing registry
        from referencing import Registry
        from referencing.jsonschema import DRAFT7
        registry = Registry().with_resources(
            (s["$id"], DRAFT7.create_resource(s)) for s in schemas.values())
        return cls(schema, registry=registry)
    except (ImportError, TypeError):
        store = {s["$id"]: s for s in schemas.values()}
        resolver = jsonschema.RefResolver.from_schema(schema, store=store)
        return cls(schema, resolver=resolver)


def validator(kind, cls=None):
    """A draft-07 validator for kind, with $ref across the schema files."""
    global _schemas
    kind = kind_name(kind)
    if cls is not None:
        if _schemas is None:
            _schemas = load_schemas()
        return _make_validator(_schemas[kind], _schemas, cls)
    if kind not in _validators:
        if _schemas is None:
            _schemas = load_schemas()
        if kind not in _schemas:
            raise KeyError("no schema %s.schema.json in %s" % (kind, SCHEMA_DIR))
        _validators[kind] = _make_validator(_schemas[kind], _schemas)
    return _validators[kind]


# ---- messages -----------------------------------------------------------

def pointer(path):
    """A JSON Pointer from a jsonschema path deque."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1")
                   for p in path)


def _short(text, limit=160):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _report(err):
    """(JSON Pointer, message) for one jsonschema error.  A value that fits
    none of the forms a oneOf/anyOf allows is reported where the closest
    form fails, with the form's description."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        what = err.schema.get("description") if isinstance(err.schema, dict) else None
        # Prefer a branch of the right shape over "is not of type ...", and
        # a failure inside the value over one about the value as a whole.
        shaped = [e for e in err.context
                  if e.relative_path or e.validator not in ("type", "const")]
        deep = [e for e in shaped if e.relative_path]
        best = jsonschema.exceptions.best_match(deep or shaped or err.context)
        where, msg = _report(best)
        if not deep:
            where = pointer(err.absolute_path)
        return where, "%s (%s)" % (msg, what or "it matches none of the "
                                   "allowed forms")
    if err.schema is False or (err.validator == "not" and
                               err.validator_value == {}):
        return pointer(err.absolute_path), "member not allowed here"
    if "propertyNames" in err.absolute_schema_path:
        # About a member's name: point at the member.
        return (pointer(list(err.absolute_path) + [err.instance]),
                "member name " + _short(err.message))
    return pointer(err.absolute_path), _short(err.message)


def _extra(kind, obj):
    """Wire rules the schemas cannot express: [(pointer, message)]."""
    out = []
    if not isinstance(obj, dict):
        return out
    if kind == "twin.result":
        cols, rows = obj.get("columns"), obj.get("rows")
        if isinstance(cols, list) and isinstance(rows, list):
            for i, r in enumerate(rows):
                if isinstance(r, list) and len(r) != len(cols):
                    out.append(("/rows/%d" % i, "row has %d values for %d "
                                "columns" % (len(r), len(cols))))
    elif kind == "twin.response":
        ls, m = obj.get("last_seq"), obj.get("messages")
        if _is_int(None, ls) and _is_int(None, m) and m != ls + 1:
            out.append(("/messages", "messages is %d, not last_seq + 1 = %d"
                        % (m, ls + 1)))
    elif kind == "twin.request":
        a, b = obj.get("from_seq"), obj.get("to_seq")
        if _is_int(None, a) and _is_int(None, b) and b < a:
            out.append(("/to_seq", "to_seq %d is before from_seq %d" % (b, a)))
    elif kind == "twin.status":
        load, cap, runs = obj.get("load"), obj.get("capacity"), obj.get("runs")
        if _is_int(None, load) and isinstance(runs, list) and load != len(runs):
            out.append(("/load", "load is %d but %d runs are listed"
                        % (load, len(runs))))
        if _is_int(None, load) and _is_int(None, cap) and load > cap:
            out.append(("/load", "load %d is over capacity %d" % (load, cap)))
    return out


def wire_rules(kind, obj):
    """Only the wire rules beyond the schema (see the module's docstring),
    as "/pointer: message" strings."""
    return ["%s: %s" % p for p in _extra(kind_name(kind), obj)]


def validate(kind, obj):
    """Every problem of obj as a twin <kind> document, as
    "/pointer: message" strings; [] when it is valid.  kind "auto" takes
    the kind from obj's contract member."""
    if kind == "auto":
        k = kind_of(obj)
        if k is None:
            return [': no "contract" member naming a known kind']
        kind = k
    kind = kind_name(kind)
    errs = sorted(validator(kind).iter_errors(obj),
                  key=lambda e: (list(map(str, e.absolute_path)), e.message))
    out = ["%s: %s" % _report(e) for e in errs]
    out += ["%s: %s" % p for p in _extra(kind, obj)]
    return out


def check(kind, obj):
    """Raise InvalidMessage unless obj is a valid twin <kind> document."""
    errors = validate(kind, obj)
    if errors:
        raise InvalidMessage(kind, errors)


def check_sent(messages, min_seen, show=5):
    """Validate what controllers sent among received MQTT messages (objects
    with topic, payload and raw, as tests/integration/harness.py keeps
    them); requests and live inputs, the tests' own and bad on purpose,
    are skipped.  Prints the first `show` invalid ones; raises
    InvalidMessage when one is invalid or fewer than min_seen were seen."""
    seen, bad = 0, []
    for m in messages:
        p = m.payload
        if not isinstance(p, dict) or "/request" in m.topic or \
                "/input/" in m.topic or \
                str(p.get("contract", "")).startswith("twin.request"):
            continue
        seen += 1
        problems = validate("auto", p)
        if problems:
            bad.append(m.topic)
            if len(bad) <= show:
                print("    invalid %s: %s: %s" % (m.topic, problems[:3],
                                                  m.raw[:200]))
    if bad or seen < min_seen:
        raise InvalidMessage("sent", ["%d of %d messages invalid (at least "
                                      "%d expected)" % (len(bad), seen,
                                                        min_seen)])
    return seen


# ---- command line -------------------------------------------------------

def _documents(args):
    """(where, text) of every document named on the command line."""
    for a in args:
        if a == "-":
            for n, line in enumerate(sys.stdin, 1):
                if line.strip():
                    yield "<stdin>:%d" % n, line
        else:
            with open(a, encoding="utf-8") as f:
                yield a, f.read()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    quiet = False
    if argv and argv[0] in ("-q", "--quiet"):
        quiet, argv = True, argv[1:]
    if len(argv) < 2 or argv[0] in ("-h", "--help"):
        sys.stderr.write("usage: schema_check.py [-q] KIND FILE... "
                         "(FILE - reads one JSON document per line)\n"
                         "KIND: auto, %s\n" % ", ".join(KINDS))
        return 2
    kind = argv[0]
    try:  # a line per failure as it is found, also into a pipe
        sys.stdout.reconfigure(line_buffering=True)
    except AttributeError:
        pass
    try:
        if kind != "auto":
            kind = kind_name(kind)
            validator(kind)
    except (KeyError, OSError, ValueError) as e:
        sys.stderr.write("schema_check: %s\n" % e)
        return 2
    bad = 0
    count = 0
    try:
        for where, text in _documents(argv[1:]):
            count += 1
            try:
                obj = loads(text)
            except BadJSON as e:
                print("%s: not JSON: %s" % (where, e))
                bad += 1
                continue
            errors = validate(kind, obj)
            for e in errors:
                print("%s: %s" % (where, e))
            if errors:
                bad += 1
            elif not quiet:
                print("%s: valid" % where)
    except OSError as e:
        sys.stderr.write("schema_check: %s\n" % e)
        return 2
    if not quiet or bad:
        print("%d valid, %d invalid" % (count - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
