"""PROXY protocol v1/v2 from trusted load balancers in front of mymux: the session takes
the original client's address (log, admin API); an untrusted peer's header is a bad
handshake; a trusted peer without a header is closed."""

import json
import socket
import struct
import threading
import time
import urllib.request

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only


def v1(src, sport):
    return f"PROXY TCP4 {src} 127.0.0.1 {sport} 3306\r\n".encode()


def v2(src, sport):
    addrs = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, 3306)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addrs)) + addrs


def v2_ipv6(src, sport):
    addrs = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, "::1")
             + struct.pack("!HH", sport, 3306))
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x21]) + struct.pack("!H", len(addrs)) + addrs


class Forwarder:
    """A load balancer: accepts, connects to mymux, sends `header`, then relays both ways."""

    def __init__(self, target, header):
        self.target = target
        self.header = header
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            u = socket.create_connection(self.target)
            u.sendall(self.header)
            threading.Thread(target=self._pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c), daemon=True).start()

    def close(self):
        self.ls.close()


def sessions(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sessions", timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def trusted(mymux_factory):
    port = testbed.free_port()
    m = mymux_factory({"proxy_protocol": {"trusted": ["127.0.0.0/8"]},
                       "admin_listen": f"127.0.0.1:{port}",
                       "limits": {"handshake_timeout": "2s"}})
    m.admin_port = port
    return m


@pytest.mark.parametrize("make,src,sport", [(v1, "203.0.113.7", 40001), (v2, "198.51.100.9", 40002)])
def test_header_gives_client_address(trusted, make, src, sport):
    fw = Forwarder((trusted.host, trusted.port), make(src, sport))
    try:
        c = pymysql.connect(host="127.0.0.1", port=fw.port, user="app", password="apppass")
        cur = c.cursor()
        cur.execute("SELECT 1 + 1")
        assert cur.fetchone()[0] == 2
        clients = [s["client"] for s in sessions(trusted.admin_port)]
        assert f"{src}:{sport}" in clients, clients
        c.close()
    finally:
        fw.close()
    testbed.wait_until(lambda: f'client={src}:{sport} user="app"' in trusted.log(), 5,
                       what="connect log line with the forwarded address")
    assert "event=proxy_header" in trusted.log()


def test_v2_ipv6_source(trusted):
    fw = Forwarder((trusted.host, trusted.port), v2_ipv6("2001:db8::42", 40003))
    try:
        c = pymysql.connect(host="127.0.0.1", port=fw.port, user="app", password="apppass")
        c.cursor().execute("SELECT 1")
        assert "2001:db8::42:40003" in [s["client"] for s in sessions(trusted.admin_port)]
        c.close()
    finally:
        fw.close()


def test_trusted_peer_without_header_is_closed(trusted):
    s = socket.create_connection((trusted.host, trusted.port))
    s.settimeout(10)
    # no greeting comes: mymux waits for the header
    with pytest.raises(socket.timeout):
        s.settimeout(0.5)
        s.recv(100)
    # a MySQL client's first bytes are not a header: closed
    s.settimeout(10)
    s.sendall(b"\x20\x00\x00\x01" + b"\x00" * 32)
    assert s.recv(100) == b""
    s.close()
    testbed.wait_until(lambda: "event=proxy_header_bad" in trusted.log(), 5, what="log line")


def test_trusted_peer_silent_times_out(trusted):
    s = socket.create_connection((trusted.host, trusted.port))
    s.settimeout(10)
    t0 = time.time()
    assert s.recv(100) == b""  # closed after the handshake timeout, no greeting
    assert time.time() - t0 < 8
    s.close()
    testbed.wait_until(lambda: "event=proxy_header_timeout" in trusted.log(), 5, what="log line")


def test_untrusted_peer_header_is_bad_handshake(mymux_factory):
    m = mymux_factory({"proxy_protocol": {"trusted": ["10.0.0.0/8"]}})
    for hdr in (v1("203.0.113.7", 40001), v2("203.0.113.7", 40001)):
        s = socket.create_connection((m.host, m.port))
        s.settimeout(10)
        greeting = s.recv(4096)
        assert greeting[4] == 10  # the greeting went out at once: no header expected
        s.sendall(hdr + b"\x00" * 64)
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        s.close()
        assert b"\xff\x13\x04" in data, data  # ERR 1043 Bad handshake
    assert "203.0.113.7" not in m.log()


def test_no_trusted_networks_plain_clients(mymux):
    c = mymux.connect()
    c.cursor().execute("SELECT 1")
    c.close()


@pytest.fixture(scope="module")
def proxy_backend():
    """A MariaDB that takes PROXY headers from loopback (TiDB's proxy-protocol.networks)."""
    db = testbed.MariaDB(name="dbproxy", extra_args=["--proxy-protocol-networks=127.0.0.0/8"])
    db.start()
    yield db
    db.stop()


def test_send_proxy_to_backend(mymux_factory, proxy_backend):
    """backends[].send_proxy: the backend sees the original client's address (here handed to
    mymux by a trusted load balancer), and a pooled connection speaks for one client only."""
    m = mymux_factory({"proxy_protocol": {"trusted": ["127.0.0.0/8"]},
                       "backends": [{"name": "dbp",
                                     "address": f"{proxy_backend.host}:{proxy_backend.port}",
                                     "send_proxy": True}],
                       "health": {"type": "none"}})
    seen = {}
    for src, sport in (("203.0.113.7", 40011), ("198.51.100.9", 40012)):
        fw = Forwarder((m.host, m.port), v2(src, sport))
        try:
            c = pymysql.connect(host="127.0.0.1", port=fw.port, user="app", password="apppass",
                                autocommit=True)
            with c.cursor() as cur:
                cur.execute("SELECT USER()")
                seen[src] = cur.fetchone()[0]
            c.close()
        finally:
            fw.close()
    # MariaDB names the client by the address in mymux's PROXY header
    assert seen == {"203.0.113.7": "app@203.0.113.7", "198.51.100.9": "app@198.51.100.9"}, seen
