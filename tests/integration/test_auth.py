"""Authentication through mymux, front side and backend side, with real clients.

Front side (mymux terminates the client's login against `users:` in its config):
- a user configured with a mysql_native_password hash ("*" + 40 hex);
- a user configured with a caching_sha2_password hash ("$A$005$..."): full auth over
  the RSA public-key exchange first, fast auth afterwards (mymux's process-wide
  cache of SHA256(SHA256(pw))), and a backend login with backend_password;
- a plaintext user that a client logs in to with caching_sha2_password (fast auth
  against the plaintext);
- unknown user and wrong password: the same error.

Backend side: MariaDB (the test bed) has no caching_sha2_password server plugin,
so a scripted fake MySQL 8 server (fakeserver.py) stands in for one: fast auth,
full auth over RSA, an auth switch to mysql_native_password, and broken servers
(ERR 1045, garbage instead of a greeting, silence, immediate close).

How the login went is read from the client side: RecordingConnection keeps every
packet PyMySQL read during the handshake, so a test can tell "0x01 0x03" (fast
auth) from "0x01 0x04" + public key (full auth).
"""

import hashlib
import re
import threading
import time

import pymysql
import pytest
from pymysql.connections import MysqlPacket

import fakeserver
import testbed

pytestmark = pytest.mark.proxy_only

SHA2 = "caching_sha2_password"
NATIVE = "mysql_native_password"
ACCESS_DENIED = re.compile(r"^Access denied for user '([^']*)'@'([^']*)' \(using password: (YES|NO)\)$")


# ------------------------------------------------------------------ hashes


def native_hash(pw: str) -> str:
    """MariaDB's PASSWORD() / mysql_native_password authentication_string."""
    return "*" + hashlib.sha1(hashlib.sha1(pw.encode()).digest()).hexdigest().upper()


_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sha256_crypt_digest(pw: bytes, salt: bytes, rounds: int) -> str:
    """The 43-character digest of SHA-256-crypt (Drepper's specification), any salt length."""
    h = hashlib.sha256
    b = h(pw + salt + pw).digest()
    a = pw + salt
    n = len(pw)
    while n > 32:
        a += b
        n -= 32
    a += b[:n]
    n = len(pw)
    while n:
        a += b if n & 1 else pw
        n >>= 1
    c = h(a).digest()
    dp = h(pw * len(pw)).digest()
    p = (dp * (len(pw) // 32 + 1))[:len(pw)]
    ds = h(salt * (16 + c[0])).digest()
    s = (ds * (len(salt) // 32 + 1))[:len(salt)]
    for i in range(rounds):
        x = p if i & 1 else c
        if i % 3:
            x += s
        if i % 7:
            x += p
        x += c if i & 1 else p
        c = h(x).digest()
    out = []

    def b64(b2, b1, b0, k):
        w = (b2 << 16) | (b1 << 8) | b0
        for _ in range(k):
            out.append(_ITOA64[w & 0x3F])
            w >>= 6

    for i0, i1, i2 in ((0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
                       (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29)):
        b64(c[i0], c[i1], c[i2], 4)
    b64(0, c[31], c[30], 3)
    return "".join(out)


def sha2_hash(pw: str, salt: bytes = b"abcdefghijklmnopqrst") -> str:
    """MySQL's caching_sha2_password authentication_string: $A$005$ + 20-byte salt + digest."""
    assert len(salt) == 20
    return "$A$005$" + salt.decode() + sha256_crypt_digest(pw.encode(), salt, 5000)


def test_sha256_crypt_reference_vector():
    # Drepper's specification: crypt("Hello world!", "$5$rounds=10000$saltstringsaltstring")
    assert sha256_crypt_digest(b"Hello world!", b"saltstringsaltst", 10000) == \
        "3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"
    assert native_hash("apppass") == "*" + hashlib.sha1(hashlib.sha1(b"apppass").digest()) \
        .hexdigest().upper()
    assert len(sha2_hash("x")) == 70


# ---------------------------------------------------------------- clients


class RecordingConnection(pymysql.connections.Connection):
    """PyMySQL that keeps the packets it read during the login.

    first_plugin: answer the greeting with this plugin (as a MySQL 8 connector does
    with caching_sha2_password) instead of the one the greeting names.
    """

    def __init__(self, *args, first_plugin=None, **kw):
        self._first_plugin = first_plugin
        self.login_packets = []
        self._recording = False
        super().__init__(*args, **kw)

    def connect(self, sock=None):
        self._recording = True
        self.login_packets = []
        try:
            super().connect(sock)
        finally:
            self._recording = False

    def _get_server_information(self):
        super()._get_server_information()
        if self._first_plugin:
            self._auth_plugin_name = self._first_plugin

    def _read_packet(self, packet_type=MysqlPacket):
        pkt = super()._read_packet(packet_type)
        if self._recording:
            self.login_packets.append(bytes(pkt._data))
        return pkt

    def auth_path(self):
        """How the login went, from the packets after the greeting."""
        pk = self.login_packets[1:]
        switched = [p[1:].split(b"\0", 1)[0].decode() for p in pk if p[:1] == b"\xfe" and len(p) > 9]
        if b"\x01\x03" in pk:
            kind = "fast"
        elif b"\x01\x04" in pk:
            kind = "full" if any(p.startswith(b"\x01-----BEGIN PUBLIC KEY") for p in pk) \
                else "full-without-key"
        else:
            kind = "direct"  # OK right after the token (mysql_native_password)
        return {"kind": kind, "switch": switched}


def rconnect(m, user, password, first_plugin=None, **kw):
    kw.setdefault("connect_timeout", 10)
    kw.setdefault("read_timeout", 60)
    kw.setdefault("write_timeout", 60)
    return RecordingConnection(host=m.host, port=m.port, user=user, password=password,
                               first_plugin=first_plugin, **kw)


def scalar(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def login_error(fn):
    """Runs fn (which must fail to log in); returns (code, message)."""
    with pytest.raises(pymysql.err.OperationalError) as ei:
        c = fn()
        c.close()
    return ei.value.args[0], ei.value.args[1]


def cli(m, user, password, args=(), timeout=60):
    return testbed.run_cli(m.host, m.port, ["--connect-timeout=10", *args, "-N", "-B", "-e",
                                            "SELECT CURRENT_USER()"],
                           user=user, password=password, timeout=timeout)


def users_cfg(*extra):
    """The default users plus extra entries (the users list replaces the default one)."""
    base = [{"name": u, "password": p} for u, p in testbed.USERS]
    return {"users": base + list(extra)}


# ------------------------------------------------- front side: native hash


def test_native_hash_user(mymux_factory):
    """'*HEX' user: mymux verifies the native token and logs in to MariaDB with the SHA1(pw)
    it recovers from it (there is no plaintext anywhere)."""
    m = mymux_factory({"users": [{"name": "app", "password": native_hash("apppass")}]})
    for _ in range(2):  # the second one may reuse a pooled backend connection
        c = rconnect(m, "app", "apppass")
        try:
            assert c.auth_path() == {"kind": "direct", "switch": []}
            assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
            assert scalar(c, "SELECT 1 + 1") == 2
        finally:
            c.close()
    code, msg = login_error(lambda: rconnect(m, "app", "wrong"))
    assert code == 1045, msg
    assert ACCESS_DENIED.match(msg).group(1) == "app", msg
    assert m.alive()


def test_native_hash_user_with_sha2_client(mymux_factory):
    """A client that starts with caching_sha2_password is switched to mysql_native_password,
    the only plugin a '*HEX' secret can verify."""
    m = mymux_factory({"users": [{"name": "app", "password": native_hash("apppass")}]})
    c = rconnect(m, "app", "apppass", first_plugin=SHA2)
    try:
        assert c.auth_path()["switch"] == [NATIVE]
        assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
    finally:
        c.close()
    code, msg = login_error(lambda: rconnect(m, "app", "wrong", first_plugin=SHA2))
    assert code == 1045, msg


def test_native_hash_user_cli(mymux_factory):
    m = mymux_factory({"users": [{"name": "app", "password": native_hash("apppass")}]})
    r = cli(m, "app", "apppass")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "app@%"
    r = cli(m, "app", "nope")
    assert r.returncode != 0 and "ERROR 1045" in r.stderr, r.stderr


# --------------------------------------------------- front side: sha2 hash

SHA2_USER = {"name": "shauser", "password": sha2_hash("s3cret-sha2"),
             "backend_user": "app", "backend_password": "apppass"}


def test_sha2_hash_user_full_then_fast(mymux_factory):
    """'$A$005$' user: the first login needs full auth (mymux cannot verify a fast-auth
    token against a crypt string) over the RSA key exchange; afterwards mymux's cache
    of SHA256(SHA256(pw)) allows fast auth. The backend login uses backend_password
    (MariaDB has no caching_sha2_password server plugin)."""
    m = mymux_factory(users_cfg(SHA2_USER))
    c = rconnect(m, "shauser", "s3cret-sha2", first_plugin=SHA2)
    try:
        assert c.auth_path() == {"kind": "full", "switch": []}
        assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
    finally:
        c.close()
    for _ in range(2):
        c = rconnect(m, "shauser", "s3cret-sha2", first_plugin=SHA2)
        try:
            assert c.auth_path() == {"kind": "fast", "switch": []}
            assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
        finally:
            c.close()
    # A wrong password: the fast token does not match the cache, so mymux asks for
    # full auth, and then refuses.
    code, msg = login_error(lambda: rconnect(m, "shauser", "wrong", first_plugin=SHA2))
    assert code == 1045, msg
    assert ACCESS_DENIED.match(msg).groups() == ("shauser", "127.0.0.1", "YES"), msg
    # ... and the right one still works by fast auth (the cache was not spoiled).
    c = rconnect(m, "shauser", "s3cret-sha2", first_plugin=SHA2)
    try:
        assert c.auth_path()["kind"] == "fast"
    finally:
        c.close()
    assert "auth_failed" in m.log()


def test_sha2_hash_user_wrong_password_first(mymux_factory):
    """A wrong password before any successful login (cold cache): full auth, then 1045,
    and nothing cached from the failure."""
    m = mymux_factory(users_cfg(SHA2_USER))
    code, msg = login_error(lambda: rconnect(m, "shauser", "wrong", first_plugin=SHA2))
    assert code == 1045, msg
    c = rconnect(m, "shauser", "s3cret-sha2", first_plugin=SHA2)
    try:
        assert c.auth_path()["kind"] == "full"
    finally:
        c.close()


def test_sha2_hash_user_pymysql_default(mymux_factory):
    """Plain PyMySQL (answers the greeting with mysql_native_password) follows mymux's
    auth switch to caching_sha2_password by itself. PyMySQL 1.0.2 computes its
    fast-auth token after a switch over the 21 bytes of switch data (nonce + NUL), so
    mymux falls back to full auth each time; the login must work either way."""
    m = mymux_factory(users_cfg(SHA2_USER))
    for _ in range(2):
        c = rconnect(m, "shauser", "s3cret-sha2")
        try:
            assert c.auth_path()["switch"] == [SHA2]
            assert c.auth_path()["kind"] in ("fast", "full")
            assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
        finally:
            c.close()
    code, msg = login_error(lambda: rconnect(m, "shauser", "wrong"))
    assert code == 1045, msg


def test_sha2_hash_user_cli(mymux_factory):
    """The mariadb CLI follows mymux's auth switch to caching_sha2_password. On a cold
    cache mymux asks for full auth; Connector/C here (built with GnuTLS, and the CLI has
    no --get-server-public-key) answers with the password in clear, which mymux refuses
    without TLS, with a message that says so. Once a full auth over RSA (PyMySQL) has
    filled mymux's cache, the CLI logs in by fast auth."""
    m = mymux_factory(users_cfg(SHA2_USER))
    r = cli(m, "shauser", "s3cret-sha2")
    assert r.returncode != 0
    assert "ERROR 1045" in r.stderr and "caching_sha2_password full authentication" in r.stderr, \
        r.stderr
    rconnect(m, "shauser", "s3cret-sha2", first_plugin=SHA2).close()  # full auth over RSA
    r = cli(m, "shauser", "s3cret-sha2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "app@%"
    r = cli(m, "shauser", "wrong")
    assert r.returncode != 0 and "ERROR 1045" in r.stderr, r.stderr
    assert m.alive()


@pytest.mark.parametrize("who", ["plaintext-user", "sha2-hash-user-cached"])
def test_cli_default_auth_caching_sha2(mymux_factory, who):
    m = mymux_factory(users_cfg(SHA2_USER))
    user, pw = ("app", "apppass") if who == "plaintext-user" else ("shauser", "s3cret-sha2")
    if who != "plaintext-user":
        rconnect(m, user, pw, first_plugin=SHA2).close()  # fill the cache
    r = cli(m, user, pw, ["--default-auth=caching_sha2_password"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "app@%"


def test_sha2_hash_user_without_backend_password(mymux_factory):
    """No backend_password: after a full auth mymux knows the plaintext and can log in
    to MariaDB (mysql_native_password) with it."""
    m = mymux_factory({"users": [{"name": "app", "password": sha2_hash("apppass")}]})
    c = rconnect(m, "app", "apppass", first_plugin=SHA2)
    try:
        assert c.auth_path()["kind"] == "full"
        assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
    finally:
        c.close()


# -------------------------------------------- front side: plaintext + sha2


def test_plaintext_user_sha2_client_fast_auth(mymux):
    """A plaintext password can verify a caching_sha2 fast-auth token directly: no full
    auth, no RSA, no auth switch."""
    c = rconnect(mymux, "app", "apppass", first_plugin=SHA2)
    try:
        assert c.auth_path() == {"kind": "fast", "switch": []}
        assert scalar(c, "SELECT CURRENT_USER()") == "app@%"
    finally:
        c.close()
    code, msg = login_error(lambda: rconnect(mymux, "app", "wrong", first_plugin=SHA2))
    assert code == 1045, msg
    assert ACCESS_DENIED.match(msg).group(1) == "app", msg


def test_plaintext_user_native_client(mymux):
    c = rconnect(mymux, "app", "apppass")
    try:
        assert c.auth_path() == {"kind": "direct", "switch": []}
    finally:
        c.close()


# ------------------------------------------ unknown user vs wrong password


@pytest.mark.parametrize("first_plugin", [None, SHA2], ids=["native-client", "sha2-client"])
def test_unknown_user_same_error_as_wrong_password(mymux_factory, first_plugin):
    m = mymux_factory(users_cfg(
        {"name": "nativeuser", "password": native_hash("pw1"), "backend_user": "app",
         "backend_password": "apppass"},
        dict(SHA2_USER)))
    errors = {}
    for user in ("app", "nativeuser", "shauser", "nosuchuser"):
        code, msg = login_error(lambda: rconnect(m, user, "definitely-wrong",
                                                 first_plugin=first_plugin))
        errors[user] = (code, msg)
        mt = ACCESS_DENIED.match(msg)
        assert code == 1045 and mt, (user, code, msg)
        assert mt.groups() == (user, "127.0.0.1", "YES"), msg
    # The messages differ only in the user name.
    shapes = {msg.replace(f"'{u}'@", "'?'@") for u, (_, msg) in errors.items()}
    assert len(shapes) == 1, errors
    # No password at all: "using password: NO", for known and unknown users alike.
    for user in ("app", "nosuchuser"):
        code, msg = login_error(lambda: rconnect(m, user, "", first_plugin=first_plugin))
        assert code == 1045 and ACCESS_DENIED.match(msg).groups() == (user, "127.0.0.1", "NO"), msg


@pytest.mark.parametrize("first_plugin", [None, SHA2], ids=["native-client", "sha2-client"])
def test_unknown_user_same_handshake_as_sha2_user(mymux_factory, first_plugin):
    """With the same client, a wrong password for an existing user and an unknown user must
    go through the same packet exchange before the 1045."""
    m = mymux_factory(users_cfg(dict(SHA2_USER)))
    flows = {}
    for user in ("shauser", "nosuchuser"):
        c = RecordingConnection(host=m.host, port=m.port, user=user, password="definitely-wrong",
                                first_plugin=first_plugin, connect_timeout=10, read_timeout=30,
                                defer_connect=True)
        with pytest.raises(pymysql.err.OperationalError) as ei:
            c.connect()
        assert ei.value.args[0] == 1045
        flows[user] = [p[:2] for p in c.login_packets[1:]]
    assert flows["shauser"] == flows["nosuchuser"], flows


# ------------------------------------------------ backend side: fake MySQL 8


@pytest.fixture
def fake_factory():
    """fake_factory(mode=..., users=...) -> a started FakeMySQL8; all stopped at the end."""
    fakes = []

    def make(mode="fast", users=None):
        f = fakeserver.FakeMySQL8(users=users or {"app": "apppass"}, mode=mode).start()
        fakes.append(f)
        return f

    yield make
    for f in fakes:
        f.stop()
    for f in fakes:
        assert not f.errors, f.errors


def mymux_on_fake(mymux_factory, fake, **over):
    cfg = {"users": [{"name": "app", "password": "apppass"}],
           "backends": [{"name": "fake8", "address": fake.address}]}
    return mymux_factory(testbed.deep_merge(cfg, over))


@pytest.mark.parametrize("mode", ["fast", "full", "switch_native"])
def test_backend_mysql8_login(mymux_factory, fake_factory, mode):
    """mymux logs in to a MySQL 8 style server: caching_sha2 fast auth (0x01 0x03),
    full auth (0x01 0x04, public key request, RSA-OAEP) and an auth switch to
    mysql_native_password; then relays queries."""
    fake = fake_factory(mode)
    m = mymux_on_fake(mymux_factory, fake)
    c = testbed.connect_tcp(m.host, m.port, "app", "apppass", read_timeout=30)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchall() == ((1,),)
            cur.execute("SELECT 42")
            assert cur.fetchall() == ((42,),)
        c.ping(reconnect=False)
    finally:
        c.close()
    ok = fake.successful_logins(mode)
    assert ok, fake.all_logins()
    assert all(lg["user"] == "app" for lg in ok)
    # mymux answered the greeting with the greeting's plugin
    assert all(lg["plugin"] == fakeserver.SHA2 for lg in ok)
    assert not [lg for lg in fake.all_logins() if not lg["ok"]], fake.all_logins()
    queries = [a for cmd, a in fake.all_commands() if cmd == fakeserver.COM_QUERY]
    assert b"SELECT 1" in queries and b"SELECT 42" in queries
    assert m.alive()


def test_backend_mysql8_cli_and_reset(mymux_factory, fake_factory):
    """The mariadb CLI through mymux to the fake, twice: the backend connection goes back
    to the pool with COM_RESET_CONNECTION between the clients (answered OK)."""
    fake = fake_factory("full")
    m = mymux_on_fake(mymux_factory, fake)
    for n in (7, 8):
        r = testbed.run_cli(m.host, m.port, ["--connect-timeout=10", "-N", "-B", "-e",
                                             f"SELECT {n}"], timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == str(n)
    assert fake.successful_logins("full")
    assert m.alive()


def test_backend_sha2_hash_user_to_mysql8(mymux_factory, fake_factory):
    """A '$A$005$' user without backend_password. After the client's full auth mymux
    knows the plaintext and passes the backend's full auth with it; after a client's
    fast auth it knows SHA256(pw), enough for the backend's fast auth."""
    fake = fake_factory("full")
    m = mymux_on_fake(mymux_factory, fake, users=[{"name": "app", "password": sha2_hash("apppass")}],
                      pool={"multiplex": False})
    c = rconnect(m, "app", "apppass", first_plugin=SHA2)
    try:
        assert c.auth_path()["kind"] == "full"
        assert scalar(c, "SELECT 5") == 5
        fake.mode = "fast"
        # a second client while the first holds its backend connection: a new login
        c2 = rconnect(m, "app", "apppass", first_plugin=SHA2)
        try:
            assert c2.auth_path()["kind"] == "fast"
            assert scalar(c2, "SELECT 6") == 6
        finally:
            c2.close()
    finally:
        c.close()
    assert fake.successful_logins("full")
    assert fake.successful_logins("fast"), fake.all_logins()


def test_backend_native_hash_user_to_mysql8(mymux_factory, fake_factory):
    """A '*HEX' user: mymux knows only SHA1(pw) (recovered from the client's token), cannot
    make a caching_sha2 token, and must follow the server's switch to
    mysql_native_password."""
    fake = fake_factory("switch_native")
    m = mymux_on_fake(mymux_factory, fake, users=[{"name": "app", "password": native_hash("apppass")}])
    c = rconnect(m, "app", "apppass")
    try:
        assert scalar(c, "SELECT 9") == 9
    finally:
        c.close()
    assert fake.successful_logins("switch_native"), fake.all_logins()


def _expect_backend_error(m, limit):
    """A client login through mymux must fail with an error (not hang) within limit seconds.
    Returns (code, message, elapsed)."""
    t0 = time.monotonic()
    with pytest.raises(pymysql.err.MySQLError) as ei:
        c = testbed.connect_tcp(m.host, m.port, "app", "apppass", connect_timeout=limit,
                                read_timeout=limit, write_timeout=limit)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            c.close()
    elapsed = time.monotonic() - t0
    code, msg = ei.value.args[0], ei.value.args[1] if len(ei.value.args) > 1 else ""
    # PyMySQL's own timeout would be 2013 "Lost connection ... (timed out)": that is a hang.
    assert "timed out" not in str(msg), (code, msg, elapsed)
    assert elapsed < limit, (code, msg, elapsed)
    return code, msg, elapsed


def test_backend_denies(mymux_factory, fake_factory):
    """The backend refuses mymux's login with ERR 1045: the client gets a clear error."""
    fake = fake_factory("deny")
    m = mymux_on_fake(mymux_factory, fake, pool={"wait_timeout": "3s", "connect_timeout": "2s"})
    code, msg, _ = _expect_backend_error(m, 10)
    assert code == 1045, (code, msg)
    assert "Access denied" in msg, msg
    assert fake.all_logins() and fake.all_logins()[0]["kind"] == "deny"
    assert m.alive()


@pytest.mark.parametrize("mode", ["garbage", "garbage_pkt", "close"])
def test_backend_broken_greeting(mymux_factory, fake_factory, mode):
    """A 'server' that sends garbage (an HTTP reply; a well-framed non-greeting packet)
    or closes at once: the client gets a clear error, mymux stays up."""
    fake = fake_factory("fast")  # a real greeting for mymux's start-up probe
    m = mymux_on_fake(mymux_factory, fake, pool={"wait_timeout": "3s", "connect_timeout": "2s"})
    fake.mode = mode
    code, msg, _ = _expect_backend_error(m, 10)
    assert code >= 1000 and msg, (code, msg)
    assert m.alive()


def test_backend_never_greets(mymux_factory, fake_factory):
    """A backend that accepts TCP and never sends a greeting: the client gets an error
    once pool.connect_timeout has passed, not a hang."""
    fake = fake_factory("fast")  # the start-up probe gets a greeting
    m = mymux_on_fake(mymux_factory, fake, pool={"connect_timeout": "700ms", "wait_timeout": "3s"})
    fake.mode = "silent"
    code, msg, elapsed = _expect_backend_error(m, 0.7 + 4)
    assert elapsed >= 0.6, (code, msg, elapsed)
    assert code != 0 and msg, (code, msg)
    testbed.wait_until(lambda: fake.connections >= 2, 5, what="mymux's connection to the fake")
    assert m.alive()


@pytest.mark.parametrize("mode", ["deny", "garbage_pkt"])
def test_backend_failures_then_recovery(backends, fake_factory, mode):
    """Backend logins failing for several clients at once, round after round: every client
    gets an error, mymux stays up, and serves again once the backend is healthy.
    Regression test: before commit 798698f, server_conn.c on_closed() freed the backend
    connection right after uv_close() of its timer, and mymux aborted in libuv's
    uv__finish_close (assertion `handle->flags & UV_HANDLE_CLOSING') when the memory was
    reused first; ASan does not see it (libuv is not instrumented).
    (mymux is started here, not by mymux_factory, so that a crash fails this test rather
    than the fixture's teardown.)"""
    fake = fake_factory("fast")
    cfg = testbed.deep_merge(testbed.default_config(backends[:1], 0), {
        "users": [{"name": "app", "password": "apppass"}],
        "backends": [{"name": "fake8", "address": fake.address}],
        "pool": {"wait_timeout": "3s", "connect_timeout": "2s"}})
    m = testbed.Mymux(cfg, name="mymux-recovery").start()
    try:
        fake.mode = mode
        results = []

        def one():
            try:
                c = testbed.connect_tcp(m.host, m.port, "app", "apppass", connect_timeout=10,
                                        read_timeout=10, write_timeout=10)
                c.close()
                results.append("ok")
            except pymysql.err.MySQLError as e:
                results.append(e.args[0])

        for _ in range(15):
            ts = [threading.Thread(target=one) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(30)
            if not m.alive():
                break
        assert m.alive(), testbed.sanitizer_errors(m.log()) or m.log()[-2000:]
        assert results and "ok" not in results, results
        fake.mode = "fast"
        c = testbed.connect_tcp(m.host, m.port, "app", "apppass", read_timeout=30)
        try:
            assert scalar(c, "SELECT 3") == 3
        finally:
            c.close()
    finally:
        log = m.stop()
    assert not testbed.sanitizer_errors(log), testbed.sanitizer_errors(log)
