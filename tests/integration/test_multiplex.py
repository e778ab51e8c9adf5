"""Transaction-level multiplexing (issue 3): isolation between client sessions that share
backend connections.

This is a security property. Unless a test says otherwise, mymux runs with ONE worker and
ONE backend connection (pool.max_per_backend: 1) shared by several PyMySQL clients, against
MariaDB, on both of mymux's paths (fixture `tracking`): with MariaDB's session trackers
(session_tracking: on) and without them (off), where MariaDB stands for TiDB, which reports
no session state and leaves mymux to its classifier. For each kind of session state:
  - the client that set it sees it on its next statement;
  - no other client ever sees it, with statements of 2-3 clients interleaved on the one
    connection;
  - a pinned session keeps its connection: another client waits, and with a short
    pool.wait_timeout gets error 9001 (whose message names the wait) until the pin is
    cleared; then it proceeds.

Every client is opened with autocommit=True (PyMySQL's default autocommit=False sends
SET autocommit=0, which holds the connection from the first table access to COMMIT) and
before any other client pins the one connection (logging in borrows a backend connection too).

Binary prepared statements are tested by ps_test.c (libmariadb, threads sharing a pool).
"""

import os
import re
import subprocess
import threading
import time

import pymysql
import pytest
from pymysql.constants import CLIENT

import testbed
from test_isolation import PsClient, isolation_ps  # noqa: F401 - the fixture is used here
from testbed import wait_until

pytestmark = pytest.mark.proxy_only

SHORT_WAIT = "600ms"  # pool.wait_timeout when a test expects error 9001
LONG_WAIT = "30s"     # pool.wait_timeout when a test expects a waiting client to proceed


# --------------------------------------------------------------------------- helpers


def one_conn_config(wait=SHORT_WAIT, tracking=None, **pool):
    cfg = {"workers": 1, "pool": {"max_per_backend": 1, "wait_timeout": wait, **pool}}
    if tracking:
        cfg["session_tracking"] = tracking
    return cfg


@pytest.fixture(params=["on", "off"])
def tracking(request):
    """Both ways mymux learns session state: the server's trackers (MySQL, MariaDB)
    and the classifier alone (off: how mymux treats TiDB, which reports none)."""
    return request.param


@pytest.fixture
def mux1(mymux_factory, tracking):
    """mymux, one worker, one backend connection, short pool wait."""
    return mymux_factory(one_conn_config(tracking=tracking))


@pytest.fixture
def mux1_long(mymux_factory, tracking):
    """mymux, one worker, one backend connection, long pool wait (waiters proceed)."""
    return mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking))


@pytest.fixture
def clients():
    """open(m, n, **kw) -> n autocommit PyMySQL clients of m (closed at the end)."""
    opened = []

    def open_(m, n=1, database="test", **kw):
        kw.setdefault("autocommit", True)
        kw.setdefault("read_timeout", 60)
        out = []
        for _ in range(n):
            c = m.connect(database=database, **kw)
            opened.append(c)
            out.append(c)
        return out if n != 1 else out[0]

    yield open_
    for c in opened:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - already closed or broken on purpose
            pass


@pytest.fixture
def root(backends):
    c = backends[0].root_conn()
    yield c
    c.close()


def q(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def one(conn, sql, args=None):
    rows = q(conn, sql, args)
    assert len(rows) == 1, f"{sql!r}: expected one row, got {rows!r}"
    return rows[0][0] if len(rows[0]) == 1 else rows[0]


def err_of(conn, sql):
    """Runs sql expecting an error; returns (code, message)."""
    with pytest.raises(pymysql.MySQLError) as ei:
        q(conn, sql)
    return ei.value.args[0], ei.value.args[1] if len(ei.value.args) > 1 else ""


def assert_waits_9001(conn, sql="SELECT 1", who="the other client"):
    """conn's statement finds no free backend connection: error 9001 naming the wait."""
    t0 = time.monotonic()
    code, msg = err_of(conn, sql)
    assert code == 9001, f"{who}: expected 9001 (pool wait), got {code} {msg}"
    assert "waited" in msg and "connection to backend" in msg, f"{who}: 9001 message {msg!r}"
    assert time.monotonic() - t0 >= 0.3, "9001 came before pool.wait_timeout"


class Bg:
    """Runs fn() in a thread; result()/error() after it ends."""

    def __init__(self, fn):
        self._res = None
        self._exc = None
        self._t = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._t.start()

    def _run(self, fn):
        try:
            self._res = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            self._exc = e

    def still_waiting(self, for_s=0.4):
        """True if the thread has not ended within for_s (a negative check, not a sync)."""
        self._t.join(for_s)
        return self._t.is_alive()

    def result(self, timeout=20):
        self._t.join(timeout)
        assert not self._t.is_alive(), "background statement did not finish in time"
        if self._exc:
            raise self._exc
        return self._res


def app_backend_conns(root):
    """Backend connections mymux holds on backends[0] (users app and other)."""
    return one(root, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                     "WHERE USER IN ('app', 'other')")


def threads_connected(root):
    return int(q(root, "SHOW STATUS LIKE 'Threads_connected'")[0][1])


def quiet_baseline(root):
    """Waits until no earlier mymux holds connections on backends[0]; Threads_connected then."""
    wait_until(lambda: app_backend_conns(root) == 0, 20, what="earlier backend connections to close")
    return threads_connected(root)


@pytest.fixture
def table(root, request):
    """A fresh InnoDB table test.<name> (id auto_increment, v int) with rows 1..10."""
    name = "mx_" + re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:50]
    q(root, f"DROP TABLE IF EXISTS test.{name}")
    q(root, f"CREATE TABLE test.{name} (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
    q(root, f"INSERT INTO test.{name} (v) VALUES " + ",".join(f"({i})" for i in range(1, 11)))
    yield name
    q(root, f"DROP TABLE IF EXISTS test.{name}")


@pytest.fixture
def globals_(root):
    return dict(zip(("sql_mode", "time_zone", "tx_isolation", "div", "gcml", "mst"),
                    one(root, "SELECT @@GLOBAL.sql_mode, @@GLOBAL.time_zone, "
                              "@@GLOBAL.tx_isolation, @@GLOBAL.div_precision_increment, "
                              "@@GLOBAL.group_concat_max_len, @@GLOBAL.max_statement_time")))


# ----------------------------------------------------------------- sharing happens at all


def test_one_backend_connection_serves_several_clients(mux1, clients, root):
    """Three clients, one backend connection: interleaved statements all succeed."""
    a, b, c = clients(mux1, 3)
    for i in range(20):
        for k, cl in enumerate((a, b, c)):
            assert one(cl, "SELECT %s", (i * 10 + k,)) == i * 10 + k
    assert app_backend_conns(root) == 1


# -------------------------------------------------------------------------------- schema


def test_schema_use_and_select_db(mux1, clients, root):
    q(root, "CREATE TABLE IF NOT EXISTS test2.mx_only_in_test2 (x INT)")
    q(root, "DELETE FROM test2.mx_only_in_test2")
    q(root, "INSERT INTO test2.mx_only_in_test2 VALUES (7)")
    a, b = clients(mux1, 2)
    c = clients(mux1, 1, database=None)
    q(a, "USE test2")
    assert one(b, "SELECT DATABASE()") == "test"
    assert one(c, "SELECT DATABASE()") is None
    assert one(a, "SELECT DATABASE()") == "test2"
    assert one(a, "SELECT x FROM mx_only_in_test2") == 7  # unqualified: resolved in test2
    code, _ = err_of(b, "SELECT x FROM mx_only_in_test2")  # B's schema is still test
    assert code == 1146
    assert one(b, "SELECT 1") == 1  # an error soft-pins B for one more statement
    code, _ = err_of(c, "SELECT x FROM mx_only_in_test2")  # C has no schema
    assert code == 1046
    assert one(c, "SELECT 1") == 1
    b.select_db("test2")  # COM_INIT_DB
    a.select_db("test")
    assert one(a, "SELECT DATABASE()") == "test"
    assert one(b, "SELECT DATABASE()") == "test2"
    assert one(c, "SELECT DATABASE()") is None
    c.select_db("test2")
    assert one(a, "SELECT DATABASE()") == "test"
    assert one(c, "SELECT x FROM mx_only_in_test2") == 7
    assert one(b, "SELECT DATABASE()") == "test2"
    q(root, "DROP TABLE test2.mx_only_in_test2")


# ------------------------------------------------------------------ character set / names


def test_set_names_and_handshake_charset(mux1, clients):
    a, b = clients(mux1, 2)  # PyMySQL default: utf8mb4
    c = clients(mux1, 1, charset="latin1")  # handshake character set latin1
    d = clients(mux1, 1)
    q(a, "SET NAMES latin1")
    q(d, "SET NAMES utf8mb4 COLLATE utf8mb4_bin")
    sel = "SELECT @@character_set_client, @@character_set_results, @@collation_connection"
    for _ in range(3):
        assert one(b, sel) == ("utf8mb4", "utf8mb4", "utf8mb4_general_ci")
        assert one(a, sel) == ("latin1", "latin1", "latin1_swedish_ci")
        assert one(c, sel) == ("latin1", "latin1", "latin1_swedish_ci")
        assert one(d, sel) == ("utf8mb4", "utf8mb4", "utf8mb4_bin")
    # behaviour, not only variables: 'é' is sent as two UTF-8 bytes by every client
    assert one(a, "SELECT CHAR_LENGTH('é')") == 2  # read as latin1: two characters
    assert one(b, "SELECT CHAR_LENGTH('é')") == 1
    assert one(d, "SELECT 'a' = 'A'") == 0  # utf8mb4_bin is case sensitive
    assert one(b, "SELECT 'a' = 'A'") == 1
    q(a, "SET NAMES utf8mb4")
    assert one(c, sel)[0] == "latin1"
    assert one(a, sel)[0] == "utf8mb4"
    assert one(a, "SELECT CHAR_LENGTH('é')") == 1


def test_set_character_set_isolated(mymux_factory, clients):
    """SET CHARACTER SET (pins, or replayed): the setter sees it, others never do."""
    m = mymux_factory(one_conn_config(max_per_backend=2))
    a, b, c = clients(m, 3)
    q(a, "SET CHARACTER SET latin1")
    sel = "SELECT @@character_set_client, @@character_set_results"
    assert one(a, sel) == ("latin1", "latin1")
    assert one(b, sel) == ("utf8mb4", "utf8mb4")
    assert one(a, sel) == ("latin1", "latin1")
    a.close()
    for cl in (b, c):
        for _ in range(3):
            assert one(cl, sel) == ("utf8mb4", "utf8mb4")


# ------------------------------------------------------------------ sql_mode, time_zone


def test_sql_mode(mux1, clients, globals_):
    a, b, c = clients(mux1, 3)
    q(a, "SET SESSION sql_mode = 'PIPES_AS_CONCAT,ANSI_QUOTES'")
    q(c, "SET @@sql_mode = 'NO_BACKSLASH_ESCAPES'")
    for _ in range(3):
        assert one(b, "SELECT @@sql_mode") == globals_["sql_mode"]
        assert one(a, "SELECT @@sql_mode") == "PIPES_AS_CONCAT,ANSI_QUOTES"
        assert one(c, "SELECT @@sql_mode") == "NO_BACKSLASH_ESCAPES"
    assert one(a, "SELECT 1 || 0") == "10"  # concatenation
    assert one(b, "SELECT 1 || 0") == 1  # logical OR
    assert one(c, "SELECT 1 || 0") == 1
    assert one(b, r"SELECT CHAR_LENGTH('a\\b')") == 3  # backslash escapes
    assert one(c, r"SELECT CHAR_LENGTH('a\\b')") == 4  # NO_BACKSLASH_ESCAPES
    assert one(a, 'SELECT "v" FROM (SELECT 5 AS v) t') == 5  # "v" is an identifier
    assert one(b, 'SELECT "v" FROM (SELECT 5 AS v) t') == "v"  # "v" is a string


def test_time_zone(mux1, clients, globals_):
    a, b, c = clients(mux1, 3)
    q(a, "SET time_zone = '+05:00'")
    q(c, "SET SESSION time_zone = '-03:30'")
    for _ in range(3):
        assert one(a, "SELECT @@time_zone") == "+05:00"
        assert one(b, "SELECT @@time_zone") == globals_["time_zone"]
        assert one(c, "SELECT @@session.time_zone") == "-03:30"
    assert str(one(a, "SELECT FROM_UNIXTIME(86400)")) == "1970-01-02 05:00:00"
    assert str(one(c, "SELECT FROM_UNIXTIME(86400)")) == "1970-01-01 20:30:00"
    assert one(a, "SELECT UNIX_TIMESTAMP('1970-01-02 05:00:00')") == 86400
    assert one(b, "SELECT UNIX_TIMESTAMP('1970-01-02 05:00:00')") != 86400 or \
        globals_["time_zone"] != "SYSTEM"


# ----------------------------------------------------------------- SET SESSION var = literal


def test_session_variables_replayed(mux1, clients, globals_):
    a, b, c = clients(mux1, 3)
    q(a, "SET SESSION max_statement_time = 5, group_concat_max_len = 2048")
    q(a, "SET @@session.div_precision_increment = 8")
    q(b, "SET div_precision_increment = 2")
    q(b, "SET @@group_concat_max_len = 4096")
    sel = ("SELECT @@max_statement_time, @@div_precision_increment, @@group_concat_max_len")
    defaults = (globals_["mst"], globals_["div"], globals_["gcml"])
    for _ in range(3):
        assert one(c, sel) == defaults
        assert one(a, sel) == (5.0, 8, 2048)
        assert one(b, sel) == (globals_["mst"], 2, 4096)
    assert str(one(a, "SELECT 1/3")) == "0.33333333"
    assert str(one(b, "SELECT 1/3")) == "0.33"
    assert str(one(c, "SELECT 1/3")) == "0.3333"
    # the value in force matters, not only its display
    assert len(one(a, "SELECT GROUP_CONCAT(REPEAT('x', 1000)) FROM "
                      "(SELECT 1 UNION SELECT 2 UNION SELECT 3) t")) == 2048
    assert one(a, "SELECT 1") == 1  # the truncation warned: one more statement on A
    assert len(one(c, "SELECT GROUP_CONCAT(REPEAT('x', 1000)) FROM "
                      "(SELECT 1 UNION SELECT 2 UNION SELECT 3) t")) == 3002
    q(a, "SET SESSION div_precision_increment = DEFAULT")
    assert one(a, sel) == (5.0, globals_["div"], 2048)
    assert one(b, sel) == (globals_["mst"], 2, 4096)
    assert one(c, sel) == defaults


def test_session_variables_interleaved_same_var(mux1, clients, globals_):
    """Three clients set the same variable to different values, statement by statement."""
    cls = clients(mux1, 3)
    for rnd in range(5):
        for k, cl in enumerate(cls):
            q(cl, f"SET SESSION div_precision_increment = {rnd + k * 7}")
        for k, cl in reversed(list(enumerate(cls))):
            assert one(cl, "SELECT @@div_precision_increment") == rnd + k * 7


# ------------------------------------------------------------------------ isolation level


def test_session_transaction_isolation_replayed(mux1, clients, globals_, table):
    a, b, c = clients(mux1, 3)
    q(a, "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    q(c, "SET SESSION TRANSACTION READ ONLY")
    for _ in range(3):
        assert one(a, "SELECT @@tx_isolation, @@tx_read_only") == ("SERIALIZABLE", 0)
        assert one(b, "SELECT @@tx_isolation, @@tx_read_only") == (globals_["tx_isolation"], 0)
        assert one(c, "SELECT @@tx_isolation, @@tx_read_only") == (globals_["tx_isolation"], 1)
    code, _ = err_of(c, f"INSERT INTO {table} (v) VALUES (99)")
    assert code == 1792  # cannot execute statement in a READ ONLY transaction
    assert one(c, "SELECT 1") == 1  # after the error, one more statement on C
    q(b, f"INSERT INTO {table} (v) VALUES (98)")  # B is not read only
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v IN (98, 99)") == 1
    q(a, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    assert one(b, "SELECT @@tx_isolation") == globals_["tx_isolation"]
    assert one(a, "SELECT @@tx_isolation") == "READ-COMMITTED"


# ------------------------------------------------------------------- autocommit=0 and BEGIN


def test_autocommit_off_pins_only_inside_a_transaction(mux1, clients, table):
    """SET autocommit=0 (PyMySQL's and mysqlclient's default) is replayed like any setting:
    the session keeps its connection only while the server says a transaction is open."""
    a, b = clients(mux1, 2)
    a.autocommit(False)  # SET autocommit=0: every table access opens a transaction
    assert one(b, "SELECT @@autocommit") == 1  # A holds no transaction yet: B runs
    q(a, f"INSERT INTO {table} (v) VALUES (100)")
    assert_waits_9001(b, who="B while A's implicit transaction is open")
    assert one(a, f"SELECT COUNT(*) FROM {table} WHERE v = 100") == 1
    a.commit()
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 100") == 1  # committed, shared
    assert one(b, "SELECT @@autocommit") == 1
    assert one(a, "SELECT @@autocommit") == 0  # A's setting went with A
    q(a, f"INSERT INTO {table} (v) VALUES (102)")
    assert_waits_9001(b, who="B while A's next transaction is open")
    a.rollback()
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 102") == 0  # rolled back
    a.autocommit(True)
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 100") == 1  # committed: visible
    assert one(b, "SELECT @@autocommit") == 1
    assert one(a, "SELECT @@autocommit") == 1
    q(b, f"INSERT INTO {table} (v) VALUES (101)")  # and B's autocommit really is on
    assert one(a, f"SELECT COUNT(*) FROM {table} WHERE v = 101") == 1


@pytest.mark.parametrize("begin,end", [("BEGIN", "COMMIT"), ("START TRANSACTION", "ROLLBACK"),
                                       ("begin work", "commit work")])
def test_explicit_transaction_pins(mux1, clients, table, begin, end):
    a, b, c = clients(mux1, 3)
    q(a, begin)
    assert_waits_9001(b, who="B while A is in a transaction")
    q(a, f"INSERT INTO {table} (v) VALUES (200)")
    assert_waits_9001(c, f"SELECT COUNT(*) FROM {table} WHERE v = 200", who="C")
    assert one(a, f"SELECT COUNT(*) FROM {table} WHERE v = 200") == 1
    assert one(a, "SELECT @@in_transaction") == 1
    q(a, end)
    # shared again at once
    assert one(b, "SELECT @@in_transaction") == 0
    expect = 0 if end.upper().startswith("ROLLBACK") else 1
    assert one(c, f"SELECT COUNT(*) FROM {table} WHERE v = 200") == expect
    assert one(a, f"SELECT COUNT(*) FROM {table} WHERE v = 200") == expect


def test_waiting_client_proceeds_when_transaction_ends(mux1_long, clients, table):
    a, b = clients(mux1_long, 2)
    q(a, "BEGIN")
    q(a, f"INSERT INTO {table} (v) VALUES (300)")
    bg = Bg(lambda: (one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 300"),
                     one(b, "SELECT @@in_transaction")))
    assert bg.still_waiting(), "B ran while A's transaction was open on the only connection"
    assert one(a, f"SELECT COUNT(*) FROM {table} WHERE v = 300") == 1
    q(a, "COMMIT")
    assert bg.result() == (1, 0)  # B ran after the COMMIT: sees the row, no transaction


def test_uncommitted_rows_invisible_to_others(mymux_factory, clients, table):
    m = mymux_factory(one_conn_config(max_per_backend=2))
    a, b, c = clients(m, 3)
    q(a, "BEGIN")
    q(a, f"INSERT INTO {table} (v) VALUES (400)")
    q(a, f"UPDATE {table} SET v = -1 WHERE id = 1")
    for _ in range(3):
        assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v IN (400, -1)") == 0
        assert one(b, "SELECT @@in_transaction") == 0
        assert one(a, f"SELECT COUNT(*) FROM {table} WHERE v IN (400, -1)") == 2
    # B is clean: C shares B's connection
    assert one(c, f"SELECT COUNT(*) FROM {table} WHERE v IN (400, -1)") == 0
    q(a, "ROLLBACK")
    for cl in (a, b, c):
        assert one(cl, f"SELECT COUNT(*) FROM {table} WHERE v IN (400, -1)") == 0
    q(a, "BEGIN")
    q(a, f"INSERT INTO {table} (v) VALUES (401)")
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 401") == 0
    q(a, "COMMIT")
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 401") == 1
    assert one(c, f"SELECT COUNT(*) FROM {table} WHERE v = 401") == 1


# -------------------------------------------------------------------------- user variables


def test_user_variables_pin_and_never_leak(mux1_long, clients):
    a, b, c = clients(mux1_long, 3)
    q(a, "SET @x = 42")
    assert one(a, "SELECT @x") == 42

    def others():
        # any mention of a user variable pins, a read too: B leaves before C asks
        seen_b = one(b, "SELECT @x, @y, @z")
        b.close()
        return seen_b, one(c, "SELECT @x, @y, @z")

    bg = Bg(others)
    assert bg.still_waiting(), "others ran while A's user variable pinned the only connection"
    assert one(a, "SELECT @y := 5") == 5
    q(a, "SELECT 7 INTO @z")
    assert one(a, "SELECT @x, @y, @z") == (42, 5, 7)
    a.close()  # the only way out of a user variable pin: leave (or reset)
    assert bg.result() == ((None, None, None), (None, None, None))


def test_user_variables_short_wait(mux1, clients):
    a, b = clients(mux1, 2)
    q(a, "SET @secret = 'a-only'")
    assert_waits_9001(b, "SELECT @secret", who="B while A pins with @secret")
    assert one(a, "SELECT @secret") == "a-only"
    a.close()
    assert one(b, "SELECT @secret") is None
    assert one(b, "SELECT 1") == 1  # the session stayed usable after 9001


def test_user_variables_two_connections(mymux_factory, clients):
    m = mymux_factory(one_conn_config(max_per_backend=2))
    a, b, c = clients(m, 3)
    q(a, "SET @v = 'a'")
    q(b, "SET @v = 'b'")
    assert_waits_9001(c, "SELECT @v", who="C while A and B pin both connections")
    assert one(a, "SELECT @v") == "a"
    assert one(b, "SELECT @v") == "b"
    b.close()
    assert one(c, "SELECT @v") is None
    assert one(a, "SELECT @v") == "a"


# ------------------------------------------------------------------------ temporary tables


def test_temporary_table_pins_and_is_invisible(mymux_factory, clients, table):
    m = mymux_factory(one_conn_config(max_per_backend=2))
    a, b, c = clients(m, 3)
    q(a, f"CREATE TEMPORARY TABLE {table} (secret VARCHAR(10))")  # shadows the real table
    q(a, f"INSERT INTO {table} VALUES ('a-only')")
    for _ in range(3):
        assert q(a, f"SELECT * FROM {table}") == (("a-only",),)
        assert one(b, f"SELECT COUNT(*) FROM {table}") == 10  # the real table
        assert one(c, f"SELECT COUNT(*) FROM {table}") == 10
    q(a, "CREATE TEMPORARY TABLE mx_tmp_a (x INT)")
    code, _ = err_of(b, "SELECT * FROM mx_tmp_a")
    assert code == 1146
    assert one(b, "SELECT 1") == 1
    q(a, "DROP TEMPORARY TABLE mx_tmp_a")
    q(a, f"DROP TEMPORARY TABLE {table}")
    assert one(a, f"SELECT COUNT(*) FROM {table}") == 10


def test_temporary_table_one_connection(mux1, clients):
    a, b = clients(mux1, 2)
    q(a, "CREATE TEMPORARY TABLE mx_tmp_secret (x INT)")
    assert_waits_9001(b, "SELECT * FROM mx_tmp_secret", who="B while A has a temporary table")
    q(a, "INSERT INTO mx_tmp_secret VALUES (1)")
    assert one(a, "SELECT COUNT(*) FROM mx_tmp_secret") == 1
    a.close()
    code, _ = err_of(b, "SELECT * FROM mx_tmp_secret")
    assert code == 1146


# ------------------------------------------------------------------ LOCK TABLES, GET_LOCK


def test_lock_tables_pins_until_unlock(mux1, clients, table):
    a, b = clients(mux1, 2)
    q(a, f"LOCK TABLES {table} WRITE")
    assert_waits_9001(b, who="B while A holds LOCK TABLES")
    q(a, f"UPDATE {table} SET v = v + 1 WHERE id = 1")
    code, _ = err_of(a, "SELECT COUNT(*) FROM mysql.db")  # not locked: refused under LOCK TABLES
    assert code == 1100
    assert one(a, "SELECT 1") == 1
    assert_waits_9001(b, who="B while A still holds LOCK TABLES")
    q(a, "UNLOCK TABLES")
    # B runs, and runs outside A's LOCK TABLES (an unlocked table would be refused with 1100)
    assert one(b, "SELECT COUNT(*) FROM mysql.db") >= 0
    assert one(b, f"SELECT v FROM {table} WHERE id = 1") == 2


def test_get_lock_pins_until_release_all(mux1, clients):
    a, b = clients(mux1, 2)
    assert one(a, "SELECT GET_LOCK('mx_named_lock', 0)") == 1
    assert_waits_9001(b, "SELECT IS_USED_LOCK('mx_named_lock')", who="B while A holds GET_LOCK")
    assert one(a, "SELECT IS_USED_LOCK('mx_named_lock') IS NOT NULL") == 1
    assert one(a, "SELECT RELEASE_ALL_LOCKS()") == 1
    assert one(b, "SELECT IS_USED_LOCK('mx_named_lock')") is None
    assert one(b, "SELECT GET_LOCK('mx_named_lock', 0)") == 1
    assert_waits_9001(a, who="A while B holds GET_LOCK")
    assert one(b, "SELECT RELEASE_ALL_LOCKS()") == 1
    assert one(a, "SELECT IS_USED_LOCK('mx_named_lock')") is None


def test_get_lock_released_when_holder_leaves(mux1, clients, root):
    a, b = clients(mux1, 2)
    assert one(a, "SELECT GET_LOCK('mx_lock_leave', 0)") == 1
    a.close()
    assert one(b, "SELECT IS_USED_LOCK('mx_lock_leave')") is None
    assert one(root, "SELECT IS_USED_LOCK('mx_lock_leave')") is None


# --------------------------------------------------------------------- text PREPARE/EXECUTE


def test_text_prepare_pins_and_is_private(mux1, clients):
    a, b = clients(mux1, 2)
    q(a, "PREPARE mx_s FROM 'SELECT ? * 2'")
    assert_waits_9001(b, "EXECUTE mx_s USING 1", who="B while A has a text PREPARE")
    assert one(a, "EXECUTE mx_s USING 21") == 42
    assert one(a, "EXECUTE mx_s USING 5") == 10
    a.close()
    code, _ = err_of(b, "EXECUTE mx_s USING 1")
    assert code == 1243  # unknown prepared statement handler: A's statement is gone


def test_text_prepare_two_connections(mymux_factory, clients):
    m = mymux_factory(one_conn_config(max_per_backend=2))
    a, b = clients(m, 2)
    q(a, "PREPARE mx_s FROM 'SELECT ? + 1'")
    q(b, "PREPARE mx_s FROM 'SELECT ? + 1000'")
    for i in range(3):
        assert one(a, f"EXECUTE mx_s USING {i}") == i + 1
        assert one(b, f"EXECUTE mx_s USING {i}") == i + 1000


# ------------------------------------------------- FOUND_ROWS(), ROW_COUNT(), LAST_INSERT_ID()


def test_sql_calc_found_rows(mux1_long, clients, table):
    a, b = clients(mux1_long, 2)
    assert len(q(b, f"SELECT * FROM {table} WHERE id <= 3")) == 3
    assert len(q(a, f"SELECT SQL_CALC_FOUND_ROWS * FROM {table} ORDER BY id LIMIT 2")) == 2
    # B asks now: it must wait for A's next statement (A keeps the connection for it)
    bg = Bg(lambda: one(b, "SELECT FOUND_ROWS()"))
    assert one(a, "SELECT FOUND_ROWS()") == 10
    assert bg.result() == 3  # B's own previous SELECT, not A's 10
    assert one(a, "SELECT FOUND_ROWS()") == 1  # the previous SELECT FOUND_ROWS() had 1 row


def test_sql_calc_found_rows_soft_pin_short_wait(mux1, clients, table):
    a, b = clients(mux1, 2)
    q(a, f"SELECT SQL_CALC_FOUND_ROWS * FROM {table} LIMIT 1")
    assert_waits_9001(b, "SELECT FOUND_ROWS()", who="B between A's SQL_CALC_FOUND_ROWS and its "
                                                    "next statement")
    assert one(a, "SELECT FOUND_ROWS()") == 10
    assert one(b, "SELECT 1") == 1  # released after A's next statement


def test_found_rows_after_plain_select(mux1, clients, table):
    a, b, c = clients(mux1, 3)
    assert len(q(a, f"SELECT * FROM {table} WHERE id <= 5")) == 5
    assert len(q(b, f"SELECT * FROM {table} WHERE id <= 2")) == 2
    assert len(q(c, f"SELECT * FROM {table} WHERE id <= 7")) == 7
    assert one(a, "SELECT FOUND_ROWS()") == 5
    assert one(c, "SELECT FOUND_ROWS()") == 7
    assert one(b, "SELECT FOUND_ROWS()") == 2
    assert len(q(b, f"SELECT * FROM {table} WHERE id <= 4")) == 4
    assert one(a, "SELECT FOUND_ROWS()") == 1
    assert one(b, "SELECT FOUND_ROWS()") == 4


def test_found_rows_after_limit_with_offset(mux1, clients, table):
    """MariaDB's FOUND_ROWS() after a LIMIT with an offset counts the skipped rows too
    (MDEV-9390; select_found of its suite): 3 for LIMIT 2,1, where one row was sent. The
    rows relayed do not tell, so the session keeps the connection for its next statement."""
    a, b = clients(mux1, 2)
    assert len(q(a, f"SELECT * FROM {table} ORDER BY id LIMIT 2,1")) == 1
    assert one(a, "SELECT FOUND_ROWS()") == 3
    assert len(q(a, f"SELECT * FROM {table} ORDER BY id LIMIT 1 OFFSET 4")) == 1
    assert one(a, "SELECT FOUND_ROWS()") == 5
    assert one(b, "SELECT 1") == 1  # released after A's next statement


def test_row_count_after_update(mux1, clients, table):
    a, b, c = clients(mux1, 3)
    with a.cursor() as cur:
        assert cur.execute(f"UPDATE {table} SET v = v + 100 WHERE id <= 3") == 3
    with b.cursor() as cur:
        assert cur.execute(f"UPDATE {table} SET v = v + 100 WHERE id > 5") == 5
    assert one(c, "SELECT 1") == 1
    assert one(a, "SELECT ROW_COUNT()") == 3
    assert one(b, "SELECT ROW_COUNT()") == 5
    assert one(c, "SELECT ROW_COUNT()") == -1  # previous statement was a SELECT
    q(c, f"DELETE FROM {table} WHERE id = 10")
    with a.cursor() as cur:
        cur.execute(f"UPDATE {table} SET v = v WHERE id <= 3")  # matched, not changed
    assert one(c, "SELECT ROW_COUNT()") == 1
    assert one(a, "SELECT ROW_COUNT()") == 0


def test_last_insert_id(mux1, clients, table):
    a, b, c = clients(mux1, 3)
    with a.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (v) VALUES (1000)")
        a_id = cur.lastrowid
    with b.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (v) VALUES (2000), (2001), (2002)")
        b_id = cur.lastrowid  # first id of the batch
    assert a_id and b_id and a_id != b_id
    assert one(c, "SELECT LAST_INSERT_ID()") == 0  # C never inserted
    assert one(a, "SELECT LAST_INSERT_ID()") == a_id
    assert one(b, "SELECT LAST_INSERT_ID()") == b_id
    # it lasts across statements, unlike ROW_COUNT()
    assert one(a, "SELECT 1") == 1
    assert one(b, f"SELECT COUNT(*) FROM {table}") == 14
    assert one(a, "SELECT LAST_INSERT_ID()") == a_id
    assert one(c, "SELECT LAST_INSERT_ID()") == 0
    assert one(b, "SELECT @@identity") == b_id
    assert one(a, "SELECT @@last_insert_id") == a_id
    with c.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (v) VALUES (3000)")
        c_id = cur.lastrowid
    assert one(a, "SELECT LAST_INSERT_ID()") == a_id
    assert one(c, "SELECT LAST_INSERT_ID()") == c_id
    assert one(b, "SELECT LAST_INSERT_ID()") == b_id
    assert one(a, f"SELECT v FROM {table} WHERE id = LAST_INSERT_ID()") == 1000
    assert one(b, f"SELECT v FROM {table} WHERE id = LAST_INSERT_ID()") == 2000


# ------------------------------------------------------------------ SHOW WARNINGS / ERRORS


DIAG_LEAK = ("BUG: MariaDB keeps a statement's warnings/errors until a statement that uses "
             "tables or warns (SHOW WARNINGS, SHOW ERRORS, SELECT 1 do not clear them); mymux "
             "keeps the connection only for the one statement after the warning/error, then "
             "hands it to the next client without COM_RESET_CONNECTION, so client B's SHOW "
             "WARNINGS / SHOW ERRORS / @@warning_count show client A's")

WARN_SQL = "SELECT CAST('abc' AS SIGNED)"  # warning 1292


def test_show_warnings_own_only(mux1_long, clients):
    a, b, c = clients(mux1_long, 3)
    assert one(a, WARN_SQL) == 0
    # B asks at once, on the connection A's warning was raised on
    bg = Bg(lambda: (q(b, "SHOW WARNINGS"), one(b, "SELECT @@warning_count")))
    w = q(a, "SHOW WARNINGS")
    assert [r[1] for r in w] == [1292], w
    # reading them does not clear them (as on a direct connection): A reads again
    assert [r[1] for r in q(a, "SHOW WARNINGS")] == [1292]
    assert one(a, "SELECT 1") == 1
    assert bg.result() == ((), 0), "B saw A's warnings"
    assert q(c, "SHOW WARNINGS") == ()
    assert one(c, "SHOW COUNT(*) WARNINGS") == 0


def test_show_warnings_not_left_on_connection(mux1, clients):
    """MariaDB keeps a warning across SELECT 1 (a statement without tables): after A's next
    clean statement the connection goes to B, who must still see no warning of A's."""
    a, b = clients(mux1, 2)
    assert one(a, WARN_SQL) == 0
    assert one(a, "SELECT 1") == 1
    assert q(b, "SHOW WARNINGS") == (), "B saw A's warning left on the shared connection"
    assert one(b, "SELECT @@warning_count") == 0
    assert one(b, "SHOW COUNT(*) WARNINGS") == 0


def test_show_errors_own_only(mux1_long, clients):
    a, b = clients(mux1_long, 2)
    code, _ = err_of(a, "SELECT * FROM mx_no_such_table")
    assert code == 1146
    bg = Bg(lambda: (q(b, "SHOW ERRORS"), one(b, "SELECT @@error_count")))
    e = q(a, "SHOW ERRORS")
    assert [r[1] for r in e] == [1146], e
    assert one(a, "SELECT @@error_count") == 1
    assert one(a, "SELECT 1") == 1
    assert bg.result() == ((), 0), "B saw A's errors"


def test_show_errors_not_left_on_connection(mux1, clients):
    a, b = clients(mux1, 2)
    code, _ = err_of(a, "SELECT * FROM mx_no_such_table")
    assert code == 1146
    assert one(a, "SELECT 1") == 1
    assert q(b, "SHOW ERRORS") == (), "B saw A's error left on the shared connection"
    assert one(b, "SHOW COUNT(*) ERRORS") == 0


def test_warning_does_not_hold_the_connection(mux1, clients):
    """The warning is read before the connection goes back: B, with a short pool wait, is
    served at once and sees none of it; A still reads its own (test_diagnostics.py)."""
    a, b = clients(mux1, 2)
    assert one(a, WARN_SQL) == 0
    assert q(b, "SHOW WARNINGS") == ()
    assert [r[1] for r in q(a, "SHOW WARNINGS")] == [1292]
    assert one(a, "SELECT 2") == 2
    assert q(b, "SHOW WARNINGS") == ()


# ----------------------------------------------------------------------- COM_RESET_CONNECTION


def reset_connection(conn):
    conn._execute_command(0x1F, b"")  # COM_RESET_CONNECTION
    conn._read_ok_packet()


def test_reset_connection_clears_settings_and_pins(mux1, clients, globals_):
    a, b, c, d = clients(mux1, 4)
    q(a, "SET SESSION sql_mode = 'ANSI_QUOTES'")
    q(a, "SET NAMES latin1")
    q(a, "SET SESSION div_precision_increment = 9")
    q(a, "SET time_zone = '+02:00'")
    q(a, "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    q(a, "SET @x = 1")
    q(a, "CREATE TEMPORARY TABLE mx_tmp_reset (x INT)")
    assert_waits_9001(b, who="B while A is pinned (user variable, temporary table)")
    reset_connection(a)
    # the pins are gone: B proceeds at once and sees none of A's state
    sel = ("SELECT @x, @@sql_mode, @@character_set_client, @@div_precision_increment, "
           "@@time_zone, @@tx_isolation")
    fresh = (None, globals_["sql_mode"], "utf8mb4", globals_["div"], globals_["time_zone"],
             globals_["tx_isolation"])
    assert one(b, sel) == fresh
    b.close()  # reading @x pinned B: leave
    # A is back to a fresh session (MariaDB keeps the schema)
    assert one(a, sel) == fresh
    assert one(a, "SELECT DATABASE()") == "test"
    code, _ = err_of(a, "SELECT * FROM mx_tmp_reset")
    assert code == 1146
    assert one(a, "SELECT 1") == 1
    a.close()
    q(c, "SET @y = 2")
    assert_waits_9001(d, who="D while C pins")
    reset_connection(c)
    assert one(d, "SELECT @y") is None
    d.close()
    assert one(c, "SELECT @y") is None


def test_reset_connection_ends_transaction(mux1, clients, table):
    a, b = clients(mux1, 2)
    q(a, "BEGIN")
    q(a, f"INSERT INTO {table} (v) VALUES (500)")
    assert_waits_9001(b, who="B while A is in a transaction")
    reset_connection(a)
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 500") == 0
    assert one(a, "SELECT @@in_transaction") == 0


# ------------------------------------------------------------- a client leaves while pinned


@pytest.mark.parametrize("how", ["quit", "drop"])
def test_disconnect_in_transaction_resets_connection(mux1_long, clients, table, how):
    a, b = clients(mux1_long, 2)
    q(a, "BEGIN")
    q(a, f"INSERT INTO {table} (v) VALUES (600)")
    q(a, "SET @leftover = 'a'")
    q(a, "CREATE TEMPORARY TABLE mx_tmp_left (x INT)")
    assert one(a, "SELECT GET_LOCK('mx_left_lock', 0)") == 1
    q(a, "SET SESSION div_precision_increment = 11")
    bg = Bg(lambda: one(b, "SELECT @leftover, @@in_transaction, IS_USED_LOCK('mx_left_lock'), "
                           "@@div_precision_increment"))
    assert bg.still_waiting(), "B ran while A's transaction held the only connection"
    if how == "quit":
        a.close()  # COM_QUIT
    else:
        a._force_close()  # the socket goes away without COM_QUIT
    leftover, in_trx, lock, div = bg.result()
    assert (leftover, in_trx, lock) == (None, 0, None), \
        f"B saw A's state: @leftover={leftover!r} in_transaction={in_trx} lock={lock}"
    assert div == 4
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 600") == 0  # rolled back
    code, _ = err_of(b, "SELECT * FROM mx_tmp_left")
    assert code == 1146
    assert one(b, "SELECT 1") == 1


def test_disconnect_with_lock_tables(mux1_long, clients, table):
    a, b = clients(mux1_long, 2)
    q(a, f"LOCK TABLES {table} READ")
    a._force_close()
    # under A's LOCK TABLES a table not locked would be refused with 1100
    assert one(b, "SELECT COUNT(*) FROM mysql.db") >= 0
    q(b, f"UPDATE {table} SET v = v WHERE id = 1")  # no read lock left behind


# ----------------------------------------------------------------------- multi-statements


MULTI_SET_LEAK = ("BUG: a SET SESSION as the first statement of a multi-statement text is "
                  "neither recorded for replay nor pinned (sstate_on_query skips CLS_SET when "
                  "multi): the value stays on the shared connection and client B sees client "
                  "A's div_precision_increment")


def multi(conn, sql):
    """All result sets of a multi-statement text (rows, or None for an OK)."""
    out = []
    with conn.cursor() as cur:
        cur.execute(sql)
        while True:
            out.append(cur.fetchall() if cur.description else None)
            if not cur.nextset():
                break
    return out


def test_multi_statements_results(mux1, clients):
    a, b = clients(mux1, 2, client_flag=CLIENT.MULTI_STATEMENTS)
    for i in range(3):
        assert multi(a, f"SELECT {i}; SELECT 2, 3") == [((i,),), ((2, 3),)]
        assert multi(b, f"SELECT {i + 10}; DO 1; SELECT 4") == [((i + 10,),), None, ((4,),)]


def test_multi_statement_set_session_var(mux1, clients, globals_):
    """A SET inside a multi-statement: A keeps it, no one else ever sees it."""
    a, b = clients(mux1, 2, client_flag=CLIENT.MULTI_STATEMENTS)
    r = multi(a, "SET SESSION div_precision_increment = 2; SELECT @@div_precision_increment")
    assert r[-1] == ((2,),)
    # mymux pins A (B waits until its pool wait times out) or replays it: B never sees it
    try:
        seen = one(b, "SELECT @@div_precision_increment")
    except pymysql.MySQLError as e:
        assert e.args[0] == 9001, e.args
        seen = None
    assert seen in (None, globals_["div"]), \
        "B saw A's div_precision_increment set inside a multi-statement"
    assert one(a, "SELECT @@div_precision_increment") == 2


def test_multi_statement_sql_mode_second(mux1, clients, globals_):
    """A SET that is not the first statement of the text."""
    a, b = clients(mux1, 2, client_flag=CLIENT.MULTI_STATEMENTS)
    multi(a, "SELECT 1; SET SESSION sql_mode = 'ANSI_QUOTES'")
    # mymux may pin A (B waits) or replay the setting: B never sees it
    try:
        seen = one(b, "SELECT @@sql_mode")
    except pymysql.MySQLError as e:
        assert e.args[0] == 9001, e.args
        seen = None
    assert seen in (None, globals_["sql_mode"]), "B saw A's sql_mode set in a multi-statement"
    assert one(a, "SELECT @@sql_mode") == "ANSI_QUOTES"
    a.close()
    assert one(b, "SELECT @@sql_mode") == globals_["sql_mode"]


def test_multi_statement_use(mux1, clients):
    a, c = clients(mux1, 2, client_flag=CLIENT.MULTI_STATEMENTS)
    r = multi(c, "USE test2; SELECT DATABASE()")
    assert r[-1] == (("test2",),)
    # mymux pins C (A waits until its pool wait times out) or follows it: A never sees it
    try:
        seen = one(a, "SELECT DATABASE()")
    except pymysql.MySQLError as e:
        assert e.args[0] == 9001, e.args
        seen = "test"
    assert seen == "test", "A saw C's USE inside a multi-statement"
    assert one(c, "SELECT DATABASE()") == "test2"
    c.close()
    assert one(a, "SELECT DATABASE()") == "test", "A got C's connection with C's schema"


def test_multi_statement_user_var(mux1, clients):
    b, c = clients(mux1, 2, client_flag=CLIENT.MULTI_STATEMENTS)
    multi(b, "SELECT 1; SET @mv = 'b'")
    assert_waits_9001(c, "SELECT @mv", who="C while B's multi-statement set a user variable")
    assert one(b, "SELECT @mv") == "b"
    b.close()
    assert one(c, "SELECT @mv") is None


def test_multi_statement_transaction_pins(mux1, clients, table):
    a = clients(mux1, 1, client_flag=CLIENT.MULTI_STATEMENTS)
    b = clients(mux1, 1, client_flag=CLIENT.MULTI_STATEMENTS)
    multi(a, f"BEGIN; INSERT INTO {table} (v) VALUES (700)")
    assert_waits_9001(b, f"SELECT COUNT(*) FROM {table} WHERE v = 700",
                      who="B while A's multi-statement left a transaction open")
    multi(a, "SELECT 1; COMMIT")
    assert one(b, f"SELECT COUNT(*) FROM {table} WHERE v = 700") == 1


# --------------------------------------------------------------- pool bound and off switch


def test_twenty_clients_two_connections(mymux_factory, root, table):
    base = quiet_baseline(root)
    m = mymux_factory({"workers": 1, "pool": {"max_per_backend": 2, "wait_timeout": "20s"}})
    n_clients, rounds = 20, 25
    conns = [m.connect(database="test", autocommit=True, read_timeout=60)
             for _ in range(n_clients)]
    peak = [0]
    stop = threading.Event()
    sampler_conn = root  # the root connection itself counts once, in base

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], threads_connected(sampler_conn))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    errors = []
    start = threading.Barrier(n_clients)

    def client(k, c):
        try:
            start.wait(30)
            for i in range(rounds):
                q(c, f"SET SESSION div_precision_increment = {k}")
                assert one(c, "SELECT @@div_precision_increment") == k
                q(c, f"INSERT INTO {table} (v) VALUES (%s)", (10000 + k * 1000 + i,))
                assert one(c, f"SELECT COUNT(*) FROM {table} WHERE v BETWEEN %s AND %s",
                           (10000 + k * 1000, 10000 + k * 1000 + 999)) == i + 1
                assert one(c, "SELECT %s", (k * 1000 + i,)) == k * 1000 + i
        except Exception as e:  # noqa: BLE001 - collected
            errors.append((k, repr(e)))

    ts = [threading.Thread(target=client, args=(k, c)) for k, c in enumerate(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(180)
    stop.set()
    sampler.join(10)
    try:
        assert not any(t.is_alive() for t in ts), "clients did not finish"
        assert errors == [], errors
        assert one(root, f"SELECT COUNT(*) FROM test.{table} WHERE v >= 10000") == \
            n_clients * rounds
        assert peak[0] <= base + 2, f"Threads_connected peaked at {peak[0]} (baseline {base})"
        assert app_backend_conns(root) <= 2
    finally:
        for c in conns:
            c.close()


def test_multiplex_off_one_connection_per_client(mymux_factory, root, globals_):
    base = quiet_baseline(root)
    m = mymux_factory({"workers": 1, "pool": {"multiplex": False, "max_per_backend": 64}})
    conns = []
    try:
        for k in range(5):
            c = m.connect(database="test", autocommit=True)
            conns.append(c)
            assert one(c, "SELECT 1") == 1
            wait_until(lambda: threads_connected(root) == base + k + 1, 10,
                       what=f"{k + 1} backend connections")
        assert app_backend_conns(root) == 5
        # each keeps its own connection, so a user variable does not pin anyone out
        q(conns[0], "SET @mine = 1")
        assert one(conns[1], "SELECT @mine") is None
        assert one(conns[0], "SELECT @mine") == 1
    finally:
        for c in conns:
            c.close()
    wait_until(lambda: threads_connected(root) <= base + 5, 10, what="connections")


def test_multiplex_off_holds_connection_without_pins(mymux_factory, clients):
    """Off switch with one connection: a clean session still keeps it (no sharing)."""
    m = mymux_factory(one_conn_config(multiplex=False))
    a = clients(m, 1)
    assert one(a, "SELECT 1") == 1
    with pytest.raises(pymysql.MySQLError) as ei:
        clients(m, 1)  # logging in needs a connection: A keeps the only one
    assert ei.value.args[0] == 9001, ei.value.args
    assert one(a, "SELECT 2") == 2


# ----------------------------------------------- binary prepared statements (ps_test.c)


BUILD_DIR = os.path.join(testbed.REPO, os.environ.get("MYMUX_BUILD_DIR", "build"))
PS_TEST = os.path.join(BUILD_DIR, "ps_test")
PS_SUBTESTS = ["interleaved", "threads", "cursor", "long_data", "foreign_id", "many_same"]


def run_ps_test(m, name):
    if not os.access(PS_TEST, os.X_OK):
        pytest.fail(f"{PS_TEST} not built (cmake --build {BUILD_DIR} --target ps_test)")
    r = subprocess.run([PS_TEST, m.host, str(m.port), "app", "apppass", name],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and f"ok {name}" in r.stdout.splitlines(), (
        f"ps_test {name} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    assert m.alive(), f"mymux died during ps_test {name}:\n{m.log()[-4000:]}"
    return r.stdout


def test_ps_subtests_listed():
    if not os.access(PS_TEST, os.X_OK):
        pytest.fail(f"{PS_TEST} not built")
    out = subprocess.run([PS_TEST, "--list"], capture_output=True, text=True, timeout=30,
                         check=True).stdout.split()
    assert out == PS_SUBTESTS


# (subtest, backend connections): an open cursor keeps its connection, so two clients
# with cursors open at once need two.
PS_CASES = [(n, p) for n in ("interleaved", "threads", "long_data", "many_same") for p in (1, 2)] \
    + [("cursor", 2), ("foreign_id", 1), ("foreign_id", 2)]


@pytest.mark.parametrize("name,pool", PS_CASES, ids=[f"{n}-pool{p}" for n, p in PS_CASES])
def test_prepared_statements_shared_pool(mymux_factory, root, name, pool):
    m = mymux_factory({"workers": 1, "pool": {"max_per_backend": pool, "wait_timeout": "20s"}})
    out = run_ps_test(m, name)
    if name == "many_same":
        growth = [int(line.split()[1]) for line in out.splitlines()
                  if line.startswith("prepared_stmt_count_growth")]
        assert growth and growth[0] <= pool, (
            f"10 clients preparing the same text made {growth} backend statements "
            f"over {pool} connection(s): not once per connection")
    assert app_backend_conns(root) <= pool


def test_dbapi_default_clients_share_a_small_pool(mymux_factory, tracking):
    """PyMySQL with its defaults (autocommit=0, as PEP 249 asks) and mysqlclient alike: 120
    clients stay connected over a pool of 3; each runs SELECT 1, then again after all the
    others did. Between transactions their SET autocommit=0 is replayed, so none holds a
    connection and every one is served (before, the first 3 pinned the pool for good)."""
    import MySQLdb
    m = mymux_factory({"workers": 1, "session_tracking": tracking,
                       "pool": {"max_per_backend": 3, "wait_timeout": "5s"}})
    conns = [m.connect(database="test") for _ in range(100)]  # PyMySQL defaults
    conns += [MySQLdb.connect(host="127.0.0.1", port=m.port, user="app", passwd="apppass",
                              db="test") for _ in range(20)]  # mysqlclient defaults
    try:
        for _ in range(2):
            for c in conns:
                cur = c.cursor()
                cur.execute("SELECT 1")
                assert cur.fetchall()[0][0] == 1
                cur.execute("SELECT @@autocommit")
                assert cur.fetchall()[0][0] == 0
                cur.close()
    finally:
        for c in conns:
            c.close()


def test_libmariadb_autocommit_off_shares_one_connection(mymux_factory, tracking, isolation_ps):
    """mysql_autocommit(0) (libmariadb, as C applications and the drivers built on it call it)
    is a setting like SET autocommit=0: two such clients take turns on one backend
    connection between transactions; a transaction a table read opens holds it (the other
    waits, 9001 with the short wait) until its COMMIT."""
    from types import SimpleNamespace
    m = mymux_factory(one_conn_config(tracking=tracking))
    target = SimpleNamespace(host=m.host, port=m.port)
    a = PsClient(isolation_ps, target, "app", "apppass")
    b = PsClient(isolation_ps, target, "app", "apppass")
    try:
        for c in (a, b):
            assert c.cmd("autocommit", "0") == "ok"
        for _ in range(3):
            for c in (a, b):
                assert c.cmd("q", "SELECT @@autocommit").split("\t") == ["ok", "0"]
        assert a.cmd("q", "SELECT COUNT(*) FROM mysql.db").split("\t")[0] == "ok"
        assert b.cmd("q", "SELECT 1").split("\t")[:2] == ["err", "9001"]
        assert a.cmd("q", "COMMIT") == "ok"
        assert b.cmd("q", "SELECT 1").split("\t") == ["ok", "1"]
        assert a.cmd("q", "SELECT @@autocommit").split("\t") == ["ok", "0"]
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("multiplex", [True, False], ids=["multiplex", "no-multiplex"])
def test_set_global_reaches_the_next_client(mymux_factory, root, globals_, multiplex):
    """A client's SET GLOBAL through mymux: a new client starts from the new value, as a new
    direct connection does, although the pool holds connections opened before it (issue 15:
    MariaDB's func_compress, func_weight_string and packet tests lower max_allowed_packet
    and connect again). A session that holds its connection keeps its values, as directly."""
    m = mymux_factory({"workers": 1, "pool": {"multiplex": multiplex, "max_per_backend": 8}})
    old = globals_["div"]
    a = m.connect(database="test", autocommit=True)
    idle = m.connect(database="test", autocommit=True)
    try:
        # both in a transaction at once: two backend connections, opened before the SET
        q(idle, "BEGIN")
        q(a, "BEGIN")
        assert one(idle, "SELECT @@div_precision_increment") == old
        q(idle, "COMMIT")
        idle.close()  # its backend connection goes back to the pool, idle
        q(a, f"SET GLOBAL div_precision_increment = {old + 3}")
        for _ in range(3):
            b = m.connect(database="test", autocommit=True)
            try:
                assert one(b, "SELECT @@div_precision_increment") == old + 3
                assert one(b, "SELECT @@session.div_precision_increment") == old + 3
            finally:
                b.close()
        assert one(a, "SELECT @@div_precision_increment") == old  # a's own session
        q(a, "COMMIT")
        assert one(a, "SELECT 1") == 1
    finally:
        a.close()
        q(root, f"SET GLOBAL div_precision_increment = {old}")
