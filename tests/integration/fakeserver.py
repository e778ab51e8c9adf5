"""A scripted fake MySQL 8 server for the backend side of mymux's authentication.

Why a fake: the test bed's real servers are MariaDB, and MariaDB has no
caching_sha2_password *server* plugin, so it can never ask mymux for caching_sha2
fast auth, full auth over RSA, or switch a caching_sha2 login to
mysql_native_password. A MySQL 8 server does all three. This fake speaks just
enough of the protocol for a login and a few commands:

- greeting v10 with auth plugin caching_sha2_password and a 20-byte nonce;
- the HandshakeResponse41 parsed, the scramble checked against a known password;
- per `mode`:
    "fast"          fast auth: 0x01 0x03, then OK
    "full"          full auth: 0x01 0x04, expects 0x02 (public key request), sends
                    0x01 + PEM, decrypts the RSA-OAEP(SHA1) block, checks
                    (password + NUL) XOR nonce, then OK
    "switch_native" auth switch request to mysql_native_password (new nonce), checks
                    the native token, then OK
    "deny"          ERR 1045 after the handshake response
    "garbage"       bytes that are not a greeting, then close
    "garbage_pkt"   a well-framed packet that is not a greeting, then close
    "silent"        accept the TCP connection and never send anything
    "close"         accept and close at once
  `mode` may be changed while the server runs; it applies to later connections.
- after login: COM_QUERY answers a one-column, one-row text result set for
  SELECT statements (the value is the text after SELECT when it is a number,
  else 1) and OK for anything else; COM_PING, COM_INIT_DB and COM_RESET_CONNECTION
  answer OK; COM_QUIT closes. Result-set terminators follow the
  CLIENT_DEPRECATE_EOF capability the client sent.

Every login and command is recorded (`logins`, `commands`) for the tests to check.
Standard library plus `cryptography` (Debian's python3-cryptography) for RSA.
"""

import hashlib
import os
import socket
import struct
import threading

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Capability flags.
CLIENT_LONG_PASSWORD = 1
CLIENT_FOUND_ROWS = 2
CLIENT_LONG_FLAG = 4
CLIENT_CONNECT_WITH_DB = 8
CLIENT_NO_SCHEMA = 0x10
CLIENT_ODBC = 0x40
CLIENT_LOCAL_FILES = 0x80
CLIENT_IGNORE_SPACE = 0x100
CLIENT_PROTOCOL_41 = 0x200
CLIENT_INTERACTIVE = 0x400
CLIENT_SSL = 0x800
CLIENT_IGNORE_SIGPIPE = 0x1000
CLIENT_TRANSACTIONS = 0x2000
CLIENT_RESERVED = 0x4000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_STATEMENTS = 1 << 16
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PS_MULTI_RESULTS = 1 << 18
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21
CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1 << 22
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24

# What a MySQL 8.0 server offers (without SSL and compression).
SERVER_CAPS = (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB
               | CLIENT_NO_SCHEMA | CLIENT_ODBC | CLIENT_LOCAL_FILES | CLIENT_IGNORE_SPACE
               | CLIENT_PROTOCOL_41 | CLIENT_INTERACTIVE | CLIENT_IGNORE_SIGPIPE
               | CLIENT_TRANSACTIONS | CLIENT_RESERVED | CLIENT_SECURE_CONNECTION
               | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS
               | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
               | CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS | CLIENT_SESSION_TRACK
               | CLIENT_DEPRECATE_EOF)

SERVER_STATUS_AUTOCOMMIT = 0x0002

COM_QUIT = 0x01
COM_INIT_DB = 0x02
COM_QUERY = 0x03
COM_PING = 0x0E
COM_RESET_CONNECTION = 0x1F

SHA2 = "caching_sha2_password"
NATIVE = "mysql_native_password"

MODES = ("fast", "full", "switch_native", "deny", "garbage", "garbage_pkt", "silent", "close")


# ----------------------------------------------------------------- scrambles


def sha2_token(password: bytes, nonce: bytes) -> bytes:
    """caching_sha2 fast auth: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce)."""
    if not password:
        return b""
    p1 = hashlib.sha256(password).digest()
    p2 = hashlib.sha256(p1).digest()
    p3 = hashlib.sha256(p2 + nonce).digest()
    return bytes(a ^ b for a, b in zip(p1, p3))


def native_token(password: bytes, nonce: bytes) -> bytes:
    """mysql_native_password: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw)))."""
    if not password:
        return b""
    s1 = hashlib.sha1(password).digest()
    s2 = hashlib.sha1(s1).digest()
    s3 = hashlib.sha1(nonce + s2).digest()
    return bytes(a ^ b for a, b in zip(s1, s3))


def make_nonce() -> bytes:
    """20 random bytes without NUL or '$', as servers send."""
    out = bytearray()
    while len(out) < 20:
        b = os.urandom(1)[0] & 0x7F
        if b not in (0, ord("$")):
            out.append(b)
    return bytes(out)


# ------------------------------------------------------------------- packets


def lenenc_int(n: int) -> bytes:
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lenenc_str(b: bytes) -> bytes:
    return lenenc_int(len(b)) + b


class _Closed(Exception):
    pass


class _Conn:
    """One client connection: packet I/O with sequence ids."""

    def __init__(self, sock):
        self.sock = sock
        self.seq = 0

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise _Closed()
            buf += chunk
        return bytes(buf)

    def read(self):
        hdr = self._recv_exact(4)
        length = hdr[0] | hdr[1] << 8 | hdr[2] << 16
        self.seq = (hdr[3] + 1) & 0xFF
        return self._recv_exact(length)

    def write(self, payload: bytes):
        self.sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) & 0xFF


def _cstr(data, pos):
    end = data.index(b"\0", pos)
    return data[pos:end], end + 1


def _lenenc_at(data, pos):
    b = data[pos]
    if b < 251:
        return b, pos + 1
    if b == 0xFC:
        return struct.unpack_from("<H", data, pos + 1)[0], pos + 3
    if b == 0xFD:
        return int.from_bytes(data[pos + 1:pos + 4], "little"), pos + 4
    return struct.unpack_from("<Q", data, pos + 1)[0], pos + 9


def parse_handshake_response(data: bytes) -> dict:
    caps, max_packet, charset = struct.unpack_from("<IIB", data, 0)
    pos = 32
    user, pos = _cstr(data, pos)
    if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA:
        n, pos = _lenenc_at(data, pos)
        auth = data[pos:pos + n]
        pos += n
    elif caps & CLIENT_SECURE_CONNECTION:
        n = data[pos]
        auth = data[pos + 1:pos + 1 + n]
        pos += 1 + n
    else:
        auth, pos = _cstr(data, pos)
    db = b""
    if caps & CLIENT_CONNECT_WITH_DB and pos < len(data):
        db, pos = _cstr(data, pos)
    plugin = b""
    if caps & CLIENT_PLUGIN_AUTH and pos < len(data):
        plugin, pos = _cstr(data, pos)
    return {"caps": caps, "max_packet": max_packet, "charset": charset,
            "user": user.decode(), "auth": auth, "db": db.decode(), "plugin": plugin.decode()}


# -------------------------------------------------------------------- server


class FakeMySQL8:
    """The fake server. start() binds 127.0.0.1 on a free port; stop() ends everything.

    users: {name: password} it accepts. logins: one dict per handshake response
    received: user, plugin (the client's), kind (the path taken: "fast", "full",
    "switch_native", "deny"), ok (bool), caps (the client's), detail (why it failed).
    commands: (command byte, argument bytes) received after login.
    """

    def __init__(self, users=None, mode="fast", version="8.0.36-fake"):
        assert mode in MODES, mode
        self.users = dict(users or {"app": "apppass"})
        self.mode = mode
        self.version = version
        self.host = "127.0.0.1"
        self.port = None
        self.logins = []
        self.commands = []
        self.connections = 0  # TCP connections accepted
        self.errors = []      # exceptions in connection handlers (bugs of the fake or bad input)
        self._lock = threading.Lock()
        self._lsock = None
        self._threads = []
        self._socks = set()
        self._stopping = False
        self._next_id = 100
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    # -- life cycle

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, 0))
        s.listen(64)
        self._lsock = s
        self.port = s.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name="fakemysql-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stopping = True
        if self._lsock is not None:
            try:
                self._lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._lsock.close()
        with self._lock:
            socks = list(self._socks)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def successful_logins(self, kind=None):
        with self._lock:
            return [lg for lg in self.logins if lg["ok"] and (kind is None or lg["kind"] == kind)]

    def all_logins(self):
        with self._lock:
            return list(self.logins)

    def all_commands(self):
        with self._lock:
            return list(self.commands)

    # -- internals

    def _accept_loop(self):
        while not self._stopping:
            try:
                c, _ = self._lsock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.add(c)
                self._next_id += 1
                conn_id = self._next_id
            t = threading.Thread(target=self._serve, args=(c, conn_id, self.mode), daemon=True,
                                 name=f"fakemysql-{conn_id}")
            t.start()
            self._threads.append(t)

    def _record(self, **login):
        with self._lock:
            self.logins.append(login)

    def _serve(self, sock, conn_id, mode):
        sock.settimeout(60)
        conn = _Conn(sock)
        try:
            if mode == "close":
                return
            if mode == "silent":
                # Never greet; wait until the peer goes away (or stop()).
                while sock.recv(4096):
                    pass
                return
            if mode == "garbage":
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            if mode == "garbage_pkt":
                conn.write(b"\x07this is not a greeting")
                return
            caps = self._login(conn, conn_id, mode)
            if caps is not None:
                self._commands(conn, caps)
        except _Closed:
            pass
        except (OSError, ValueError, IndexError, struct.error) as e:
            if not self._stopping:
                with self._lock:
                    self.errors.append(repr(e))
        finally:
            with self._lock:
                self._socks.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _greeting(self, conn_id, nonce):
        caps = SERVER_CAPS
        p = bytearray()
        p += b"\x0a" + self.version.encode() + b"\0"
        p += struct.pack("<I", conn_id)
        p += nonce[:8] + b"\0"
        p += struct.pack("<H", caps & 0xFFFF)
        p += bytes([255])  # utf8mb4_0900_ai_ci
        p += struct.pack("<H", SERVER_STATUS_AUTOCOMMIT)
        p += struct.pack("<H", caps >> 16)
        p += bytes([21])
        p += b"\0" * 10
        p += nonce[8:] + b"\0"
        p += SHA2.encode() + b"\0"
        return bytes(p)

    def _ok(self, caps, header=0x00):
        p = bytes([header]) + lenenc_int(0) + lenenc_int(0)
        p += struct.pack("<HH", SERVER_STATUS_AUTOCOMMIT, 0)
        if caps & CLIENT_SESSION_TRACK:
            p += lenenc_str(b"")
        return p

    @staticmethod
    def _err(code, state, msg):
        return b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + msg.encode()

    def _deny(self, conn, user):
        conn.write(self._err(1045, "28000",
                             f"Access denied for user '{user}'@'localhost' (using password: YES)"))

    def _login(self, conn, conn_id, mode):
        """Runs the login; returns the client's capabilities on success, else None."""
        nonce = make_nonce()
        conn.write(self._greeting(conn_id, nonce))
        r = parse_handshake_response(conn.read())
        caps = r["caps"]
        user = r["user"]
        base = {"user": user, "plugin": r["plugin"], "caps": caps, "db": r["db"],
                "conn_id": conn_id}
        pw = self.users.get(user)
        pwb = pw.encode() if pw is not None else None

        if mode == "deny":
            self._record(**base, kind="deny", ok=False, detail="mode deny")
            self._deny(conn, user)
            return None

        if mode == "switch_native":
            nonce2 = make_nonce()
            conn.write(b"\xfe" + NATIVE.encode() + b"\0" + nonce2 + b"\0")
            tok = conn.read()
            ok = pwb is not None and tok == native_token(pwb, nonce2)
            self._record(**base, kind="switch_native", ok=ok,
                         detail="" if ok else f"bad native token {tok.hex()}")
            if not ok:
                self._deny(conn, user)
                return None
            conn.write(self._ok(caps))
            return caps

        # caching_sha2_password: the first response must carry a sha2 token.
        tok = r["auth"]
        if r["plugin"] != SHA2:
            # A real server would switch; this fake expects mymux to answer the
            # greeting's plugin directly.
            self._record(**base, kind=mode, ok=False,
                         detail=f"client answered with plugin {r['plugin']!r}")
            self._deny(conn, user)
            return None
        fast_ok = pwb is not None and tok == sha2_token(pwb, nonce)

        if mode == "fast":
            if not fast_ok:
                self._record(**base, kind="fast", ok=False, detail=f"bad sha2 token {tok.hex()}")
                self._deny(conn, user)
                return None
            conn.write(b"\x01\x03")
            conn.write(self._ok(caps))
            self._record(**base, kind="fast", ok=True, detail="")
            return caps

        # mode == "full": as a MySQL 8 server whose cache has no entry for the user.
        conn.write(b"\x01\x04")
        req = conn.read()
        if req != b"\x02":
            self._record(**base, kind="full", ok=False,
                         detail=f"expected a public key request 0x02, got {req[:16].hex()}")
            self._deny(conn, user)
            return None
        conn.write(b"\x01" + self.public_pem)
        enc = conn.read()
        try:
            plain = self._key.decrypt(enc, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()),
                                                        algorithm=hashes.SHA1(), label=None))
        except ValueError as e:
            self._record(**base, kind="full", ok=False, detail=f"RSA decrypt failed: {e!r}")
            self._deny(conn, user)
            return None
        clear = bytes(b ^ nonce[i % 20] for i, b in enumerate(plain))
        ok = pwb is not None and clear == pwb + b"\0"
        self._record(**base, kind="full", ok=ok, fast_token_ok=fast_ok,
                     detail="" if ok else f"wrong password after RSA ({len(clear)} bytes)")
        if not ok:
            self._deny(conn, user)
            return None
        conn.write(self._ok(caps))
        return caps

    def _result_one(self, conn, caps, value: bytes, name: bytes):
        deprecate_eof = bool(caps & CLIENT_DEPRECATE_EOF)
        conn.write(lenenc_int(1))
        coldef = (lenenc_str(b"def") + lenenc_str(b"") + lenenc_str(b"") + lenenc_str(b"")
                  + lenenc_str(name) + lenenc_str(b"") + b"\x0c"
                  + struct.pack("<HIBHB", 63, 21, 0x08, 0x0081, 0) + b"\0\0")
        conn.write(coldef)
        if not deprecate_eof:
            conn.write(b"\xfe" + struct.pack("<HH", 0, SERVER_STATUS_AUTOCOMMIT))
        conn.write(lenenc_str(value))
        if deprecate_eof:
            conn.write(self._ok(caps, header=0xFE))
        else:
            conn.write(b"\xfe" + struct.pack("<HH", 0, SERVER_STATUS_AUTOCOMMIT))

    def _commands(self, conn, caps):
        while True:
            conn.seq = 0
            try:
                p = conn.read()
            except _Closed:
                return
            if not p:
                continue
            cmd, arg = p[0], p[1:]
            with self._lock:
                self.commands.append((cmd, arg))
            if cmd == COM_QUIT:
                return
            if cmd == COM_QUERY:
                q = arg.decode("utf-8", "replace").strip().rstrip(";").strip()
                if q.upper().startswith("SELECT"):
                    rest = q[6:].strip()
                    value = rest if rest.isdigit() else "1"
                    self._result_one(conn, caps, value.encode(), rest.encode() or b"1")
                else:
                    conn.write(self._ok(caps))
            elif cmd in (COM_PING, COM_INIT_DB, COM_RESET_CONNECTION):
                conn.write(self._ok(caps))
            else:
                conn.write(self._err(1047, "08S01", f"fake server: unknown command {cmd}"))
