"""MariaDB's own regression suite (mariadb-test-run --extern, suite main) through mymux (issue 15).

mtr_runner.sh runs its fixed list of tests, except the ones it lists as excluded with their
reasons, against a server started with mariadb-test-run's settings: once directly, then
through mymux with pool.multiplex on and off. A test that passes directly in the same run
must pass through mymux.

MYMUX_MTR_CANDIDATES=1 runs every candidate test instead (mtr_runner.sh --candidates, over
800, each on a fresh state; about an hour for the three runs on a 2-core machine): not for CI.
"""

import os
import subprocess

import pytest

import testbed

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mtr_runner.sh")
MTR = "/usr/share/mysql/mysql-test/mariadb-test-run"

# What mariadb-test-run's include/default_mysqld.cnf sets that the results depend on.
# Name resolution is on so that TCP clients from 127.0.0.1 are root@localhost, the account
# the results name (the test bed's servers skip it).
MTR_SERVER_ARGS = [
    "--character-set-server=latin1",
    "--default-storage-engine=MyISAM",
    "--log-bin-trust-function-creators=1",
    "--key-buffer-size=1M",
    "--sort-buffer-size=256K",
    "--max-heap-table-size=1M",
    "--use-stat-tables=preferably",
    "--histogram-type=json_hb",
    "--max-allowed-packet=16M",
    "--connect-timeout=60",
    "--open-files-limit=1024",
    "--performance-schema=ON",
    "--skip-name-resolve=0",
]

pytestmark = pytest.mark.proxy_only

CANDIDATES = os.environ.get("MYMUX_MTR_CANDIDATES") == "1"
SELECTION = ["--candidates"] if CANDIDATES else []
RUN_TIMEOUT = 3 * 3600 if CANDIDATES else 900


@pytest.fixture(scope="module")
def mtr_server():
    """A MariaDB as mariadb-test-run would start it; root@localhost may log in over TCP
    without a password, as the tests do."""
    assert os.access(MTR, os.X_OK), f"{MTR} not installed (Debian package mariadb-test)"
    db = testbed.MariaDB(name="mtr", extra_args=MTR_SERVER_ARGS).start()
    try:
        c = db.root_conn()
        c.cursor().execute("ALTER USER root@localhost IDENTIFIED VIA unix_socket "
                           "OR mysql_native_password USING PASSWORD('')")
        c.close()
        yield db
    finally:
        db.stop()


def run_runner(host, port, server, tests=()):
    r = subprocess.run([RUNNER, "--server", f"{server.host}:{server.port}",
                        *(SELECTION if not tests else ["--fresh"] if CANDIDATES else []),
                        host, str(port), *tests], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT,
                       env=dict(os.environ, MTR_TIMEOUT=str(RUN_TIMEOUT - 60)))
    lines = r.stdout.splitlines()
    assert any(line.startswith("summary:") for line in lines), \
        f"runner printed no summary:\n{r.stdout[-4000:]}{r.stderr[-2000:]}"
    passed = {line.split()[1] for line in lines if line.startswith("ok ")}
    failures = {line.split()[1].rstrip(":"): line for line in lines if line.startswith("FAIL ")}
    return passed, failures


@pytest.fixture(scope="module")
def direct(mtr_server):
    passed, _ = run_runner(mtr_server.host, mtr_server.port, mtr_server)
    listed = subprocess.run([RUNNER, *SELECTION, "--list"], capture_output=True,
                            text=True).stdout.split()
    # The list holds tests that pass directly; a few may not on another MariaDB release.
    # Of the candidates, about 600 of 850 pass directly on MariaDB 10.11.
    share = 0.6 if CANDIDATES else 0.8
    assert len(passed) > share * len(listed), f"only {len(passed)} of {len(listed)} pass directly"
    print(f"[observation] {len(passed)} of {len(listed)} pass directly")
    return passed


@pytest.mark.parametrize("multiplex", [True, False], ids=["multiplex", "no-multiplex"])
def test_mtr_through_mymux(mtr_server, direct, multiplex):
    cfg = testbed.default_config([mtr_server], 0)
    cfg["users"].append({"name": "root", "password": ""})
    cfg["pool"]["multiplex"] = multiplex
    m = testbed.Mymux(cfg, name="mymux-mtr").start()
    try:
        # the candidates that failed directly are not run again
        passed, failures = run_runner(m.host, m.port, mtr_server,
                                      sorted(direct) if CANDIDATES else ())
        lost = sorted(direct - passed)
        if lost:
            # Each lost test once more through the same mymux, alone: what passes then is
            # reported, not failed (seen: lock_kill and order_by_sortkey, once in many runs
            # under load; the closing note tracks them), what fails twice fails the test.
            again, _ = run_runner(m.host, m.port, mtr_server, lost)
            flaky = sorted(set(lost) & again)
            if flaky:
                print("[observation] passed through mymux only when run again alone: "
                      + ", ".join(flaky) + "\n" + "\n".join(failures.get(t, t) for t in flaky))
            lost = sorted(set(lost) - again)
        warned = [line for line in m.log().splitlines()
                  if "level=warn" in line or "level=error" in line]
        assert not lost, "pass directly but not through mymux: " + ", ".join(lost) + "\n" + \
            "\n".join(failures.get(t, f"{t}: no result") for t in lost) + \
            "\nmymux's warnings and errors (last 40):\n" + "\n".join(warned[-40:])
        assert m.alive(), f"mymux died during mariadb-test-run:\n{m.log()[-4000:]}"
    finally:
        testbed.assert_clean_log(m.stop())
