"""Go's MySQL driver's own test suite (go-sql-driver/mysql's *_test.go, shipped in Debian's
golang-github-go-sql-driver-mysql-dev) run against a MariaDB directly and through mymux
with multiplexing: every test that passes directly must pass through mymux. The suite
covers what an application's driver does with the server: text and binary protocol,
prepared statements with every type, multiple result sets, LOAD DATA LOCAL, time zones,
character sets and collations, large packets, transactions, cancellation and timeouts,
connection attributes, reconnects after a server-side close."""

import os
import re
import shutil
import subprocess

import pytest

import testbed

pytestmark = pytest.mark.proxy_only

DRIVER = "/usr/share/gocode/src/github.com/go-sql-driver/mysql"
RESULT = re.compile(r"^--- (PASS|FAIL|SKIP): (\S+)", re.M)


@pytest.fixture(scope="module")
def go_suite(tmp_path_factory):
    if not shutil.which("go") or not os.path.isdir(DRIVER):
        pytest.skip("go or golang-github-go-sql-driver-mysql-dev not installed")
    gopath = tmp_path_factory.mktemp("gosuite")
    src = gopath / "src" / "github.com" / "go-sql-driver" / "mysql"
    shutil.copytree(DRIVER, src)  # go test writes next to the package
    env = dict(os.environ, GOPATH=str(gopath), GO111MODULE="off", GOFLAGS="",
               GOCACHE=str(gopath / "cache"), GOPROXY="off")
    r = subprocess.run(["go", "test", "-count=1", "-run", "^$", "."], cwd=src, env=env,
                       capture_output=True, text=True, timeout=600)  # builds it once
    assert r.returncode == 0, r.stdout + r.stderr
    return src, env


@pytest.fixture(scope="module")
def go_server():
    db = testbed.MariaDB(name="gosuite").start()
    c = db.root_conn()
    with c.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS gotest")
        cur.execute("CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'apppass'")
        cur.execute("GRANT ALL ON *.* TO 'app'@'%' WITH GRANT OPTION")
    c.close()
    try:
        yield db
    finally:
        db.stop()


def run_suite(go_suite, host, port):
    src, env = go_suite
    env = dict(env, MYSQL_TEST_USER="app", MYSQL_TEST_PASS="apppass", MYSQL_TEST_PROT="tcp",
               MYSQL_TEST_ADDR=f"{host}:{port}", MYSQL_TEST_DBNAME="gotest")
    r = subprocess.run(["go", "test", "-count=1", "-v", "-timeout", "900s", "."], cwd=src,
                       env=env, capture_output=True, text=True, timeout=1000)
    results = {name: verdict for verdict, name in RESULT.findall(r.stdout)}
    assert results, r.stdout[-3000:] + r.stderr[-3000:]
    return results, r.stdout


def test_go_driver_suite_through_mymux(go_suite, go_server, mymux_factory):
    direct, _ = run_suite(go_suite, go_server.host, go_server.port)
    passed = sorted(t for t, v in direct.items() if v == "PASS")
    assert len(passed) > 100, direct  # the suite ran, not only its skips
    m = mymux_factory({"backends": [{"name": "gosuite",
                                     "address": f"{go_server.host}:{go_server.port}"}],
                       "pool": {"multiplex": True, "max_per_backend": 16}})
    through, out = run_suite(go_suite, m.host, m.port)
    lost = [t for t in passed if through.get(t) != "PASS"]
    assert not lost, "passed directly, not through mymux: %s\n%s" % (
        lost, "\n".join(l for l in out.splitlines() if any(t in l for t in lost))[-6000:])
    assert m.alive()
