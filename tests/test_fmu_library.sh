#!/bin/sh
# test_fmu_library.sh — FMUs in a model directory as the CLI meets them
# (docs/fmi-loading.md): `twinctl check-model X.fmu` loads, checks and exercises
# the test FMUs of tests/fmus (FMI 2.0 and 3.0); `twinctl models` lists
# them beside a plugin with their variables mapped (state, parameter
# range, integer, local); a scenario naming an FMU model is validated
# like a plugin's (unknown variable, out of range); and each refusal of
# the loader is triggered once with its sentence checked: no binary for
# this platform, a misspelt function, an unsupported FMI version, a
# malformed description, a GUID / instantiation token mismatch, a
# zip-slip entry (tests/fmus/break_fmu.py makes them from a good FMU);
# an FMU's ModelStructure gives the Jacobian's structure (--explain).
# The FMU cache is a scratch directory (TWIN_FMU_CACHE).
# Usage: tests/test_fmu_library.sh BUILD_DIR SOURCE_DIR
set -u
[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
twinctl="$build/controller/twinctl"
fmus="$build/tests/fmus"
python=${PYTHON:-python3}
# The test FMUs come with the runtime's part (tests/fmus/meson.build).
if [ ! -f "$fmus/ball2.fmu" ]; then
    echo "test_fmu_library: no test FMUs in $fmus: skipped"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-fmulib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export TWIN_FMU_CACHE="$tmp/cache"
test_name=test_fmu_library
. "$(dirname "$0")/checks.sh"

# check-model on good FMUs of both versions.
for f in ball2 ball3 through2 through3; do
    expect_status 0 "check-model $f" "$twinctl" check-model "$fmus/$f.fmu"
    says "$f: unpacked and bound" "$tmp/out" 'ok   FMU: unpacked, modelDescription.xml read'
    says "$f: ready" "$tmp/out" "$f.fmu: ready to use"
done
says "through3: descriptor" "$tmp/out" "model 'through3'"

# models: the FMUs beside a plugin, variables mapped.
models="$tmp/models"
mkdir "$models"
cp "$fmus/ball2.fmu" "$fmus/through3.fmu" "$models/"
cp "$build/tests/plugins/decay.so" "$models/"
expect_status 0 "models" "$twinctl" models --models "$models" ball2 through3 decay
says "models: ball2 continuous" "$tmp/out" '^ball2 .*(continuous, 1 event indicator)'
says "models: through3" "$tmp/out" '^through3 '
says "models: the state h" "$tmp/out" '^  state  *h  *m  *1 '
says "models: an integer output" "$tmp/out" '^  output  *bounces .*(integer)'
says "models: the parameter e's range" "$tmp/out" '^  parameter e .*\[0, 1\]'
says "models: der(h) a local" "$tmp/out" '^  local  *der(h) '
says "models: decay beside" "$tmp/out" '^decay '
# h is a state and an output: listed once, as the state.
if [ "$(grep -c '^  [a-z]*  *h ' "$tmp/out")" -eq 1 ]; then pass; else fail "h listed once"; fi

# A scenario naming an FMU model: checked like a plugin's.
cat >"$tmp/bad.json" <<'JSON'
{"name": "fmu-checks", "time": {"stop": 1, "dt": 0.5},
 "instances": {"b": {"model": "ball2", "params": {"e": 2, "nope": 1}}}}
JSON
expect_status 2 "run: bad parameters" "$twinctl" run --models "$models" "$tmp/bad.json"
says "run: e out of range" "$tmp/err" "params/e: .*\[out_of_range\]"
says "run: unknown parameter" "$tmp/err" "model .ball2. has no parameter .nope. \[unknown_variable\]"

# The FMU's ModelStructure is its declared structure (docs/fmi.md): a
# cascade of three fmutank FMUs (q_out on h and valve, not on q_in) has a
# bidiagonal Jacobian, 5 nonzeros of 9, not the 6 of a triangle.
cp "$fmus/fmutank.fmu" "$models/"
cat >"$tmp/cascade.json" <<'JSON'
{"name": "fmu-cascade", "time": {"stop": 2, "dt": 1},
 "linear_solver": "klu",
 "instances": {"a": {"model": "fmutank"}, "b": {"model": "fmutank"},
               "c": {"model": "fmutank"}},
 "connections": [{"from": "a.q_out", "to": "b.q_in"},
                 {"from": "b.q_out", "to": "c.q_in"}]}
JSON
expect_status 0 "explain: an FMU cascade" "$twinctl" run --models "$models" --explain "$tmp/cascade.json"
says "explain: the FMUs' structure" "$tmp/out" '^  group 1 (3 states, klu linear solver, forced (5 nonzeros of 9, bandwidths 0 upper 1 lower, 2 colours)): a, b, c$'
expect_status 0 "run: an FMU cascade with KLU" "$twinctl" run --models "$models" -o "$tmp/cascade.csv" "$tmp/cascade.json"

# The refusals, each once, with the sentence.
for kind in no_platform misspelt version malformed token zip_slip; do
    "$python" "$src/tests/fmus/break_fmu.py" "$kind" "$fmus/ball2.fmu" \
        "$tmp/$kind.fmu" || fail "break_fmu.py $kind"
done
expect_status 1 "check-model no_platform" "$twinctl" check-model "$tmp/no_platform.fmu"
says "no_platform: the sentence" "$tmp/out" "no_platform.fmu: no binary for this platform: binaries/linux64/ball2.so is not in the archive (platforms present: win64)"
expect_status 1 "check-model misspelt" "$twinctl" check-model "$tmp/misspelt.fmu"
says "misspelt: the function" "$tmp/out" "misspelt.fmu: the binary does not export fmi2GetDerivatives, which FMI 2.0 Model Exchange needs"
expect_status 1 "check-model version" "$twinctl" check-model "$tmp/version.fmu"
says "version: the sentence" "$tmp/out" 'version.fmu: modelDescription.xml line 2: fmiVersion "1.0" is not supported'
expect_status 1 "check-model malformed" "$twinctl" check-model "$tmp/malformed.fmu"
says "malformed: the sentence" "$tmp/out" 'malformed.fmu: modelDescription.xml line [0-9]*: variable "h" has no valueReference'
expect_status 1 "check-model token" "$twinctl" check-model "$tmp/token.fmu"
says "token: the sentence" "$tmp/out" 'token.fmu: the FMU refused to instantiate'
says "token: what it means" "$tmp/out" 'GUID mismatch'
expect_status 1 "check-model zip_slip" "$twinctl" check-model "$tmp/zip_slip.fmu"
says "zip_slip: the sentence" "$tmp/out" 'zip_slip.fmu: the archive.s entry "../../escaped.txt" names a place outside the FMU'
if [ ! -e "$tmp/escaped.txt" ] && [ ! -e "$TWIN_FMU_CACHE/../escaped.txt" ]; then pass; else fail "zip_slip wrote outside"; fi

# In a model directory the broken ones are named on stderr and skipped;
# the good ones are listed.
cp "$tmp/no_platform.fmu" "$tmp/zip_slip.fmu" "$tmp/version.fmu" "$models/"
expect_status 0 "models with broken FMUs" "$twinctl" models --models "$models"
says "models: ball2 still listed" "$tmp/out" '^ball2 '
says "models: no_platform named" "$tmp/err" 'no_platform.fmu: no binary for this platform'
says "models: zip_slip named" "$tmp/err" 'zip_slip.fmu: the archive.s entry'
says "models: version named" "$tmp/err" 'version.fmu: modelDescription.xml'

report
