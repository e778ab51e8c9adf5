"""Session state the statement text cannot show (issue 9), on one shared backend connection.

mymux runs with one worker and ONE backend connection; client A (user app) changes session
state in a way no classifier can see in the text — a stored function, a trigger, a view over
such a function, a procedure — and then runs a harmless SELECT 1, after which a proxy that
believed A clean would lend the connection to client B (user other, the same backend user
mapping as A's). Each vector checks the two halves of isolation:
  - B never sees A's state: B either waits (error 9001 with the short pool wait: A keeps the
    connection) or runs on a connection without it;
  - A still has its state on its next statement.

Both of mymux's paths run each vector: `on`, where MariaDB's session trackers report the
change (the server is the source of truth), and `off`, where MariaDB stands for TiDB, which
reports nothing and has no stored routines: there the classifier must pin every call of a
function that is not a built-in, and CALL. Every vector also runs directly against MariaDB
(MYMUX_DIRECT=1), where each client has its own server session, to show the case is valid.
"""

import pymysql
import pytest

import testbed
from testbed import wait_until

SHORT_WAIT = "600ms"
# two mymux users, one backend user: their sessions share the pool's connections
SHARED_USERS = {"users": [
    {"name": "app", "password": "apppass"},
    {"name": "other", "password": "otherpass", "backend_user": "app",
     "backend_password": "apppass"},
]}


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def one(conn, sql):
    rows = q(conn, sql)
    assert len(rows) == 1, f"{sql!r}: {rows!r}"
    return rows[0][0]


def b_view(conn, sql):
    """What B reads, or 'waits' when A keeps the one connection (error 9001)."""
    try:
        return one(conn, sql)
    except pymysql.MySQLError as e:
        if e.args[0] == 1146:
            return "no such table"
        assert e.args[0] == 9001, e
        return "waits"


@pytest.fixture(scope="module")
def routines(backends):
    """Stored routines, a trigger and a view that change session state unseen."""
    c = backends[0].root_conn()
    for sql in [
        "CREATE OR REPLACE FUNCTION test.f_uservar() RETURNS INT DETERMINISTIC "
        "BEGIN SET @fx = 7; RETURN 1; END",
        "CREATE OR REPLACE FUNCTION test.f_sessvar() RETURNS INT DETERMINISTIC "
        "BEGIN SET SESSION time_zone = '+03:00'; RETURN 1; END",
        "CREATE OR REPLACE PROCEDURE test.p_uservar() BEGIN SET @pv = 5; END",
        "CREATE OR REPLACE PROCEDURE test.p_temptable() "
        "BEGIN CREATE TEMPORARY TABLE test.ss_tmp (a INT); END",
        "CREATE OR REPLACE TABLE test.ss_trig (a INT)",
        "CREATE OR REPLACE TRIGGER test.ss_trig_bi BEFORE INSERT ON test.ss_trig "
        "FOR EACH ROW SET @trg = NEW.a",
        "CREATE OR REPLACE VIEW test.ss_view AS SELECT test.f_uservar() AS a",
        "GRANT ALL ON test.* TO 'app'@'%'",
    ]:
        q(c, sql)
    c.close()
    yield


@pytest.fixture(params=["on", "off"])
def mux(request, mymux_factory, routines):
    m = mymux_factory({"workers": 1, "session_tracking": request.param, **SHARED_USERS,
                       "pool": {"max_per_backend": 1, "wait_timeout": SHORT_WAIT}})
    m.tracking = request.param
    return m


@pytest.fixture
def ab(mux):
    a = mux.connect(database="test", autocommit=True)
    b = mux.connect(user="other", password="otherpass", database="test", autocommit=True)
    yield a, b
    a.close()
    b.close()


# (what A runs, what B and then A read, the value A must read, B's value without A's state)
VECTORS = {
    "function_sets_user_variable": ("SELECT f_uservar()", "SELECT @fx", 7, None),
    "function_sets_session_variable": ("SELECT f_sessvar()", "SELECT @@session.time_zone",
                                       "+03:00", "SYSTEM"),
    "view_over_such_function": ("SELECT a FROM ss_view", "SELECT @fx", 7, None),
    "trigger_sets_user_variable": ("INSERT INTO ss_trig VALUES (42)", "SELECT @trg", 42, None),
    "procedure_sets_user_variable": ("CALL p_uservar()", "SELECT @pv", 5, None),
    "procedure_creates_temporary_table": (
        "CALL p_temptable()",
        "SELECT COUNT(*) FROM test.ss_tmp", 0, "no such table"),
}


# Only MariaDB's trackers can see these: the text names no routine. On TiDB (the `off` path)
# they cannot happen, as TiDB has no triggers and no stored functions.
TRACKERS_ONLY = {"trigger_sets_user_variable", "view_over_such_function"}


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_unseen_state_stays_with_its_session(ab, mux, vector):
    if mux.tracking == "off" and vector in TRACKERS_ONLY:
        pytest.skip("no triggers or stored functions on TiDB, which the off path stands for")
    a, b = ab
    act, probe, mine, clean = VECTORS[vector]
    q(a, act)
    assert one(a, "SELECT 1") == 1  # a clean-looking statement: the moment a leak would happen
    assert b_view(b, probe) in (clean, "waits"), f"{vector}: B saw A's state"
    assert one(a, probe) == mine, f"{vector}: A lost its own state"


@pytest.fixture
def direct_ab(backends, routines):
    a = backends[0].connect(database="test", autocommit=True)
    b = backends[0].connect(user="other", password="otherpass", database="test", autocommit=True)
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_vector_is_valid_directly(direct_ab, vector):
    """On MariaDB itself A's state is A's and B's session has none of it."""
    a, b = direct_ab
    act, probe, mine, clean = VECTORS[vector]
    q(a, act)
    assert b_view(b, probe) == clean
    assert one(a, probe) == mine


@pytest.fixture
def latin1_b(mux):
    """A logs in with utf8mb4, B with latin1 (its handshake character set)."""
    a = mux.connect(database="test", autocommit=True, charset="utf8mb4")
    b = mux.connect(user="other", password="otherpass", database="test", autocommit=True,
                    charset="latin1")
    yield a, b
    a.close()
    b.close()


def test_character_set_revert_is_the_sessions_own(latin1_b):
    """A replayable SET character_set_client moves with A; when B gets the connection it
    reverts to B's own handshake character set, not to the server's default."""
    a, b = latin1_b
    assert one(b, "SELECT @@character_set_client") == "latin1"
    q(a, "SET character_set_client = 'cp1251'")
    assert one(a, "SELECT 1") == 1
    assert b_view(b, "SELECT @@character_set_client") in ("latin1", "waits")
    assert one(a, "SELECT @@character_set_client") == "cp1251"
    assert b_view(b, "SELECT @@character_set_client") in ("latin1", "waits")


def test_sql_mode_is_what_the_server_has(mymux_factory):
    """Tracker path: after SET sql_mode='POSTGRESQL' the replayed value is the server's own
    expansion of it, and B keeps the default. (ORACLE would pin: its grammar, PL/SQL blocks,
    is one the classifier does not read.)"""
    m = mymux_factory({"workers": 1, "session_tracking": "on", **SHARED_USERS,
                       "pool": {"max_per_backend": 1, "wait_timeout": "30s"}})
    a = m.connect(database="test", autocommit=True)
    b = m.connect(user="other", password="otherpass", database="test", autocommit=True)
    default = one(b, "SELECT @@sql_mode")
    q(a, "SET sql_mode = 'POSTGRESQL'")
    expanded = one(a, "SELECT @@sql_mode")
    assert "ANSI_QUOTES" in expanded and "POSTGRESQL" in expanded
    assert one(b, "SELECT @@sql_mode") == default
    assert one(a, "SELECT @@sql_mode") == expanded
    a.close()
    b.close()


def test_tracker_data_never_reaches_the_client(mymux_factory):
    """The client did not ask for CLIENT_SESSION_TRACK: its OK packets carry neither the
    state-changed flag nor tracker data, and the info text of an UPDATE is intact."""
    m = mymux_factory({"workers": 1, "session_tracking": "on"})
    raw = []
    orig = pymysql.connections.Connection._read_packet

    def spy(self, packet_type=pymysql.connections.MysqlPacket):
        p = orig(self, packet_type)
        raw.append(p.get_all_data())
        return p

    c = m.connect(database="test", autocommit=True)
    q(c, "CREATE OR REPLACE TABLE ss_info (a INT)")
    q(c, "INSERT INTO ss_info VALUES (1), (2)")
    pymysql.connections.Connection._read_packet = spy
    try:
        q(c, "SET time_zone = '+01:00'")
        q(c, "USE test2")
        q(c, "SET @v = 1")
        q(c, "UPDATE test.ss_info SET a = a + 1")
        info = c._result.message
        q(c, "SELECT 1")
    finally:
        pymysql.connections.Connection._read_packet = orig
    for p in raw:
        if p[:1] == b"\x00" and len(p) >= 7:
            status = int.from_bytes(p[3:5], "little")
            assert not status & 0x4000, p.hex()
        if p[:1] == b"\xfe" and len(p) < 9:
            assert not int.from_bytes(p[3:5], "little") & 0x4000, p.hex()
    # what MariaDB sends every client (PyMySQL shows the length prefix too, directly as well)
    assert b"Rows matched: 2  Changed: 2" in bytes(info), info
    c.close()


@pytest.mark.parametrize("tracking", ["on", "off"])
def test_dropped_current_schema_is_the_servers_truth(mymux_factory, backends, tracking):
    """DROP DATABASE of the current schema leaves the session with none, as the server
    reports (a schema tracker item; on every server the SERVER_STATUS_DB_DROPPED flag);
    that is no state to pin for, and a later session that logs in with the schema (created
    again) gets it, not a connection mymux believes is elsewhere."""
    root = backends[0].root_conn()
    q(root, "CREATE DATABASE IF NOT EXISTS ss_dropme")
    q(root, "GRANT ALL ON ss_dropme.* TO 'app'@'%'")
    m = mymux_factory({"workers": 1, "session_tracking": tracking, **SHARED_USERS,
                       "pool": {"max_per_backend": 1, "wait_timeout": "30s"}})
    a = m.connect(database="ss_dropme", autocommit=True)
    b = m.connect(user="other", password="otherpass", database="test", autocommit=True)
    q(a, "DROP DATABASE ss_dropme")
    assert one(a, "SELECT DATABASE()") is None
    assert one(b, "SELECT DATABASE()") == "test"  # A did not keep the connection
    q(root, "CREATE DATABASE ss_dropme")
    c = m.connect(database="ss_dropme", autocommit=True)
    assert one(c, "SELECT DATABASE()") == "ss_dropme"
    assert one(a, "SELECT DATABASE()") is None
    for conn in (a, b, c):
        conn.close()
    q(root, "DROP DATABASE ss_dropme")
    root.close()


@pytest.mark.parametrize("tracking", ["on", "off"])
@pytest.mark.parametrize("how", ["DROP DATABASE ss_dropme", "DROP SCHEMA ss_dropme",
                                 "DROP DATABASE ss_dropme; SELECT 1"])
def test_dropped_schema_next_login_gets_it(mymux_factory, backends, tracking, how):
    """Issue 10's sequence with PyMySQL's defaults (autocommit off) and a pool of one: A,
    logged in with ss_dropme, drops it and goes idle; the schema is made again (a test
    suite's next run); B logs in with it and is on the very connection A left, which must
    not still be believed to be in ss_dropme: B gets the schema, not 1046. Also as the
    second statement of a multi-statement text, where the last OK does not carry the
    server's DB_DROPPED flag."""
    from pymysql.constants import CLIENT
    root = backends[0].root_conn()
    q(root, "CREATE DATABASE IF NOT EXISTS ss_dropme")
    q(root, "GRANT ALL ON ss_dropme.* TO 'app'@'%'")
    m = mymux_factory({"workers": 1, "session_tracking": tracking,
                       "pool": {"max_per_backend": 1, "wait_timeout": "30s"}})
    a = m.connect(database="ss_dropme", client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        with a.cursor() as cur:
            cur.execute(how)
            while cur.nextset():
                pass
        assert one(a, "SELECT DATABASE()") is None
        q(root, "CREATE DATABASE ss_dropme")
        b = m.connect(database="ss_dropme")
        try:
            assert one(b, "SELECT DATABASE()") == "ss_dropme"
            q(b, "CREATE TABLE t (x INT)")  # 1046 if the connection had no schema
            q(b, "INSERT INTO t VALUES (1)")
            b.commit()
            assert one(root, "SELECT COUNT(*) FROM ss_dropme.t") == 1
        finally:
            b.close()
        assert one(a, "SELECT DATABASE()") is None
    finally:
        a.close()
        q(root, "DROP DATABASE IF EXISTS ss_dropme")
        root.close()
