#!/bin/sh
# test_schemas.sh — checks the JSON Schemas of docs/schema/ themselves:
#
#   - each is a valid draft-07 schema whose $id is its file name (relative),
#     and every $ref in it names a file of docs/schema/ and resolves there;
#   - every scenario shipped (scenarios/, the template's, the generator's
#     output, the valid compose case), every instance-library document,
#     every function plugin manifest (functions/, tests/functions/) and
#     every batch example validates, and the compose and batch cases with
#     structural mistakes do not;
#   - every ```json example in docs/contract.md, docs/scenarios.md,
#     docs/functions.md and docs/batch.md
#     validates against the schema its "contract" member names (a scenario
#     when it has none); an example written with "..." for "more members"
#     is checked as a fragment: the members it shows, without "required";
#   - hand-written messages of every kind: the valid ones pass, the invalid
#     ones (a string in a result row, an unknown response status, a
#     rejection without errors, a state event without instance, ...) fail.
#
# Needs python3 with jsonschema (Debian: python3-jsonschema); exits 77
# (skipped) without it.  Usage: sh tests/test_schemas.sh   (from anywhere)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

py=
for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$cand" ] || continue
    if "$cand" -c 'import jsonschema' >/dev/null 2>&1; then
        py=$cand
        break
    fi
done
if [ -z "$py" ]; then
    echo "test_schemas: skipped: no python3 with jsonschema (apt-get install python3-jsonschema)"
    exit 77
fi

exec "$py" - "$root" <<'EOF'
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from urllib.parse import urldefrag, urljoin

root = sys.argv[1]
sys.path.insert(0, os.path.join(root, "tests"))
import schema_check as sc  # noqa: E402
from jsonschema import Draft7Validator, validators  # noqa: E402

failed_total = 0
passed_total = 0


class Section:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def ok(self, cond, what, detail=()):
        global passed_total, failed_total
        if cond:
            self.passed += 1
            passed_total += 1
        else:
            self.failed += 1
            failed_total += 1
            print("FAIL %s: %s" % (self.name, what))
            for d in detail:
                print("     %s" % d)

    def done(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))


def rel(path):
    return os.path.relpath(path, root)


def load(path):
    with open(path, encoding="utf-8") as f:
        return sc.loads(f.read())


def expect_valid(sec, kind, obj, what):
    errs = sc.validate(kind, obj)
    sec.ok(not errs, "%s should be a valid %s" % (what, kind), errs)


def expect_invalid(sec, kind, obj, what, where=None):
    """obj must be rejected; with where, one error must be at that pointer."""
    errs = sc.validate(kind, obj)
    if where is None:
        sec.ok(bool(errs), "%s should not be a valid %s" % (what, kind))
    else:
        hit = any(e.startswith(where + ": ") for e in errs)
        sec.ok(hit, "%s should fail at %r as a %s" % (what, where, kind),
               errs or ["(it validated)"])


# ---- 1. the schemas themselves ----------------------------------------

sec = Section("schemas")
schema_dir = os.path.join(root, "docs", "schema")
expected = ["twin.%s.schema.json" % k for k in
            ("request", "response", "result", "event", "status", "scenario",
             "instance", "functions", "batch")]
present = sorted(os.path.basename(p)
                 for p in glob.glob(os.path.join(schema_dir, "*.schema.json")))
for name in expected:
    sec.ok(name in present, "docs/schema/%s is missing" % name)
schemas = {}
for name in present:
    path = os.path.join(schema_dir, name)
    try:
        s = load(path)
    except (ValueError, OSError) as e:
        sec.ok(False, "%s is not JSON: %s" % (name, e))
        continue
    try:
        Draft7Validator.check_schema(s)
        sec.ok(True, name)
    except Exception as e:  # SchemaError
        sec.ok(False, "%s is not a valid draft-07 schema: %s" % (name, e))
    sec.ok(s.get("$schema") == "http://json-schema.org/draft-07/schema#",
           "%s: $schema is not draft-07" % name)
    # $id is the file's name, relative: a validator that loads the files
    # of docs/schema/ (Ajv's addSchema, a referencing Registry) resolves
    # every $ref to the file it names, with no network and no mapping.
    sec.ok(s.get("$id") == name, "%s: $id is %r, not its file name %r"
           % (name, s.get("$id"), name))
    schemas[s.get("$id")] = s


def resolve(base, ref):
    """The subschema ref points at from the schema whose $id is base."""
    doc_uri, frag = urldefrag(urljoin(base, ref))
    node = schemas.get(doc_uri)
    if node is None:
        raise KeyError("no schema %s" % doc_uri)
    for part in [p for p in frag.split("/") if p] if frag else []:
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def refs(node, out):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.append(node["$ref"])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)
    return out


for sid, s in schemas.items():
    for r in refs(s, []):
        # The document a $ref names is a file beside the schema.
        doc_uri = urldefrag(urljoin(sid, r))[0]
        sec.ok(os.path.isfile(os.path.join(schema_dir, doc_uri)),
               "%s: $ref %s names %s, which is no file in docs/schema/"
               % (sid, r, doc_uri))
        try:
            resolve(sid, r)
            sec.ok(True, r)
        except (KeyError, IndexError, ValueError) as e:
            sec.ok(False, "%s: $ref %s does not resolve (%s)"
                   % (os.path.basename(sid), r, e))
sec.done()

# ---- 2. shipped scenarios and instance documents ----------------------

sec = Section("documents")
scenario_files = sorted(glob.glob(os.path.join(root, "scenarios", "*.json")))
scenario_files += [os.path.join(root, "examples", "model-template",
                                "heater-step.json"),
                   os.path.join(root, "tests", "cases", "compose",
                                "valid-minimal", "scenario.json"),
                   os.path.join(root, "tests", "cases", "compose",
                                "functions-valid", "scenario.json")]
sec.ok(len(glob.glob(os.path.join(root, "scenarios", "*.json"))) > 0,
       "no scenarios/*.json found")
for path in scenario_files:
    if os.path.exists(path):
        expect_valid(sec, "twin.scenario", load(path), rel(path))
instance_files = sorted(glob.glob(os.path.join(root, "instance-library",
                                               "*.json")))
sec.ok(len(instance_files) > 0, "no instance-library/*.json found")
for path in instance_files:
    doc = load(path)
    expect_valid(sec, "twin.instance", doc, rel(path))
    sec.ok(isinstance(doc, dict) and
           os.path.basename(path) == "%s.json" % doc.get("id"),
           "%s: file is not named after its id" % rel(path))

manifests = sorted(glob.glob(os.path.join(root, "functions", "*", "*.json")))
manifests += sorted(glob.glob(os.path.join(root, "tests", "functions",
                                           "*.json")))
sec.ok(len(manifests) >= 2, "no function plugin manifests found")
for path in manifests:
    expect_valid(sec, "twin.functions", load(path), rel(path))

generated = (("gen_tank_farm.py", (["2"], ["2", "--realtime", "1.0"],
                                    ["3", "--stop", "60", "--dt", "0.5"])),
             ("gen_tank_cascade.py", (["4"], ["12", "--stop", "60",
                                              "--pi-every", "3"])))
for name, runs in generated:
    gen = os.path.join(root, "examples", name)
    if not os.path.exists(gen):
        continue
    for args in runs:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "s.json")
            r = subprocess.run([sys.executable, gen] + args + ["-o", out],
                               capture_output=True, text=True)
            sec.ok(r.returncode == 0, "%s %s failed: %s"
                   % (name, " ".join(args), r.stderr.strip()))
            if r.returncode == 0:
                expect_valid(sec, "twin.scenario", load(out),
                             name + " " + " ".join(args))

# Compose cases whose mistakes a schema sees (the others are about the
# libraries or about the numbers together: the composer's to find).
cases = os.path.join(root, "tests", "cases", "compose")
structural = {
    "abs-tol": "/instances/tank0/abs_tol/h",
    "bad-profiles": "/inputs/pump0.cmd/interp",
    "unknown-model": "/instances/x0/model",
    "empty-instances": "/instances",
    "functions-errors": "/functions/7",
    "functions-not-array": "/functions",
    "missing-time": "",
    "not-an-object": "",
    "out-of-range": "/solver/method",
    "pace-and-names": "/pace/realtime",
    "three-problems": "/time/dt",
    "wrong-types": "/every",
}
for case, where in sorted(structural.items()):
    path = os.path.join(cases, case, "scenario.json")
    if os.path.exists(path):
        expect_invalid(sec, "twin.scenario", load(path), rel(path), where)
# Batch documents: the examples and the valid cases pass; the cases whose
# mistakes a schema sees do not.
batch_files = sorted(glob.glob(os.path.join(root, "examples",
                                            "batch-*.json")))
batch_files += sorted(glob.glob(os.path.join(root, "tests", "cases", "batch",
                                             "valid-*", "batch.json")))
sec.ok(len(batch_files) >= 3, "no batch examples found")
for path in batch_files:
    expect_valid(sec, "twin.batch", load(path), rel(path))
for case, where in (("bad-contract", "/contract"),
                    ("missing-scenario", ""),
                    ("monte-carlo-errors", "/variations/monte_carlo/count"),
                    ("unknown-targets", "/variations/grid/4")):
    path = os.path.join(root, "tests", "cases", "batch", case, "batch.json")
    expect_invalid(sec, "twin.batch", load(path), rel(path), where)
path = os.path.join(cases, "bad-json", "scenario.json")
if os.path.exists(path):
    try:
        load(path)
        sec.ok(False, "%s should not parse" % rel(path))
    except ValueError:
        sec.ok(True, path)
sec.done()

# ---- 3. the examples in the documentation -----------------------------

sec = Section("doc examples")
_Fragment = validators.extend(sc._Strict,
                              validators={"required": lambda *a: iter(())})
for md, need in (("docs/contract.md", 5), ("docs/scenarios.md", 2),
                 ("docs/functions.md", 1), ("docs/batch.md", 3)):
    path = os.path.join(root, md)
    if not os.path.exists(path):
        sec.ok(False, "%s is missing" % md)
        continue
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"^```json[ \t]*\n(.*?)^```", text, re.S | re.M)
    sec.ok(len(blocks) >= need, "%s: %d ```json examples, expected at least %d"
           % (md, len(blocks), need))
    for i, block in enumerate(blocks, 1):
        what = "%s example %d" % (md, i)
        fragment = "..." in re.sub(r'"(\\.|[^"\\])*"', '""', block)
        src = re.sub(r",\s*\.\.\.(?=\s*[}\]])", "", block) if fragment else block
        try:
            obj = sc.loads(src)
        except ValueError as e:
            sec.ok(False, "%s is not JSON: %s" % (what, e))
            continue
        kind = sc.kind_of(obj)
        if isinstance(obj, dict) and "contract" in obj and kind is None:
            sec.ok(False, "%s: unknown contract %r" % (what, obj["contract"]))
            continue
        kind = kind or "twin.scenario"
        if fragment:
            errs = ["%s: %s" % (sc.pointer(e.absolute_path), e.message)
                    for e in sc.validator(kind, _Fragment).iter_errors(obj)]
            sec.ok(not errs, "%s (a fragment) should fit %s" % (what, kind), errs)
        else:
            expect_valid(sec, kind, obj, what)
sec.done()

# ---- 4. hand-written messages -----------------------------------------

SCEN = {"time": {"stop": 10, "dt": 1},
        "instances": {"tank0": {"instance": "TK-101"}},
        "inputs": {"tank0.valve": {"live": True, "value": 0.5}}}
STATS = {"ticks": 11, "steps": 40, "rhs_evals": 55, "jac_evals": 2,
         "restarts": 1, "events": 0, "groups": 1, "states": 1,
         "wall_seconds": 0.0012}
RT_STATS = dict(STATS, late_ticks=0, missed_ticks=0, lateness_p50=5e-5,
                lateness_p99=1.2e-4, lateness_max=3e-4)
COLS = ["t", "tank0.h", "tank0.q_out"]


def req(type_, **kw):
    return dict({"contract": "twin.request/1", "id": "r-1", "type": type_}, **kw)


def resp(status, **kw):
    return dict({"contract": "twin.response/1", "id": "r-1",
                 "controller": "ctl-1", "status": status}, **kw)


def result(**kw):
    return dict({"contract": "twin.result/1", "run": "r-1", "seq": 0,
                 "columns": COLS, "rows": [[0, 1, 0.015], [1, None, 0.01]]},
                **kw)


def event(kind, **kw):
    return dict({"contract": "twin.event/1", "run": "r-1", "kind": kind,
                 "t": 1.5, "message": "m"}, **kw)


def status(state, **kw):
    return dict({"contract": "twin.status/1", "controller": "ctl-1",
                 "state": state}, **kw)


ONLINE = status("online", version="0.1.0", group="twin", capacity=2, load=1,
                runs=["r-1"], models=["pi", "tank"], instances=6,
                scenarios=3, time=1795398000.5)
FINISHED = resp("finished", type="run", run="r-1", last_seq=0, rows=11,
                messages=1, stats=STATS)
FN_PLUGIN = {"name": "lmtd", "kind": "plugin", "library": "procfuncs.so",
             "signature": "double lmtd(double dt_a, double dt_b)",
             "doc": "Log-mean temperature difference.",
             "params": [{"name": "dt_a", "type": "double", "unit": "K",
                         "doc": "one end", "required": True, "min": 0.0},
                        {"name": "dt_b", "type": "double", "unit": "K",
                         "doc": "other end", "required": True}],
             "returns": {"type": "double", "unit": "K", "doc": ""}}
FN_BUILTIN = {"name": "crossing_time", "kind": "builtin", "doc": "When.",
              "params": [{"name": "y", "type": "double[]", "unit": "[y]",
                          "doc": "values", "required": True},
                         {"name": "direction", "type": "string", "unit": None,
                          "doc": "which way", "required": False,
                          "values": ["any", "up", "down"],
                          "default": "any"}],
              "returns": {"type": "double", "unit": "s"}}
def manifest(**arg):
    """A function plugin manifest whose one argument has arg's members."""
    return {"contract": "twin.functions/1", "library": "p.so",
            "functions": [{"name": "f", "doc": "d",
                           "returns": {"type": "double"},
                           "args": [dict({"name": "x", "type": "double",
                                          "doc": "x"}, **arg)]}]}


ERR = {"code": "out_of_range", "path": "/scenario/time/dt",
       "message": "dt must be positive."}

valid = [
    ("twin.request", req("describe"), "describe"),
    ("twin.request", req("run", scenario=SCEN), "run, inline scenario"),
    ("twin.request", req("run", scenario="tank-overflow", run="run:7"),
     "run, stored scenario, own run id"),
    ("twin.request", req("set", run="r-1", values={"tank0.valve": 0.7}), "set"),
    ("twin.request", req("cancel", run="r-1"), "cancel"),
    ("twin.request", req("status"), "status of the controller"),
    ("twin.request", req("status", run="r-1"), "status of a run"),
    ("twin.request", req("replay", run="r-1", from_seq=0, to_seq=3), "replay"),
    ("twin.request", req("steady", scenario="tank-overflow"), "steady"),
    ("twin.request", req("call", function="mean", future_member=[1]),
     "call, unknown members"),
    ("twin.response", resp("accepted", type="run", run="r-1", columns=COLS,
                           rows_expected=11, pace="batch"), "accepted"),
    ("twin.response", resp("accepted", type="run", run="r-1", columns=COLS,
                           rows_expected=11, pace={"realtime": 2.0}),
     "accepted, real time"),
    ("twin.response", resp("rejected", type="run", errors=[ERR]), "rejected"),
    ("twin.response", resp("rejected", id=None, errors=[
        {"code": "bad_json", "path": "", "message": "Not JSON."}]),
     "rejected, no id"),
    ("twin.response", resp("rejected", id="a/b", type="frob", errors=[
        {"code": "out_of_range", "path": "/id", "message": "Bad id."},
        {"code": "out_of_range", "path": "/type", "message": "Bad type."}]),
     "rejected, echoing a bad id and type"),
    ("twin.response", FINISHED, "finished"),
    ("twin.response", dict(FINISHED, last_seq=-1, rows=0, messages=0),
     "finished without rows"),
    ("twin.response", dict(FINISHED, stats=RT_STATS), "finished, real time"),
    ("twin.response", dict(FINISHED, functions={"mean_level": 3.89,
                                                "t_full": None},
                           function_errors={"t_full": {
                               "code": "out_of_range",
                               "path": "/scenario/functions/1",
                               "message": "tank0.h never crosses 5."}}),
     "finished with functions"),
    ("twin.response", resp("failed", type="run", run="r-1", last_seq=2,
                           rows=7, messages=3, stats=STATS, errors=[
        {"code": "solver_failure", "path": "", "message": "CVODE failed."}]),
     "failed"),
    ("twin.response", resp("cancelled", type="run", run="r-1", last_seq=-1,
                           rows=0, messages=0, stats=STATS, errors=[
        {"code": "cancelled", "path": "", "message": "Cancelled."}]),
     "cancelled"),
    ("twin.response", resp("failed", type="run", run="r-1", last_seq=-1,
                           rows=0, messages=0, stats={}, errors=[
        {"code": "model_crashed", "path": "", "message": "Signal 11."}]),
     "failed, the run process died before its stats"),
    ("twin.response", resp("ok", type="set", run="r-1"), "ok to set"),
    ("twin.response", resp("ok", type="status", run="r-1", state="running",
                           last_seq=4, rows=2500), "ok to status of a run"),
    ("twin.response", resp("ok", type="status", capacity=2, load=0),
     "ok to status of the controller"),
    ("twin.response", resp("ok", type="describe", models=[], instances=[],
                           scenarios=[], functions=[], allowed={}),
     "ok to describe"),
    ("twin.response", resp("ok", type="describe", models=[], instances=[],
                           scenarios=[], functions=[FN_PLUGIN, FN_BUILTIN],
                           allowed={}),
     "ok to describe, with a plugin and a built-in function"),
    ("twin.request", req("call", function="lmtd",
                         args={"dt_a": 30, "dt_b": 10}), "call"),
    ("twin.response", resp("ok", type="call", function="lmtd", value=18.2),
     "ok to call"),
    ("twin.response", resp("ok", type="call", function="scale", value=None,
                           outputs={"y": [1.5, None]}, nonfinite=["y"]),
     "ok to call: void, an output array, a non-finite element"),
    ("twin.response", resp("ok", type="call", function="crossing_time",
                           value=None, value_error={
        "code": "out_of_range", "path": "/args/y",
        "message": "y never crosses 5."}), "ok to call, no value, why"),
    ("twin.response", resp("failed", type="call", function="crash", errors=[
        {"code": "model_crashed", "path": "/function",
         "message": "Signal 11."}]), "a call that failed"),
    ("twin.result", result(), "result with a null"),
    ("twin.result", result(seq=7, rows=[[3600.5, 1e300, -0.0]]), "result"),
    ("twin.event", event("state", t=76.92307692307752, instance="tank0",
                         indicator=0, direction=1), "state event"),
    ("twin.event", event("state", instance="tank0", indicator=2,
                         direction=-1), "falling state event"),
    ("twin.event", event("late", lateness=0.004), "late"),
    ("twin.event", event("rtf", t=None, rtf_window=0.98, rtf_total=1.0,
                         window_seconds=1.0), "rtf"),
    ("twin.event", event("nonfinite", instance="tank0", column="tank0.h"),
     "nonfinite"),
    ("twin.event", event("log", instance="tank0", level="warning"), "log"),
    ("twin.event", event("alarm", instance="tank0", variable="tank0.h",
                         alarm="hi", state="raised", value=3.52, limit=3.5),
     "alarm"),
    ("twin.scenario", dict(SCEN, alarms={"tank0.h": {
        "hi": 3.5, "hihi": 3.9, "lo": 0.5, "deadband": 0.05, "for": 10}}),
     "alarms"),
    ("twin.scenario", dict(SCEN, measured={"tank0.h": {
        "signal": {"topic": "plant/TK-101/level"}, "tolerance": 0.05,
        "for": 30, "correct": {"gain": 0.2}}}), "measured"),
    ("twin.event", event("sync", sync="desynchronised"), "sync"),
    ("twin.scenario", dict(SCEN, envelopes={"tank0.h": {
        "band": [[0, 0.9, 1.1], [60, 1.9, 2.1]], "deadband": 0.01}}),
     "envelopes"),
    ("twin.event", event("alarm", instance="tank0", variable="tank0.h",
                         alarm="envelope_lo", state="cleared", value=1.2,
                         limit=1.25), "an envelope alarm"),
    ("twin.status", ONLINE, "online"),
    ("twin.status", dict(ONLINE, load=0, runs=[]), "online, idle"),
    ("twin.status", status("offline"), "offline (last will)"),
    ("twin.status", dict(ONLINE, state="offline", load=0, runs=[]),
     "offline after a clean stop"),
    ("twin.instance", {"contract": "twin.instance/1", "id": "X-1",
                       "model": "tank"}, "minimal instance document"),
    ("twin.scenario", dict(SCEN, pace={"realtime": 0.5}, every=10,
                           solver={"method": "adams", "rtol": 1e-3},
                           inputs={"tank0.valve": {"table": [[0, 0.1], [5, 0.2], [9, 0.3]], "interp": "cubic"},
                                   "tank0.q_in": {"steps": [[0, 0]]}},
                           outputs=["*.h", "tank?.q_[io]*"]),
     "scenario with every profile kind"),
    ("twin.scenario", dict(SCEN, functions=[
        {"name": "mean level", "function": "mean", "of": "tank0.h"},
        {"name": "settle", "function": "settling_time", "of": "tank0.h",
         "band_fraction": 0.02, "interp": "steffen"},
        {"name": "ma", "function": "moving_average", "of": "tank0.h",
         "window": 5, "then": "min"}]),
     "scenario with functions"),
]

invalid = [
    # the four the brief names
    ("twin.result", result(rows=[[0, "1", 0.015]]), "/rows/0/1",
     "a string in a result row"),
    ("twin.response", resp("done"), "/status", "an unknown status"),
    ("twin.response", resp("rejected", type="run"), "",
     "a rejection without errors"),
    ("twin.event", event("state", indicator=0, direction=1), "",
     "a state event without instance"),
    # requests
    ("twin.request", req("run"), "", "run without scenario"),
    ("twin.request", req("run", scenario=7), "/scenario", "scenario a number"),
    ("twin.request", req("run", scenario={"time": {"stop": 1, "dt": 1}}),
     "/scenario", "scenario without instances"),
    ("twin.request", req("set", run="r-1"), "", "set without values"),
    ("twin.request", req("set", values={"tank0.valve": 1}), "",
     "set without run"),
    ("twin.request", req("set", run="r-1", values={"tank0.valve": "0.7"}),
     "/values/tank0.valve", "set with a string value"),
    ("twin.request", req("cancel"), "", "cancel without run"),
    ("twin.request", req("replay", run="r-1", from_seq=0), "",
     "replay without to_seq"),
    ("twin.request", req("replay", run="r-1", from_seq=-1, to_seq=2),
     "/from_seq", "replay from seq -1"),
    ("twin.request", req("replay", run="r-1", from_seq=5, to_seq=2),
     "/to_seq", "replay backwards"),
    ("twin.request", req("frobnicate"), "/type", "an unknown type"),
    ("twin.request", req("describe", id="a/b"), "/id", "an id with a slash"),
    ("twin.request", req("describe", id="x" * 129), "/id", "an id too long"),
    ("twin.request", req("describe", contract="twin.request/2"), "/contract",
     "another major version"),
    ("twin.request", {"contract": "twin.request/1", "type": "describe"}, "",
     "a request without id"),
    # responses
    ("twin.response", resp("rejected", errors=[]), "/errors",
     "a rejection with an empty errors"),
    ("twin.response", resp("rejected", errors=[dict(ERR, code="oops")]),
     "/errors/0/code", "an unknown error code"),
    ("twin.response", resp("rejected", errors=[dict(ERR, path="scenario")]),
     "/errors/0/path", "a path that is not a JSON Pointer"),
    ("twin.response", resp("rejected", errors=[{"code": "busy", "path": ""}]),
     "/errors/0", "an error without message"),
    ("twin.response", resp("accepted", type="run", run="r-1",
                           rows_expected=11, pace="batch"), "",
     "accepted without columns"),
    ("twin.response", resp("accepted", type="run", run="r-1",
                           columns=["tank0.h", "t"], rows_expected=11,
                           pace="batch"), "/columns/0",
     "columns not starting with t"),
    ("twin.response", resp("accepted", type="run", run="r-1", columns=COLS,
                           rows_expected=11, pace="fast"), "/pace",
     "an unknown pace"),
    ("twin.response", {k: v for k, v in FINISHED.items() if k != "stats"},
     "", "finished without stats"),
    ("twin.response", dict(FINISHED, stats={k: v for k, v in STATS.items()
                                            if k != "ticks"}),
     "/stats", "stats without ticks"),
    ("twin.response", dict(FINISHED, stats=dict(STATS, steps=2.5)),
     "/stats/steps", "a fractional step count"),
    ("twin.response", dict(FINISHED, stats=dict(STATS, steps=40.0)),
     "/stats/steps", "a count written 40.0"),
    ("twin.response", resp("failed", type="run", run="r-1", last_seq=-1,
                           rows=0, messages=0, stats={"steps": -1}, errors=[
        {"code": "timeout", "path": "", "message": "Too long."}]),
     "/stats/steps", "failed with a negative step count"),
    ("twin.response", dict(FINISHED, last_seq=-2, messages=-1), "/last_seq",
     "last_seq -2"),
    ("twin.response", dict(FINISHED, functions={"m": "3.89"}),
     "/functions/m", "a function's value a string"),
    ("twin.response", dict(FINISHED, functions={"m": None},
                           function_errors={"m": {"code": "busy", "path": "",
                                                  "message": "Busy."}}),
     "/function_errors/m/code", "a function error that is no data problem"),
    ("twin.scenario", dict(SCEN, functions=[{"name": "p", "function":
                                             "percentile", "of": "tank0.h",
                                             "p": 120}]),
     "/functions/0/p", "a percentile over 100"),
    ("twin.scenario", dict(SCEN, functions=[{"name": "m", "function": "mean"}]),
     "/functions/0", "a function without of"),
    ("twin.scenario", dict(SCEN, functions=[{"name": "s", "function":
                                             "settling_time", "of": "tank0.h",
                                             "band": 1, "band_fraction": 0.1}]),
     "/functions/0/band_fraction", "band and band_fraction"),
    ("twin.response", dict(FINISHED, messages=3), "/messages",
     "messages not last_seq + 1"),
    ("twin.response", resp("failed", type="run", run="r-1", last_seq=-1,
                           rows=0, messages=0, stats=STATS), "",
     "failed without errors"),
    ("twin.response", resp("failed", type="run", run="r-1", last_seq=-1,
                           rows=0, messages=0, stats=STATS, errors=[ERR]),
     "/errors/0/code", "failed for a reason that is no run failure"),
    ("twin.response", resp("ok", type="describe", models=[]), "",
     "describe without the library"),
    ("twin.request", req("call", args={"x": 1}), "", "call without function"),
    # function plugin manifests
    ("twin.functions", manifest(type="float"), "/functions/0/args/0/type",
     "a manifest with an unknown type"),
    ("twin.functions", manifest(lenght="n"), "/functions/0/args/0",
     "a manifest with a misspelt member"),
    ("twin.functions", dict(manifest(), library="../x.so"), "/library",
     "a manifest whose library is a path"),
    ("twin.functions", manifest(type="int[]", length="n", out=True),
     "/functions/0/args/0/type", "an int[] output"),
    ("twin.functions", manifest(type="double[]"), "/functions/0/args/0",
     "an array without its length"),
    ("twin.request", req("call", function="f", args=[1]), "/args",
     "call with args not an object"),
    ("twin.response", resp("ok", type="call", function="f"), "",
     "ok to call without value"),
    ("twin.response", resp("ok", type="call", function="f", value={"v": 1}),
     "/value", "a call's value an object"),
    ("twin.response", resp("ok", type="call", function="f", value=[1, "a"]),
     "/value/1", "a call's value an array with a string"),
    ("twin.response", resp("failed", type="call", function="f", errors=[
        {"code": "solver_failure", "path": "", "message": "No."}]),
     "/errors/0/code", "a call failed for a reason that is no call failure"),
    ("twin.response", resp("failed", type="call", errors=[
        {"code": "timeout", "path": "/function", "message": "Slow."}]), "",
     "a failed call without function"),
    ("twin.response", resp("ok", type="describe", models=[], instances=[],
                           scenarios=[], allowed={}, functions=[
        {k: v for k, v in FN_PLUGIN.items() if k != "signature"}]),
     "/functions/0", "a plugin function without its signature"),
    ("twin.response", resp("ok", type="describe", models=[], instances=[],
                           scenarios=[], allowed={}, functions=[
        dict(FN_BUILTIN, kind="macro")]),
     "/functions/0/kind", "a function of an unknown kind"),
    ("twin.response", resp("ok", type="status", run="r-1", state="done"), "",
     "run status without last_seq"),
    ("twin.response", resp("ok", id=None), "/id", "ok without an id"),
    ("twin.response", {k: v for k, v in resp("ok").items()
                       if k != "controller"}, "", "no controller"),
    # results
    ("twin.result", result(seq=-1), "/seq", "seq -1"),
    ("twin.result", result(seq=1.5), "/seq", "seq 1.5"),
    ("twin.result", result(rows=[[None, 1, 2]]), "/rows/0/0", "t null"),
    ("twin.result", result(rows=[[0, 1]]), "/rows/0", "a short row"),
    ("twin.result", result(rows=[]), "/rows", "no rows"),
    ("twin.result", result(rows=[0, 1, 2]), "/rows/0", "rows not arrays"),
    ("twin.result", result(columns=["t", "tank0.h", "tank0.h"]), "/columns",
     "a column twice"),
    ("twin.result", {k: v for k, v in result().items() if k != "columns"},
     "", "no columns"),
    # events
    ("twin.event", event("state", instance="tank0", indicator=0,
                         direction=0), "/direction", "direction 0"),
    ("twin.event", event("late"), "", "late without lateness"),
    ("twin.event", event("rtf", rtf_window=1.0, rtf_total=1.0), "",
     "rtf without window_seconds"),
    ("twin.event", event("nonfinite", instance="tank0"), "",
     "nonfinite without column"),
    ("twin.event", event("log", instance="tank0", level="fatal"), "/level",
     "an unknown log level"),
    ("twin.event", event("log", level="info"), "", "log without instance"),
    ("twin.event", event("alarms"), "/kind", "an unknown kind"),
    ("twin.event", event("sync"), "", "sync without its state"),
    ("twin.scenario", dict(SCEN, measured={"tank0.h": {"tolerance": 0}}),
     "/measured/tank0.h/tolerance", "a tolerance of 0"),
    ("twin.event", event("alarm", instance="tank0", alarm="hi",
                         state="raised", value=1, limit=0.5), "",
     "alarm without variable"),
    ("twin.event", event("alarm", instance="tank0", variable="tank0.h",
                         alarm="high", state="raised", value=1, limit=0.5),
     "/alarm", "an unknown alarm level"),
    ("twin.scenario", dict(SCEN, alarms={"tank0.h": {"deadband": 1}}),
     "/alarms/tank0.h", "an alarm without a limit"),
    ("twin.scenario", dict(SCEN, alarms={"tank0.h": {"hi": 1, "for": -1}}),
     "/alarms/tank0.h/for", "a negative on-delay"),
    ("twin.scenario", dict(SCEN, envelopes={"tank0.h": {
        "band": [[0, 1, 2], [1, 1]]}}), "/envelopes/tank0.h/band/1",
     "an envelope point of two numbers"),
    ("twin.event", {k: v for k, v in event("late", lateness=1).items()
                    if k != "t"}, "", "an event without t"),
    ("twin.event", event("late", lateness=1, t="now"), "/t", "t a string"),
    # status
    ("twin.status", status("offline", capacity="2"), "/capacity",
     "offline with a capacity that is a string"),
    ("twin.status", {k: v for k, v in ONLINE.items() if k != "load"}, "",
     "online without load"),
    ("twin.status", status("sleeping"), "/state", "an unknown state"),
    ("twin.status", dict(ONLINE, load=2), "/load", "load not the runs listed"),
    ("twin.status", dict(ONLINE, capacity=0), "/load", "load over capacity"),
    # instance documents and scenarios
    ("twin.instance", {"contract": "twin.instance/1", "model": "tank"}, "",
     "an instance document without id"),
    ("twin.instance", {"contract": "twin.instance/1", "id": "X", "model":
                       "tank", "params": {"area": [2]}}, "/params/area",
     "a parameter that is an array (strings and booleans are for model "
     "ABI 1.1 string and boolean parameters)"),
    ("twin.scenario", dict(SCEN, inputs={"tank0.valve": {"value": "1"}}),
     "/inputs/tank0.valve/value", "an input value that is a string"),
    ("twin.scenario", dict(SCEN, inputs={"tank0.valve": {"steps": [[True, 1]]}}),
     "/inputs/tank0.valve/steps/0/0", "a step time that is a boolean"),
    ("twin.scenario", dict(SCEN, every=1.0), "/every", "every written 1.0"),
    ("twin.scenario", dict(SCEN, every=0), "/every", "every 0"),
    ("twin.scenario", dict(SCEN, instances={"tank0": {"params": {}}}),
     "/instances/tank0", "an instance without model or instance"),
    ("twin.scenario", dict(SCEN, inputs={"tank0.valve": {"table": [[0, 1], [1, 2]], "interp": "cubic"}}),
     "/inputs/tank0.valve/table", "a cubic table of 2 points"),
    ("twin.scenario", dict(SCEN, inputs={"tank0.valve": {"steps": [[0, 1, 2]]}}),
     "/inputs/tank0.valve/steps/0", "a step of 3 numbers"),
    ("twin.scenario", dict(SCEN, inputs={"tank0.valve": {"live": False}}),
     "/inputs/tank0.valve/live", "live false"),
    ("twin.scenario", dict(SCEN, inputs={"tank0.valve": {}}),
     "/inputs/tank0.valve", "an empty profile"),
    ("twin.scenario", dict(SCEN, connections=[{"from": "pump0.q"}]),
     "/connections/0", "a connection without to"),
    ("twin.scenario", dict(SCEN, outputs=["tank0"]), "/outputs/0",
     "an output without a dot"),
]

# steady: docs/schema/twin.steady.schema.json, through the request and
# response schemas.
STEADY_OK = resp("ok", type="steady", t=0.0, method="hybrids", iterations=7,
                 evaluations=15, residual_norm=0.0,
                 states={"tank0.h": 0.25}, residuals={"tank0.h": 0.0},
                 inputs={"tank0.q_in": 0.0075, "tank0.valve": 0.5},
                 outputs={"tank0.q_out": 0.0075, "tank0.overflow": 0.0})
STEADY_FAILED = resp("failed", type="steady", errors=[
    {"code": "solver_failure", "path": "", "message": "No steady state."}],
    t=0.0, method="hybrids", iterations=0, evaluations=4,
    residual_norm=0.0065, states={"tank0.h": 3.5},
    residuals={"tank0.h": 0.0065},
    largest=[{"state": "tank0.h", "residual": 0.0065, "value": 3.5}])
valid += [
    ("twin.request", req("steady", scenario=SCEN,
                         inputs={"tank0.valve": 0.5, "tank0.q_in": 0.01},
                         options={"method": "broyden", "residual_tol": 1e-12,
                                  "step_tol": 0, "max_iterations": 50}),
     "steady with inputs and options"),
    ("twin.response", STEADY_OK, "steady ok"),
    ("twin.response", dict(STEADY_OK, log=[{"instance": "tank0", "level":
                                            "warning", "message": "m"}],
                           outputs={"pi0.sp": None}), "steady ok, a log line"),
    ("twin.response", STEADY_FAILED, "steady failed, not converged"),
    ("twin.response", dict(STEADY_FAILED, residual_norm=None),
     "steady failed, a point a model refused"),
    ("twin.response", resp("failed", type="steady", errors=[
        {"code": "model_crashed", "path": "", "message": "Signal 11."}]),
     "steady failed, the process died"),
    ("twin.response", resp("rejected", type="steady", errors=[ERR]),
     "steady rejected"),
]
invalid += [
    ("twin.request", req("steady"), "", "steady without scenario"),
    ("twin.request", req("steady", scenario=SCEN,
                         inputs={"tank0.valve": "0.5"}),
     "/inputs/tank0.valve", "steady holding an input at a string"),
    ("twin.request", req("steady", scenario=SCEN, inputs={"valve": 0.5}),
     "/inputs/valve", "steady holding an input without its instance"),
    ("twin.request", req("steady", scenario=SCEN,
                         options={"method": "newton"}),
     "/options/method", "steady with an unknown method"),
    ("twin.request", req("steady", scenario=SCEN,
                         options={"max_iterations": 0}),
     "/options/max_iterations", "steady with no iterations"),
    ("twin.response", {k: v for k, v in STEADY_OK.items() if k != "states"},
     "", "steady ok without states"),
    ("twin.response", dict(STEADY_OK, residual_norm=None), "/residual_norm",
     "steady ok without a residual"),
    ("twin.response", dict(STEADY_OK, iterations=7.0), "/iterations",
     "steady iterations written 7.0"),
    ("twin.response", dict(STEADY_OK, states={"tank0.h": "0.25"}),
     "/states/tank0.h", "a steady state that is a string"),
    ("twin.response", dict(STEADY_FAILED, errors=[ERR]), "/errors/0/code",
     "steady failed for a reason that is no solver failure"),
    ("twin.response", {k: v for k, v in STEADY_FAILED.items()
                       if k != "errors"}, "", "steady failed without errors"),
    ("twin.response", resp("accepted", type="steady"), "/status",
     "steady accepted"),
    ("twin.response", resp("ok", type="call", function="f", value=1,
                           outputs={"y": 1}), "/outputs/y",
     "a call's output that is no array (steady's outputs are numbers)"),
]

sec = Section("valid messages")
for kind, obj, what in valid:
    expect_valid(sec, kind, obj, what)
sec.done()

sec = Section("invalid messages")
for kind, obj, where, what in invalid:
    expect_invalid(sec, kind, obj, what, where)
for text, what in (('{"contract": "twin.result/1", "seq": NaN}', "NaN"),
                   ('{"a": 1, "a": 2}', "a duplicate key")):
    try:
        sc.loads(text)
        sec.ok(False, "%s should not parse" % what)
    except ValueError:
        sec.ok(True, what)
sec.done()

# ---- 5. the command line ----------------------------------------------

sec = Section("command line")
cli = [sys.executable, os.path.join(root, "tests", "schema_check.py")]
lines = "\n".join(json.dumps(m) for m in (result(), result(rows=[["x"]]))) + "\n"
r = subprocess.run(cli + ["twin.result", "-"], input=lines,
                   capture_output=True, text=True)
sec.ok(r.returncode == 1 and "<stdin>:2: /rows/0/0:" in r.stdout,
       "stdin: one invalid line of two should give exit 1 and its path",
       [r.stdout, r.stderr])
r = subprocess.run(cli + ["-q", "auto", "-"], input=json.dumps(ONLINE) + "\n",
                   capture_output=True, text=True)
sec.ok(r.returncode == 0 and r.stdout == "",
       "auto, quiet, valid status: exit 0 and silent", [r.stdout, r.stderr])
r = subprocess.run(cli + ["nonsense", "-"], input="", capture_output=True,
                   text=True)
sec.ok(r.returncode == 2, "an unknown kind should give exit 2")
r = subprocess.run(cli + ["twin.scenario"] + scenario_files[:1],
                   capture_output=True, text=True)
sec.ok(r.returncode == 0, "a shipped scenario file should give exit 0",
       [r.stdout, r.stderr])
try:
    sc.check("twin.event", event("late"))
    sec.ok(False, "check() should raise on an invalid event")
except sc.InvalidMessage as e:
    sec.ok(e.errors and e.kind == "twin.event", "InvalidMessage carries errors")
sec.done()

print("total: %d passed, %d failed" % (passed_total, failed_total))
sys.exit(1 if failed_total else 0)
EOF
