"""Fault injection at mymux's own commands, with the pool's books checked (issue 11).

test_backend_faults.py's matrix makes the scripted backend close, send garbage or an error
at each internal command; this one adds a backend that stops answering one (the
connection's own deadline, pool.connect_timeout, gives it up) and the re-prepare of a
server-side statement, and checks after each that the pool's counters are true again: no
connection lent, and as many open as the backend has (a leaked or double-counted slot
would show here, and with max_per_backend 1 it would also make the next borrow wait)."""

import pymysql
import pytest

import fakeserver
import testbed
from test_backend_faults import FAULT_POINTS, one, run_fault_point
from test_isolation import PsClient, isolation_ps  # noqa: F401 - fixture
from test_reprepare import fake  # noqa: F401 - fixture

pytestmark = pytest.mark.proxy_only


@pytest.fixture
def proxy_books(mymux_factory, fake):
    return testbed.mymux_over_fake(mymux_factory, fake, {
        "max_per_backend": 1, "wait_timeout": "10s", "connect_timeout": "1500ms"})


books = testbed.backend_connections


def assert_books_true(m, fake, most=1):
    """Nothing lent once every session is idle, and mymux counts the connections the
    backend has, at most `most` (its handler threads end shortly after mymux closes one:
    polled)."""
    def true():
        c = books(m)
        return (c["lent"] == 0 and c["busy"] == 0 and c["opening"] == 0
                and c["open"] == len(fake._socks) and c["open"] <= most)
    testbed.wait_until(true, 15, what=lambda: f"pool counters true: {books(m)}, backend has "
                       f"{len(fake._socks)}")


@pytest.mark.parametrize("action", ["close", "garbage", "err", "stall"])
@pytest.mark.parametrize("point", sorted(FAULT_POINTS))
def test_fault_at_each_internal_command_keeps_the_books(proxy_books, fake, point, action):
    run_fault_point(proxy_books, fake, point, action,
                    after=lambda: assert_books_true(proxy_books, fake))
    assert proxy_books.alive()
    assert_books_true(proxy_books, fake)


@pytest.mark.parametrize("action", ["close", "garbage", "err", "stall"])
def test_fault_at_the_re_prepare_keeps_the_books(proxy_books, fake, isolation_ps, action):
    """The server answers an EXECUTE with 1615 (re-prepare needed) and then fails the
    COM_STMT_PREPARE mymux sends to prepare it again: the EXECUTE gets a clear error, the
    client's statement still works on the next try, the books are true."""
    m = proxy_books
    c = PsClient(isolation_ps, m, "app", "apppass")
    try:
        slot, _ = c.prepare("SELECT ?")
        assert c.cmd("exec", slot, "1") == "ok\t1"
        fake.fail_executes(1)
        fake.fault = (fakeserver.COM_STMT_PREPARE, "SELECT ?", action)
        answer = c.cmd("exec", slot, "2")
        assert fake.faults_done, "mymux did not prepare the statement again"
        assert answer.startswith("err"), answer
        code = answer.split("\t")[1]
        assert code in ("1105", "1615", "2013"), answer
        again = c.cmd("exec", slot, "3")
        assert again == "ok\t3" or again.startswith("err\t2013") or again.startswith(
            "err\t2006"), again
        assert_books_true(m, fake)
    finally:
        c.close()
    assert_books_true(m, fake)


@pytest.mark.parametrize("counts", [(3, 1), (0, 1), (200, 1), (1, 4), (1, 0)])
def test_prepare_answered_with_other_counts(proxy_books, fake, isolation_ps, counts):
    """The same text prepared again (here on a new connection after the first was lost)
    is announced with other parameter or column counts than the client's statement has (a
    schema change, another server behind the pool): everything a backend sends is input,
    so the EXECUTE fails with a clear error or runs with what the client bound, never
    copies past what mymux allocated (the sanitizer build checks), and the books stay
    true."""
    m = proxy_books
    c = PsClient(isolation_ps, m, "app", "apppass")
    try:
        slot, _ = c.prepare("SELECT ?")
        assert c.cmd("exec", slot, "1") == "ok\t1"
        fake.prepare_counts["SELECT ?"] = counts
        fake.fault = (fakeserver.COM_STMT_EXECUTE, "", "close")
        lost = c.cmd("exec", slot, "2")
        assert lost.startswith("err"), lost
        answer = c.cmd("exec", slot, "3")  # prepared again on a new connection
        if counts[0] != 1:  # the client bound one parameter: that cannot be sent
            assert answer.startswith("err\t1105") and "parameter" in answer, answer
        else:
            assert answer.startswith("ok") or answer.startswith("err"), answer
        assert c.cmd("q", "SELECT 5") == "ok\t5"  # the session goes on
        assert_books_true(m, fake)
        assert m.alive()
    finally:
        c.close()
    assert_books_true(m, fake)


def close_all(*clients):
    for c in clients:
        c.close()


def assert_alive_and_true(m, fake, most=1):
    """After the test's clients left: mymux runs, its books are true."""
    assert m.alive()
    assert_books_true(m, fake, most)


def ps_answer_ok_or_lost(answer, value):
    """An EXECUTE's answer is its own value, or an error: never another statement's."""
    if answer.startswith("ok"):
        assert answer == f"ok\t{value}", answer
        return True
    assert answer.startswith("err\t"), answer
    return False


@pytest.fixture
def proxy_stmt_close(mymux_factory, fake):
    """One connection that keeps one server statement, and closes statements no client
    holds at once: mymux sends COM_STMT_CLOSE with the next write of a busy connection,
    and on an idle one at the pool's next tick."""
    return testbed.mymux_over_fake(mymux_factory, fake, {
        "max_per_backend": 1, "wait_timeout": "10s", "connect_timeout": "1500ms",
        "max_prepared": 1, "max_prepared_unused": 0})


@pytest.mark.parametrize("action", ["close", "garbage", "err", "stall"])
def test_fault_at_a_pipelined_stmt_close(proxy_stmt_close, fake, isolation_ps, action):
    """A second PREPARE evicts the first server statement of the connection (max_prepared
    1); its COM_STMT_CLOSE goes out ahead of the next EXECUTE, and the backend answers that
    close (it has no answer) with `action`. The EXECUTE gets its own value or a clear error,
    every later EXECUTE of either statement gets its own value (a stray answer taken for
    the next command would show as another value), another session is untouched, and the
    books are true."""
    m = proxy_stmt_close
    c = PsClient(isolation_ps, m, "app", "apppass")
    other = m.connect(autocommit=True)
    try:
        s1, _ = c.prepare("SELECT ?")
        assert c.cmd("exec", s1, "1") == "ok\t1"
        s2, _ = c.prepare("SELECT ? AS b")  # evicts SELECT ? on that connection
        fake.fault = (fakeserver.COM_STMT_CLOSE, "", action)
        answer = c.cmd("exec", s2, "2")
        ps_answer_ok_or_lost(answer, 2)
        assert fake.faults_done, "mymux sent no COM_STMT_CLOSE"
        if answer.startswith("err\t2057"):
            # "garbage" is a well-framed 0x42: libmariadb takes it for the header of a
            # 66-column result and is out of sync from then on (a driver's own state,
            # which no proxy can mend, and which no real server causes: COM_STMT_CLOSE has
            # no answer). The client starts again; mymux's books must still come out true.
            assert action == "garbage", answer
            assert c.cmd("q", "SELECT 1").startswith("err"), "the driver is in sync again?"
            c.close()
            c = PsClient(isolation_ps, m, "app", "apppass")
            s1, _ = c.prepare("SELECT ?")
            s2, _ = c.prepare("SELECT ? AS b")
        for i in range(3, 9):  # each re-prepares the other text, closing one more
            slot = s1 if i % 2 else s2
            assert c.cmd("exec", slot, str(i)) == f"ok\t{i}", (action, i)
        assert one(other, "SELECT 7") == 7
        assert_books_true(m, fake)
    finally:
        close_all(c, other)
    assert_alive_and_true(m, fake)


@pytest.mark.parametrize("action", ["close", "garbage", "err", "stall"])
def test_fault_at_a_stmt_close_on_an_idle_connection(proxy_stmt_close, fake, isolation_ps,
                                                      action):
    """A client prepares and leaves; its statement, no one's now, is closed on the idle
    connection at the pool's tick, and the backend answers that close with `action`. The
    next borrower gets a clean connection (its own answers) or one clear error, then goes
    on; the books are true."""
    m = proxy_stmt_close
    c = PsClient(isolation_ps, m, "app", "apppass")
    slot, _ = c.prepare("SELECT ?")
    assert c.cmd("exec", slot, "1") == "ok\t1"
    fake.fault = (fakeserver.COM_STMT_CLOSE, "", action)
    c.close()
    testbed.wait_until(lambda: fake.faults_done, 10, what="mymux closed the statement")
    b = m.connect(autocommit=True)
    try:
        try:
            first = one(b, "SELECT 2")
            assert first == 2, first
        except pymysql.MySQLError as e:
            assert e.args[0] in (2013, 1105, 2027), e.args
        for i in range(3, 6):
            assert one(b, f"SELECT {i}") == i
        assert_books_true(m, fake)
    finally:
        b.close()
    assert_alive_and_true(m, fake)


# -- COM_CHANGE_USER from a client: mymux checks the new user itself, then borrows for it

@pytest.fixture
def proxy_users(mymux_factory, fake):
    """Users app and bob, each its own backend user (bob's connections are not app's)."""
    fake.users["bob"] = "bobpass"
    return testbed.mymux_over_fake(
        mymux_factory, fake, {"max_per_backend": 3, "wait_timeout": "10s",
                              "connect_timeout": "1500ms"},
        users=(("app", "apppass"), ("bob", "bobpass")))


def after_change_user(c, answer, user_ok):
    """The change-user's answer is OK or a clear error; after an error the session
    either goes on (as a server leaves it: the old user's, reset) or has ended with it.
    Returns whether the session is still usable."""
    if answer == "ok":
        assert user_ok, "the change-user succeeded though its backend failed"
        return True
    assert answer.startswith("err\t"), answer
    code = answer.split("\t")[1]
    assert code in ("2013", "1105", "2027", "1045", "2006", "1040"), answer
    nxt = c.cmd("q", "SELECT 9")
    assert nxt == "ok\t9" or nxt.split("\t")[1] in ("2006", "2013"), nxt
    return nxt == "ok\t9"


@pytest.mark.parametrize("mode", ["close", "garbage_pkt", "silent", "switch_close"])
def test_fault_in_the_borrow_for_a_changed_user(proxy_users, fake, isolation_ps, mode):
    """COM_CHANGE_USER to bob: mymux verifies bob, then needs a backend connection of
    bob's, and the backend fails that login (drops it, sends garbage, never greets, breaks
    the auth switch). The change-user gets a clear error, another session is untouched, no
    slot leaks, and once the backend is well again bob can log in."""
    m = proxy_users
    c = PsClient(isolation_ps, m, "app", "apppass")
    other = m.connect(autocommit=True)
    try:
        assert c.cmd("q", "SELECT 1") == "ok\t1"
        assert one(other, "SELECT 2") == 2
        fake.mode = mode
        after_change_user(c, c.cmd("change_user", "bob", "bobpass", "test"), user_ok=False)
        fake.mode = "fast"
        assert one(other, "SELECT 3") == 3
        assert_books_true(m, fake, most=3)
    finally:
        fake.mode = "fast"
        c.close()
        other.close()
    c = PsClient(isolation_ps, m, "bob", "bobpass")
    try:
        assert c.cmd("q", "SELECT 4") == "ok\t4"
    finally:
        c.close()
    assert_alive_and_true(m, fake, most=3)


CHANGE_USER_SYNC = {
    "reset": (0x1F, ""),                    # the reset of the kept connection
    "init_db": (fakeserver.COM_INIT_DB, "db_c"),  # the new login's schema
}


@pytest.mark.parametrize("action", ["close", "garbage", "err", "stall"])
@pytest.mark.parametrize("point", sorted(CHANGE_USER_SYNC))
def test_fault_in_the_sync_after_change_user(proxy_users, fake, isolation_ps, point, action):
    """COM_CHANGE_USER to the same backend user: the connection is kept, and the login's
    sync resets it (and moves it to the new schema) before the OK. The backend fails that
    command: the change-user gets a clear error (never an OK over a connection that kept
    the old identity's state), another session is untouched, the books are true."""
    m = proxy_users
    c = PsClient(isolation_ps, m, "app", "apppass")
    other = m.connect(autocommit=True)
    try:
        assert c.cmd("q", "SET @v = 1") == "ok"  # state the reset must clear: pins
        fake.fault = (*CHANGE_USER_SYNC[point], action)
        db = "db_c" if point == "init_db" else "test"
        answer = c.cmd("change_user", "app", "apppass", db)
        assert fake.faults_done, "mymux did not send the command"
        if after_change_user(c, answer, user_ok=False):
            assert c.cmd("q", "SELECT 10") == "ok\t10"
        assert one(other, "SELECT 3") == 3
        assert_books_true(m, fake, most=3)
    finally:
        close_all(c, other)
    assert_alive_and_true(m, fake, most=3)


@pytest.fixture
def proxy_mariadb(mymux_factory):
    """mymux (one worker, no health checks, admin API) in front of the real MariaDB."""
    return testbed.mymux_with_admin(mymux_factory, {
        "workers": 1, "health": {"type": "none"},
        "pool": {"max_per_backend": 4, "wait_timeout": "10s"}})


def mariadb_threads(root, user):
    with root.cursor() as cur:
        cur.execute("SELECT id FROM information_schema.processlist WHERE user = %s", (user,))
        return [r[0] for r in cur.fetchall()]


@pytest.mark.parametrize("to_user", ["app", "other"])
def test_change_user_after_its_backend_was_killed(proxy_mariadb, backends, isolation_ps,
                                                  to_user):
    """Real MariaDB: a session holds its connection (a temporary table pins it), root KILLs
    that backend thread, and the client's mysql_change_user follows at once (mymux may or
    may not have seen the connection go). The change-user gets a clear error (the old
    identity's state went with the connection), or an OK with a fresh session of the new
    user in which nothing of the old one is visible; another session is untouched; the pool
    counts what MariaDB has, nothing lent."""
    m = proxy_mariadb
    root = backends[0].root_conn()
    c = PsClient(isolation_ps, m, "app", "apppass")
    other = m.connect(user="other", password="otherpass", autocommit=True)
    try:
        assert c.cmd("q", "CREATE TEMPORARY TABLE t_cu (x INT)") == "ok"
        assert one(other, "SELECT 2") == 2
        victims = mariadb_threads(root, "app")
        assert len(victims) == 1, victims  # the one connection of user app: c's
        with root.cursor() as cur:
            cur.execute(f"KILL {victims[0]}")
        pw = "apppass" if to_user == "app" else "otherpass"
        answer = c.cmd("change_user", to_user, pw, "test")
        if answer == "ok":
            assert c.cmd("q", "SELECT CURRENT_USER() LIKE %s" % f"'{to_user}@%'") == "ok\t1"
            gone = c.cmd("q", "SELECT * FROM t_cu")
            assert gone.startswith("err\t1146"), gone  # the old user's table is not here
        else:
            assert answer.split("\t")[1] in ("2013", "2006", "1927", "1053"), answer
        assert one(other, "SELECT 3") == 3

        def true():
            cn = books(m)
            have = len(mariadb_threads(root, "app")) + len(mariadb_threads(root, "other"))
            return cn["lent"] <= 1 and cn["opening"] == 0 and cn["open"] == have
        testbed.wait_until(true, 15, what=lambda: f"pool counts true: {books(m)}")
    finally:
        close_all(c, other)
    testbed.wait_until(lambda: books(m)["lent"] == 0 and books(m)["busy"] == 0, 15,
                       what=lambda: f"nothing lent: {books(m)}")
    assert m.alive()
    root.close()
