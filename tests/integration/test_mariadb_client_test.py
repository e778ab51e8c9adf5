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


def run_runner(host, port, *args):
    r = subprocess.run([RUNNER, *args, host, str(port), "app", "apppass"],
                       capture_output=True, text=True, timeout=600)
    lines = r.stdout.splitlines()
    failed = {line.split()[1].rstrip(":") for line in lines if line.startswith("FAIL ")}
    passed = {line.split()[1] for line in lines if line.startswith("ok ")}
    assert any(line.startswith("summary:") for line in lines), \
        f"runner printed no summary:\n{r.stdout[-4000:]}{r.stderr[-2000:]}"
    return passed, failed


def test_mariadb_client_test_each_dropping_its_database(mymux, backends):
    """Each test as it is written (no -d): it drops client_test_db when it ends, and the next
    one creates it again, so a pooled connection's schema keeps disappearing under it (the
    dropped-schema case of issue 10). A test that needs an earlier one's tables fails
    directly too; every test that passes directly must pass through mymux."""
    assert shutil.which("mariadb-client-test"), \
        "mariadb-client-test not installed (Debian package mariadb-test)"
    direct_ok, direct_failed = run_runner(backends[0].host, backends[0].port, "--drop")
    assert len(direct_ok) > 150, f"only {len(direct_ok)} passed directly"
    ok, failed = run_runner(mymux.host, mymux.port, "--drop")
    lost = sorted(direct_ok - ok)
    assert not lost, f"pass directly but not through mymux: {lost}"
    assert mymux.alive(), f"mymux died during mariadb-client-test:\n{mymux.log()[-4000:]}"
