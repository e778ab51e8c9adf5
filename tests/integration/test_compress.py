"""The compressed protocol (CLIENT_COMPRESS, per hop): the `mariadb` CLI with --compress,
libmariadb with MYSQL_OPT_COMPRESS (compress_client.c), and compression towards a backend."""

import os
import subprocess

import pytest

import testbed

pytestmark = pytest.mark.proxy_only

HERE = os.path.dirname(os.path.abspath(__file__))
BIG = 17 * 1024 * 1024


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout[:500]}\nstderr:\n{r.stderr[-500:]}"
    return r.stdout


def _compress_status(m, args=()):
    """The backend's own view of the connection mymux uses for this session."""
    out = ok(m.cli(["-N", *args, "-e", "SHOW SESSION STATUS LIKE 'Compression'"]))
    return out.split()[-1]


def test_cli_compress_simple(mymux):
    out = ok(mymux.cli(["--compress", "-N", "-e", "select 40 + 2, 'two words'"]))
    assert out == "42\ttwo words\n"


def test_cli_compress_large_result(mymux):
    # larger than one 16 MiB packet and one compressed frame: packets and frames split
    out = ok(mymux.cli(["--compress", "--max-allowed-packet=1G", "-N", "-e",
                        f"SELECT REPEAT('x', {BIG}), LENGTH(REPEAT('y', {BIG}))"]))
    val, n = out.rstrip("\n").split("\t")
    assert len(val) == BIG and set(val) == {"x"}
    assert int(n) == BIG


def test_cli_compress_large_query(mymux):
    # a command over hundreds of frames (the backend's max_allowed_packet is 16 MiB)
    n = 8 * 1024 * 1024
    q = f"SELECT LENGTH('{'z' * n}'), MD5('{'q' * 100000}')"
    out = ok(mymux.cli(["--compress", "--max-allowed-packet=1G", "-N"], input=q + ";\n"))
    assert out.split()[0] == str(n)


def test_cli_compress_multiline_script(mymux):
    script = """
        DROP TABLE IF EXISTS cz_t;
        CREATE TABLE cz_t (
            id INT PRIMARY KEY,
            name VARCHAR(100)
        );
        INSERT INTO cz_t VALUES (1, REPEAT('one', 20)),
                                (2, 'two');
        SELECT id, name
          FROM cz_t
         ORDER BY id;
        SELECT COUNT(*) AS n FROM cz_t;
        DROP TABLE cz_t;
    """
    out = ok(mymux.cli(["--compress", "--batch", "test"], input=script))
    assert out.splitlines() == ["id\tname", "1\t" + "one" * 20, "2\ttwo", "n", "2"]


def test_cli_plain_still_works(mymux):
    out = ok(mymux.cli(["-N", "-e", "select 'plain'"]))
    assert out == "plain\n"


def test_cli_compress_is_per_hop(mymux):
    # the client is compressed, the backend connection is not (backends[].compress off)
    assert _compress_status(mymux, ["--compress"]) == "OFF"


def test_compress_disabled_in_config(mymux_factory):
    m = mymux_factory({"compression": {"enabled": False}})
    # the client asks, mymux does not offer it: the session is plain and works
    out = ok(m.cli(["--compress", "-N", "-e", "select 'still fine'"]))
    assert out == "still fine\n"


@pytest.fixture(scope="module")
def compress_client(tmp_path_factory):
    out = tmp_path_factory.mktemp("czc") / "compress_client"
    cflags = subprocess.run(["mariadb_config", "--cflags"], capture_output=True, text=True).stdout.split()
    libs = subprocess.run(["mariadb_config", "--libs"], capture_output=True, text=True).stdout.split()
    r = subprocess.run(["cc", "-O1", "-o", str(out), os.path.join(HERE, "compress_client.c"), *cflags, *libs],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


def test_libmariadb_compress(mymux, compress_client):
    r = subprocess.run([compress_client, mymux.host, str(mymux.port), "app", "apppass", "test"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "compress_client: ok" in r.stdout


def test_backend_compression(backends, mymux_factory, compress_client):
    b = backends[0]
    m = mymux_factory({"backends": [{"name": "db1", "address": f"{b.host}:{b.port}", "compress": True}]})
    # the backend sees a compressed connection, whether the client is compressed or not
    assert _compress_status(m) == "ON"
    assert _compress_status(m, ["--compress"]) == "ON"
    out = ok(m.cli(["--max-allowed-packet=1G", "-N", "-e",
                    f"SELECT LENGTH(REPEAT('x', {BIG})), 'after'"]))
    assert out == f"{BIG}\tafter\n"
    out = ok(m.cli(["--compress", "--max-allowed-packet=1G", "-N", "-e",
                    f"SELECT REPEAT('x', {BIG})"]))
    assert len(out.rstrip("\n")) == BIG
    r = subprocess.run([compress_client, m.host, str(m.port), "app", "apppass", "test"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # plain PyMySQL clients, several commands on one pooled compressed connection
    c = m.connect(database="test")
    cur = c.cursor()
    for i in range(20):
        cur.execute("SELECT %s, REPEAT('ab', 5000)", (i,))
        row = cur.fetchone()
        assert row[0] == i and len(row[1]) == 10000
    c.close()


def test_backend_compression_state_sync(backends, mymux_factory):
    # a pooled compressed connection brought to another session's state: several
    # commands written at once (schema, charset, variables), answers in one go
    b = backends[0]
    m = mymux_factory({"backends": [{"name": "db1", "address": f"{b.host}:{b.port}", "compress": True}],
                       "pool": {"max_per_backend": 1}})
    for i in range(6):
        c = m.connect(database="test2" if i % 2 else "test", charset="latin1" if i % 3 else "utf8mb4")
        cur = c.cursor()
        cur.execute("SET @v = %s, SESSION sql_mode = 'ANSI_QUOTES'", (i,))
        cur.execute("SELECT @v, DATABASE(), @@character_set_client, @@sql_mode")
        row = cur.fetchone()
        assert int(row[0]) == i and row[1] == ("test2" if i % 2 else "test")
        cur.execute("SHOW SESSION STATUS LIKE 'Compression'")
        assert cur.fetchone()[1] == "ON"
        c.close()


def test_bad_compressed_frame_gets_error_packet(mymux):
    """A frame the decoder refuses is answered with ERR 1157 (compressed, as the client now
    reads) before the session closes, not with a bare close."""
    import struct
    import zlib

    import pymysql
    from pymysql.constants import CLIENT

    c = pymysql.connect(host=mymux.host, port=mymux.port, user="app", password="apppass",
                        client_flag=CLIENT.COMPRESS, autocommit=None, connect_timeout=10)
    sock = c._sock
    c._sock = None  # from here on the test speaks the compressed protocol itself
    try:
        # a frame announcing 100 bytes once inflated, whose 10 bytes are no zlib stream
        sock.sendall(struct.pack("<I", 10)[:3] + b"\x00" + struct.pack("<I", 100)[:3]
                     + b"\x13" * 10)
        sock.settimeout(10)

        def recv_exact(n):
            b = b""
            while len(b) < n:
                chunk = sock.recv(n - len(b))
                assert chunk, "closed without an error packet"
                b += chunk
            return b

        hdr = recv_exact(7)
        clen = int.from_bytes(hdr[:3], "little")
        ulen = int.from_bytes(hdr[4:7], "little")
        body = recv_exact(clen)
        if ulen:
            body = zlib.decompress(body)
        n = int.from_bytes(body[:3], "little")
        pkt = body[4:4 + n]
        assert pkt[0] == 0xFF and struct.unpack("<H", pkt[1:3])[0] == 1157, pkt
        assert sock.recv(1) == b""  # then the session ends
    finally:
        sock.close()
    assert "event=compress_error" in mymux.log()
