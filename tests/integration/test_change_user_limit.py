"""Failed COM_CHANGE_USER is limited as MariaDB limits it (issue 16).

MariaDB refuses a fourth COM_CHANGE_USER on a connection after three failed ones with 1047
(ER_UNKNOWN_COM_ERROR), whatever the password; mymux answered 1045 forever, so one
connection could try passwords without end, and a successful COM_CHANGE_USER in between
cleared the address's failures in the login guard. The client is libmariadb's
mysql_change_user (isolation_ps.c, built here), against mymux and the server directly.
"""

import os
import select
import subprocess

import pytest


HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def ps_bin(tmp_path_factory):
    out = tmp_path_factory.mktemp("cu") / "isolation_ps"
    flags = subprocess.run(["mariadb_config", "--cflags", "--libs"], capture_output=True,
                           text=True, check=True).stdout.split()
    r = subprocess.run(["cc", "-O1", "-Wall", "-o", str(out), os.path.join(HERE, "isolation_ps.c"),
                        *flags], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


class Client:
    def __init__(self, binary, host, port, user="app", password="apppass"):
        self.p = subprocess.Popen([binary, host, str(port), user, password, "test"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.first = self._line()

    def _line(self, timeout=60):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        assert r, "isolation_ps did not answer"
        return self.p.stdout.readline().rstrip("\n")

    def cmd(self, *fields):
        self.p.stdin.write("\t".join(fields) + "\n")
        self.p.stdin.flush()
        return self._line().split("\t")

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=10)


@pytest.fixture(params=["mymux", "direct"])
def target(request, mymux, backends):
    if request.param == "direct":
        return backends[0]
    return mymux


def test_fourth_change_user_refused(target, ps_bin):
    c = Client(ps_bin, target.host, target.port)
    try:
        assert c.first == "ready"
        for _ in range(3):
            r = c.cmd("change_user", "app", "wrong", "test")
            assert r[:2] == ["err", "1045"], r
        # the right password no longer helps on this connection
        r = c.cmd("change_user", "app", "apppass", "test")
        assert r[:2] == ["err", "1047"], r
        r = c.cmd("change_user", "other", "otherpass", "test")
        assert r[:2] == ["err", "1047"], r
        # the session goes on as the user it had
        assert c.cmd("q", "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)") == ["ok", "app"]
    finally:
        c.close()
    # a new connection has its three tries again
    c = Client(ps_bin, target.host, target.port)
    try:
        assert c.cmd("change_user", "other", "otherpass", "test") == ["ok"]
        assert c.cmd("q", "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)") == ["ok", "other"]
    finally:
        c.close()


@pytest.mark.proxy_only
def test_change_user_failures_reach_the_guard(mymux_factory, ps_bin):
    """limits.auth_failures.max 3: fail, succeed, fail, fail on one connection blocks the
    address (before, the success in between cleared the count and the address stayed
    allowed); and a connection's refused fourth try counts as a failure too."""
    m = mymux_factory({"limits": {"auth_failures": {"max": 3, "window": "60s", "block": "60s"}}})
    c = Client(ps_bin, m.host, m.port)
    try:
        assert c.first == "ready"
        assert c.cmd("change_user", "app", "wrong", "test")[:2] == ["err", "1045"]
        assert c.cmd("change_user", "app", "apppass", "test") == ["ok"]
        assert c.cmd("change_user", "app", "wrong", "test")[:2] == ["err", "1045"]
        assert c.cmd("change_user", "app", "wrong", "test")[:2] == ["err", "1045"]
    finally:
        c.close()
    with pytest.raises(Exception) as ei:
        m.connect().close()
    assert ei.value.args[0] == 1129, ei.value.args


@pytest.mark.proxy_only
def test_refused_fourth_try_counts(mymux_factory, ps_bin):
    """max 5: three failures and two refused tries block the address."""
    m = mymux_factory({"limits": {"auth_failures": {"max": 5, "window": "60s", "block": "60s"}}})
    c = Client(ps_bin, m.host, m.port)
    try:
        for _ in range(3):
            assert c.cmd("change_user", "app", "wrong", "test")[:2] == ["err", "1045"]
        assert c.cmd("change_user", "app", "apppass", "test")[:2] == ["err", "1047"]
        assert c.cmd("change_user", "app", "apppass", "test")[:2] == ["err", "1047"]
    finally:
        c.close()
    with pytest.raises(Exception) as ei:
        m.connect().close()
    assert ei.value.args[0] == 1129, ei.value.args


def test_change_user_frees_locks_before_it_answers(target, ps_bin, backends):
    """The server resets the session before it answers COM_CHANGE_USER, so the old identity's
    named lock is free when the client reads the OK: MariaDB's own test_bug31418 takes a lock,
    changes user and asks IS_FREE_LOCK at once. mymux gave the locked connection back to be
    reset there, took another and answered before the reset had run (CI saw the test fail
    once). Asked from a direct root connection the moment each OK arrives, with other idle
    connections in the pool, ten times over."""
    root = backends[0].root_conn()
    others = [Client(ps_bin, target.host, target.port) for _ in range(3)]
    c = Client(ps_bin, target.host, target.port)
    try:
        # open transactions at once, so the pool holds several connections when they end
        for o in others:
            assert o.cmd("q", "BEGIN") == ["ok"]
            assert o.cmd("q", "SELECT COUNT(*) FROM information_schema.TABLES "
                              "WHERE TABLE_SCHEMA = 'mysql'")[0] == "ok"
        for o in others:
            assert o.cmd("q", "COMMIT") == ["ok"]
        assert c.first == "ready"
        for i in range(10):
            assert c.cmd("q", "SELECT GET_LOCK('cu_lock', 0)") == ["ok", "1"]
            assert c.cmd("q", "CREATE TEMPORARY TABLE cu_tmp (a INT)") == ["ok"]
            assert c.cmd("change_user", "app", "apppass", "test") == ["ok"]
            with root.cursor() as cur:
                cur.execute("SELECT IS_FREE_LOCK('cu_lock')")
                assert cur.fetchone()[0] == 1, f"round {i}: the lock outlived COM_CHANGE_USER"
            assert c.cmd("q", "SELECT COUNT(*) FROM cu_tmp")[:2] == ["err", "1146"]
            assert c.cmd("q", "SELECT IS_FREE_LOCK('cu_lock')") == ["ok", "1"]
    finally:
        c.close()
        for o in others:
            o.close()
        root.close()
