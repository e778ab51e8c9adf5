"""Commands and result shapes relayed through mymux (PyMySQL, some commands sent raw)."""

import hashlib
import os
import struct
import tempfile
import threading
import time
import uuid

import pymysql
import pymysql.cursors
import pytest
from pymysql.constants import CLIENT

from testbed import wait_until

MiB = 1024 * 1024
MAX_PAYLOAD = 0xFFFFFF  # a packet of exactly this payload is followed by an empty one

COM_FIELD_LIST = 0x04
COM_STATISTICS = 0x09
COM_TABLE_DUMP = 0x13
COM_BINLOG_DUMP = 0x12
COM_REGISTER_SLAVE = 0x15
COM_BINLOG_DUMP_GTID = 0x1E
COM_RESET_CONNECTION = 0x1F


def q1(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def client_side(err):
    """True for the client library's own errors (CR_* 2000-2999: lost connection etc.)."""
    return 2000 <= err.args[0] < 3000


def usable(conn):
    return q1(conn, "SELECT 42") == (42,)


def fails(conn):
    """True if a query on conn fails because the session is gone."""
    try:
        usable(conn)
        return False
    except (pymysql.err.OperationalError, pymysql.err.InterfaceError):
        return True


# ---------------------------------------------------------------- result sets


def test_many_rows(mymux):
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            n = cur.execute("SELECT seq, CONCAT('row-', seq) FROM test.seq_1_to_200000")
            assert n == 200000
            rows = cur.fetchall()
        assert len(rows) == 200000
        assert rows[0] == (1, "row-1") and rows[-1] == (200000, "row-200000")
        assert sum(r[0] for r in rows) == 200000 * 200001 // 2
        assert usable(c)
    finally:
        c.close()


def test_many_rows_streamed_recursive_cte(mymux):
    c = mymux.connect(cursorclass=pymysql.cursors.SSCursor)
    try:
        with c.cursor() as cur:
            cur.execute("SET SESSION max_recursive_iterations = 1000000")
            cur.execute("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r "
                        "WHERE n < 200000) SELECT n FROM r")
            count = total = 0
            for (n,) in cur:
                count += 1
                total += n
        assert count == 200000 and total == 200000 * 200001 // 2
        assert usable(c)
    finally:
        c.close()


def test_empty_result_and_many_columns(mymux):
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            assert cur.execute("SELECT 1 FROM DUAL WHERE 1 = 0") == 0
            assert cur.fetchall() == ()
            cols = ", ".join(f"{i} AS c{i}" for i in range(1000))
            cur.execute(f"SELECT {cols}")
            assert cur.fetchone() == tuple(range(1000))
            assert len(cur.description) == 1000
    finally:
        c.close()


def test_result_row_larger_than_16mib(mymux):
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            cur.execute("SELECT REPEAT('x', 17 * 1024 * 1024), 'after'")
            v, after = cur.fetchone()
        assert len(v) == 17 * MiB and v == "x" * (17 * MiB)
        assert after == "after"
        assert usable(c)
    finally:
        c.close()


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_result_row_at_16mib_boundary(mymux, delta):
    # A one-column row of length L has payload 4 + L (lenenc 0xfd + 3 bytes):
    # L = 0xffffff - 4 makes a packet of exactly 0xffffff bytes and an empty trailing one.
    length = MAX_PAYLOAD - 4 + delta
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            cur.execute(f"SELECT REPEAT('y', {length})")
            (v,) = cur.fetchone()
        assert len(v) == length
        assert usable(c)
    finally:
        c.close()


def test_query_packet_larger_than_16mib(mymux):
    blob = os.urandom(17 * MiB)
    c = mymux.connect(database="test", autocommit=True, max_allowed_packet=256 * MiB)
    try:
        with c.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS t_big")
            cur.execute("CREATE TABLE t_big (id INT PRIMARY KEY, b LONGBLOB)")
            cur.execute("INSERT INTO t_big VALUES (1, %s)", (blob,))
            cur.execute("SELECT LENGTH(b), SHA2(b, 256) FROM t_big WHERE id = 1")
            assert cur.fetchone() == (len(blob), hashlib.sha256(blob).hexdigest())
            cur.execute("SELECT b FROM t_big WHERE id = 1")
            back = cur.fetchone()[0]
            assert hashlib.sha256(back).digest() == hashlib.sha256(blob).digest()
            cur.execute("DROP TABLE t_big")
        assert usable(c)
    finally:
        c.close()


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_query_packet_at_16mib_boundary(mymux, delta):
    # COM_QUERY payload is 1 + len(sql): make it exactly 0xffffff (+/- 1).
    prefix, suffix = "SELECT LENGTH('", "')"
    n = MAX_PAYLOAD - 1 - len(prefix) - len(suffix) + delta
    sql = prefix + "z" * n + suffix
    assert len(sql) + 1 == MAX_PAYLOAD + delta
    c = mymux.connect(max_allowed_packet=256 * MiB)
    try:
        assert q1(c, sql) == (n,)
        assert usable(c)
    finally:
        c.close()


# ------------------------------------------------------- multi-statements, CALL


def test_multi_statements(mymux):
    c = mymux.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1; SELECT 2, 3; DO 4; SELECT 'five' UNION ALL SELECT 'six'")
            assert cur.fetchall() == ((1,),)
            assert cur.nextset()
            assert cur.fetchall() == ((2, 3),)
            assert cur.nextset()
            assert cur.fetchall() == ()  # DO: an OK packet
            assert cur.nextset()
            assert cur.fetchall() == (("five",), ("six",))
            assert not cur.nextset()
        assert usable(c)
    finally:
        c.close()


def test_multi_statements_error_in_the_middle(mymux):
    c = mymux.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1; SELECT * FROM no_such_db.no_such_table; SELECT 3")
            assert cur.fetchall() == ((1,),)
            with pytest.raises(pymysql.err.ProgrammingError) as ei:
                cur.nextset()
            assert ei.value.args[0] == 1146
        assert usable(c)
    finally:
        c.close()


def test_multi_statements_large_results(mymux):
    c = mymux.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT seq FROM test.seq_1_to_50000; SELECT REPEAT('q', 17 * 1024 * 1024);"
                        "SELECT seq FROM test.seq_1_to_3")
            assert len(cur.fetchall()) == 50000
            assert cur.nextset()
            assert len(cur.fetchone()[0]) == 17 * MiB
            assert cur.nextset()
            assert cur.fetchall() == ((1,), (2,), (3,))
            assert not cur.nextset()
    finally:
        c.close()


def test_stored_procedure_multiple_result_sets(mymux):
    c = mymux.connect(database="test", autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        with c.cursor() as cur:
            cur.execute("DROP PROCEDURE IF EXISTS p_multi")
            cur.execute("CREATE PROCEDURE p_multi(IN n INT) BEGIN "
                        "SELECT n AS a; SELECT seq FROM test.seq_1_to_1000 WHERE seq <= n; "
                        "SELECT 'end' AS e; END")
            cur.execute("CALL p_multi(5)")
            assert cur.fetchall() == ((5,),)
            assert cur.nextset()
            assert cur.fetchall() == tuple((i,) for i in range(1, 6))
            assert cur.nextset()
            assert cur.fetchall() == (("end",),)
            assert cur.nextset()  # the CALL's own OK packet
            assert cur.fetchall() == ()
            assert not cur.nextset()
            # The connection is in a clean state for the next query.
            cur.execute("SELECT 'next'")
            assert cur.fetchone() == ("next",)
            cur.execute("DROP PROCEDURE p_multi")
    finally:
        c.close()


def test_stored_procedure_without_multi_statements_flag(mymux):
    # pymysql always sets CLIENT_MULTI_RESULTS, which CALL needs.
    c = mymux.connect(database="test", autocommit=True)
    try:
        with c.cursor() as cur:
            cur.execute("DROP PROCEDURE IF EXISTS p_one")
            cur.execute("CREATE PROCEDURE p_one() SELECT 7")
            cur.execute("CALL p_one()")
            assert cur.fetchall() == ((7,),)
            while cur.nextset():
                pass
            cur.execute("DROP PROCEDURE p_one")
        assert usable(c)
    finally:
        c.close()


# ---------------------------------------------------------- errors and warnings


def test_syntax_error_keeps_connection(mymux):
    c = mymux.connect()
    try:
        for _ in range(3):
            with pytest.raises(pymysql.err.ProgrammingError) as ei:
                q1(c, "SELEC 1")
            assert ei.value.args[0] == 1064
            assert usable(c)
    finally:
        c.close()


def test_runtime_errors(mymux):
    c = mymux.connect(database="test")
    try:
        with pytest.raises(pymysql.err.ProgrammingError) as ei:
            q1(c, "SELECT * FROM no_such_table")
        assert ei.value.args[0] == 1146
        with pytest.raises(pymysql.err.OperationalError) as ei:
            q1(c, "SELECT no_such_column FROM DUAL")
        assert ei.value.args[0] == 1054
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q1(c, "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'custom failure', MYSQL_ERRNO = 1644")
        assert ei.value.args == (1644, "custom failure")
        assert usable(c)
    finally:
        c.close()


def test_error_in_the_middle_of_a_result(mymux):
    # The server sends rows, then an error packet in place of the EOF.
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            with pytest.raises(pymysql.err.MySQLError) as ei:
                cur.execute("SELECT s1.seq, (SELECT s2.seq FROM test.seq_1_to_2 s2 "
                            "WHERE s1.seq = 5000) FROM test.seq_1_to_10000 s1")
                cur.fetchall()
            assert ei.value.args[0] == 1242, ei.value.args
        assert usable(c)
    finally:
        c.close()


def test_warnings(mymux):
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            cur.execute("SELECT CAST('12abc' AS SIGNED)")
            assert cur.fetchone() == (12,)
            assert c._result.warning_count == 1
            cur.execute("SHOW WARNINGS")
            rows = cur.fetchall()
            assert len(rows) == 1 and rows[0][0] == "Warning" and rows[0][1] == 1292, rows
            cur.execute("SHOW COUNT(*) WARNINGS")
            assert cur.fetchone() == (1,)
            cur.execute("SELECT COUNT(*) FROM test.seq_1_to_3")
            assert c._result.warning_count == 0
    finally:
        c.close()


# --------------------------------------------------------------------- commands


def test_init_db(mymux):
    c = mymux.connect(database="test")
    try:
        c.select_db("test2")
        assert q1(c, "SELECT DATABASE()") == ("test2",)
        with pytest.raises(pymysql.err.OperationalError) as ei:
            c.select_db("no_such_db")
        assert ei.value.args[0] == 1049
        assert q1(c, "SELECT DATABASE()") == ("test2",)
        c.select_db("test")
        assert q1(c, "SELECT DATABASE()") == ("test",)
    finally:
        c.close()


def test_use_statement(mymux):
    c = mymux.connect()
    try:
        q1(c, "USE test2")
        assert q1(c, "SELECT DATABASE()") == ("test2",)
    finally:
        c.close()


def test_ping(mymux):
    c = mymux.connect()
    try:
        for _ in range(20):
            c.ping(reconnect=False)
        assert usable(c)
    finally:
        c.close()


def test_statistics(mymux):
    c = mymux.connect()
    try:
        c._execute_command(COM_STATISTICS, b"")
        data = c._read_packet().get_all_data()
        assert data.startswith(b"Uptime:"), data
        assert b"Threads:" in data and b"Questions:" in data
        assert usable(c)
    finally:
        c.close()


def test_field_list(mymux):
    c = mymux.connect(database="test", autocommit=True)
    try:
        q1(c, "DROP TABLE IF EXISTS t_fields")
        q1(c, "CREATE TABLE t_fields (id INT DEFAULT 3, name VARCHAR(10), created DATETIME)")
        c._execute_command(COM_FIELD_LIST, b"t_fields\0")
        names = []
        while True:
            pkt = c._read_packet()
            if pkt.is_eof_packet():
                break
            names.append(pymysql.protocol.FieldDescriptorPacket(pkt.get_all_data(), "utf8").name)
        assert names == ["id", "name", "created"]
        c._execute_command(COM_FIELD_LIST, b"no_such_table\0")
        with pytest.raises(pymysql.err.ProgrammingError) as ei:
            c._read_packet()
        assert ei.value.args[0] == 1146
        assert usable(c)
        q1(c, "DROP TABLE t_fields")
    finally:
        c.close()


def test_unknown_command_is_an_error(mymux):
    c = mymux.connect()
    try:
        c._execute_command(0xEE, b"")
        with pytest.raises(pymysql.err.MySQLError):
            c._read_packet()
        # Either the connection is still usable or the proxy closed it; never a hang.
        try:
            ok = usable(c)
        except pymysql.err.MySQLError:
            ok = False
        if not ok:
            assert usable(mymux.connect())
    finally:
        c.close()


def test_reset_connection(mymux):
    c = mymux.connect(database="test", autocommit=True)
    try:
        cid = c.thread_id()
        q1(c, "SET @v = 5")
        q1(c, "CREATE TEMPORARY TABLE tmp_reset (x INT)")
        q1(c, "SET SESSION sql_mode = 'ANSI_QUOTES'")
        c._execute_command(COM_RESET_CONNECTION, b"")
        c._read_ok_packet()
        assert q1(c, "SELECT @v") == (None,)
        assert q1(c, "SELECT @@session.sql_mode LIKE '%ANSI_QUOTES%'") == (0,)
        with pytest.raises(pymysql.err.ProgrammingError):
            q1(c, "SELECT * FROM tmp_reset")
        assert q1(c, "SELECT CONNECTION_ID()") == (cid,)
    finally:
        c.close()


@pytest.mark.parametrize("command, payload", [
    (COM_BINLOG_DUMP, struct.pack("<IHI", 4, 0, 4242) + b"mysql-bin.000001"),
    (COM_BINLOG_DUMP_GTID, struct.pack("<HII", 0, 4242, 0) + struct.pack("<Q", 4)
     + struct.pack("<I", 0)),
    (COM_TABLE_DUMP, b"\x04test\x05t_x"),
])
def test_replication_commands_refused(mymux, command, payload):
    c = mymux.connect()
    try:
        c._execute_command(command, payload)
        with pytest.raises(pymysql.err.MySQLError) as ei:
            c._read_packet()
        # An error packet from the proxy (or server), not a dropped connection.
        assert not client_side(ei.value), ei.value.args
    finally:
        c.close()
    assert usable(mymux.connect())


@pytest.mark.proxy_only
def test_register_slave_refused(mymux):
    # MariaDB itself answers OK here; mymux must refuse replication commands.
    c = mymux.connect()
    try:
        c._execute_command(COM_REGISTER_SLAVE, struct.pack("<I", 4242) + b"\0\0\0" +
                           struct.pack("<HII", 0, 0, 0))
        with pytest.raises(pymysql.err.MySQLError) as ei:
            c._read_packet()
        assert not client_side(ei.value), ei.value.args
    finally:
        c.close()
    assert usable(mymux.connect())


# --------------------------------------------------------------- LOCAL INFILE


@pytest.fixture
def csv_file():
    fd, path = tempfile.mkstemp(suffix=".csv")
    with os.fdopen(fd, "w") as f:
        for i in range(1, 1001):
            f.write(f"{i},name-{i}\n")
    yield path
    os.unlink(path)


def _fresh_table(c, name):
    q1(c, f"DROP TABLE IF EXISTS {name}")
    q1(c, f"CREATE TABLE {name} (id INT PRIMARY KEY, name VARCHAR(20))")


def test_load_data_local_infile(mymux, csv_file):
    c = mymux.connect(database="test", autocommit=True, local_infile=True)
    try:
        _fresh_table(c, "t_infile")
        with c.cursor() as cur:
            n = cur.execute(f"LOAD DATA LOCAL INFILE '{csv_file}' INTO TABLE t_infile "
                            "FIELDS TERMINATED BY ','")
            assert n == 1000
            cur.execute("SELECT COUNT(*), SUM(id), MAX(name) FROM t_infile")
            assert cur.fetchone() == (1000, 500500, "name-999")
        assert usable(c)
        q1(c, "DROP TABLE t_infile")
    finally:
        c.close()


def test_load_data_local_infile_large(mymux):
    # More than 16 MiB of file content, sent by the client in many packets.
    fd, path = tempfile.mkstemp(suffix=".csv")
    rows = 200000
    with os.fdopen(fd, "w") as f:
        for i in range(rows):
            f.write(f"{i},{'v' * 80}\n")
    c = mymux.connect(database="test", autocommit=True, local_infile=True)
    try:
        assert os.path.getsize(path) > 16 * MiB
        q1(c, "DROP TABLE IF EXISTS t_infile_big")
        q1(c, "CREATE TABLE t_infile_big (id INT PRIMARY KEY, v VARCHAR(100))")
        with c.cursor() as cur:
            assert cur.execute(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE t_infile_big "
                               "FIELDS TERMINATED BY ','") == rows
        assert q1(c, "SELECT COUNT(*), SUM(id) FROM t_infile_big") == (rows, rows * (rows - 1) // 2)
        q1(c, "DROP TABLE t_infile_big")
    finally:
        c.close()
        os.unlink(path)


def test_load_data_local_infile_missing_file(mymux):
    c = mymux.connect(database="test", autocommit=True, local_infile=True)
    try:
        _fresh_table(c, "t_infile_missing")
        with pytest.raises(pymysql.err.MySQLError):
            q1(c, "LOAD DATA LOCAL INFILE '/nonexistent/nope.csv' INTO TABLE t_infile_missing")
        assert usable(c)
        assert q1(c, "SELECT COUNT(*) FROM t_infile_missing") == (0,)
    finally:
        c.close()


def test_load_data_local_infile_refused_without_capability(mymux, csv_file):
    # The client did not negotiate CLIENT_LOCAL_FILES: an error, never a file request
    # (pymysql would raise RuntimeError on one) and never a hang.
    c = mymux.connect(database="test", autocommit=True, local_infile=False)
    try:
        _fresh_table(c, "t_infile_refused")
        with pytest.raises(pymysql.err.MySQLError) as ei:
            q1(c, f"LOAD DATA LOCAL INFILE '{csv_file}' INTO TABLE t_infile_refused "
                  "FIELDS TERMINATED BY ','")
        assert not client_side(ei.value), ei.value.args  # an error packet, not a lost connection
        assert usable(c)
        assert q1(c, "SELECT COUNT(*) FROM t_infile_refused") == (0,)
    finally:
        c.close()


# ----------------------------------------------------- connection ids and KILL


def test_connection_id_matches_handshake(mymux):
    a = mymux.connect()
    b = mymux.connect()
    try:
        assert q1(a, "SELECT CONNECTION_ID()") == (a.thread_id(),)
        assert q1(b, "SELECT CONNECTION_ID()") == (b.thread_id(),)
        assert a.thread_id() != b.thread_id()
        assert a.thread_id() > 0
    finally:
        a.close()
        b.close()


def _marker():
    return f"mk-{uuid.uuid4().hex[:12]}"


def _running_on_backend(mymux, marker):
    """True while a query containing marker runs on the backend (root sees all sessions)."""
    r = mymux.backend.root_conn()
    try:
        with r.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                        "WHERE INFO LIKE %s AND ID <> CONNECTION_ID()", (f"%{marker}%",))
            return cur.fetchone()[0] > 0
    finally:
        r.close()


def _start_sleep(conn, marker, seconds=30):
    result = {}

    def run():
        t0 = time.monotonic()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT SLEEP({seconds}), '{marker}'")
                result["rows"] = cur.fetchall()
        except Exception as e:  # noqa: BLE001 - reported to the test
            result["error"] = e
        result["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, result


@pytest.mark.parametrize("killer", ["app", "other"], ids=["same-user", "privileged-other-user"])
def test_kill_query(mymux, killer):
    # "other" has ALL PRIVILEGES (CONNECTION ADMIN): a server lets it kill app's query.
    a = mymux.connect()
    b = mymux.connect(user=killer, password=f"{killer}pass")
    try:
        marker = _marker()
        t, result = _start_sleep(a, marker)
        wait_until(lambda: _running_on_backend(mymux, marker), 15, what="the sleep to run")
        q1(b, f"KILL QUERY {a.thread_id()}")
        t.join(20)
        assert not t.is_alive(), "KILL QUERY did not interrupt the query"
        err = result.get("error")
        assert isinstance(err, pymysql.err.OperationalError), result
        assert err.args[0] == 1317, err.args
        assert result["elapsed"] < 20
        assert usable(a)  # KILL QUERY leaves the session alive
        assert q1(a, "SELECT CONNECTION_ID()") == (a.thread_id(),)
    finally:
        a.close()
        b.close()


def test_kill_query_without_privilege_refused(mymux):
    a = mymux.connect()
    w = mymux.connect(user="weak", password="weakpass")
    try:
        marker = _marker()
        t, result = _start_sleep(a, marker, seconds=5)
        wait_until(lambda: _running_on_backend(mymux, marker), 15, what="the sleep to run")
        with pytest.raises(pymysql.err.OperationalError) as ei:
            q1(w, f"KILL QUERY {a.thread_id()}")
        assert ei.value.args[0] == 1095, ei.value.args  # You are not owner of thread
        t.join(20)
        assert result.get("rows") == ((0, marker),), result  # the sleep ran to its end
        assert usable(w)
    finally:
        a.close()
        w.close()


@pytest.mark.parametrize("how", ["sql", "com_process_kill"])
def test_kill_connection(mymux, how):
    a = mymux.connect()
    b = mymux.connect()
    try:
        assert usable(a)
        if how == "sql":
            q1(b, f"KILL {a.thread_id()}")
        else:
            b.kill(a.thread_id())  # COM_PROCESS_KILL
        # The killed session's next query fails (KILL may act a moment after its OK).
        wait_until(lambda: fails(a), 10, what="the killed session to fail")
        assert usable(b)
    finally:
        a.close()
        b.close()


def test_kill_running_query_connection(mymux):
    a = mymux.connect()
    b = mymux.connect()
    try:
        marker = _marker()
        t, result = _start_sleep(a, marker)
        wait_until(lambda: _running_on_backend(mymux, marker), 15, what="the sleep to run")
        q1(b, f"KILL CONNECTION {a.thread_id()}")
        t.join(20)
        assert not t.is_alive(), "KILL did not end the running query"
        assert isinstance(result.get("error"), pymysql.err.MySQLError), result
        assert fails(a)
        wait_until(lambda: not _running_on_backend(mymux, marker), 15,
                   what="the killed query to leave the backend")
    finally:
        a.close()
        b.close()


def test_kill_unknown_id(mymux):
    c = mymux.connect()
    try:
        for stmt in ("KILL 999999999", "KILL QUERY 999999999"):
            with pytest.raises(pymysql.err.OperationalError) as ei:
                q1(c, stmt)
            assert ei.value.args[0] == 1094, ei.value.args
        assert usable(c)
    finally:
        c.close()


def test_kill_self(mymux):
    c = mymux.connect()
    try:
        with pytest.raises(pymysql.err.MySQLError):
            q1(c, f"KILL {c.thread_id()}")
            q1(c, "SELECT 1")
    finally:
        c.close()
    assert usable(mymux.connect())


def test_kill_sessions_on_every_worker(mymux):
    # Sessions land on different worker threads: KILL must reach each of them.
    victims = [mymux.connect() for _ in range(8)]
    killer = mymux.connect()
    try:
        ids = [v.thread_id() for v in victims]
        assert len(set(ids)) == len(ids)
        for v in victims:
            q1(killer, f"KILL {v.thread_id()}")
        for v in victims:
            wait_until(lambda: fails(v), 10, what=f"session {v.thread_id()} to be killed")
        assert usable(killer)
    finally:
        for v in victims:
            try:
                v.close()
            except Exception:  # noqa: BLE001 - already gone
                pass
        killer.close()


COM_SET_OPTION = 0x1B


def test_set_option_multi_statements(mymux):
    # COM_SET_OPTION turns multi-statements on and off on a connection that did not
    # negotiate CLIENT_MULTI_STATEMENTS; the answer is an EOF packet.
    c = mymux.connect()
    try:
        with pytest.raises(pymysql.err.ProgrammingError) as ei:
            q1(c, "SELECT 1; SELECT 2")
        assert ei.value.args[0] == 1064
        c._execute_command(COM_SET_OPTION, struct.pack("<H", 0))  # MYSQL_OPTION_MULTI_STATEMENTS_ON
        assert c._read_packet().is_eof_packet()
        with c.cursor() as cur:
            cur.execute("SELECT 1; SELECT 2")
            assert cur.fetchall() == ((1,),)
            assert cur.nextset()
            assert cur.fetchall() == ((2,),)
            assert not cur.nextset()
        c._execute_command(COM_SET_OPTION, struct.pack("<H", 1))  # ..._OFF
        assert c._read_packet().is_eof_packet()
        with pytest.raises(pymysql.err.ProgrammingError) as ei:
            q1(c, "SELECT 1; SELECT 2")
        assert ei.value.args[0] == 1064
        assert usable(c)
    finally:
        c.close()


def test_rows_are_streamed_not_buffered(mymux):
    # Row 1 (1 MiB, flushed by the server at once) arrives; row 2 takes 4 s to compute.
    # A proxy that held the result until its end would deliver row 1 after 4 s.
    c = mymux.connect(cursorclass=pymysql.cursors.SSCursor)
    try:
        with c.cursor() as cur:
            t0 = time.monotonic()
            cur.execute("SELECT seq, REPEAT('s', 1048576), SLEEP(IF(seq = 2, 4, 0)) "
                        "FROM test.seq_1_to_2")
            first = cur.fetchone()
            t_first = time.monotonic() - t0
            rest = cur.fetchall()
            t_all = time.monotonic() - t0
        assert first[0] == 1 and len(rest) == 1
        assert t_all >= 4
        assert t_first < 2.5, f"first row after {t_first:.1f}s: the result was buffered"
    finally:
        c.close()
