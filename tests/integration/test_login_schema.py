"""A non-ASCII database name is read in the client's character set (issue 16).

The server reads COM_INIT_DB's name in the connection's character set. mymux chose the
schema on a pooled connection before setting the session's character set, so `tést` sent by
a latin1 client over a connection a utf8mb4 client had used was read as utf8mb4 (1300 or
1049), and the other way round. One backend connection makes the order deterministic: each
login (and each COM_INIT_DB) runs on a connection the previous client left in another
character set. PyMySQL encodes the name in its connection charset, as the handshake and
COM_INIT_DB carry it; the mariadb CLI sends it in its --default-character-set.
"""

import pytest

import testbed

pytestmark = pytest.mark.proxy_only

DB = "tést"
CHARSETS = ["utf8mb4", "latin1", "cp1250", "utf8"]
PY_CODEC = {"utf8mb4": "utf-8"}


@pytest.fixture(scope="module")
def one_conn(backends):
    c = backends[0].root_conn()
    with c.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{DB}` CHARACTER SET utf8mb4")
    c.close()
    cfg = testbed.deep_merge(testbed.default_config(backends[:1], 0),
                             {"workers": 1, "pool": {"max_per_backend": 1, "wait_timeout": "20s"}})
    m = testbed.Mymux(cfg, name="mymux-schema").start()
    try:
        yield m
    finally:
        testbed.assert_clean_log(m.stop())


def login(m, charset, database):
    return testbed.connect_tcp(m.host, m.port, database=database, charset=charset,
                               autocommit=True)


def current_db(c):
    with c.cursor() as cur:
        cur.execute("SELECT DATABASE(), @@character_set_client")
        return cur.fetchone()


@pytest.mark.parametrize("before", CHARSETS)
@pytest.mark.parametrize("charset", CHARSETS)
def test_login_database_in_handshake_charset(one_conn, before, charset):
    # the pooled connection is left in `before` by a client that logged in with it
    c = login(one_conn, before, "test")
    assert current_db(c) == ("test", before if before != "utf8" else "utf8mb3")
    c.close()
    c = login(one_conn, charset, DB)
    try:
        assert current_db(c)[0] == DB
    finally:
        c.close()


@pytest.mark.parametrize("before,charset", [("utf8mb4", "latin1"), ("latin1", "utf8mb4"),
                                            ("cp1250", "utf8mb4")])
def test_init_db_in_session_charset(one_conn, before, charset):
    c0 = login(one_conn, before, "test")
    c0.close()
    c = login(one_conn, charset, "test")
    try:
        c.select_db(DB)  # COM_INIT_DB on the shared connection
        assert current_db(c)[0] == DB
    finally:
        c.close()


@pytest.mark.parametrize("charset", ["latin1", "utf8mb4"])
def test_cli_database_argument(one_conn, charset):
    other = "utf8mb4" if charset == "latin1" else "latin1"
    login(one_conn, other, "test").close()
    r = testbed.run_cli(one_conn.host, one_conn.port,
                        [f"--default-character-set={charset}", "-N", "-e", "SELECT HEX(DATABASE())",
                         DB.encode(PY_CODEC.get(charset, charset)).decode("utf-8", "surrogateescape")])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == DB.encode("utf-8").hex().upper()  # the server's utf8 name


@pytest.fixture(scope="module", params=["auto", "off"])
def one_conn_tracking(request, backends):
    cfg = testbed.deep_merge(testbed.default_config(backends[:1], 0),
                             {"workers": 1, "pool": {"max_per_backend": 1, "wait_timeout": "20s"}})
    cfg["backends"][0]["session_tracking"] = request.param
    m = testbed.Mymux(cfg, name=f"mymux-schema-{request.param}").start()
    try:
        yield m
    finally:
        testbed.assert_clean_log(m.stop())


@pytest.mark.parametrize("charset,other", [("latin1", "utf8mb4"), ("utf8mb4", "latin1"),
                                           ("cp1250", "latin1")])
def test_schema_replayed_on_shared_connection(one_conn, one_conn_tracking, charset, other):
    """A session that chose `tést` (COM_INIT_DB) gets it back after another session used the
    shared connection in another character set. With trackers the server reports the name in
    utf8, and that is how mymux replays it (read as latin1 it was 1049)."""
    m = one_conn_tracking
    a = login(m, charset, "test")
    b = login(m, other, "test")
    try:
        a.select_db(DB)
        with b.cursor() as cur:
            cur.execute("USE test")  # the connection moves away from A's schema
        assert current_db(a)[0] == DB
        assert current_db(b)[0] == "test"
        assert current_db(a)[0] == DB
    finally:
        a.close()
        b.close()
