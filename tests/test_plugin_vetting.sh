#!/bin/sh
# test_plugin_vetting.sh — bad plugins in a model directory, as the CLI
# meets them (docs/plugin-guide.md, "How a plugin is vetted"): a plugin
# whose entry point aborts, segfaults or hangs, whose descriptor lies about
# its variable count or points a name nowhere, or whose create or event segfaults
# is refused with the phase and the signal, and the commands go on with the
# good plugins beside it: `twinctl run` and `twinctl models` work and name
# each refused plugin on stderr; `twinctl check-model BAD.so` prints the
# reason and exits 1 instead of dying.
# Usage: tests/test_plugin_vetting.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
twinctl="$build/controller/twinctl"
vet="$build/tests/plugins/vet"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/twin-vet.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
test_name=test_plugin_vetting
. "$(dirname "$0")/checks.sh"

# A model directory: one good plugin beside the bad ones.
models="$tmp/models"
mkdir "$models"
cp "$build/tests/plugins/decay.so" "$models/"
for p in entry_aborts entry_segfaults lying_count garbage_name create_segfaults; do
    cp "$vet/$p.so" "$models/"
done
cat >"$tmp/decay.json" <<'JSON'
{"name": "decay-only", "time": {"stop": 5, "dt": 1},
 "instances": {"d0": {"model": "decay"}}}
JSON

# check-model: the reason, never a crash.
expect_status 1 "check-model entry_aborts" "$twinctl" check-model "$vet/entry_aborts.so"
says "entry_aborts: phase and signal" "$tmp/out" 'its entry point died of SIGABRT (abort'
says "entry_aborts: refused" "$tmp/out" 'entry_aborts.so: REFUSED'
expect_status 1 "check-model entry_segfaults" "$twinctl" check-model "$vet/entry_segfaults.so"
says "entry_segfaults: phase and signal" "$tmp/out" 'its entry point died of SIGSEGV (segmentation fault)'
expect_status 1 "check-model lying_count" "$twinctl" check-model "$vet/lying_count.so"
says "lying_count: the count" "$tmp/out" 'n_variables is 1099511627776'
expect_status 1 "check-model garbage_name" "$twinctl" check-model "$vet/garbage_name.so"
says "garbage_name: phase and signal" "$tmp/out" 'died of SIGSEGV (segmentation fault) reading its descriptor'
expect_status 1 "check-model create_segfaults" "$twinctl" check-model "$vet/create_segfaults.so"
says "create_segfaults: phase and signal" "$tmp/out" 'create died of SIGSEGV (segmentation fault)'
expect_status 1 "check-model event_segfaults" "$twinctl" check-model "$vet/event_segfaults.so"
says "event_segfaults: phase and signal" "$tmp/out" 'event died of SIGSEGV (segmentation fault) at the start values'
expect_status 1 "check-model next_event_segfaults" "$twinctl" check-model "$vet/next_event_segfaults.so"
says "next_event_segfaults: phase and signal" "$tmp/out" 'next_event_time died of SIGSEGV (segmentation fault) at the start values'
expect_status 1 "check-model entry_hangs" "$twinctl" check-model --timeout 0.5 "$vet/entry_hangs.so"
says "entry_hangs: the time limit" "$tmp/out" 'its entry point did not return within 0.5 s'
expect_status 0 "check-model swap_v1 (a good one)" "$twinctl" check-model "$vet/swap_v1.so"
says "swap_v1: ready" "$tmp/out" 'swap_v1.so: ready to use'

# run: the good model runs, each refused plugin is named on stderr.
expect_status 0 "run with bad plugins beside decay" "$twinctl" run --models "$models" "$tmp/decay.json"
says "run: the rows" "$tmp/out" '^5,'
for p in entry_aborts entry_segfaults lying_count garbage_name create_segfaults; do
    says "run names $p" "$tmp/err" "$models/$p.so: refused"
done
says "run says what to do" "$tmp/err" 'twinctl check-model'

# models: lists the good one, names the bad ones.
expect_status 0 "models with bad plugins" "$twinctl" models --models "$models"
says "models lists decay" "$tmp/out" 'decay'
says "models names entry_segfaults" "$tmp/err" "entry_segfaults.so"

report
