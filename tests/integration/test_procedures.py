"""Stored procedures through mymux answer as they do directly (issue 15).

The answers a CALL can give: a result set per SELECT the procedure runs and a final OK
(SERVER_MORE_RESULTS_EXISTS on all but the last), OUT parameters (a result set flagged
SERVER_PS_OUT_PARAMS in the binary protocol), an ERR after result sets (a handler's
RESIGNAL), a RESIGNALled warning (an OK with a warning count). MariaDB 10.11 also leaves
SERVER_STATUS_CURSOR_EXISTS (and LAST_ROW_SENT) on the results a procedure sends after it
used a cursor of its own (an anonymous BEGIN NOT ATOMIC block too), although the rows follow
as usual; mymux took that for a cursor opened for the client, ended the answer there and lost
the connection (2013) at the first row.

Each shape runs through mymux with one worker and one backend connection, on both
session-tracking paths, with PyMySQL (text protocol, compared with a direct connection)
and libmariadb (client_test.c: text and binary protocol, cursor asked or not). After the
procedures, a second client takes the same backend connection and must find it in step.
"""

import os
import subprocess

import pymysql
import pytest
from pymysql.constants import CLIENT

import testbed

pytestmark = pytest.mark.proxy_only

BUILD_DIR = os.path.join(testbed.REPO, os.environ.get("MYMUX_BUILD_DIR", "build"))
CLIENT_TEST = os.path.join(BUILD_DIR, "client_test")

PROCS = {
    "h15_cur1": "BEGIN DECLARE a INT; DECLARE c CURSOR FOR SELECT 1; OPEN c; FETCH c INTO a; "
                "CLOSE c; SELECT a; END",
    "h15_cur_loop": "BEGIN DECLARE done INT DEFAULT 0; DECLARE x, s INT DEFAULT 0; "
                    "DECLARE c CURSOR FOR SELECT a FROM h15_t; "
                    "DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1; OPEN c; "
                    "l: LOOP FETCH c INTO x; IF done THEN LEAVE l; END IF; SET s = s + x; "
                    "END LOOP; CLOSE c; SELECT s; SELECT a FROM h15_t ORDER BY a; END",
    "h15_cur_open": "BEGIN DECLARE a INT; DECLARE c CURSOR FOR SELECT 7; OPEN c; "
                    "FETCH c INTO a; SELECT a; CLOSE c; END",
    "h15_resignal": "BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN SELECT 'handler' AS h; "
                    "RESIGNAL; END; SELECT 1 AS one; "
                    "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END",
    "h15_resignal_set": "BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION RESIGNAL SET MESSAGE_TEXT "
                        "= 'resignalled'; DROP TABLE h15_no_such_table; END",
    "h15_warn": "BEGIN DECLARE CONTINUE HANDLER FOR SQLWARNING BEGIN RESIGNAL; END; "
                "SIGNAL SQLSTATE '01000' SET MESSAGE_TEXT = 'a warning'; SELECT 2 AS two; END",
    "h15_two_sets": "BEGIN SELECT 1 AS first; SELECT 2 AS second, 'x' AS third "
                    "UNION ALL SELECT 3, 'y'; END",
    "h15_out(OUT o INT)": "BEGIN DECLARE c CURSOR FOR SELECT 5; OPEN c; FETCH c INTO o; "
                          "CLOSE c; SELECT o AS got; END",
}

# CALL text -> what PyMySQL sees, as checked on MariaDB directly
CALLS = [
    ("CALL h15_cur1()", [(["a"], [(1,)]), "ok"]),
    ("CALL h15_cur_loop()", [(["s"], [(6,)]), (["a"], [(1,), (2,), (3,)]), "ok"]),
    ("CALL h15_cur_open()", [(["a"], [(7,)]), "ok"]),
    ("CALL h15_resignal()", [(["one"], [(1,)]), (["h"], [("handler",)]), ("err", 1644, "boom")]),
    ("CALL h15_resignal_set()", [("err", 1051, "resignalled")]),
    ("CALL h15_warn()", [(["two"], [(2,)]), "ok"]),
    ("CALL h15_two_sets()", [(["first"], [(1,)]), (["second", "third"], [(2, "x"), (3, "y")]),
                             "ok"]),
    ("CALL h15_out(@o)", [(["got"], [(5,)]), "ok"]),
    ("SELECT @o AS o", [(["o"], [(5,)])]),
    ("SELECT 'x' AS before_call; CALL h15_cur1(); SELECT 'y' AS after_call",
     [(["before_call"], [("x",)]), (["a"], [(1,)]), "ok", (["after_call"], [("y",)])]),
    # an anonymous block is answered as a CALL is, the flag left by its cursor included
    ("BEGIN NOT ATOMIC DECLARE c CURSOR FOR SELECT 1; OPEN c; CLOSE c; SELECT 5 AS f; END",
     [(["f"], [(5,)]), "ok"]),
]


@pytest.fixture(scope="module")
def procs(backends):
    c = backends[0].root_conn(database="test", autocommit=True)
    try:
        with c.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS h15_t")
            cur.execute("CREATE TABLE h15_t (a INT)")
            cur.execute("INSERT INTO h15_t VALUES (1), (2), (3)")
            for name, body in PROCS.items():
                cur.execute(f"DROP PROCEDURE IF EXISTS {name.split('(')[0]}")
                sig = name if "(" in name else name + "()"
                cur.execute(f"CREATE PROCEDURE {sig} {body}")
                # the procedures run as app through mymux
        yield
    finally:
        c.close()


@pytest.fixture(params=["on", "off"])
def mux(request, mymux_factory):
    """One worker, one backend connection: the next client gets the same one."""
    return mymux_factory({"workers": 1, "session_tracking": request.param,
                          "pool": {"max_per_backend": 1, "wait_timeout": "30s"}})


def answers(conn, sql):
    """Every answer PyMySQL reads for sql: (column names, rows), "ok", ("err", code, msg)."""
    out = []
    cur = conn.cursor()
    try:
        cur.execute(sql)
        while True:
            if cur.description:
                out.append(([d[0] for d in cur.description], list(cur.fetchall())))
            else:
                out.append("ok")
            if not cur.nextset():
                break
    except pymysql.err.OperationalError as e:
        if e.args[0] in (2006, 2013, 2014):
            raise
        out.append(("err", e.args[0], e.args[1]))
    except pymysql.err.MySQLError as e:
        out.append(("err", e.args[0], e.args[1]))
    finally:
        cur.close()
    return out


def connect(host, port):
    return testbed.connect_tcp(host, port, database="test", autocommit=True,
                               client_flag=CLIENT.MULTI_STATEMENTS)


def test_call_answers_pymysql(procs, backends, mux):
    direct = connect(backends[0].host, backends[0].port)
    a = connect(mux.host, mux.port)
    try:
        for sql, want in CALLS:
            assert answers(direct, sql) == want, f"directly: {sql}"
            for _ in range(2):
                assert answers(a, sql) == want, sql
                assert answers(a, "SELECT 1 AS one") == [(["one"], [(1,)])]
    finally:
        direct.close()
        a.close()
    # the one backend connection, as the next client finds it
    b = connect(mux.host, mux.port)
    try:
        assert answers(b, "SELECT @o AS o") == [(["o"], [(None,)])]
        assert answers(b, "CALL h15_cur_loop()") == CALLS[1][1]
    finally:
        b.close()
    assert mux.alive()


@pytest.mark.parametrize("subtests", [["sp_cursor_text", "sp_cursor_binary"],
                                      ["sp_text", "sp_binary"]])
def test_call_answers_libmariadb(mux, subtests):
    if not os.access(CLIENT_TEST, os.X_OK):
        pytest.fail(f"{CLIENT_TEST} not built (cmake --build {BUILD_DIR} --target client_test)")
    r = subprocess.run([CLIENT_TEST, mux.host, str(mux.port), "app", "apppass", *subtests],
                       capture_output=True, text=True, timeout=180)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and all(f"ok {t}" in lines for t in subtests), (
        f"client_test exited {r.returncode}:\n{r.stdout}{r.stderr}")
    assert mux.alive()


def test_show_warnings_after_a_procedures_error_cli(procs, backends, mux):
    """A CALL whose handler RESIGNALs after a result set ends in ERR; the last terminator
    before it said more results follow. mymux answers the SHOW WARNINGS after it itself,
    and repeated that flag: the mariadb CLI (and mariadb-test-run's signal test) then waited
    for a result that never came."""
    script = "CALL h15_resignal();\nSHOW WARNINGS;\nSELECT 'after' AS a;\n"
    args = ["--force", "--batch", "--database=test"]
    want = testbed.run_cli(backends[0].host, backends[0].port, args, input=script, timeout=30)
    assert "boom" in want.stderr and "after" in want.stdout, want
    got = mux.cli(args, input=script, timeout=30)
    assert (got.stdout, got.stderr) == (want.stdout, want.stderr)
    assert mux.alive()
