"""Warnings and errors are read before a connection goes back (issue 10).

A statement that leaves conditions (warnings, notes, an error) no longer holds its backend
connection until the client's next command: mymux reads them on the spot (SHOW WARNINGS and
the counts), empties the server's diagnostics area, gives the connection back, and answers
SHOW WARNINGS / SHOW ERRORS [LIMIT] / SHOW COUNT(*) ... / SELECT @@warning_count|error_count
itself from then on, as the server would have: kept by statements that use no table and
raise nothing, replaced by any statement that raises conditions, emptied by one that uses a
table.

Every check compares with the same statements on a direct connection to the same MariaDB,
through one backend connection that another client uses between every two statements, on
both of mymux's paths (trackers on, and off where MariaDB stands for TiDB). With its default
settings (autocommit=0, no argument) mysqlclient runs the same script.
"""

import MySQLdb
import pymysql
import pytest

from test_multiplex import LONG_WAIT, SHORT_WAIT, one_conn_config, tracking  # noqa: F401

pytestmark = pytest.mark.proxy_only

READERS = ["SHOW WARNINGS", "SHOW ERRORS", "SHOW COUNT(*) WARNINGS", "SHOW COUNT(*) ERRORS",
           "SELECT @@warning_count", "SELECT @@session.error_count", "show warnings limit 1",
           "SHOW WARNINGS LIMIT 1, 5", "SHOW WARNINGS LIMIT 1 OFFSET 1", "SHOW ERRORS LIMIT 0",
           "select @@Warning_Count"]

# (statement, expected to fail?) run in order; the readers run after each
SCRIPT = [
    ("CREATE TABLE IF NOT EXISTS diag_t (a INT)", False),
    ("CREATE TABLE IF NOT EXISTS diag_t (a INT)", False),  # a Note: already exists
    ("SELECT CAST('x1' AS SIGNED)", False),                 # a Warning
    ("SELECT 1", False),                                    # no table: the warning stays
    ("DO 0", False),
    ("SET SESSION sql_select_limit = DEFAULT", False),
    ("SELECT * FROM diag_t", False),                        # a table: emptied
    ("SELECT CAST('x1' AS SIGNED), CAST('x2' AS SIGNED), CAST('x3' AS SIGNED)", False),
    ("SELECT nosuch_column", True),                         # an error replaces them
    ("SELECT 2", False),
    ("SELECT CAST('y' AS SIGNED)", False),                  # a warning replaces the error
    ("SET max_error_count = 2", False),
    ("SELECT CAST('x1' AS SIGNED), CAST('x2' AS SIGNED), CAST('x3' AS SIGNED)", False),
    ("SELECT * FROM no_such_table", True),
    ("SELECT 1 FROM (SELECT 1) AS d", False),               # a derived table counts as one
]


def run_script(conn, between=None):
    """The statements of SCRIPT with every reader after each: a list of answers. between(),
    if given, runs before each statement and reader (another client's turn)."""
    out = []
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS diag_t")  # the script starts without it

    def execute(sql):
        if between:
            between()
        cur.execute(sql)

    for sql, fails in SCRIPT:
        try:
            execute(sql)
            cur.fetchall()
            assert not fails, sql
        except (pymysql.MySQLError, MySQLdb.MySQLError) as e:
            assert fails, (sql, e)
            out.append((sql, "error", e.args[0]))
        for r in READERS:
            execute(r)
            names = tuple(d[0] for d in cur.description)
            out.append((sql, r, names, tuple(tuple(row) for row in cur.fetchall())))
    cur.close()
    return out


def other_client_turn(other):
    """A statement of another client that raises its own warning, on the one connection."""
    def turn():
        with other.cursor() as oc:
            oc.execute("SELECT CAST('other' AS SIGNED)")
            oc.fetchall()
    return turn


@pytest.fixture
def direct_answers(backends):
    conn = backends[0].connect(database="test", autocommit=True)
    try:
        yield run_script(conn)
    finally:
        conn.close()


def test_readers_answer_as_the_server_would(mymux_factory, tracking, direct_answers):
    m = mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking))
    a = m.connect(database="test", autocommit=True)
    b = m.connect(database="test", autocommit=True)
    try:
        got = run_script(a, other_client_turn(b))
        for want, have in zip(direct_answers, got):
            assert have == want
        assert len(got) == len(direct_answers)
    finally:
        a.close()
        b.close()


def test_mysqlclient_defaults_answer_as_the_server_would(mymux_factory, tracking, backends):
    """mysqlclient with no autocommit argument (it sets autocommit=0 at connect)."""
    def conn(host, port):
        return MySQLdb.connect(host=host, port=port, user="app", password="apppass",
                               database="test")
    d = conn(backends[0].host, backends[0].port)
    try:
        want = run_script(d)
    finally:
        d.close()
    m = mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking))
    a = conn(m.host, m.port)
    try:
        assert run_script(a) == want
    finally:
        a.close()


def test_warning_does_not_hold_the_only_connection(mymux_factory, tracking):
    """Pool of one, short wait, PyMySQL's defaults (autocommit off): A gets a warning and
    idles; B is served at once and never sees A's warning; A still reads its own."""
    m = mymux_factory(one_conn_config(wait=SHORT_WAIT, tracking=tracking))
    a = m.connect(database="test")
    b = m.connect(database="test")
    try:
        with a.cursor() as cur:
            cur.execute("SELECT CAST('x1' AS SIGNED)")
            assert cur.fetchall() == ((0,),)
        for _ in range(3):  # each would wait SHORT_WAIT and fail with 9001 if A held it
            with b.cursor() as cur:
                cur.execute("SHOW WARNINGS")
                assert cur.fetchall() == ()
                cur.execute("SELECT @@warning_count, @@error_count")
                assert cur.fetchall() == ((0, 0),)
        with a.cursor() as cur:
            cur.execute("SHOW WARNINGS")
            assert cur.fetchall() == (("Warning", 1292, "Truncated incorrect INTEGER value: 'x1'"),)
            cur.execute("SELECT @@warning_count")
            assert cur.fetchall() == ((1,),)
        with a.cursor() as cur:
            with pytest.raises(pymysql.MySQLError):
                cur.execute("SELECT nosuch")
        with b.cursor() as cur:
            cur.execute("SHOW ERRORS")
            assert cur.fetchall() == ()
        with a.cursor() as cur:
            cur.execute("SHOW COUNT(*) ERRORS")
            assert cur.fetchall() == ((1,),)
            cur.execute("SHOW ERRORS")
            assert cur.fetchall() == (("Error", 1054, "Unknown column 'nosuch' in 'SELECT'"),)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("columns", [40, 400])
def test_long_note_reads_as_the_server_wrote_it(mymux_factory, tracking, backends, columns):
    """EXPLAIN EXTENDED's note 1003 is the whole rewritten query, 1.1 kB and 12 kB here:
    mymux read it back and answered SHOW WARNINGS with its first 512 bytes (issue 15:
    derived_cond_pushdown, join_nested, subselect_mat and more of MariaDB's suite)."""
    sql = "EXPLAIN EXTENDED SELECT " + ", ".join(f"a + {i} AS c{i}" for i in range(columns)) + \
        " FROM diag_t"
    d = pymysql.connect(host=backends[0].host, port=backends[0].port, user="app",
                        password="apppass", database="test", autocommit=True)
    m = mymux_factory(one_conn_config(tracking=tracking))
    a = m.connect(database="test", autocommit=True)
    b = m.connect(database="test", autocommit=True)
    try:
        want = []
        for conn in (d, a):
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS diag_t (a INT)")
                cur.execute(sql)
            if conn is a:
                assert one_value(b, "SELECT 1") == 1  # the connection went back meanwhile
            with conn.cursor() as cur:
                cur.execute("SHOW WARNINGS")
                want.append(cur.fetchall())
        assert len(want[0][0][2]) > 1000
        assert want[1] == want[0]
    finally:
        d.close()
        a.close()
        b.close()


def one_value(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()[0][0]


def test_reset_connection_forgets_held_diagnostics(mymux_factory, tracking):
    m = mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking))
    a = m.connect(database="test", autocommit=True)
    try:
        with a.cursor() as cur:
            cur.execute("SELECT CAST('x1' AS SIGNED)")
            a.ping()
            cur.execute("SELECT @@warning_count")
            assert cur.fetchall() == ((1,),)  # COM_PING keeps them, as on the server
        a._execute_command(0x1f, b"")  # COM_RESET_CONNECTION
        a._read_ok_packet()
        with a.cursor() as cur:
            cur.execute("SELECT @@warning_count")
            assert cur.fetchall() == ((0,),)
    finally:
        a.close()


def test_reading_the_warnings_does_not_change_row_count_or_found_rows(mymux_factory, tracking,
                                                                       backends):
    """mymux's own statements after the warning would change FOUND_ROWS() and ROW_COUNT() on
    the server: a session that keeps its connection (a transaction, SQL_CALC_FOUND_ROWS)
    still reads the values of its own statement."""
    script = [
        "CREATE TABLE IF NOT EXISTS diag_rc (a TINYINT)",
        "INSERT IGNORE INTO diag_rc VALUES (1000), (2000)",
        "SELECT ROW_COUNT()",
        "SELECT SQL_CALC_FOUND_ROWS CAST(seq AS CHAR(1)), CAST('x' AS SIGNED) "
        "FROM seq_10_to_100 LIMIT 1",
        "SELECT FOUND_ROWS()",
        "BEGIN",
        "INSERT IGNORE INTO diag_rc VALUES (1000), (2000), (3000)",
        "SELECT ROW_COUNT()",
        "SHOW WARNINGS",
        "SELECT ROW_COUNT()",
        "COMMIT",
        "SELECT CAST('x' AS SIGNED)",
        "SELECT ROW_COUNT(), FOUND_ROWS()",
        # a reader mymux answers is a result set to the server's counters too (issue 15:
        # MariaDB's foreign_key test reads ROW_COUNT() after its client's SHOW WARNINGS)
        "INSERT IGNORE INTO diag_rc VALUES (1000), (2000)",
        "SHOW WARNINGS",
        "SELECT ROW_COUNT()",
        "SELECT a FROM diag_rc LIMIT 3",
        "INSERT IGNORE INTO diag_rc VALUES (1000)",
        "SHOW WARNINGS",
        "SELECT ROW_COUNT(), FOUND_ROWS()",
        "INSERT IGNORE INTO diag_rc VALUES (1000)",
        "SHOW COUNT(*) WARNINGS",
        "SELECT ROW_COUNT(), FOUND_ROWS()",
        "INSERT IGNORE INTO diag_rc VALUES (1000)",
        "SELECT @@warning_count",
        "SELECT ROW_COUNT(), FOUND_ROWS()",
    ]

    def run(conn):
        out = []
        with conn.cursor() as cur:
            for sql in script:
                cur.execute(sql)
                out.append((sql, cur.fetchall()))
        return out
    d = backends[0].connect(database="test", autocommit=True)
    try:
        want = run(d)
    finally:
        d.close()
    m = mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking))
    a = m.connect(database="test", autocommit=True)
    try:
        assert run(a) == want
    finally:
        a.close()


def test_idle_unpinned_sessions_hold_no_connection(mymux_factory, backends, tracking):
    """Issue 10's "done means": after what applications do with their drivers' defaults
    (PyMySQL and mysqlclient: autocommit off) — warnings, notes, errors, a table read and its
    COMMIT, SET autocommit both ways, SET NAMES, DROP DATABASE of the current schema —
    every idle session without a pin and outside a transaction holds no backend connection
    (the admin API's has_connection). One session left in a transaction shows that the API
    does see a held connection."""
    import testbed
    from test_admin import Admin
    port = testbed.free_port()
    m = mymux_factory({"workers": 2, "session_tracking": tracking, "admin_listen": f"127.0.0.1:{port}",
                       "pool": {"max_per_backend": 3, "wait_timeout": "30s"}})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    adm = Admin(m, port)
    root = backends[0].root_conn()
    conns = []
    try:
        for i in range(12):
            with root.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS idle_db{i}")
                cur.execute(f"GRANT ALL ON idle_db{i}.* TO 'app'@'%'")
            if i % 3 == 2:
                conns.append(MySQLdb.connect(host=m.host, port=m.port, user="app",
                                             password="apppass", database=f"idle_db{i}"))
            else:
                conns.append(m.connect(database=f"idle_db{i}"))
        for i, c in enumerate(conns):
            cur = c.cursor()
            cur.execute("SELECT CAST('x1' AS SIGNED)")                      # a warning
            cur.execute("CREATE TABLE IF NOT EXISTS test.idle_t (a INT)")   # a note after once
            try:
                cur.execute("SELECT nosuch")                                 # an error
            except (pymysql.MySQLError, MySQLdb.MySQLError):
                pass
            cur.execute("SELECT COUNT(*) FROM test.idle_t")                  # opens a transaction
            c.commit()                                                       # ... ended
            cur.execute("SET NAMES utf8mb4")
            cur.execute("SET autocommit=1")
            cur.execute("SET autocommit=0")
            if i % 2:
                cur.execute(f"DROP DATABASE idle_db{i}")                     # the current one
            cur.execute("SELECT 1")
            cur.fetchall()
            cur.close()
        held = m.connect(database="test")
        conns.append(held)
        with held.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM test.idle_t")  # a transaction left open

        def sessions():
            rows = adm.get("/api/sessions")
            return rows if len(rows) == len(conns) and all(r["state"] == "idle" for r in rows) \
                else None
        rows = testbed.wait_until(sessions, 10, what="every session idle")
        holding = [r for r in rows if r["has_connection"]]
        assert [r["in_transaction"] for r in holding] == [True], holding
        free = [r for r in rows if not r["has_connection"]]
        assert len(free) == len(conns) - 1 and all(not r["pins"] for r in free), rows
    finally:
        for c in conns:
            c.close()
        with root.cursor() as cur:
            for i in range(12):
                cur.execute(f"DROP DATABASE IF EXISTS idle_db{i}")
            cur.execute("DROP TABLE IF EXISTS test.idle_t")
        root.close()
