"""A backend that dies in the middle of mymux's own commands (issue 11, in part).

The scripted fake server (fakeserver.py) stands in for a backend that drops its connection
at an exact point, which a real server does not do on demand: here, on the revert that
mymux sends before lending a connection A left a setting on to B.
"""

import pymysql
import pytest

import fakeserver
import testbed
# the scripted server and a one-connection mymux in front of it, as test_reprepare has them
from test_reprepare import fake, proxy  # noqa: F401 - fixtures used here

pytestmark = pytest.mark.proxy_only


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()[0][0]


def test_backend_dies_during_state_sync(proxy, fake):
    """B's command fails with the lost connection; B goes on on a new connection, A keeps its
    setting, and nothing uses the dead connection again (the sanitizer build would report a
    use after free; the log is checked for it at the end)."""
    a = proxy.connect(autocommit=True)
    b = proxy.connect(autocommit=True)
    try:
        with a.cursor() as cur:
            cur.execute("SET time_zone = '+01:00'")
        assert one(a, "SELECT 1") == 1
        fake.close_on_query = "time_zone = DEFAULT"
        with pytest.raises(pymysql.MySQLError) as ei:
            one(b, "SELECT 2")
        assert ei.value.args[0] in (2013, 1105, 2027), ei.value.args
        fake.close_on_query = None
        assert one(b, "SELECT 3") == 3  # a new connection
        assert one(b, "SELECT 4") == 4
        assert one(a, "SELECT 5") == 5  # A's setting is replayed on it
        synced = [arg for cmd, arg in fake.all_commands() if cmd == fakeserver.COM_QUERY]
        assert any(b"time_zone = '+01:00'" in q for q in synced[-3:]), synced[-5:]
    finally:
        a.close()
        b.close()


# Each internal command mymux sends on a connection, with what makes it send it: A leaves
# state on the one backend connection, then B's statement needs the command first. "diag" is
# the diagnostics fetch after a statement that raised a warning (B's own statement then has
# its answer already).
FAULT_POINTS = {
    "init_db": (lambda a: None, {"database": "db_b"}, (fakeserver.COM_INIT_DB, "db_b")),
    "set_names": (lambda a: q(a, "SET NAMES latin1"), {}, (fakeserver.COM_QUERY, "SET NAMES")),
    "set_vars": (lambda a: q(a, "SET time_zone = '+01:00'"), {},
                 (fakeserver.COM_QUERY, "time_zone = DEFAULT")),
    "reset": (lambda a: q(a, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"), {},
              (0x1F, "")),
    "diag": (lambda a: None, {}, (fakeserver.COM_QUERY, "@@warning_count")),
}


def q(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def run_fault_point(m, fake, point, action, after=None):
    """A leaves state on the one connection, B's statement needs one of mymux's commands
    first, and the backend answers that command with `action`. B's statement gets a clear
    error (or, for the diagnostics fetch, keeps the answer it already has); A and B both go
    on. after(): more checks while both sessions are still open."""
    setup, b_kw, (cmd, text) = FAULT_POINTS[point]
    a = m.connect(autocommit=True, database="db_a")
    b = m.connect(autocommit=True, database=b_kw.get("database", "db_a"))
    try:
        setup(a)
        assert one(a, "SELECT 1") == 1
        fake.fault = (cmd, text, action)
        trigger = "DO WARN" if point == "diag" else "SELECT 2"
        try:
            q(b, trigger)
            failed = None
        except pymysql.MySQLError as e:
            failed = e.args
        if point == "diag":  # the statement's answer was out before the fetch
            assert failed is None, failed
        else:
            assert failed and failed[0] in (2013, 1105, 2027), (point, action, failed)
        assert one(b, "SELECT 3") == 3  # (the diagnostics fetch runs before it)
        assert fake.faults_done, "the fault never fired: mymux did not send the command"
        assert one(a, "SELECT 4") == 4
        assert one(b, "SELECT 5") == 5
        if after:
            after()
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("action", ["close", "garbage", "err"])
@pytest.mark.parametrize("point", sorted(FAULT_POINTS))
def test_fault_at_each_internal_command(proxy, fake, point, action):
    """The backend closes, sends garbage or an error at one of mymux's own commands
    (run_fault_point); the one pooled slot comes back (with max_per_backend 1 a leaked slot
    would make the next borrow wait and fail); the sanitizer build reports nothing (the log
    is checked at the end)."""
    run_fault_point(proxy, fake, point, action)


@pytest.fixture
def proxy_deadline(mymux_factory, fake):
    """The fake behind mymux with a 1 s query deadline; a second user with its own 4 s."""
    return mymux_factory({
        "workers": 1,
        "users": [{"name": "app", "password": "apppass"},
                  {"name": "slow", "password": "apppass", "backend_user": "app",
                   "backend_password": "apppass", "query_timeout": "4s"}],
        "backends": [{"name": "fake8", "address": fake.address, "health": {"type": "none"}}],
        "health": {"type": "none"},
        "pool": {"max_per_backend": 2, "wait_timeout": "10s", "query_timeout": "1s"},
    })


def test_backend_that_never_answers_times_out(proxy_deadline, fake):
    """Issue 14: a statement the backend never answers fails with 1969 after
    pool.query_timeout, from any session; three in a row take the server down until its
    health checks bring it back (a passive check)."""
    import time
    a = proxy_deadline.connect(autocommit=True)
    other = proxy_deadline.connect(autocommit=True)
    try:
        assert one(a, "SELECT 1") == 1
        for i in range(3):  # three in a row, nothing answered in between
            fake.fault = (fakeserver.COM_QUERY, "STALL", "stall")
            t0 = time.monotonic()
            with pytest.raises(pymysql.MySQLError) as ei:
                q(a if i != 1 else other, f"SELECT STALL {i}")
            assert ei.value.args[0] == 1969, ei.value.args
            assert "did not answer within query_timeout (1000 ms)" in ei.value.args[1]
            assert time.monotonic() - t0 < 30  # generous upper bound: it does not hang
        testbed.wait_until(lambda: "3 queries in a row timed out" in proxy_deadline.log(), 10,
                           what="the server taken down")
    finally:
        a.close()
        other.close()


def test_backend_timeout_leaves_the_session_usable(proxy_deadline, fake):
    a = proxy_deadline.connect(autocommit=True)
    other = proxy_deadline.connect(autocommit=True)
    try:
        fake.fault = (fakeserver.COM_QUERY, "STALL", "stall")
        with pytest.raises(pymysql.MySQLError) as ei:
            q(a, "SELECT STALL")
        assert ei.value.args[0] == 1969, ei.value.args
        assert one(a, "SELECT 2") == 2  # on a new connection
        assert one(other, "SELECT 3") == 3
        assert "3 queries in a row" not in proxy_deadline.log()
    finally:
        a.close()
        other.close()


def test_backend_that_stalls_mid_answer_ends_the_session(proxy_deadline, fake):
    """Issue 14: part of the answer (a column count and a definition) reached the client when
    the deadline passed. As a server does for a query stopped mid-result, mymux sends the
    error in place of the next packet, with the sequence number the client expects (PyMySQL
    checks it: a wrong one is "Packet sequence number wrong", not 1969); then the session
    ends with its connection, and another session goes on."""
    a = proxy_deadline.connect(autocommit=True)
    other = proxy_deadline.connect(autocommit=True)
    try:
        assert one(a, "SELECT 1") == 1
        fake.fault = (fakeserver.COM_QUERY, "STALL", "stall_mid")
        with pytest.raises(pymysql.MySQLError) as ei:
            q(a, "SELECT STALL")
        assert ei.value.args[0] == 1969, ei.value.args
        assert "did not answer within query_timeout (1000 ms)" in ei.value.args[1]
        with pytest.raises(pymysql.MySQLError):
            q(a, "SELECT 2")  # the session ended after the error
        assert one(other, "SELECT 3") == 3
    finally:
        a.close()
        other.close()


# Issue 14: answers that break off or contradict themselves. kind -> (the error the client
# reads, whether its session goes on). Where nothing of the answer reached the client the
# statement fails and a session that held nothing on the connection goes on; past that
# point the error takes the place of the next row (the column definitions still due are
# made up first, PyMySQL reads anything there as one) and the session ends; inside a
# packet nothing can be added and the client sees its connection lost (2013, PyMySQL's own).
BROKEN_ANSWERS = {
    "absurd_count": (1105, "malformed answer", True),
    "garbage_def": (1105, "malformed answer", False),
    "short_defs": (1105, "malformed answer", False),
    "long_defs": (1105, "malformed answer", False),
    "die_in_rows": (1105, "lost connection to the backend", False),
    "die_in_packet": (2013, "", False),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_ANSWERS))
def test_broken_answer_is_an_error_not_a_hang(proxy_deadline, fake, kind):
    """The statement ends at once with an error the client can read (no deadline involved:
    well before the fixture's 1 s, checked by the wall clock loosely), mymux and other
    sessions go on, and the next session gets a working connection."""
    import time
    code, text, goes_on = BROKEN_ANSWERS[kind]
    a = proxy_deadline.connect(autocommit=True)
    other = proxy_deadline.connect(autocommit=True)
    try:
        assert one(a, "SELECT 1") == 1
        fake.fault = (fakeserver.COM_QUERY, "BROKEN", kind)
        t0 = time.monotonic()
        with pytest.raises(pymysql.MySQLError) as ei:
            q(a, "SELECT BROKEN")
        assert ei.value.args[0] == code, ei.value.args
        assert text in ei.value.args[1], ei.value.args
        assert "query_timeout" not in ei.value.args[1]  # not ended by the deadline
        assert time.monotonic() - t0 < 30
        assert fake.faults_done
        if goes_on:
            assert one(a, "SELECT 2") == 2
        else:
            with pytest.raises(pymysql.MySQLError):
                q(a, "SELECT 2")
        assert one(other, "SELECT 3") == 3
        b = proxy_deadline.connect(autocommit=True)
        assert one(b, "SELECT 4") == 4
        b.close()
        assert proxy_deadline.alive()
    finally:
        a.close()
        other.close()


@pytest.mark.parametrize("kind", ["die_in_rows", "short_defs"])
def test_broken_answer_reaches_the_mariadb_cli(proxy_deadline, fake, kind):
    """libmariadb (the mariadb CLI) reads the error mymux puts in place of a row or a column
    definition as the server's: it prints it and exits 1 (a bare close would print 2013)."""
    fake.fault = (fakeserver.COM_QUERY, "BROKEN", kind)
    r = proxy_deadline.cli(["-e", "SELECT BROKEN"])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "ERROR 1105 (HY000)" in r.stderr, r.stderr
    assert "2013" not in r.stderr and "Lost connection to server" not in r.stderr, r.stderr


def test_user_query_timeout_overrides_the_pool(proxy_deadline, fake):
    """users[].query_timeout: the slow user's stalled statement is still waiting well after
    the pool's 1 s, and ends with its own 4 s deadline."""
    import threading
    s = proxy_deadline.connect(user="slow", password="apppass", autocommit=True)
    try:
        fake.fault = (fakeserver.COM_QUERY, "STALL", "stall")
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("r", _try(s, "SELECT STALL")))
        t.start()
        t.join(2.5)  # past the pool's 1 s deadline (a lower bound: slowness cannot fail it)
        assert t.is_alive(), f"the slow user's statement ended early: {box}"
        t.join(60)
        assert not t.is_alive()
        assert "1969" in box["r"] and "within query_timeout (4000 ms)" in box["r"], box
    finally:
        s.close()


def _try(conn, sql):
    try:
        return q(conn, sql)
    except Exception as e:  # noqa: BLE001 - closed under it by the test: any error will do
        return repr(e)


@pytest.fixture
def proxy_slow_login(mymux_factory, fake):
    """The fake behind mymux, with a 3 s deadline for a backend login; the admin API on
    (the port is m.admin_port)."""
    return testbed.mymux_over_fake(mymux_factory, fake, {
        "max_per_backend": 2, "wait_timeout": "10s", "connect_timeout": "3s"})


pool_counts = testbed.backend_connections


def test_client_leaves_while_its_backend_logs_in(proxy_slow_login, fake):
    """Issue 11, the seam: the client gives up while the connection opened for its login
    still waits for the server's greeting. When that login ends (here: its deadline), no
    session is told of it any more (the sanitizer build reported a use after free of the
    closed session), and the proxy serves the next client."""
    fake.mode = "silent"
    with pytest.raises(pymysql.MySQLError):
        # mymux authenticates the client itself, then opens the backend connection; the
        # client's own deadline (1 s) ends before mymux's (3 s)
        proxy_slow_login.connect(connect_timeout=1, read_timeout=1)
    testbed.wait_until(lambda: "disconnect" in proxy_slow_login.log(), 10,
                       what="the session closed")
    assert "backend_login_failed" not in proxy_slow_login.log()
    testbed.wait_until(lambda: "backend_login_failed" in proxy_slow_login.log(), 10,
                       what="the abandoned login ended")
    fake.mode = "fast"
    c = proxy_slow_login.connect(autocommit=True)
    try:
        assert one(c, "SELECT 7") == 7
    finally:
        c.close()
    # the pool's counters are true again: one idle connection (the new one), nothing
    # busy or opening (the abandoned login counted once, as opened and closed)
    testbed.wait_until(lambda: pool_counts(proxy_slow_login)["busy"] == 0, 10,
                       what="the connection given back")
    n = pool_counts(proxy_slow_login)
    assert (n["busy"], n["opening"], n["open"], n["idle"]) == (0, 0, 1, 1), n
    assert "AddressSanitizer" not in proxy_slow_login.log()


def test_kill_of_a_thread_that_ended_meanwhile_is_ok(mymux_factory, fake):
    """Issue 15, lock_kill of MariaDB's suite under load: the owner's KILL [QUERY] of a
    session busy on a backend thread goes out as KILL QUERY of that thread, and when the
    thread ends before the server runs it (its ALTER TABLE ended as its worker closed it),
    the server answers 1094 Unknown thread id. A server kills its own thread atomically and
    answers OK; so does mymux, as when it sees the statement end first. The fake stands in for
    the server that lost the race, which a real one does only by chance."""
    import threading
    m = mymux_factory({
        "workers": 1,
        "users": [{"name": "app", "password": "apppass"}],
        "backends": [{"name": "fake8", "address": fake.address, "health": {"type": "none"}}],
        "health": {"type": "none"},
        "pool": {"max_per_backend": 2, "wait_timeout": "10s"},
    })
    v = m.connect(autocommit=True, read_timeout=60)
    k = m.connect(autocommit=True)
    vid = v.thread_id()  # mymux's id, from its greeting
    fake.fault = [(fakeserver.COM_QUERY, "STALL", "stall"),
                  (fakeserver.COM_QUERY, "KILL QUERY", "err_1094")]
    got = []

    def stalled():
        try:
            q(v, "SELECT STALL")
            got.append("answered")
        except pymysql.MySQLError as e:
            got.append(e.args[0])

    t = threading.Thread(target=stalled)
    t.start()
    try:
        testbed.wait_until(lambda: any(b"STALL" in a for c, a in fake.all_commands()), 10,
                           what="the victim's statement on the backend")
        q(k, f"KILL QUERY {vid}")  # 1094 before the fix
        assert any(b"KILL QUERY" in a for c, a in fake.all_commands())
        assert "kill_query_thread_gone" in m.log()
        assert one(k, "SELECT 5") == 5
        q(k, f"KILL {vid}")  # the victim's connection closes
        t.join(30)
        assert got and got[0] in (2013, 2006), got
    finally:
        t.join(30)
        v.close()
        k.close()
