"""TLS through mymux, client side and backend side, with real clients.

Certificates are made by the test with the openssl CLI in a temporary directory: a
CA, a server certificate for 127.0.0.1 and localhost, a second server certificate
(for the reload test), a client certificate, and an unrelated CA (for a failed
verification). A MariaDB started with --ssl-cert/--ssl-key/--ssl-ca stands for a
TLS backend.

Client side: the mariadb CLI (--ssl, --ssl-verify-server-cert), PyMySQL with an SSL
context, `openssl s_client -starttls mysql` for version and cipher limits and
session resumption; require (global and per user: 3159 for plain clients);
caching_sha2_password full authentication in clear inside TLS; certificates
reloaded on SIGHUP with a TLS client staying connected; results and statements
larger than 16 MiB in both directions over TLS on both hops.

Backend side: tls.mode preferred/required/verify_ca/verify_identity against the
TLS MariaDB, a wrong CA and a wrong name (clear errors for the client), required
against a backend without TLS.
"""

import hashlib
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


# ------------------------------------------------------------------ certificates


def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{args}: {r.stderr}"
    return r


def _make_ca(d, name, cn):
    _run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
          "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={cn}",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)


def _make_leaf(d, name, cn, ca, serial, san=None, client=False):
    _run([OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
          "-out", f"{name}.csr", "-subj", f"/CN={cn}"], d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write(f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
        if san:
            f.write(f"subjectAltName={san}\n")
    _run([OPENSSL, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
          f"{ca}.key", "-set_serial", str(serial), "-days", "3650", "-sha256",
          "-extfile", ext, "-out", f"{name}.pem"], d)


class Certs:
    def __init__(self, d):
        self.dir = d

    def __getattr__(self, name):
        kind = "key" if name.endswith("_key") else "pem"
        base = name[:-4] if name.endswith("_key") else name
        return os.path.join(self.dir, f"{base}.{kind}")


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="mymux-tls-")
    _make_ca(d, "ca", "mymux test CA")
    _make_ca(d, "otherca", "unrelated CA")
    san = "IP:127.0.0.1,DNS:localhost"
    _make_leaf(d, "server", "mymux server one", "ca", 1001, san)
    _make_leaf(d, "server2", "mymux server two", "ca", 2002, san)
    _make_leaf(d, "client", "mymux client", "ca", 3003, client=True)
    yield Certs(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def tls_backend(certs):
    """A MariaDB that speaks TLS (and accepts 64 MiB packets)."""
    db = testbed.MariaDB(name="dbtls", extra_args=[
        f"--ssl-cert={certs.server}", f"--ssl-key={certs.server_key}", f"--ssl-ca={certs.ca}",
        "--max-allowed-packet=64M"])
    db.start()
    yield db
    db.stop()


def tls_cfg(certs, **extra):
    t = {"cert": certs.server, "key": certs.server_key}
    t.update(extra)
    return {"tls": t}


def ssl_conn(m, user="app", password="apppass", ca=None, **kw):
    """PyMySQL over TLS, verifying mymux's certificate against ca."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    return m.connect(user=user, password=password, ssl=ctx, **kw)


def scalar(c, sql, args=None):
    with c.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def login_error(fn):
    with pytest.raises(pymysql.err.MySQLError) as ei:
        c = fn()
        c.close()
    return ei.value.args[0], ei.value.args[1]


def s_client(m, *args, input_=b""):
    cmd = [OPENSSL, "s_client", "-starttls", "mysql", "-connect", f"{m.host}:{m.port}",
           *args]
    return subprocess.run(cmd, input=input_, capture_output=True, timeout=30)


def negotiated(r):
    """The protocol version of an s_client run, or None when the handshake failed."""
    out = r.stdout.decode(errors="replace")
    mm = re.search(r"^\s*Protocol\s*:\s*(\S+)", out, re.M) or \
        re.search(r"New, (TLSv[\d.]+|SSLv3)", out)
    if not mm or "Cipher is (NONE)" in out or "Cipher    : 0000" in out:
        return None
    return mm.group(1)


# ------------------------------------------------------------------ client side


def test_mariadb_cli_verify_server_cert(mymux_factory, certs):
    m = mymux_factory(tls_cfg(certs))
    r = m.cli(["--ssl", f"--ssl-ca={certs.ca}", "--ssl-verify-server-cert", "-e",
               "status; SELECT 40+2"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"SSL:\s+Cipher in use is \S+", r.stdout), r.stdout
    assert "42" in r.stdout
    # the wrong CA: the client refuses mymux's certificate
    r = m.cli(["--ssl", f"--ssl-ca={certs.otherca}", "--ssl-verify-server-cert", "-e",
               "SELECT 1"])
    assert r.returncode != 0
    assert "certificate" in r.stderr.lower() or "ssl" in r.stderr.lower(), r.stderr


def test_pymysql_ssl_context(mymux_factory, certs):
    m = mymux_factory(tls_cfg(certs))
    c = m.connect(ssl={"ca": certs.ca})
    try:
        assert c._sock.version() in ("TLSv1.2", "TLSv1.3")
        assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
        # pipelined commands and a mid-size result through the TLS layer
        with c.cursor() as cur:
            cur.execute("SELECT REPEAT('x', 100000), 7")
            row = cur.fetchone()
            assert len(row[0]) == 100000 and row[1] == 7
    finally:
        c.close()
    # a plain client still logs in when TLS is offered but not required
    c = m.connect()
    try:
        assert scalar(c, "SELECT 1") == 1
    finally:
        c.close()


def test_no_tls_configured_refuses_sslrequest(mymux_factory, certs):
    m = mymux_factory()
    # mymux does not offer CLIENT_SSL: a client that insists refuses to go on
    r = m.cli(["--ssl", f"--ssl-ca={certs.ca}", "--ssl-verify-server-cert", "-e", "SELECT 1"])
    assert r.returncode != 0, r.stdout
    assert "SSL" in r.stderr or "TLS" in r.stderr, r.stderr
    # and an SSLRequest anyway gets a clear refusal
    import socket
    import struct
    raw = socket.create_connection((m.host, m.port), timeout=10)
    raw.recv(4096)
    raw.sendall(b"\x20\x00\x00\x01" + struct.pack("<IIB23x", 0x0800 | 0x0200 | 0x8000, 1 << 24, 33))
    data = raw.recv(4096)
    raw.close()
    assert b"not configured for TLS" in data, data


def test_require_tls_global(mymux_factory, certs):
    m = mymux_factory(tls_cfg(certs, require=True))
    code, msg = login_error(lambda: m.connect())
    assert code == 3159, msg
    assert "insecure transport" in msg
    c = ssl_conn(m, ca=certs.ca)
    try:
        assert scalar(c, "SELECT 2") == 2
    finally:
        c.close()
    r = m.cli(["--skip-ssl", "-e", "SELECT 1"])
    assert "ERROR 3159" in r.stderr, r.stderr
    r = m.cli(["--ssl", f"--ssl-ca={certs.ca}", "-e", "SELECT 1"])
    assert r.returncode == 0, r.stderr


def test_require_tls_per_user(mymux_factory, certs):
    over = tls_cfg(certs)
    over["users"] = [{"name": "app", "password": "apppass", "require_tls": True},
                     {"name": "other", "password": "otherpass"}]
    m = mymux_factory(over)
    code, msg = login_error(lambda: m.connect())
    assert code == 3159, msg
    # a wrong password gets the usual refusal, not a hint that the user exists
    code, msg = login_error(lambda: m.connect(password="nope"))
    assert code == 1045, msg
    c = ssl_conn(m, ca=certs.ca)
    try:
        assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
    finally:
        c.close()
    c = m.connect(user="other", password="otherpass")
    try:
        assert scalar(c, "SELECT 1") == 1
    finally:
        c.close()


def _sha2_hash(pw):
    import test_auth
    return test_auth.sha2_hash(pw)


def test_caching_sha2_full_auth_over_tls(mymux_factory, certs):
    """A '$A$005$' user: without TLS the full auth needs the RSA exchange; over TLS the
    client sends its password in clear inside TLS and mymux accepts it."""
    over = tls_cfg(certs)
    over["users"] = [{"name": "shauser", "password": _sha2_hash("s3cret-sha2"),
                      "backend_user": "app", "backend_password": "apppass"}]
    m = mymux_factory(over)
    # PyMySQL follows the switch to caching_sha2_password and sends the password in
    # clear over TLS (its full auth; see test_auth for PyMySQL's fast-auth quirk)
    c = ssl_conn(m, user="shauser", password="s3cret-sha2", ca=certs.ca)
    try:
        assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
    finally:
        c.close()
    code, msg = login_error(lambda: ssl_conn(m, user="shauser", password="wrong", ca=certs.ca))
    assert code == 1045, msg
    # the mariadb CLI (libmariadb) over TLS
    r = m.cli(["--ssl", f"--ssl-ca={certs.ca}", "--default-auth=caching_sha2_password", "-e",
               "SELECT CURRENT_USER()"], user="shauser", password="s3cret-sha2")
    assert r.returncode == 0, r.stderr
    assert "app@%" in r.stdout
    assert "auth_failed" in m.log()


def test_versions_default_refuse_tls10_11(mymux_factory, certs):
    m = mymux_factory(tls_cfg(certs))
    assert negotiated(s_client(m, "-tls1_3")) == "TLSv1.3"
    assert negotiated(s_client(m, "-tls1_2")) == "TLSv1.2"
    low = ["-cipher", "DEFAULT:@SECLEVEL=0"]
    assert negotiated(s_client(m, "-tls1_1", *low)) is None
    assert negotiated(s_client(m, "-tls1", *low)) is None


@pytest.mark.parametrize("minv,flag", [("TLSv1.1", "-tls1_1"), ("TLSv1", "-tls1")])
def test_versions_legacy_enabled(mymux_factory, certs, minv, flag):
    """tls.min_version TLSv1/TLSv1.1: security level 0 and the CBC-SHA1 suites."""
    m = mymux_factory(tls_cfg(certs, min_version=minv))
    r = s_client(m, flag, "-cipher", "DEFAULT:@SECLEVEL=0")
    want = "TLSv1.1" if minv == "TLSv1.1" else "TLSv1"
    assert negotiated(r) == want, r.stdout.decode()[-2000:] + r.stderr.decode()[-2000:]
    assert negotiated(s_client(m, "-tls1_3")) == "TLSv1.3"


def test_versions_max_and_ciphers(mymux_factory, certs):
    m = mymux_factory(tls_cfg(certs, max_version="TLSv1.2",
                              ciphers="ECDHE-RSA-AES256-GCM-SHA384"))
    assert negotiated(s_client(m, "-tls1_3")) is None
    r = s_client(m, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert negotiated(r) is None
    r = s_client(m, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
    assert negotiated(r) == "TLSv1.2"
    assert b"ECDHE-RSA-AES256-GCM-SHA384" in r.stdout
    m2 = mymux_factory(tls_cfg(certs, ciphersuites="TLS_CHACHA20_POLY1305_SHA256"))
    r = s_client(m2, "-tls1_3")
    assert negotiated(r) == "TLSv1.3" and b"TLS_CHACHA20_POLY1305_SHA256" in r.stdout
    r = s_client(m2, "-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256")
    assert negotiated(r) is None


@pytest.mark.parametrize("ver", ["-tls1_2", "-tls1_3"])
def test_session_resumption(mymux_factory, certs, ver, tmp_path):
    m = mymux_factory(tls_cfg(certs))
    sess = str(tmp_path / "sess.pem")
    # -ign_eof with a short sleep: TLS 1.3 tickets arrive after the handshake
    first = subprocess.run(
        f"(sleep 0.5) | {OPENSSL} s_client -starttls mysql -connect {m.host}:{m.port} "
        f"{ver} -ign_eof -sess_out {sess}", shell=True, capture_output=True, timeout=30)
    assert b"New, TLS" in first.stdout or b"New," in first.stdout, first.stdout.decode()[-2000:]
    assert os.path.getsize(sess) > 0
    r = subprocess.run(
        f"(sleep 0.3) | {OPENSSL} s_client -starttls mysql -connect {m.host}:{m.port} "
        f"{ver} -ign_eof -sess_in {sess}", shell=True, capture_output=True, timeout=30)
    assert b"Reused, TLS" in r.stdout, r.stdout.decode()[-3000:]


def _peer_serial(c):
    return int(c._sock.getpeercert()["serialNumber"], 16)


def test_reload_certificate_on_sighup(mymux_factory, certs, tmp_path):
    """SIGHUP: new connections get the new certificate; a connected TLS client stays."""
    cert = str(tmp_path / "cert.pem")
    key = str(tmp_path / "cert.key")
    shutil.copy(certs.server, cert)
    shutil.copy(certs.server_key, key)
    m = mymux_factory({"tls": {"cert": cert, "key": key}})
    old = ssl_conn(m, ca=certs.ca)
    assert _peer_serial(old) == 1001
    assert scalar(old, "SELECT 1") == 1
    shutil.copy(certs.server2, cert)
    shutil.copy(certs.server2_key, key)
    m.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    serial = None
    while time.time() < deadline:
        c = ssl_conn(m, ca=certs.ca)
        serial = _peer_serial(c)
        c.close()
        if serial == 2002:
            break
        time.sleep(0.1)
    assert serial == 2002
    # the client connected before the reload still works over its TLS session
    assert scalar(old, "SELECT REPEAT('y', 70000)") == "y" * 70000
    assert _peer_serial(old) == 1001
    old.close()
    # a broken certificate on reload keeps the previous ones
    with open(cert, "w") as f:
        f.write("not a certificate\n")
    m.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    c = ssl_conn(m, ca=certs.ca)
    try:
        assert _peer_serial(c) == 2002
    finally:
        c.close()


def test_pipelined_client_hello(mymux_factory, certs):
    """A client that sends its ClientHello right behind the SSLRequest, in one write:
    the bytes mymux read with the SSLRequest go to the TLS engine."""
    import socket
    import struct
    m = mymux_factory(tls_cfg(certs))
    raw = socket.create_connection((m.host, m.port), timeout=10)
    hdr = raw.recv(4)
    n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    greeting = b""
    while len(greeting) < n:
        greeting += raw.recv(n - len(greeting))
    caps_lo = struct.unpack("<H", greeting[greeting.index(b"\0", 1) + 1 + 4 + 8 + 1:][:2])[0]
    assert caps_lo & 0x0800, "CLIENT_SSL offered"
    caps = 0x0800 | 0x0200 | 0x8000 | 0x80000 | 0x200 | 0x1
    sslreq = struct.pack("<IIB23x", caps, 1 << 24, 33)
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.check_hostname = False
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    raw.sendall(struct.pack("<I", len(sslreq))[:3] + b"\x01" + sslreq + hello)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            if out.pending:
                raw.sendall(out.read())
            data = raw.recv(65536)
            assert data, "mymux closed the connection during the handshake"
            inc.write(data)
    if out.pending:
        raw.sendall(out.read())
    assert obj.version() in ("TLSv1.2", "TLSv1.3")
    raw.close()


# ------------------------------------------------------------------ large packets


def test_large_results_and_statements_over_tls(mymux_factory, certs, tls_backend):
    """> 16 MiB both ways with TLS on both hops: a 20 MiB result and a 20 MiB
    statement, compared by digest."""
    over = tls_cfg(certs)
    over["backends"] = [{"name": "dbtls", "address": f"{tls_backend.host}:{tls_backend.port}",
                         "tls": {"mode": "verify_identity", "ca": certs.ca,
                                 "server_name": "localhost"}}]
    m = mymux_factory(over)
    c = ssl_conn(m, ca=certs.ca, read_timeout=300, write_timeout=300)
    try:
        assert scalar(c, "SHOW SESSION STATUS LIKE 'Ssl_version'") is not None
        n = 20 * 1024 * 1024 + 123
        big = scalar(c, "SELECT REPEAT('abcdefgh', %s)", (n // 8,))
        assert len(big) == n // 8 * 8 and big[:16] == "abcdefgh" * 2
        blob = os.urandom(n)
        with c.cursor() as cur:
            # named: the server would name the columns after the random bytes, and PyMySQL
            # fails to decode such a name when it is cut inside a UTF-8 sequence
            cur.execute("SELECT LENGTH(%s) AS n, MD5(%s) AS h", (blob, blob))
            length, md5 = cur.fetchone()
        assert length == n and md5 == hashlib.md5(blob).hexdigest()
        assert scalar(c, "SELECT 3") == 3
    finally:
        c.close()
    # the mariadb CLI, TLS to mymux, a 17 MiB result
    r = m.cli(["--ssl", f"--ssl-ca={certs.ca}", "--max-allowed-packet=64M", "-N", "-e",
               "SELECT MD5(REPEAT('q', 17825793)), LENGTH(REPEAT('q', 17825793))"])
    assert r.returncode == 0, r.stderr
    assert hashlib.md5(b"q" * 17825793).hexdigest() in r.stdout and "17825793" in r.stdout


# ------------------------------------------------------------------ backend side


def _backend_cfg(db, **tls):
    return {"backends": [{"name": "dbtls", "address": f"{db.host}:{db.port}", "tls": tls}]}


def _backend_ssl(m):
    c = m.connect()
    try:
        with c.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
            row = cur.fetchone()
            return row[1] if row else ""
    finally:
        c.close()


@pytest.mark.parametrize("mode", ["preferred", "required", "verify_ca", "verify_identity"])
def test_backend_tls_modes(mymux_factory, certs, tls_backend, mode):
    tls = {"mode": mode}
    if mode.startswith("verify"):
        tls["ca"] = certs.ca
    if mode == "verify_identity":
        tls["server_name"] = "localhost"
    m = mymux_factory(_backend_cfg(tls_backend, **tls))
    assert _backend_ssl(m).startswith("TLSv1")
    # many short sessions: connections resume or renegotiate; all keep working
    for _ in range(5):
        c = m.connect()
        try:
            assert scalar(c, "SELECT 5") == 5
        finally:
            c.close()


def test_backend_tls_off_is_plain(mymux_factory, tls_backend):
    m = mymux_factory(_backend_cfg(tls_backend, mode="off"))
    assert _backend_ssl(m) == ""


def test_backend_verify_identity_by_ip(mymux_factory, certs, tls_backend):
    m = mymux_factory(_backend_cfg(tls_backend, mode="verify_identity", ca=certs.ca,
                                   server_name="127.0.0.1"))
    assert _backend_ssl(m).startswith("TLSv1")


def test_backend_client_certificate(mymux_factory, certs, tls_backend):
    m = mymux_factory(_backend_cfg(tls_backend, mode="verify_ca", ca=certs.ca,
                                   cert=certs.client, key=certs.client_key))
    c = m.connect()
    try:
        assert scalar(c, "SHOW SESSION STATUS LIKE 'Ssl_version'") is not None
    finally:
        c.close()


def _backend_error(m):
    with pytest.raises(pymysql.err.MySQLError) as ei:
        c = m.connect()
        try:
            scalar(c, "SELECT 1")
        finally:
            c.close()
    return ei.value.args[0], ei.value.args[1]


def test_backend_wrong_ca(mymux_factory, certs, tls_backend):
    m = mymux_factory(_backend_cfg(tls_backend, mode="verify_ca", ca=certs.otherca))
    code, msg = _backend_error(m)
    # 2026 (CR_SSL_CONNECTION_ERROR) is a client-side code: clients see 1105
    assert code == 1105, msg
    assert "certificate verify failed" in msg and "dbtls" in msg, msg


def test_backend_wrong_name(mymux_factory, certs, tls_backend):
    m = mymux_factory(_backend_cfg(tls_backend, mode="verify_identity", ca=certs.ca,
                                   server_name="db.example.com"))
    code, msg = _backend_error(m)
    assert code == 1105, msg
    assert "certificate verify failed" in msg and "mismatch" in msg, msg
    # verify_ca alone accepts the same server
    m2 = mymux_factory(_backend_cfg(tls_backend, mode="verify_ca", ca=certs.ca,
                                    server_name="db.example.com"))
    assert _backend_ssl(m2).startswith("TLSv1")


def test_backend_required_without_tls(mymux_factory, backends):
    db = backends[0]
    m = mymux_factory(_backend_cfg(db, mode="preferred"))
    assert _backend_ssl(m) == ""  # the plain backend: preferred falls back
    m2 = mymux_factory(_backend_cfg(db, mode="required"))
    code, msg = _backend_error(m2)
    assert code == 1105 and "does not offer TLS" in msg, msg
