"""Many clients, misbehaving clients and vanished peers: the proxy keeps serving the others."""

import os
import socket
import struct
import threading
import time
import uuid

import pymysql
import pymysql.cursors
import pytest

from testbed import wait_until


def q1(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def assert_serving(mymux):
    """A fresh client can log in and query."""
    c = mymux.connect()
    try:
        assert q1(c, "SELECT 'still serving'") == ("still serving",)
    finally:
        c.close()
    assert mymux.alive()


def backend_sessions(mymux, user="app"):
    r = mymux.backend.root_conn()
    try:
        return q1(r, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s",
                  (user,))[0]
    finally:
        r.close()


def running_on_backend(mymux, marker):
    r = mymux.backend.root_conn()
    try:
        return q1(r, "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                     "AND ID <> CONNECTION_ID()", (f"%{marker}%",))
    finally:
        r.close()


def vanish(conn):
    """Drops a pymysql connection's socket without COM_QUIT (a client that just goes)."""
    if conn._result is not None:
        conn._result.unbuffered_active = False  # keep pymysql from draining it later
    try:
        conn._sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn._sock.close()


# ------------------------------------------------------------------ raw sockets


def raw_connect(mymux):
    s = socket.create_connection((mymux.host, mymux.port), timeout=10)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def read_packet(s):
    hdr = recv_exact(s, 4)
    length = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    return hdr[3], recv_exact(s, length)


def read_greeting(s):
    seq, payload = read_packet(s)
    assert seq == 0
    assert payload[0] == 10, payload[:16]  # protocol version 10
    return payload


def closed_by_peer(s, timeout):
    """Reads until the peer closes (True) or timeout passes (False). Discards any data
    (an error packet before the close is fine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not data:
            return True
    return False


# ---------------------------------------------------------------- many clients


def test_many_sequential_connections(mymux):
    for i in range(200):
        c = mymux.connect()
        try:
            assert q1(c, "SELECT %s", (i,)) == (i,)
        finally:
            c.close()
    # Backend connections are pooled or closed, not leaked one per client.
    wait_until(lambda: backend_sessions(mymux) <= 64, 20, what="backend sessions <= 64")


def test_concurrent_connections(mymux):
    n = 50
    barrier = threading.Barrier(n, timeout=60)
    ids = [None] * n
    errors = []

    def client(i):
        try:
            c = mymux.connect()
            try:
                cid = c.thread_id()
                barrier.wait()  # all 50 sessions open at once
                for j in range(20):
                    assert q1(c, "SELECT CONNECTION_ID(), %s", (j,)) == (cid, j)
                ids[i] = cid
                barrier.wait()
            finally:
                c.close()
        except Exception as e:  # noqa: BLE001 - collected for the assertion below
            errors.append(repr(e))
            barrier.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    assert len(set(ids)) == n  # every session has its own connection id
    assert_serving(mymux)


def test_concurrent_large_results(mymux):
    n = 8
    errors = []

    def client():
        try:
            c = mymux.connect()
            try:
                with c.cursor() as cur:
                    cur.execute("SELECT seq, REPEAT('r', 100) FROM test.seq_1_to_50000")
                    rows = cur.fetchall()
                    assert len(rows) == 50000 and rows[-1][0] == 50000
            finally:
                c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


# -------------------------------------------------------- clients that misbehave


def test_client_disconnects_mid_result(mymux):
    marker = f"mid-{uuid.uuid4().hex[:10]}"
    c = mymux.connect(cursorclass=pymysql.cursors.SSCursor)
    cur = c.cursor()
    cur.execute(f"SELECT seq, REPEAT('m', 1000), '{marker}' FROM test.seq_1_to_2000000")
    for _ in range(10):
        assert cur.fetchone() is not None
    # Vanish without COM_QUIT, in the middle of a result of ~2 GB.
    vanish(c)
    assert_serving(mymux)
    # The backend does not keep streaming the abandoned result forever.
    wait_until(lambda: not running_on_backend(mymux, marker), 30,
               what="the abandoned query to stop on the backend")
    assert_serving(mymux)


def test_client_disconnects_mid_large_row(mymux):
    c = mymux.connect(cursorclass=pymysql.cursors.SSCursor)
    c._execute_command(0x03, b"SELECT REPEAT('w', 40 * 1024 * 1024)")
    # Read a little of the 40 MiB row, then go.
    c._sock.settimeout(10)
    c._sock.recv(1024)
    vanish(c)
    assert_serving(mymux)


def test_client_disconnects_during_query(mymux):
    marker = f"gone-{uuid.uuid4().hex[:10]}"
    c = mymux.connect()
    c._execute_command(0x03, f"SELECT SLEEP(3), '{marker}'".encode())
    vanish(c)
    assert_serving(mymux)
    wait_until(lambda: not running_on_backend(mymux, marker), 20,
               what="the abandoned sleep to finish")
    assert_serving(mymux)


def test_idle_clients_before_handshake(mymux):
    socks = [raw_connect(mymux) for _ in range(20)]
    try:
        for s in socks:
            read_greeting(s)  # the server speaks first; the client never answers
        for _ in range(5):
            assert_serving(mymux)
    finally:
        for s in socks:
            s.close()
    assert_serving(mymux)


def test_idle_client_without_reading_greeting(mymux):
    s = raw_connect(mymux)
    try:
        assert_serving(mymux)
    finally:
        s.close()
    assert_serving(mymux)


def _garbage_packet(payload, seq=1):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


@pytest.mark.parametrize("garbage", [
    _garbage_packet(os.urandom(64)),
    _garbage_packet(b"\x00"),
    _garbage_packet(b"\xff" * 32),
    # A plausible handshake response cut short: capabilities, max packet, charset, no user.
    _garbage_packet(struct.pack("<IIB", 0x000FA685, 1 << 24, 33) + b"\0" * 23),
    # A valid-looking header with the wrong sequence number.
    _garbage_packet(struct.pack("<IIB", 0x000FA685, 1 << 24, 33) + b"\0" * 23 + b"app\0\0",
                    seq=7),
], ids=["random", "one-byte", "ff", "truncated-response", "bad-seq"])
def test_garbage_in_handshake_closes_connection(mymux, garbage):
    s = raw_connect(mymux)
    try:
        read_greeting(s)
        s.sendall(garbage)
        assert closed_by_peer(s, 15), "the proxy kept a connection that sent garbage"
    finally:
        s.close()
    assert_serving(mymux)


def test_garbage_before_greeting_and_close(mymux):
    s = raw_connect(mymux)
    s.sendall(os.urandom(256))
    s.close()
    assert_serving(mymux)


def test_truncated_packet_then_close(mymux):
    # Announce 1 MiB and send 10 bytes, then go.
    s = raw_connect(mymux)
    read_greeting(s)
    s.sendall(struct.pack("<I", 1 << 20)[:3] + b"\x01" + b"0123456789")
    s.close()
    # After login too.
    c = mymux.connect()
    c._sock.sendall(struct.pack("<I", 1 << 20)[:3] + b"\x00" + b"\x03SELECT")
    c._sock.close()
    assert_serving(mymux)


def test_garbage_after_login(mymux):
    c = mymux.connect()
    # A command packet with a wrong sequence number, then random bytes.
    c._sock.sendall(_garbage_packet(b"\x03SELECT 1", seq=9) + os.urandom(100))
    # Either an error packet then close, or a close: never a hang.
    assert closed_by_peer(c._sock, 15), "the proxy kept a connection that sent garbage"
    c._sock.close()
    assert_serving(mymux)


@pytest.mark.proxy_only
def test_handshake_timeout(mymux_factory):
    m = mymux_factory({"limits": {"handshake_timeout": "1s"}})
    s = socket.create_connection((m.host, m.port), timeout=10)
    try:
        read_greeting(s)
        t0 = time.monotonic()
        assert closed_by_peer(s, 15), "a client that never answered the greeting was kept"
        assert time.monotonic() - t0 >= 0.5
    finally:
        s.close()
    # Silent before the greeting is read, too.
    s = socket.create_connection((m.host, m.port), timeout=10)
    try:
        assert closed_by_peer(s, 15)
    finally:
        s.close()
    c = m.connect()
    try:
        assert q1(c, "SELECT 1") == (1,)
    finally:
        c.close()


@pytest.mark.proxy_only
def test_memory_bounded_with_slow_reader(mymux):
    """A client that stops reading a 1 GB result: mymux must not buffer it (backpressure)."""

    def rss_mb():
        with open(f"/proc/{mymux.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0

    base = rss_mb()
    c = mymux.connect(cursorclass=pymysql.cursors.SSCursor)
    try:
        cur = c.cursor()
        cur.execute("SELECT seq, REPEAT('b', 100000) FROM test.seq_1_to_10000")
        assert cur.fetchone() is not None
        # Measure for 3 s while the client reads nothing more: the growth must stay small.
        peak = base
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            peak = max(peak, rss_mb())
            assert peak - base < 150, f"mymux RSS grew by {peak - base:.0f} MB"
            time.sleep(0.05)
    finally:
        vanish(c)
    assert_serving(mymux)


def test_backend_closes_the_session_connection(mymux):
    """The backend connection dies under a session: that session gets an error, others go on."""
    marker = f"bk-{uuid.uuid4().hex[:10]}"
    a = mymux.connect()
    result = {}

    def run():
        try:
            q1(a, f"SELECT SLEEP(30), '{marker}'")
        except Exception as e:  # noqa: BLE001
            result["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        (backend_id,) = wait_until(lambda: running_on_backend(mymux, marker), 15,
                                   what="the sleep to run on the backend")
        r = mymux.backend.root_conn()
        try:
            q1(r, f"KILL CONNECTION {backend_id}")
        finally:
            r.close()
        t.join(20)
        assert not t.is_alive(), "the session hung after its backend connection died"
        assert isinstance(result.get("error"), pymysql.err.MySQLError), result
    finally:
        a.close()
    assert_serving(mymux)


@pytest.mark.proxy_only
def test_oversized_packet_refused(mymux_factory):
    """A client packet above limits.max_packet_size is answered with 1153 (the session goes
    on: test_packet_limit.py)."""
    m = mymux_factory({"limits": {"max_packet_size": "1m"}})
    c = m.connect(max_allowed_packet=64 * 1024 * 1024)
    try:
        with pytest.raises(pymysql.err.OperationalError) as ei:
            q1(c, "SELECT LENGTH('" + "o" * (2 * 1024 * 1024) + "')")
        assert ei.value.args[0] == 1153
    finally:
        c._sock and vanish(c)
    # Below the limit all is well, on a new session.
    c = m.connect()
    try:
        assert q1(c, "SELECT LENGTH('" + "o" * (512 * 1024) + "')") == (512 * 1024,)
    finally:
        c.close()
