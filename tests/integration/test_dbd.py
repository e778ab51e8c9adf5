"""DBD::mysql with its own defaults through mymux (issue 10): the same observations as on a
direct connection, with client-side placeholders (mysql_server_prepare=0, the default) and
with statements prepared on the server (mysql_server_prepare=1).

dbd_client.pl runs the scenario: CONNECTION_ID() in a prepared statement (value and column
name), settings and a user variable set through placeholders, warnings of a prepared SELECT
read back with SHOW WARNINGS (itself prepared on the server with mysql_server_prepare=1),
a rolled-back and a committed transaction, LAST_INSERT_ID(), and `KILL ?` of one's own other
session (with mysql_server_prepare=1 a statement prepared on the server, which mymux runs
itself at EXECUTE, in its own ids).
"""

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.proxy_only

CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dbd_client.pl")


def run(host, port, server_prepare):
    r = subprocess.run([CLIENT, host, str(port), "app", "apppass", "test", str(server_prepare)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"dbd_client.pl exited {r.returncode}:\n{r.stdout}{r.stderr}"
    return dict(line.split("\t", 1) for line in r.stdout.splitlines())


@pytest.fixture(scope="module")
def dbd():
    if shutil.which("perl") is None or subprocess.run(
            ["perl", "-MDBD::mysql", "-e1"], capture_output=True).returncode != 0:
        pytest.fail("DBD::mysql not installed (Debian package libdbd-mysql-perl)")


@pytest.mark.parametrize("server_prepare", [0, 1])
def test_dbd_mysql_as_directly(dbd, mymux, backends, server_prepare):
    want = run(backends[0].host, backends[0].port, server_prepare)
    assert want["done"] == "1" and want["kill"] == "ok" and want["victim_alive"] == "0", want
    have = run(mymux.host, mymux.port, server_prepare)
    assert have == want
