"""Functions mymux answers itself keep their column names and types (issues 10 and 15).

mymux rewrites CONNECTION_ID() to the session's id everywhere, and LAST_INSERT_ID(),
ROW_COUNT(), FOUND_ROWS() and @@identity to the values it saw when the statement runs on a
backend connection that did not run the previous one. MariaDB names a select-list item
without an alias by its text as written and types it by its expression, so a rewrite to a
bare number renamed the column (`1`, `-1`) and changed its type. These tests run the same
statements through mymux and directly and compare every column's name, type, length and
flags, with PyMySQL (DictCursor keys too), libmariadb (client_test.c rewrite_names, text and
prepared) and the mariadb CLI over the compressed protocol, on both session-tracking paths.

mymux runs with one worker and one backend connection shared by two clients, so every read
of the previous statement is answered by mymux (the other client ran a statement on the
connection in between), and the values must be the reading client's own.
"""

import os
import subprocess

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only

BUILD_DIR = os.path.join(testbed.REPO, os.environ.get("MYMUX_BUILD_DIR", "build"))
CLIENT_TEST = os.path.join(BUILD_DIR, "client_test")

# statements that read what the previous one did, as applications write them
READERS = [
    "SELECT LAST_INSERT_ID()",
    "select last_insert_id ()",
    "SELECT LAST_INSERT_ID( ) + 1, ROW_COUNT()  *  2",
    "SELECT LAST_INSERT_ID() AS li, ROW_COUNT() rc, FOUND_ROWS() AS `fr`",
    "SELECT v FROM h15n WHERE id = LAST_INSERT_ID()",
    "SELECT CONCAT('id=', LAST_INSERT_ID()) AS `x`, FOUND_ROWS()",
    "SELECT (SELECT LAST_INSERT_ID()) AS sub, @@identity, @@session.last_insert_id",
    "SELECT * FROM (SELECT LAST_INSERT_ID(), ROW_COUNT()) d",
    "SELECT LAST_INSERT_ID() /* why */ + 0, Row_Count()",
    "SELECT LAST_INSERT_ID() IS NOT NULL, NOW() + INTERVAL ROW_COUNT() DAY > '2000-01-01'",
    "SELECT id, LAST_INSERT_ID() FROM h15n WHERE id IN (SELECT LAST_INSERT_ID()) ORDER BY 1",
    "SELECT CONNECTION_ID(), connection_id ( ) + 0",
]


@pytest.fixture(params=["on", "off"])
def mux(request, mymux_factory):
    return mymux_factory({"workers": 1, "session_tracking": request.param,
                          "pool": {"max_per_backend": 1, "wait_timeout": "30s"}})


@pytest.fixture(scope="module")
def table(backends):
    c = backends[0].root_conn(database="test", autocommit=True)
    with c.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS h15n")
        cur.execute("CREATE TABLE h15n (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    c.close()


def columns(cur):
    """What a client learns about the columns: name, type, length, flags, decimals."""
    return [(f.name, f.type_code, f.length, f.flags, f.scale) for f in cur._result.fields]


def connect(host, port, **kw):
    return testbed.connect_tcp(host, port, database="test", autocommit=True, **kw)


def test_names_and_types_as_directly(table, backends, mux):
    direct = connect(backends[0].host, backends[0].port)
    a = connect(mux.host, mux.port)
    b = connect(mux.host, mux.port)
    try:
        for sql in READERS:
            want = None
            with direct.cursor() as cur:
                cur.execute("INSERT INTO h15n (v) VALUES (1), (2)")
                cur.execute(sql)
                want = columns(cur)
            with a.cursor() as ca, b.cursor() as cb:
                ca.execute("INSERT INTO h15n (v) VALUES (1), (2)")
                a_id = ca.lastrowid
                cb.execute("INSERT INTO h15n (v) VALUES (3)")  # the connection's own value moves
                ca.execute(sql)
                assert columns(ca) == want, sql
                rows = ca.fetchall()
                if sql == READERS[0]:
                    assert rows == ((a_id,),)  # the reader's value, not the other client's
                if sql == READERS[2]:
                    assert rows == ((a_id + 1, 4),)
    finally:
        for c in (direct, a, b):
            c.close()


def test_dict_cursor_keys(table, mux):
    a = connect(mux.host, mux.port, cursorclass=pymysql.cursors.DictCursor)
    b = connect(mux.host, mux.port)
    try:
        with a.cursor() as ca, b.cursor() as cb:
            ca.execute("INSERT INTO h15n (v) VALUES (7)")
            a_id = ca.lastrowid
            cb.execute("INSERT INTO h15n (v) VALUES (8), (9)")
            ca.execute("SELECT LAST_INSERT_ID(), ROW_COUNT(), CONNECTION_ID(), "
                       "last_insert_id ( ) AS li")
            row = ca.fetchone()
            assert set(row) == {"LAST_INSERT_ID()", "ROW_COUNT()", "CONNECTION_ID()", "li"}
            assert row["LAST_INSERT_ID()"] == a_id and row["li"] == a_id
            assert row["ROW_COUNT()"] == 1
            assert row["CONNECTION_ID()"] == a.thread_id()
    finally:
        a.close()
        b.close()


def test_cli_compressed_header(mux):
    """The mariadb CLI over the compressed protocol prints the column's name."""
    r = mux.cli(["--compress", "--batch", "-e", "SELECT CONNECTION_ID(), 1 + connection_id ()"])
    assert r.returncode == 0, r.stderr
    header, value = r.stdout.splitlines()[:2]
    assert header.split("\t") == ["CONNECTION_ID()", "1 + connection_id ()"]
    ident, plus = value.split("\t")
    assert int(plus) == int(ident) + 1


def test_statement_near_the_buffer_size(table, mux):
    """A statement that cannot grow in the session's buffer keeps its value (the name is
    then the value's, as before); one that can still grows."""
    a = connect(mux.host, mux.port)
    b = connect(mux.host, mux.port)
    try:
        with a.cursor() as ca, b.cursor() as cb:
            for pad, named in ((15000, True), (16300, False)):
                ca.execute("INSERT INTO h15n (v) VALUES (1)")
                a_id = ca.lastrowid
                cb.execute("INSERT INTO h15n (v) VALUES (2)")
                ca.execute(f"SELECT LAST_INSERT_ID(), '{'x' * pad}' AS pad")
                assert ca.fetchall()[0][0] == a_id
                assert (ca.description[0][0] == "LAST_INSERT_ID()") == named, pad
    finally:
        a.close()
        b.close()


def test_libmariadb_rewrite_names(mux):
    if not os.access(CLIENT_TEST, os.X_OK):
        pytest.fail(f"{CLIENT_TEST} not built (cmake --build {BUILD_DIR} --target client_test)")
    r = subprocess.run([CLIENT_TEST, mux.host, str(mux.port), "app", "apppass", "rewrite_names"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok rewrite_names" in r.stdout.splitlines(), (
        f"client_test exited {r.returncode}:\n{r.stdout}{r.stderr}")
    assert mux.alive()


def _lenenc(b, i):
    c = b[i]
    if c < 0xfb:
        return c, i + 1
    n = {0xfc: 2, 0xfd: 3, 0xfe: 8}[c]
    return int.from_bytes(b[i + 1:i + 1 + n], "little"), i + 1 + n


class _Raw:
    """Packets on a logged-in PyMySQL connection's socket, read and written by hand."""

    def __init__(self, conn):
        self.sock = conn._sock
        self.buf = b""

    def packet(self):
        while True:
            if len(self.buf) >= 4:
                n = int.from_bytes(self.buf[:3], "little")
                if len(self.buf) >= 4 + n:
                    p, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return p
            d = self.sock.recv(65536)
            assert d, "connection closed"
            self.buf += d

    def coldef_name(self):
        p, i = self.packet(), 0
        for _ in range(4):  # catalog, schema, table, org_table
            n, i = _lenenc(p, i)
            i += n
        n, i = _lenenc(p, i)
        return p[i:i + n].decode()

    def result(self):
        """A text result set (no DEPRECATE_EOF): ([names], [first column of each row])."""
        p = self.packet()
        assert p[0] not in (0x00, 0xff), p
        ncols, _ = _lenenc(p, 0)
        names = [self.coldef_name() for _ in range(ncols)]
        assert self.packet()[0] == 0xfe
        rows = []
        while (p := self.packet())[0] != 0xfe or len(p) >= 9:
            n, i = _lenenc(p, 0)
            rows.append(p[i:i + n].decode())
        return names, rows

    def prepared(self):
        """A COM_STMT_PREPARE answer: (statement id, [column names])."""
        p = self.packet()
        assert p[0] == 0x00, p
        sid = int.from_bytes(p[1:5], "little")
        ncols, nparams = int.from_bytes(p[5:7], "little"), int.from_bytes(p[7:9], "little")
        assert nparams == 0
        names = [self.coldef_name() for _ in range(ncols)]
        if ncols:
            assert self.packet()[0] == 0xfe
        return sid, names


def _cmd(payload):
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


def test_pipelined_commands_around_a_growing_statement(mux):
    """Commands sent at once, 16 bytes short of the session's 16 KiB buffer: the statement
    mymux rewrites sits behind 400 others, with 21 more behind it. When all have arrived
    before its turn (as they usually do), the buffer's tail is shorter than the growth, so
    the buffer is compacted first; either way the bytes behind it move, and the stream
    fits the buffer, so the grown statement always does. Every answer comes back, in order,
    and the grown statements carry the names: a text query and a PREPARE."""
    c = connect(mux.host, mux.port)
    try:
        raw = _Raw(c)
        head = b"".join(_cmd(b"\x03SELECT %d" % i) for i in range(400))
        tail = _cmd(b"\x16SELECT connection_id ( ) + 0")
        tail += b"".join(_cmd(b"\x03SELECT %d" % (1000 + i)) for i in range(20))

        def target(n):
            return _cmd(f"\x03SELECT CONNECTION_ID(), '{'x' * n}' AS pad".encode())

        fixed = len(head) + len(target(0)) + len(tail)
        stream = head + target(16384 - 16 - fixed) + tail
        assert len(stream) == 16384 - 16
        raw.sock.sendall(stream)
        for i in range(400):
            assert raw.result() == ([str(i)], [str(i)])
        names, rows = raw.result()
        assert names == ["CONNECTION_ID()", "pad"] and rows == [str(c.thread_id())]
        _, pnames = raw.prepared()
        assert pnames == ["connection_id ( ) + 0"]
        for i in range(20):
            assert raw.result() == ([str(1000 + i)], [str(1000 + i)])
        assert mux.alive()
    finally:
        c.close()
