"""MariaDB's own client-API test program (mariadb-client-test) through mymux.

client_test_runner.sh runs every test the program knows except the ones it lists as
excluded, each with its reason; this fails if any other test fails. With MYMUX_DIRECT=1 it
runs against MariaDB directly, which is where the exclusion list was established.
"""

import os
import shutil
import subprocess

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client_test_runner.sh")


def test_mariadb_client_test(mymux):
    assert shutil.which("mariadb-client-test"), \
        "mariadb-client-test not installed (Debian package mariadb-test)"
    r = subprocess.run([RUNNER, mymux.host, str(mymux.port), "app", "apppass"],
                       capture_output=True, text=True, timeout=420)
    failures = [line for line in r.stdout.splitlines() if line.startswith("FAIL ")]
    summary = [line for line in r.stdout.splitlines() if line.startswith("summary:")]
    assert r.returncode == 0 and not failures, (
        f"runner exited {r.returncode}; {summary}\n" + "\n".join(failures) + "\n"
        + r.stderr[-4000:])
    assert summary, f"runner printed no summary:\n{r.stdout[-4000:]}{r.stderr[-2000:]}"
    assert mymux.alive(), f"mymux died during mariadb-client-test:\n{mymux.log()[-4000:]}"
