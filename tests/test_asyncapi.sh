#!/bin/sh
# test_asyncapi.sh — checks docs/asyncapi.yaml against what it describes:
#
#   - it parses (YAML) and has the shape of an AsyncAPI 2.6 document: the
#     version, info, channels each with a publish or subscribe operation
#     whose message is given and whose MQTT binding has qos and retain;
#   - every $ref resolves: "#/..." inside the document, and a file path
#     relative to docs/ to an existing file of docs/schema/ (and its
#     fragment inside that file);
#   - every topic of the table in docs/contract.md ("Topics") is a channel
#     (or, for the shared subscription, named in the pool channel's
#     description), with that table's QoS and retained flag;
#   - every message kind of docs/schema/ sent on the wire has its message.
#
# Needs python3 with PyYAML (Debian: python3-yaml); exits 77 (skipped)
# without it.  Usage: sh tests/test_asyncapi.sh   (from anywhere)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

py=
for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$cand" ] || continue
    if "$cand" -c 'import yaml' >/dev/null 2>&1; then
        py=$cand
        break
    fi
done
if [ -z "$py" ]; then
    echo "test_asyncapi: skipped: no python3 with yaml (apt-get install python3-yaml)"
    exit 77
fi

exec "$py" - "$root" <<'EOF'
import json
import os
import re
import sys

import yaml

root = sys.argv[1]
docs = os.path.join(root, "docs")
failed = passed = 0


def ok(cond, what):
    global failed, passed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL asyncapi: " + what)


with open(os.path.join(docs, "asyncapi.yaml"), encoding="utf-8") as f:
    api = yaml.safe_load(f)

ok(isinstance(api, dict), "docs/asyncapi.yaml is not a YAML mapping")
ok(str(api.get("asyncapi", "")).startswith("2.6"),
   "asyncapi is %r, not 2.6.x" % api.get("asyncapi"))
info = api.get("info", {})
ok(bool(info.get("title")) and bool(info.get("version")),
   "info needs title and version")
channels = api.get("channels") or {}
ok(len(channels) >= 7, "only %d channels" % len(channels))


def pointer(node, frag, where):
    for part in [p for p in frag.split("/") if p]:
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


def resolve(ref):
    """The node ref points at: in the document, or in a schema file."""
    path, _, frag = ref.partition("#")
    if not path:
        return pointer(api, frag, ref)
    full = os.path.normpath(os.path.join(docs, path))
    if not full.startswith(os.path.join(docs, "schema") + os.sep) or \
            not os.path.isfile(full):
        raise KeyError("%s is no file of docs/schema/" % path)
    with open(full, encoding="utf-8") as f:
        return pointer(json.load(f), frag, ref)


all_refs = refs(api, [])
ok(len(all_refs) > 10, "only %d $refs" % len(all_refs))
files = set()
for r in all_refs:
    try:
        resolve(r)
        ok(True, r)
        if not r.startswith("#"):
            files.add(os.path.basename(r.partition("#")[0]))
    except (KeyError, IndexError, ValueError, OSError) as e:
        ok(False, "$ref %s does not resolve: %s" % (r, e))
for kind in ("request", "response", "result", "event", "status"):
    ok("twin.%s.schema.json" % kind in files,
       "no message refers to twin.%s.schema.json" % kind)

# Each channel: an operation with a message and its MQTT qos/retain.
flags = {}
for name, ch in channels.items():
    ops = [(k, ch[k]) for k in ("publish", "subscribe") if k in ch]
    ok(len(ops) >= 1, "%s: no publish or subscribe" % name)
    for k, op in ops:
        ok("message" in op, "%s %s: no message" % (name, k))
        b = (op.get("bindings") or {}).get("mqtt") or {}
        ok(b.get("qos") in (0, 1, 2) and isinstance(b.get("retain"), bool),
           "%s %s: mqtt binding without qos and retain" % (name, k))
        flags[name] = (b.get("qos"), b.get("retain"))
    for p in re.findall(r"{(\w+)}", name):
        ok(p in (ch.get("parameters") or {}),
           "%s: parameter %s not described" % (name, p))

# Every topic of contract.md's table, with its QoS and retained flag.
with open(os.path.join(docs, "contract.md"), encoding="utf-8") as f:
    contract = f.read()
section = contract.split("## Topics", 1)[1].split("\n## ", 1)[0]
rows = re.findall(r"^\| `([^`]+)` \|[^|]*\| (\d) \| (yes|no) \|", section,
                  re.M)
ok(len(rows) >= 7, "found %d topics in contract.md's table" % len(rows))
subst = (("<id>", "{id}"), ("<run>", "{run}"))


def channel_of(topic):
    parts = []
    for i, level in enumerate(topic.split("/")):
        level = {"P": "{prefix}", "C": "{controller}",
                 "G": "{group}"}.get(level, level)
        parts.append(level)
    t = "/".join(parts)
    for a, b in subst:
        t = t.replace(a, b)
    return t


for topic, qos, retained in rows:
    ch = channel_of(topic)
    if ch in channels:
        ok(flags.get(ch) == (int(qos), retained == "yes"),
           "%s: contract.md says QoS %s, retained %s; asyncapi.yaml %r"
           % (topic, qos, retained, flags.get(ch)))
    else:
        named = [n for n, c in channels.items()
                 if ch in (c.get("description") or "").replace("`", "")]
        ok(len(named) == 1, "contract.md's topic %s (%s) is no channel of "
           "docs/asyncapi.yaml" % (topic, ch))
        for n in named:
            ok(flags.get(n) == (int(qos), retained == "yes"),
               "%s: QoS/retained differ from contract.md" % topic)

print("asyncapi: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
