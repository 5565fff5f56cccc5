#!/bin/sh
# test_install.sh — install into a staging directory (meson install
# --destdir) and use what a modeler and an operator get there: the
# installed twin-model.pc gives the header's flags, a plugin builds with
# them alone, and the installed twinctl runs the installed models and
# scenarios (it is outside the build tree, so it uses installed paths).
# The installed function plugin (procfuncs) is called too.
# Usage: tests/test_install.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "test_install: FAIL: $*" >&2; exit 1; }
stage=$(mktemp -d "${TMPDIR:-/tmp}/twin-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

meson install -C "$build" --destdir "$stage" --quiet --no-rebuild \
    >"$stage/install.log" 2>&1 || { cat "$stage/install.log" >&2; fail "meson install"; }
pc=$(find "$stage" -name twin-model.pc | head -1)
[ -n "$pc" ] || fail "no twin-model.pc installed"
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$stage"
cflags=$(pkg-config --cflags twin-model) || fail "pkg-config --cflags twin-model"
case "$cflags" in
    *"$stage"*) ;;
    *) fail "cflags '$cflags' do not point into the staged install" ;;
esac
mkdir "$stage/plugin"
# shellcheck disable=SC2086
cc $cflags -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror \
    -Wno-unused-parameter -o "$stage/plugin/heater.so" \
    "$root/examples/model-template/heater.c" -lm || fail "building against the installed header"

twinctl=$(find "$stage" -type f -name twinctl | head -1)
models=$(find "$stage" -type d -path '*/twinctl/models' | head -1)
data=$(find "$stage" -type d -path '*/share/twinctl' | head -1)
[ -x "$twinctl" ] && [ -d "$models" ] && [ -d "$data" ] || fail "installed tree incomplete"
[ -f "$models/tank.so" ] || fail "reference models not installed in $models"
[ -f "$data/scenarios/tank-farm-3.json" ] || fail "scenarios not installed in $data"
TWIN_MODEL_PATH="$models:$stage/plugin" TWIN_INSTANCE_DIR="$data/instance-library" \
TWIN_SCENARIO_DIR="$data/scenarios" "$twinctl" run -q tank-overflow -o "$stage/ov.csv" ||
    fail "installed twinctl cannot run an installed scenario"
TWIN_MODEL_PATH="$models:$stage/plugin" "$twinctl" models heater | grep -q '^heater ' ||
    fail "installed twinctl does not see the plugin built against the installed header"
functions=$(find "$stage" -type d -path '*/twinctl/functions' | head -1)
[ -f "$functions/procfuncs.so" ] && [ -f "$functions/procfuncs.json" ] ||
    fail "the procfuncs function plugin is not installed (in ${functions:-?})"
TWIN_FUNCTION_PATH="$functions" "$twinctl" call lmtd '{"dt_a": 20, "dt_b": 20}' |
    grep -q '"value":20' ||
    fail "installed twinctl cannot call the installed procfuncs"
echo "test_install: ok"
