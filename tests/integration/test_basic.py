"""Connecting, authenticating and plain queries through mymux (PyMySQL)."""

import re

import pymysql
import pytest

from testbed import wait_until


def masked(msg):
    """The message with its 'user'@'host' part masked."""
    return re.sub(r"'[^']*'@'[^']*'", "'USER'@'HOST'", msg)


def test_connect_and_select_1(mymux):
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchall() == ((1,),)
    finally:
        c.close()


def test_server_version_is_mysql_like(mymux):
    c = mymux.connect()
    try:
        # Clients parse the version: it must start with major.minor.patch.
        assert re.match(r"^\d+\.\d+\.\d+", c.get_server_info()), c.get_server_info()
        with c.cursor() as cur:
            cur.execute("SELECT VERSION()")
            assert re.match(r"^\d+\.\d+\.\d+", cur.fetchone()[0])
    finally:
        c.close()


def test_current_user(mymux):
    for user, pw in (("app", "apppass"), ("other", "otherpass")):
        c = mymux.connect(user=user, password=pw)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                assert cur.fetchone()[0] == f"{user}@%"
        finally:
            c.close()


def test_wrong_password_is_1045(mymux):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        mymux.connect(password="wrong")
    assert ei.value.args[0] == 1045, ei.value.args
    assert "Access denied" in ei.value.args[1]


def test_empty_password_is_1045(mymux):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        mymux.connect(password="")
    assert ei.value.args[0] == 1045, ei.value.args


def test_unknown_user_looks_like_wrong_password(mymux):
    with pytest.raises(pymysql.err.OperationalError) as wrong:
        mymux.connect(user="app", password="wrong")
    with pytest.raises(pymysql.err.OperationalError) as unknown:
        mymux.connect(user="nosuchuser", password="wrong")
    assert unknown.value.args[0] == 1045, unknown.value.args
    # Same shape once the user and host are masked: nothing tells whether the user exists.
    assert masked(unknown.value.args[1]) == masked(wrong.value.args[1])


def test_user_password_of_other_user_refused(mymux):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        mymux.connect(user="app", password="otherpass")
    assert ei.value.args[0] == 1045


def test_connect_after_failed_logins(mymux):
    for _ in range(5):
        with pytest.raises(pymysql.err.OperationalError):
            mymux.connect(password="bad")
    c = mymux.connect()
    try:
        c.ping(reconnect=False)
    finally:
        c.close()


def test_connect_with_database(mymux):
    c = mymux.connect(database="test")
    try:
        with c.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone()[0] == "test"
    finally:
        c.close()


def test_connect_without_database(mymux):
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone()[0] is None
    finally:
        c.close()


def test_connect_with_unknown_database(mymux):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        mymux.connect(database="no_such_db")
    assert ei.value.args[0] == 1049, ei.value.args


def test_text_query_types_and_nulls(mymux):
    c = mymux.connect(charset="utf8mb4")
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1, -2.5, 'abc', NULL, '', 'h\u00e9 \U0001F600', "
                        "CAST('2024-02-29 12:34:56' AS DATETIME), 18446744073709551615, "
                        "X'00FF'")
            row = cur.fetchone()
            assert row[0] == 1
            assert str(row[1]) == "-2.5"
            assert row[2] == "abc"
            assert row[3] is None
            assert row[4] == ""
            assert row[5] == "h\u00e9 \U0001F600"
            assert str(row[6]) == "2024-02-29 12:34:56"
            assert row[7] == 18446744073709551615
            assert row[8] == b"\x00\xff"
            assert [d[0] for d in cur.description][:3] == ["1", "-2.5", "abc"]
    finally:
        c.close()


def test_dml_and_affected_rows(mymux):
    c = mymux.connect(database="test", autocommit=True)
    try:
        with c.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS t_basic")
            cur.execute("CREATE TABLE t_basic (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20))")
            n = cur.execute("INSERT INTO t_basic (v) VALUES ('a'), ('b'), ('c')")
            assert n == 3
            assert cur.lastrowid == 1
            n = cur.execute("UPDATE t_basic SET v = 'z' WHERE id >= 2")
            assert n == 2
            cur.execute("SELECT v FROM t_basic ORDER BY id")
            assert cur.fetchall() == (("a",), ("z",), ("z",))
            assert cur.execute("DELETE FROM t_basic") == 3
            cur.execute("DROP TABLE t_basic")
    finally:
        c.close()


def test_transaction_commit_and_rollback(mymux):
    a = mymux.connect(database="test", autocommit=True)
    b = mymux.connect(database="test", autocommit=True)
    try:
        with a.cursor() as ca, b.cursor() as cb:
            ca.execute("DROP TABLE IF EXISTS t_trx")
            ca.execute("CREATE TABLE t_trx (id INT PRIMARY KEY) ENGINE=InnoDB")
            ca.execute("BEGIN")
            ca.execute("INSERT INTO t_trx VALUES (1)")
            cb.execute("SELECT COUNT(*) FROM t_trx")
            assert cb.fetchone()[0] == 0  # not committed yet
            ca.execute("ROLLBACK")
            ca.execute("SELECT COUNT(*) FROM t_trx")
            assert ca.fetchone()[0] == 0
            ca.execute("START TRANSACTION")
            ca.execute("INSERT INTO t_trx VALUES (2)")
            ca.execute("COMMIT")
            cb.execute("SELECT id FROM t_trx")
            assert cb.fetchall() == ((2,),)
            ca.execute("DROP TABLE t_trx")
    finally:
        a.close()
        b.close()


def test_charset_latin1_connection(mymux):
    c = mymux.connect(charset="latin1")
    try:
        with c.cursor() as cur:
            cur.execute("SELECT @@character_set_client, @@character_set_results, 'caf\u00e9'")
            row = cur.fetchone()
            assert row[0] == "latin1" and row[1] == "latin1"
            assert row[2] == "caf\u00e9"
    finally:
        c.close()


def test_set_names_roundtrip(mymux):
    c = mymux.connect(charset="utf8mb4")
    try:
        with c.cursor() as cur:
            cur.execute("SET NAMES utf8mb4 COLLATE utf8mb4_bin")
            cur.execute("SELECT @@collation_connection, '\U0001F680'")
            assert cur.fetchone() == ("utf8mb4_bin", "\U0001F680")
    finally:
        c.close()


def test_session_state_does_not_leak_between_clients(mymux):
    """What one client sets must never be seen by the next client (pooled backends)."""
    for i in range(5):
        a = mymux.connect(database="test", autocommit=True)
        with a.cursor() as cur:
            cur.execute("SET @secret = 'leak'")
            cur.execute("SET SESSION sql_mode = 'ANSI_QUOTES'")
            cur.execute("SET SESSION wait_timeout = 1234")
            cur.execute("CREATE TEMPORARY TABLE tmp_secret (x INT)")
            cur.execute("USE test2")
            cur.execute("BEGIN")
        a.close()
        b = mymux.connect(autocommit=True)
        try:
            with b.cursor() as cur:
                cur.execute("SELECT @secret, @@session.sql_mode LIKE '%ANSI_QUOTES%', "
                            "@@session.wait_timeout = 1234, DATABASE(), @@in_transaction")
                assert cur.fetchone() == (None, 0, 0, None, 0)
                with pytest.raises(pymysql.err.ProgrammingError):
                    cur.execute("SELECT * FROM test.tmp_secret")
        finally:
            b.close()


def test_user_variables_are_per_session(mymux):
    a = mymux.connect()
    b = mymux.connect()
    try:
        with a.cursor() as ca, b.cursor() as cb:
            ca.execute("SET @v = 'a'")
            cb.execute("SET @v = 'b'")
            ca.execute("SELECT @v")
            cb.execute("SELECT @v")
            assert ca.fetchone()[0] == "a"
            assert cb.fetchone()[0] == "b"
    finally:
        a.close()
        b.close()


def test_connection_survives_long_idle_between_queries(mymux):
    c = mymux.connect()
    try:
        for i in range(50):
            c.ping(reconnect=False)
            with c.cursor() as cur:
                cur.execute("SELECT %s", (i,))
                assert cur.fetchone()[0] == i
    finally:
        c.close()


def test_quit_closes_cleanly(mymux):
    c = mymux.connect()
    c.close()  # COM_QUIT
    # The proxy keeps serving afterwards.
    wait_until(lambda: mymux.connect().close() is None, 10, what="a new connection")


def test_server_status_flags(mymux):
    from pymysql.constants import SERVER_STATUS
    c = mymux.connect(autocommit=True)
    try:
        with c.cursor() as cur:
            assert c.server_status & SERVER_STATUS.SERVER_STATUS_AUTOCOMMIT
            assert not c.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
            cur.execute("BEGIN")
            assert c.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
            cur.execute("SELECT 1")
            assert c.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
            cur.execute("COMMIT")
            assert not c.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
            c.autocommit(False)
            assert not c.get_autocommit()
            c.autocommit(True)
            assert c.get_autocommit()
    finally:
        c.close()


def test_session_state_persists_across_queries(mymux):
    c = mymux.connect(database="test", autocommit=True, charset="utf8mb4")
    try:
        with c.cursor() as cur:
            cur.execute("SET SESSION sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES'")
            cur.execute("SET time_zone = '+05:30'")
            cur.execute("SET NAMES latin1")
            cur.execute("SET NAMES utf8mb4")
            cur.execute("SET @u = 'kept'")
            cur.execute("USE test2")
            cur.execute("CREATE TEMPORARY TABLE tmp_keep (x INT)")
            cur.execute("INSERT INTO tmp_keep VALUES (1), (2)")
            for _ in range(20):
                cur.execute("SELECT @@session.sql_mode, @@session.time_zone, @u, DATABASE(), "
                            "(SELECT COUNT(*) FROM tmp_keep), @@character_set_client")
                assert cur.fetchone() == ("ANSI_QUOTES,STRICT_ALL_TABLES", "+05:30", "kept",
                                          "test2", 2, "utf8mb4")
    finally:
        c.close()


def test_text_prepared_statements(mymux):
    c = mymux.connect()
    try:
        with c.cursor() as cur:
            cur.execute("PREPARE s1 FROM 'SELECT ? + ?'")
            cur.execute("SET @a = 40, @b = 2")
            for _ in range(3):
                cur.execute("EXECUTE s1 USING @a, @b")
                assert cur.fetchone() == (42,)
            cur.execute("DEALLOCATE PREPARE s1")
            with pytest.raises(pymysql.err.MySQLError) as ei:
                cur.execute("EXECUTE s1 USING @a, @b")
            assert ei.value.args[0] == 1243  # unknown prepared statement handler
    finally:
        c.close()


def test_autocommit_off_rollback(mymux):
    c = mymux.connect(database="test", autocommit=False)
    try:
        with c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS t_ac (id INT PRIMARY KEY) ENGINE=InnoDB")
            c.commit()
            cur.execute("DELETE FROM t_ac")
            c.commit()
            cur.execute("INSERT INTO t_ac VALUES (1)")
            c.rollback()
            cur.execute("SELECT COUNT(*) FROM t_ac")
            assert cur.fetchone() == (0,)
            cur.execute("INSERT INTO t_ac VALUES (2)")
            c.commit()
        other = mymux.connect(database="test")
        try:
            with other.cursor() as cur:
                cur.execute("SELECT id FROM t_ac")
                assert cur.fetchall() == ((2,),)
                cur.execute("DROP TABLE t_ac")
        finally:
            other.close()
    finally:
        c.close()


def test_backend_by_host_name(backends, mymux_factory):
    """A backend given by name (localhost) is resolved off the worker loops (at start-up,
    then every 5 s on the control thread) and reached through the cached address."""
    m = mymux_factory({"backends": [{"name": "db1", "address": f"localhost:{backends[0].port}"}]})
    for _ in range(3):
        c = m.connect(database="test", autocommit=True)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                assert cur.fetchall() == ((1,),)
        finally:
            c.close()
    assert "event=resolved host=localhost address=127.0.0.1" in m.log()
