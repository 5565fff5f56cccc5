"""checklib.py — the tally of checks the Python test scripts of tests/
share (test_fmu_run.py, test_python_models.py): check() counts a pass or
records and prints a failure; summary() says how many of each and gives
the exit status."""
import sys

failures = []
passes = 0


def check(ok, what):
    global passes
    if ok:
        passes += 1
    else:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def summary(name):
    print("%s: %d passed, %d failed" % (name, passes, len(failures)))
    return 1 if failures else 0
