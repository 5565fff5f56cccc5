#!/bin/sh
# test_exports.sh — every reference model plugin exports exactly one
# function, twin_model_entry (STYLE.md: only the entry symbol is exported).
# Symbols the sanitizers' instrumentation adds by itself (clang 19's
# AddressSanitizer marks each object's globals section with
# __start_asan_globals / __stop_asan_globals) are not the plugin's own.
# Usage: tests/test_exports.sh BUILD_DIR
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
status=0
count=0
for so in "$1"/models/*.so; do
    syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TtWiD]$/ && $3 !~ /^__(start|stop)_asan_globals$|^__(asan|odr_asan|ubsan|sancov)/ {print $3}' | sort | tr '\n' ' ')
    if [ "$syms" != "twin_model_entry " ]; then
        echo "test_exports: FAIL: $so exports: $syms" >&2
        status=1
    fi
    count=$((count + 1))
done
[ "$count" -ge 4 ] || { echo "test_exports: FAIL: only $count plugins in $1/models" >&2; exit 1; }
[ $status -eq 0 ] && echo "test_exports: ok ($count plugins export only twin_model_entry)"
exit $status
