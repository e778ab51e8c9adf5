"""limits.max_packet_size over the whole command (issue 14).

A command at or above the limit, however many 16 MiB packets it takes, is read to its end
and dropped, then answered with ERR 1153 as the server answers it, with the sequence id that
follows the client's last packet; the session goes on (unless its state lived on a backend
connection that held part of the command: then it ends after the error). mymux streams the
dropped bytes: its memory does not grow with the command. Clients: PyMySQL (which checks the
sequence id of the answer) and the mariadb CLI.
"""

import os
import subprocess
import threading
import uuid

import pymysql
import pytest

import testbed

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024
PKT_MAX = 0xFFFFFF


def q1(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()


def xs(total):
    """How many x big_query(total) holds."""
    return total - 1 - len("SELECT LENGTH('')")


def big_query(total):
    """A COM_QUERY whose payload (command byte included) is `total` bytes."""
    head, tail = "SELECT LENGTH('", "')"
    return head + "x" * (total - 1 - len(head) - len(tail)) + tail


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class RssWatch:
    """Samples a process's RSS from a thread while a block runs; .peak in KiB."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self):
        self.base = rss_kib(self.pid)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self._stop.wait(0.01)

    def __exit__(self, *exc):
        self._stop.set()
        self.t.join()
        self.peak = max(self.peak, rss_kib(self.pid))


def refused(conn, sql):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        q1(conn, sql)
    return ei.value.args[0]


@pytest.mark.proxy_only
def test_one_mib_limit_refuses_multi_packet_commands(mymux_factory):
    m = mymux_factory({"limits": {"max_packet_size": "1m"}})
    c = m.connect(max_allowed_packet=256 * MIB)
    try:
        cid = q1(c, "SELECT CONNECTION_ID()")[0]
        # one packet above the limit
        assert refused(c, big_query(2 * MIB)) == 1153
        assert q1(c, "SELECT CONNECTION_ID()") == (cid,)
        # exactly 16 MiB - 1: a full packet and an empty one after it
        assert refused(c, big_query(PKT_MAX)) == 1153
        assert q1(c, "SELECT 'goes on'") == ("goes on",)
        # 40 MiB: three packets
        assert refused(c, big_query(40 * MIB)) == 1153
        assert q1(c, "SELECT CONNECTION_ID()") == (cid,)
        # below the limit all is well
        assert q1(c, big_query(512 * 1024)) == (xs(512 * 1024),)
    finally:
        c.close()
    assert "event=packet_too_large" in m.log()


@pytest.mark.proxy_only
def test_default_limit_refuses_100_mib_streaming(mymux_factory):
    m = mymux_factory({})
    # autocommit on: under PyMySQL's default (off) the SELECTs leave a transaction open on
    # the backend connection, which is lost with it (the in-transaction test below)
    c = m.connect(max_allowed_packet=256 * MIB, autocommit=True)
    try:
        cid = q1(c, "SELECT CONNECTION_ID()")[0]
        sql = big_query(100 * MIB)
        with RssWatch(m.proc.pid) as w:
            # part of it reached the backend before the limit was passed: that connection
            # is given up, the session (which held nothing there) goes on
            assert refused(c, sql) == 1153
        grown = (w.peak - w.base) // 1024
        assert grown < 32, f"mymux RSS grew by {grown} MiB while a 100 MiB command passed"
        assert q1(c, "SELECT CONNECTION_ID()") == (cid,)
        # 20 MiB spans two packets and is below 64 MiB: it runs (and, longer than what
        # mymux classifies, pins the session: a refusal after it would end the session)
        assert q1(c, big_query(20 * MIB)) == (xs(20 * MIB),)
        assert q1(c, "SELECT CONNECTION_ID()") == (cid,)
    finally:
        c.close()


@pytest.mark.proxy_only
def test_too_large_in_transaction_ends_session_after_error(mymux_factory, backends):
    m = mymux_factory({})
    t = "pl_" + uuid.uuid4().hex[:8]
    r = backends[0].root_conn(autocommit=True)
    try:
        q1(r, f"CREATE TABLE test.{t} (a INT PRIMARY KEY) ENGINE=InnoDB")
        q1(r, "SET SESSION innodb_lock_wait_timeout = 1")
        c = m.connect(max_allowed_packet=256 * MIB, database="test")
        try:
            q1(c, "BEGIN")
            q1(c, f"INSERT INTO {t} VALUES (1)")
            assert refused(c, big_query(70 * MIB)) == 1153
            # the transaction lived on the connection that had half a command: gone
            with pytest.raises(pymysql.err.MySQLError):
                q1(c, "SELECT 1")
        finally:
            c._sock = None

        # the backend rolled it back (the connection was closed, not kept): the row lock
        # the INSERT held is released and the same key can be inserted
        def key_free():
            try:
                q1(r, f"INSERT INTO test.{t} VALUES (1)")
                return True
            except pymysql.err.OperationalError as e:
                assert e.args[0] == 1205, e
                return False
        testbed.wait_until(key_free, 20, what="the transaction's lock released")
    finally:
        q1(r, f"DROP TABLE IF EXISTS test.{t}")
        r.close()


@pytest.mark.proxy_only
def test_cli_sees_1153_and_goes_on(mymux_factory, tmp_path):
    m = mymux_factory({"limits": {"max_packet_size": "1m"}})
    script = tmp_path / "big.sql"
    with open(script, "w") as f:
        f.write("SELECT CONNECTION_ID();\n")
        f.write(big_query(40 * MIB) + ";\n")
        f.write("SELECT CONNECTION_ID();\n")
    with open(script) as f:
        r = testbed.run_cli(m.host, m.port, ["--max-allowed-packet=1G", "--force", "-N", "-B",
                                              "--skip-reconnect"], input=f.read())
    assert "ERROR 1153" in r.stderr, r.stderr
    ids = r.stdout.split()
    assert len(ids) == 2 and ids[0] == ids[1], r.stdout


@pytest.mark.proxy_only
def test_large_change_user_gets_error_before_close(mymux_factory):
    """A COM_CHANGE_USER above mymux's buffer is refused with an error packet the client can
    read (it is read to its end first), then the connection closes."""
    import struct
    m = mymux_factory({})
    c = m.connect()
    try:
        sock = c._sock
        body = b"\x11" + b"u" * (200 * 1024)
        sock.sendall(struct.pack("<I", len(body))[:3] + b"\x00" + body)
        sock.settimeout(10)
        data = b""
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:3], "little"):
            chunk = sock.recv(65536)
            assert chunk, "closed without an error packet"
            data += chunk
        n = int.from_bytes(data[:3], "little")
        pkt = data[4:4 + n]
        assert pkt[0] == 0xFF and struct.unpack("<H", pkt[1:3])[0] == 1047, pkt
        assert data[3] == 1
        assert sock.recv(1) == b""  # then the session ends
    finally:
        c._sock = None
        try:
            sock.close()
        except OSError:
            pass


@pytest.fixture(scope="module")
def big_query_bin(tmp_path_factory):
    out = tmp_path_factory.mktemp("bq") / "big_query"
    flags = subprocess.run(["mariadb_config", "--cflags", "--libs"], capture_output=True,
                           text=True, check=True).stdout.split()
    r = subprocess.run(["cc", "-O1", "-Wall", "-o", str(out), os.path.join(HERE, "big_query.c"),
                        *flags], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


@pytest.mark.proxy_only
def test_libmariadb_sees_1153_and_goes_on(mymux_factory, big_query_bin):
    m = mymux_factory({"limits": {"max_packet_size": "1m"}})
    for size in (PKT_MAX, 40 * MIB):
        r = subprocess.run([big_query_bin, m.host, str(m.port), "app", "apppass", str(size)],
                           capture_output=True, text=True, timeout=120)
        lines = r.stdout.split("\n")
        assert lines[1] == "err 1153", r.stdout + r.stderr
        assert lines[0].startswith("id ") and lines[2] == lines[0], r.stdout
