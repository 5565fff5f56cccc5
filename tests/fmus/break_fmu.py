#!/usr/bin/env python3
"""break_fmu.py — a broken copy of a good test FMU, one per refusal of
the loader (docs/fmi.md, "Refusals"), for tests/test_fmu_library.sh.

Usage: break_fmu.py KIND GOOD.fmu OUT.fmu
KIND:
  no_platform   the binary moved to binaries/win64/ (no binary for us)
  misspelt      the binary's fmi2GetDerivatives / fmi3GetContinuousState-
                Derivatives renamed by one letter in its symbol table
  version       fmiVersion="1.0"
  malformed     a variable without its valueReference
  token         another GUID / instantiation token than the binary's
  zip_slip      an extra entry ../../escaped.txt
"""
import re
import sys
import zipfile


def main():
    kind, good, out = sys.argv[1:4]
    with zipfile.ZipFile(good) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    result = []
    for name, data in entries:
        if name == "modelDescription.xml":
            xml = data.decode()
            if kind == "version":
                xml = re.sub(r'fmiVersion="[^"]*"', 'fmiVersion="1.0"', xml, 1)
            elif kind == "malformed":
                xml = re.sub(r' valueReference="\d+"', "", xml, 1)
            elif kind == "token":
                xml = re.sub(r'(guid|instantiationToken)="[^"]*"',
                             r'\1="{not-the-binary-s}"', xml, 1)
            data = xml.encode()
        elif name.startswith("binaries/"):
            if kind == "no_platform":
                name = re.sub(r"^binaries/[^/]+/(.*)\.so$",
                              r"binaries/win64/\1.dll", name)
            elif kind == "misspelt":
                for sym in (b"fmi2GetDerivatives",
                            b"fmi3GetContinuousStateDerivatives"):
                    data = data.replace(sym, sym[:-1] + b"Z")
        result.append((name, data))
    if kind == "zip_slip":
        result.append(("../../escaped.txt", b"outside\n"))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in result:
            z.writestr(name, data)


if __name__ == "__main__":
    main()
