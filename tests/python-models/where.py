"""A model that writes the id of the process importing it, and of the one
creating an instance, to the files named by TWIN_TEST_WHERE (the test
that Python runs only in the vetting child and in the run)."""
import os

where = os.environ.get("TWIN_TEST_WHERE")
if where:
    with open(where + ".import", "a") as f:
        f.write(f"{os.getpid()}\n")


class Where:
    name = "where"
    variables = [dict(name="x", kind="state", start=1.0)]

    def __init__(self, params):
        if where:
            with open(where + ".create", "a") as f:
                f.write(f"{os.getpid()}\n")

    def derivatives(self, t, x, u, dx):
        dx[0] = -x[0]
