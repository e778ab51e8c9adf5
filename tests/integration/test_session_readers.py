"""What a statement leaves for the next one reads as on a direct connection (issue 15's bugs
left, found by MariaDB's get_diagnostics, sp-vars and auto_increment tests).

- GET DIAGNOSTICS reads the server's diagnostics area: a session that keeps its connection for
  good (pinned, here by a user variable; or pool.multiplex off) finds its own conditions there,
  because mymux no longer reads and empties the area behind it.
- MariaDB's row counter for warnings ("at row N" of a CALL's parameter conversion, which reports
  what the previous statement left) is left at 0 by mymux's own statements that read and empty
  the area, as by the client's statements that use tables and read no rows.
- LAST_INSERT_ID() after an INSERT of an explicit AUTO_INCREMENT value keeps the last generated
  id, as the server's does, although the OK packet carries the explicit value.

Each script runs on a direct connection and through mymux with one backend connection, and the
answers (column names included) must be the same.
"""

import pymysql
import pytest

from test_multiplex import LONG_WAIT, one_conn_config, tracking  # noqa: F401

pytestmark = pytest.mark.proxy_only


@pytest.fixture(params=[True, False], ids=["multiplex", "no-multiplex"])
def multiplex(request):
    return request.param


def run(conn, script, between=None):
    """Each statement of script, then SHOW WARNINGS: (names, rows, warnings) or the error."""
    out = []
    cur = conn.cursor()
    for sql in script:
        if between:
            between()
        try:
            cur.execute(sql)
            names = tuple(d[0] for d in cur.description) if cur.description else ()
            rows = tuple(tuple(r) for r in cur.fetchall())
        except pymysql.MySQLError as e:
            names, rows = "error", e.args
        cur.execute("SHOW WARNINGS")
        out.append((sql, names, rows, tuple(tuple(r) for r in cur.fetchall())))
    cur.close()
    return out


def compare(backends, mymux_factory, tracking, multiplex, script, between_sql=None):  # noqa: F811
    direct = backends[0].connect(database="test", autocommit=True)
    try:
        want = run(direct, script)
    finally:
        direct.close()
    m = mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking, multiplex=multiplex))
    a = m.connect(database="test", autocommit=True)
    other = m.connect(database="test", autocommit=True) if between_sql else None

    def turn():
        with other.cursor() as oc:
            for sql in between_sql:
                oc.execute(sql)
                oc.fetchall()
    try:
        got = run(a, script, turn if between_sql else None)
    finally:
        a.close()
        if other:
            other.close()
    for w, g in zip(want, got):
        assert g == w
    assert len(got) == len(want)
    return got


GET_DIAGNOSTICS = [
    "SET @pinned = 1",  # a user variable: the session keeps its connection
    "DROP TABLE IF EXISTS gd_t",
    "CREATE TABLE gd_t (a INT PRIMARY KEY)",
    "INSERT INTO gd_t VALUES (1)",
    "INSERT INTO gd_t VALUES (1)",  # error 1062
    "GET DIAGNOSTICS @n = NUMBER, @r = ROW_COUNT",
    "GET CURRENT DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT, @e = MYSQL_ERRNO, "
    "@s = RETURNED_SQLSTATE, @c = CLASS_ORIGIN",
    "SELECT @n, @r, @m, @e, @s, @c",
    "GET DIAGNOSTICS CONDITION 2 @m2 = MESSAGE_TEXT",  # 1758, added to the area
    "GET DIAGNOSTICS @n2 = NUMBER",                    # GET DIAGNOSTICS clears nothing
    "SELECT @n2, @m2",
    "SELECT CAST('x' AS SIGNED), CAST('y' AS SIGNED)",
    "GET DIAGNOSTICS CONDITION 2 @m3 = MESSAGE_TEXT, @e3 = MYSQL_ERRNO",
    "SELECT @m3, @e3",
    "DROP TABLE gd_t",
]


def test_get_diagnostics_reads_the_sessions_own_conditions(backends, mymux_factory, tracking,
                                                            multiplex):
    got = compare(backends, mymux_factory, tracking, multiplex, GET_DIAGNOSTICS)
    # what the server said, not only the same as directly
    assert got[7][2] == ((1, -1, "Duplicate entry '1' for key 'PRIMARY'", 1062, "23000",
                          ""),)
    assert got[10][2] == ((2, None),)


ROW_COUNTER = [
    "SET sql_mode = ''",
    "DROP PROCEDURE IF EXISTS rc_p",
    "CREATE PROCEDURE rc_p(x VARCHAR(10), y CHAR(3)) SELECT x, y",
    "CALL rc_p('alpha', 'abc')",
    "DROP PROCEDURE IF EXISTS rc_none",  # a note: mymux reads it back and empties the area
    "CALL rc_p('alpha', 'abcdef')",      # its conversion warning names the row counter
    "SELECT CAST('x' AS SIGNED)",
    "DO 1",
    "CALL rc_p('beta', 'abcdef')",
    "DROP PROCEDURE rc_p",
]


def test_row_counter_for_warnings_is_left_as_the_clients_statement_left_it(
        backends, mymux_factory, tracking, multiplex):
    got = compare(backends, mymux_factory, tracking, multiplex, ROW_COUNTER)
    assert got[5][3] == (("Warning", 1265, "Data truncated for column 'y' at row 0"),)


LAST_INSERT_ID = [
    "DROP TABLE IF EXISTS li_t",
    "CREATE TABLE li_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
    "INSERT INTO li_t (v) VALUES (1)",
    "SELECT LAST_INSERT_ID()",
    "INSERT INTO li_t VALUES (10, 2)",  # explicit: the OK says 10, the server keeps 1
    "SELECT LAST_INSERT_ID()",
    "SELECT last_insert_id() AS li, @@last_insert_id",
    "INSERT INTO li_t (v) VALUES (3), (4)",  # generated: the first, 11
    "SELECT LAST_INSERT_ID()",
    "INSERT INTO li_t VALUES (20, 5), (NULL, 6)",  # mixed: the generated one, 21
    "SELECT LAST_INSERT_ID()",
    "EXPLAIN EXTENDED SELECT LAST_INSERT_ID()",  # its note names the function
    "DROP TABLE li_t",
]


def test_last_insert_id_keeps_the_generated_one(backends, mymux_factory, tracking, multiplex):
    # another client inserts on the same backend connection between every two statements
    got = compare(backends, mymux_factory, tracking, multiplex, LAST_INSERT_ID,
                  between_sql=["CREATE TABLE IF NOT EXISTS li_other "
                               "(id INT AUTO_INCREMENT PRIMARY KEY)",
                               "INSERT INTO li_other VALUES (NULL)"] if multiplex else None)
    assert got[3][1:3] == (("LAST_INSERT_ID()",), ((1,),))
    assert got[5][2] == ((1,),)
    assert got[8][2] == ((11,),)
    assert got[10][2] == ((21,),)


def test_orm_insert_then_last_insert_id(mymux_factory, tracking):
    """The common path: an INSERT that generates the id, then its reader, the connection
    back in the pool between them; PyMySQL's lastrowid (the OK's id) agrees."""
    m = mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking))
    a = m.connect(database="test", autocommit=True)
    try:
        with a.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS orm_t")
            cur.execute("CREATE TABLE orm_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
            for i in range(1, 6):
                cur.execute("INSERT INTO orm_t (v) VALUES (%s)", (i,))
                assert cur.lastrowid == i
                cur.execute("SELECT LAST_INSERT_ID()")
                assert cur.fetchall() == ((i,),)
                assert cur.description[0][0] == "LAST_INSERT_ID()"
            cur.execute("DROP TABLE orm_t")
    finally:
        a.close()


def test_insert_id_is_made_sure_of_only_for_sessions_that_read_it(backends, mymux_factory,
                                                                   tracking):
    """Making sure of an insert id costs a SELECT LAST_INSERT_ID() per INSERT: a session that
    never asks LAST_INSERT_ID() in SQL (drivers and ORMs read the OK's id) does not pay it.
    Counted by the server's Com_select (only this test's clients run on it meanwhile)."""
    m = mymux_factory(one_conn_config(wait=LONG_WAIT, tracking=tracking))
    root = backends[0].root_conn()

    def selects():
        with root.cursor() as rc:
            rc.execute("SHOW GLOBAL STATUS LIKE 'Com_select'")
            return int(rc.fetchone()[1])

    a = m.connect(database="test", autocommit=True)
    try:
        with a.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS li_cost")
            cur.execute("CREATE TABLE li_cost (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
            before = selects()
            for i in range(1, 21):
                cur.execute("INSERT INTO li_cost (v) VALUES (%s)", (i,))
                assert cur.lastrowid == i
            assert selects() - before == 0  # no query of mymux's per INSERT
            cur.execute("SELECT LAST_INSERT_ID()")  # from now on the session reads it
            assert cur.fetchall() == ((20,),)
            before = selects()
            for i in range(21, 26):
                cur.execute("INSERT INTO li_cost (v) VALUES (%s)", (i,))
            assert selects() - before == 5  # each new id made sure of
            cur.execute("INSERT INTO li_cost VALUES (100, 0)")  # explicit: the server keeps 25
            cur.execute("SELECT LAST_INSERT_ID()")
            assert cur.fetchall() == ((25,),)
            cur.execute("DROP TABLE li_cost")
    finally:
        a.close()
        root.close()
