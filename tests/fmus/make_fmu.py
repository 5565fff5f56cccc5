#!/usr/bin/env python3
"""make_fmu.py — zip a test FMU: modelDescription.xml written for FMI 2.0
or 3.0 from the model's <name>.json (its variables in value-reference
order, as the model's C file numbers them), the built binary under the
platform's folder, and the resources the JSON lists.

Usage: make_fmu.py SPEC.json VERSION(2|3) BINARY.so OUT.fmu

The model identifier is OUT's file name without .fmu; the GUID /
instantiation token is tm_token(identifier), the same string the build
passes to the C code as TM_TOKEN."""
import json
import os
import sys
import zipfile
from xml.sax.saxutils import quoteattr

PLATFORM = {2: "linux64", 3: "x86_64-linux"}
TYPE3 = {"Real": "Float64", "Integer": "Int32", "Boolean": "Boolean"}


def tm_token(identifier):
    return "{tm-%s}" % identifier


def attrs(**kw):
    return "".join(" %s=%s" % (k, quoteattr(str(v)))
                   for k, v in kw.items() if v is not None)


def start_text(var):
    if "start" not in var:
        return None
    if var["type"] == "Boolean":
        return "true" if var["start"] else "false"
    if var["type"] == "Integer":
        return str(int(var["start"]))
    return repr(float(var["start"]))


def me(spec, attributes):
    """The ModelExchange element, unless the spec offers Co-Simulation
    only ("interfaces": ["cs"])."""
    if "me" not in spec.get("interfaces", ["me", "cs"]):
        return "  <!-- Co-Simulation only -->"
    return "  <ModelExchange%s/>" % attributes


def common(var):
    return dict(name=var["name"], causality=var["causality"],
                variability=var["variability"],
                initial=var.get("initial"),
                description=var.get("description"))


def fmi2(spec, ident):
    vs = spec["variables"]
    index = {v["name"]: i + 1 for i, v in enumerate(vs)}
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<fmiModelDescription%s>' % attrs(
               fmiVersion="2.0", modelName=ident, guid=tm_token(ident),
               description=spec.get("description"),
               generationTool="twinctl tests/fmus/make_fmu.py",
               numberOfEventIndicators=len(spec.get("event_indicators", []))),
           me(spec, attrs(modelIdentifier=ident,
                          completedIntegratorStepNotNeeded="true")),
           '  <CoSimulation%s/>' % attrs(
               modelIdentifier=ident,
               canHandleVariableCommunicationStepSize="true"),
           '  <ModelVariables>']
    for i, v in enumerate(vs):
        inner = attrs(start=start_text(v), unit=v.get("unit"),
                      min=v.get("min"), max=v.get("max"),
                      nominal=v.get("nominal"),
                      derivative=index[v["derivative"]]
                      if "derivative" in v else None)
        out.append('    <ScalarVariable%s><%s%s/></ScalarVariable>' % (
            attrs(valueReference=i, **common(v)), v["type"], inner))
    out.append('  </ModelVariables>')
    out.append('  <ModelStructure>')
    outputs = [v for v in vs if v["causality"] == "output"]
    ders = [v for v in vs if "derivative" in v]

    def unknown(v):
        dep = v.get("depends")
        deps = None if dep is None else " ".join(str(index[d]) for d in dep)
        return '      <Unknown%s/>' % attrs(index=index[v["name"]],
                                            dependencies=deps)
    if outputs:
        out += ['    <Outputs>'] + [unknown(v) for v in outputs] + \
            ['    </Outputs>']
    if ders:
        out += ['    <Derivatives>'] + [unknown(v) for v in ders] + \
            ['    </Derivatives>']
    out += ['  </ModelStructure>', '</fmiModelDescription>', '']
    return "\n".join(out)


def fmi3(spec, ident):
    vs = spec["variables"]
    vr = {v["name"]: i for i, v in enumerate(vs)}
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<fmiModelDescription%s>' % attrs(
               fmiVersion="3.0", modelName=ident,
               instantiationToken=tm_token(ident),
               description=spec.get("description"),
               generationTool="twinctl tests/fmus/make_fmu.py"),
           me(spec, attrs(modelIdentifier=ident,
                          needsCompletedIntegratorStep="false")),
           '  <CoSimulation%s/>' % attrs(
               modelIdentifier=ident,
               canHandleVariableCommunicationStepSize="true"),
           '  <ModelVariables>']
    for i, v in enumerate(vs):
        out.append('    <%s%s/>' % (TYPE3[v["type"]], attrs(
            valueReference=i, **common(v), start=start_text(v),
            unit=v.get("unit"), min=v.get("min"), max=v.get("max"),
            nominal=v.get("nominal"),
            derivative=vr[v["derivative"]] if "derivative" in v else None)))
    out.append('  </ModelVariables>')
    out.append('  <ModelStructure>')

    def element(tag, v):
        dep = v.get("depends")
        deps = None if dep is None else " ".join(str(vr[d]) for d in dep)
        return '    <%s%s/>' % (tag, attrs(valueReference=vr[v["name"]],
                                           dependencies=deps))
    out += [element("Output", v) for v in vs if v["causality"] == "output"]
    out += [element("ContinuousStateDerivative", v)
            for v in vs if "derivative" in v]
    out += ['    <EventIndicator%s/>' % attrs(valueReference=vr[name])
            for name in spec.get("event_indicators", [])]
    out += ['  </ModelStructure>', '</fmiModelDescription>', '']
    return "\n".join(out)


def main():
    spec_path, version, binary, out_path = sys.argv[1:5]
    version = int(version)
    with open(spec_path) as f:
        spec = json.load(f)
    ident = os.path.basename(out_path)[:-len(".fmu")]
    xml = (fmi2 if version == 2 else fmi3)(spec, ident)
    tmp = out_path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("modelDescription.xml", xml)
        with open(binary, "rb") as f:
            z.writestr("binaries/%s/%s.so" % (PLATFORM[version], ident),
                       f.read())
        for name, text in spec.get("resources", {}).items():
            z.writestr("resources/" + name, text)
    os.replace(tmp, out_path)


if __name__ == "__main__":
    main()
