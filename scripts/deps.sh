#!/bin/sh
# deps.sh — install the Debian packages twinctl needs, only those missing.
# Sourced by scripts/demo, scripts/test, scripts/sanitize and scripts/fuzz;
# runs apt-get as root (or via sudo when it is there).  Set TWIN_SKIP_DEPS=1
# to skip.  clang-19, libclang-rt-19-dev and llvm-19 (its symbolizer) are
# for the sanitizer build and the libFuzzer harnesses (twin_build_sanitized
# says why 19); gnuplot-nox draws `twinctl plot`'s figures (the demo's and
# the plot tests').
set -eu

twin_packages="gcc g++ libc6-dev make pkg-config meson ninja-build binutils
 libsundials-dev libsuitesparse-dev libpaho-mqtt-dev libjansson-dev libffi-dev libgsl-dev
 zlib1g-dev libdouble-conversion-dev libcmocka-dev mosquitto mosquitto-clients python3 python3-paho-mqtt
 python3-jsonschema python3-yaml openssl libssl-dev clang-19 libclang-rt-19-dev llvm-19 gnuplot-nox
 libmatio-dev libhdf5-dev python3-h5py python3-scipy
 libcbor-dev python3-cbor2
 python3-dev python3-numpy
 libzip-dev libxml2-dev"

twin_install_deps() {
    [ "${TWIN_SKIP_DEPS:-0}" = 1 ] && return 0
    missing=""
    for p in $twin_packages $*; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    echo "twinctl: installing Debian packages:$missing"
    if [ "$(id -u)" -eq 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "twinctl: these packages are missing:$missing" >&2
        echo "twinctl: run this as root, or install them with apt-get" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
}

# twin_quiet COMMAND [ARG...] — run a setup or build step with its chatter
# kept out of the test log; when it fails, show why (the last lines of
# what it printed: the compiler's or meson's error) and fail.
twin_quiet() {
    twin_log=$(mktemp "${TMPDIR:-/tmp}/twinctl-build.XXXXXX")
    if "$@" >"$twin_log" 2>&1; then
        rm -f "$twin_log"
        return 0
    fi
    echo "twinctl: this failed: $*" >&2
    tail -n 40 "$twin_log" >&2
    rm -f "$twin_log"
    return 1
}

twin_build() { # twin_build BUILD_DIR
    if [ ! -f "$1/build.ninja" ]; then
        twin_quiet meson setup "$1"
    fi
    twin_quiet meson compile -C "$1"
}

# The sanitizer build: clang, AddressSanitizer and UndefinedBehaviorSanitizer
# over everything, and (being clang) the libFuzzer harnesses of tests/fuzz.
# scripts/sanitize and scripts/fuzz share it.  clang 19, not Debian's
# default 14: the daemon forks its runs while paho's threads run, and
# AddressSanitizer before LLVM 18 does not hold its allocator's locks
# across fork, so a run process could wait forever on a lock a paho
# thread held at that instant (seen as one run in 300 that never answered
# in test_soak.py; glibc's malloc, in the normal build, is fork-safe).
twin_build_sanitized() { # twin_build_sanitized BUILD_DIR
    if [ -f "$1/build.ninja" ] && ! grep -q 'clang-19' "$1/build.ninja"; then
        echo "twinctl: $1 was configured with another compiler; configuring it again with clang-19"
        rm -rf "$1"
    fi
    if [ ! -f "$1/build.ninja" ]; then
        twin_quiet env CC=clang-19 CXX=clang++-19 meson setup "$1" \
            -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=enabled
    fi
    twin_quiet meson compile -C "$1"
}

# What the sanitizers do when they find something: stop at the first
# finding, with a stack; leaks are findings.  Suppressions name only a
# third-party library (tests/lsan.supp), never our code.
twin_sanitizer_env() {
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
    # the symbolizer of the compiler's own release, for readable stacks
    if [ -x /usr/lib/llvm-19/bin/llvm-symbolizer ]; then
        export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-19/bin/llvm-symbolizer
    fi
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    if [ -f tests/lsan.supp ]; then
        export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
    fi
}
