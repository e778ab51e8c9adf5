"""Health checks (issue 4): tcp, mysql and status checks run by mymux's control thread,
and the up/down/draining states they give backends.

State changes are observed through mymux's log (one `backend_state` line per change,
polled with a deadline) and through routing: a backend that is not up gets no new
clients, so `SELECT @@port` names the other one. Faults are real: a backend killed
(SIGKILL), hung (SIGSTOP), refusing logins, out of connections; the status port is the
TiDB stand-in in tidb_status.py. db2 (backends[1]) is the one hurt; every test puts it
back as it found it.
"""

import re
import time

import pymysql
import pytest

import fakeserver
import testbed
from tidb_status import TiDBStatus

pytestmark = pytest.mark.proxy_only

# Fast checks so that a test takes seconds: down after 2 failures, up after 2 successes.
FAST = {"type": "tcp", "interval": 200, "timeout": 150, "rise": 2, "fall": 2}


def config(backends, db2_health=None, health=None, db1_health=None, db2=None, **extra):
    """Two backends db1, db2; db1 is not checked unless db1_health says so."""
    d2 = {"name": "db2", "address": f"{backends[1].host}:{backends[1].port}"}
    d2.update(db2 or {})
    if db2_health is not None:
        d2["health"] = db2_health
    cfg = {
        "backends": [
            {"name": "db1", "address": f"{backends[0].host}:{backends[0].port}",
             "health": db1_health or {"type": "none"}},
            d2,
        ],
        "health": health or FAST,
        **extra,
    }
    return cfg


class LogWatch:
    """Waits for log lines after the last one found (or after creation)."""

    def __init__(self, m):
        self.m = m
        self.pos = 0

    def wait(self, pattern, timeout=15):
        rx = re.compile(pattern)

        def found():
            mm = rx.search(self.m.log(), self.pos)
            if mm:
                self.pos = mm.end()
            return mm

        try:
            return testbed.wait_until(found, timeout, interval=0.02, what=f"log line /{pattern}/")
        except TimeoutError:
            tail = "\n".join(self.m.log().splitlines()[-30:])
            raise AssertionError(f"no log line /{pattern}/ within {timeout}s; log tail:\n{tail}")

    def state_lines(self, backend="db2"):
        return re.findall(rf"event=backend_state backend={backend} .*", self.m.log())


def state_rx(frm, to, reason=""):
    return rf'event=backend_state backend=db2 from={frm} to={to} reason="{reason}'


def ports_of_new_clients(m, n=12):
    ports = set()
    for _ in range(n):
        c = m.connect()
        try:
            with c.cursor() as cur:
                cur.execute("SELECT @@port")
                ports.add(cur.fetchone()[0])
        finally:
            c.close()
    return ports


def status(backend, name):
    with backend.root_conn() as c, c.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
        return int(cur.fetchone()[1])


@pytest.fixture
def db2(backends):
    """backends[1], restored after the test however the test left it."""
    b = backends[1]
    yield b
    if b.running():
        b.resume()
    else:
        b.restart()


def test_tcp_check_killed_backend_goes_down_and_rejoins(backends, db2, mymux_factory):
    m = mymux_factory(config(backends))
    w = LogWatch(m)
    w.wait(r"event=health_checks .*checked=1")
    assert ports_of_new_clients(m, 6) == {backends[0].port, db2.port}
    t0 = time.monotonic()
    db2.kill()
    w.wait(state_rx("up", "down", r"2 failed checks, last: refused"))
    took = time.monotonic() - t0
    assert took < 3, f"down only after {took:.1f}s (fall 2 x interval 0.2s)"
    assert ports_of_new_clients(m) == {backends[0].port}
    db2.restart()
    w.wait(state_rx("down", "up", r"2 successful checks, last: ok \d"), timeout=30)
    testbed.wait_until(lambda: ports_of_new_clients(m, 6) == {backends[0].port, db2.port}, 10,
                       what="clients on both backends again")
    assert len(w.state_lines()) == 2, w.state_lines()


def test_tcp_check_hung_backend_goes_down_by_timeout(backends, db2, mymux_factory):
    m = mymux_factory(config(backends))
    w = LogWatch(m)
    w.wait(r"event=health_checks .*checked=1")
    db2.pause()
    # The kernel still completes the TCP handshake: only the timeout can tell.
    w.wait(state_rx("up", "down", r"2 failed checks, last: timeout \(greeting\)"))
    assert ports_of_new_clients(m) == {backends[0].port}
    db2.resume()
    w.wait(state_rx("down", "up", r"2 successful checks"), timeout=20)


def test_mysql_check_wrong_password_goes_down_with_the_error(backends, db2, mymux_factory):
    with db2.root_conn() as c, c.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'monitor'@'%'")
        cur.execute("CREATE USER 'monitor'@'%' IDENTIFIED BY 'monpass'")
    try:
        hc = dict(FAST, type="mysql", user="monitor", password="wrongpass", timeout=180)
        m = mymux_factory(config(backends, health=hc))
        w = LogWatch(m)
        w.wait(state_rx("up", "down",
                        r"2 failed checks, last: ERR 1045 Access denied for user 'monitor'@"))
        assert ports_of_new_clients(m) == {backends[0].port}
        # The operator fixes the password on the server: the login succeeds, the
        # query and COM_PING are answered, and the backend rejoins.
        with db2.root_conn() as c, c.cursor() as cur:
            cur.execute("ALTER USER 'monitor'@'%' IDENTIFIED BY 'wrongpass'")
        w.wait(state_rx("down", "up", r"2 successful checks, last: ok \d"))
    finally:
        with db2.root_conn() as c, c.cursor() as cur:
            cur.execute("DROP USER IF EXISTS 'monitor'@'%'")


def test_mysql_check_failing_query_goes_down(backends, db2, mymux_factory):
    hc = dict(FAST, type="mysql", user="app", password="apppass", timeout=180,
              query="SELECT * FROM test.no_such_table_hc")
    m = mymux_factory(config(backends, health=hc))
    w = LogWatch(m)
    w.wait(state_rx("up", "down", r"2 failed checks, last: ERR 1146 "))


def test_tcp_check_sees_too_many_connections(backends, db2, mymux_factory):
    m = mymux_factory(config(backends))
    w = LogWatch(m)
    w.wait(r"event=health_checks .*checked=1")
    held = []
    try:
        with db2.root_conn() as c, c.cursor() as cur:
            cur.execute("SET GLOBAL max_connections = 4")
        # Hold connections until the server refuses at accept (max_connections + 1
        # for SUPER users, which root is).
        for _ in range(40):
            try:
                held.append(db2.root_conn(connect_timeout=5))
            except pymysql.err.OperationalError as e:
                assert e.args[0] == 1040, e
                break
        else:
            pytest.fail("the backend never said Too many connections")
        w.wait(state_rx("up", "down", r"2 failed checks, last: ERR 1040 Too many connections"))
    finally:
        for c in held:
            c.close()
        testbed.wait_until(lambda: db2.root_conn().close() or True, 10, what="a free slot")
        with db2.root_conn() as c, c.cursor() as cur:
            cur.execute("SET GLOBAL max_connections = 500")
    w.wait(state_rx("down", "up", r"2 successful checks"))


def test_status_check_drains_on_500_and_rejoins_on_200(backends, mymux_factory):
    st = TiDBStatus().start()
    try:
        hc = dict(FAST, type="status", status_path="/status")
        m = mymux_factory(config(backends, db2_health=hc, db2={"status_port": st.port}))
        w = LogWatch(m)
        # Serving: the checks run and change nothing.
        testbed.wait_until(lambda: st.request_count() >= 3, 10, what="status checks")
        assert w.state_lines() == []
        assert ports_of_new_clients(m, 6) == {backends[0].port, backends[1].port}

        st.set_shutting_down(True)  # TiDB got SIGTERM: graceful shutdown begins
        w.wait(state_rx("up", "draining", r"shutting down gracefully: HTTP 500"))
        # The SQL port still answers, but new clients go elsewhere.
        assert ports_of_new_clients(m) == {backends[0].port}

        st.set_shutting_down(False)  # e.g. the shutdown was called off
        w.wait(state_rx("draining", "up", r"2 successful checks, last: ok \d"))
        testbed.wait_until(lambda: ports_of_new_clients(m, 6) == {backends[0].port,
                                                                   backends[1].port},
                           10, what="clients on both backends again")

        # A real shutdown: draining, then the status port goes away with the server.
        st.set_shutting_down(True)
        w.wait(state_rx("up", "draining", r"shutting down gracefully: HTTP 500"))
        st.stop()
        st = None
        w.wait(state_rx("draining", "down", r"2 failed checks, last: refused"))
    finally:
        if st is not None:
            st.stop()


@pytest.mark.parametrize("mode", ["fast", "full", "switch_native"])
def test_mysql_check_logs_in_with_caching_sha2(backends, mymux_factory, mode):
    """MySQL 8 style logins (the fake server): caching_sha2 fast auth, full auth over
    RSA, and a switch to mysql_native_password; then SELECT 1, COM_PING, COM_QUIT."""
    fake = fakeserver.FakeMySQL8(users={"app": "apppass", "monitor": "monpass"},
                                 mode=mode).start()
    try:
        hc = dict(FAST, type="mysql", user="monitor", password="monpass")
        cfg = config(backends, db2_health=hc, db2={"address": fake.address})
        m = mymux_factory(cfg)
        testbed.wait_until(lambda: len(fake.successful_logins(kind=mode)) >= 3, 10,
                           what=f"{mode} logins by the check")
        cmds = fake.all_commands()
        # Each check: the query, COM_PING, COM_QUIT, in that order.
        assert cmds[:3] == [(0x03, b"SELECT 1"), (0x0e, b""), (0x01, b"")], cmds[:6]
        assert not fake.errors, fake.errors
        assert LogWatch(m).state_lines() == []
        # A server refusing the login takes the backend down with its error.
        fake.mode = "deny"
        LogWatch(m).wait(state_rx("up", "down", r"2 failed checks, last: ERR 1045 "))
    finally:
        fake.stop()


@pytest.mark.parametrize("kind", ["tcp", "mysql"])
def test_checks_do_not_grow_connections_or_logs(backends, mymux_factory, kind):
    db2 = backends[1]
    hc = {"type": kind, "interval": 50, "timeout": 40, "rise": 2, "fall": 2}
    if kind == "mysql":
        hc.update(user="app", password="apppass")
    base_threads = status(db2, "Threads_connected")
    base_conns = status(db2, "Connections")
    base_aborted = status(db2, "Aborted_clients")
    m = mymux_factory(config(backends, health=hc))
    w = LogWatch(m)
    w.wait(r"event=health_checks .*checked=1")
    # (after mymux's start-up probe, which reads a greeting and closes)
    errlog_size = len(testbed._read(db2.log_path))
    lines_at_start = len(m.log().splitlines())
    samples = []
    deadline = time.monotonic() + 3  # about 60 intervals
    while time.monotonic() < deadline:
        samples.append(status(db2, "Threads_connected"))
        time.sleep(0.1)
    checks = status(db2, "Connections") - base_conns - len(samples) - 4
    assert checks >= 30, f"only {checks} check connections in 3 s at a 50 ms interval"
    # At most the check in flight (and our own probe connection) on top of the baseline.
    assert max(samples) <= base_threads + 1, (base_threads, samples)
    testbed.wait_until(lambda: status(db2, "Threads_connected") <= base_threads, 5,
                       what="no check connection left open")
    if kind == "mysql":
        # Closed with COM_QUIT: the server counts no aborted client and writes
        # nothing to its error log. (The tcp check closes after the greeting,
        # which MariaDB logs as "Aborted connection ... closed normally without
        # authentication" at its default log_warnings=2; TiDB logs nothing for it.)
        assert status(db2, "Aborted_clients") == base_aborted
        new_errlog = testbed._read(db2.log_path)[errlog_size:]
        # (one line may still be mymux's start-up probe, written a moment late)
        assert len(new_errlog.splitlines()) <= 1, new_errlog[-2000:]
    # Nothing is logged per successful check.
    assert w.state_lines() == []
    assert len(m.log().splitlines()) - lines_at_start <= 2, m.log().splitlines()[lines_at_start:]
