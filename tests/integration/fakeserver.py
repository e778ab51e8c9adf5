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
    "full_1040"     ERR 1040 "Too many connections" instead of a greeting, then close (a
                    server at max_connections)
    "blocked_1129"  ERR 1129 "Host ... is blocked" instead of a greeting, then close
    "switch_close", "switch_garbage", "switch_silent"
                    an auth switch request, then (after the answer) close, a packet that
                    is no OK or ERR, or nothing at all
    "rsa_close", "rsa_garbage_key"
                    full auth (0x01 0x04), then close at the public key request, or send a
                    key that is no PEM key
    "hold"          greet only once `release` (a threading.Event) is set, then as "fast" (a
                    server slow to accept a login)
  `mode` may be changed while the server runs; it applies to later connections.
- after login: COM_QUERY answers a one-column, one-row text result set for
  SELECT statements (the value is the text after SELECT when it is a number,
  else 1) and OK for anything else; COM_PING, COM_INIT_DB and COM_RESET_CONNECTION
  answer OK; COM_QUIT closes. Result-set terminators follow the
  CLIENT_DEPRECATE_EOF capability the client sent.
- binary prepared statements: COM_STMT_PREPARE answers a prepare OK (server
  statement ids count up from 1 per connection; one parameter per `?`; one
  LONGLONG column for a SELECT, none otherwise) with the parameter and column
  definitions; COM_STMT_EXECUTE answers a binary result set with one row, the
  first parameter echoed as an integer (`SELECT ?`), or the number after SELECT,
  or OK for a statement that is not a SELECT. Parameter types sent with
  new-params-bound are kept per statement, as a server does; an EXECUTE without
  them on a statement that never got any is refused (ERR 1210). COM_STMT_RESET
  answers OK, COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA nothing; an unknown
  statement id gets ERR 1243.
  `close_on_query = "text"` makes the server close the connection when a COM_QUERY contains
  the text (a backend that dies during mymux's state sync).
  `fault = (cmd, "text", action)` does `action` instead of answering the next command byte
  `cmd` whose argument contains text (b"" matches any), once: "close" (the connection drops),
  "garbage" (a well-framed packet that is no answer, then the connection stays open),
  "err" (ERR 1105), "stall" (no answer at all), "stall_mid" (a column count and one
  definition, then nothing), or a result set that breaks: "absurd_count" (2^64-1 columns),
  "short_defs" / "long_defs" (fewer / more definitions than announced), "garbage_def"
  (a packet that is no definition), "die_in_rows" (the connection drops after three rows),
  "die_in_packet" (it drops inside a row; for COM_STMT_EXECUTE the rows are binary),
  "err_1094" (ERR 1094 Unknown thread id, as for a KILL of a thread that has just ended).
  At COM_STMT_CLOSE, which has no answer, "err" and "garbage" send a packet where none is
  due (it lands where the next command's answer is read) and "stall" is what a server does.
  `fault` may also be a list of such triples, each done once. A COM_QUERY containing "WARN" is answered with an OK carrying one
  warning; SHOW WARNINGS and mymux's SELECT @@warning_count, ... answer as a server would
  after it (one warning).
  `prepare_counts[text] = (params, columns)` makes COM_STMT_PREPARE of that text announce
  those counts (a schema change, or another server, behind the same pool).
  `fail_executes(times, skip=0, code=1615)` makes EXECUTEs fail: after `skip`
  more EXECUTEs went through, the next `times` ones are answered with ERR 1615
  "Prepared statement needs to be re-prepared" (or `code`), and the statement
  id that got the error is forgotten (a later EXECUTE with it gets ERR 1243)
  unless invalidate=False.

Every login and command is recorded (`logins`, `commands`) for the tests to check;
prepared-statement commands also in `stmt_events` (connection, server statement
id, parameter, answer), see stmt_trace().
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
COM_STMT_PREPARE = 0x16
COM_STMT_EXECUTE = 0x17
COM_STMT_SEND_LONG_DATA = 0x18
COM_STMT_CLOSE = 0x19
COM_STMT_RESET = 0x1A
COM_STMT_FETCH = 0x1C
COM_RESET_CONNECTION = 0x1F

STMT_COMMANDS = {COM_STMT_PREPARE: "PREPARE", COM_STMT_EXECUTE: "EXECUTE",
                 COM_STMT_SEND_LONG_DATA: "LONG_DATA", COM_STMT_CLOSE: "CLOSE",
                 COM_STMT_RESET: "RESET", COM_STMT_FETCH: "FETCH"}

# Column types (binary protocol).
MYSQL_TYPE_DECIMAL = 0
MYSQL_TYPE_TINY = 1
MYSQL_TYPE_SHORT = 2
MYSQL_TYPE_LONG = 3
MYSQL_TYPE_FLOAT = 4
MYSQL_TYPE_DOUBLE = 5
MYSQL_TYPE_NULL = 6
MYSQL_TYPE_LONGLONG = 8
MYSQL_TYPE_INT24 = 9
MYSQL_TYPE_YEAR = 13
MYSQL_TYPE_NEWDECIMAL = 246

ER_NEED_REPREPARE = 1615
ER_UNKNOWN_STMT_HANDLER = 1243
ER_WRONG_ARGUMENTS = 1210

SHA2 = "caching_sha2_password"
NATIVE = "mysql_native_password"

MODES = ("fast", "full", "switch_native", "deny", "garbage", "garbage_pkt", "silent", "close",
         "full_1040", "blocked_1129", "switch_close", "switch_garbage", "switch_silent",
         "rsa_close", "rsa_garbage_key", "hold")


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


# fault actions that start a result set and break it (see _broken_answer)
BROKEN_ANSWERS = ("absurd_count", "short_defs", "long_defs", "garbage_def", "die_in_rows",
                  "die_in_packet")


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
        # prepared-statement commands: dicts with conn, cmd ("PREPARE", "EXECUTE", ...),
        # id (the server statement id the command named or PREPARE made), sql,
        # value (EXECUTE's first parameter), answer ("ok", "ERR 1615", "none", ...)
        self.stmt_events = []
        self._fail_skip = 0
        self._fail_times = 0
        self._fail_code = ER_NEED_REPREPARE
        self._fail_invalidate = True
        # a COM_QUERY containing this text closes the connection instead of an answer:
        # a backend that dies in the middle of mymux's own commands
        self.close_on_query = None
        self.release = threading.Event()  # mode "hold": greet from then on
        self.fault = None         # (cmd, text, action), see the module doc
        self.prepare_counts = {}  # statement text -> (parameters, columns) its PREPARE announces
        self.faults_done = []     # the faults that fired: (cmd, arg)
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

    def fail_executes(self, times=1, skip=0, code=ER_NEED_REPREPARE, invalidate=True):
        """After `skip` more COM_STMT_EXECUTEs went through, answer the next `times`
        (on any connection, valid statement ids only) with ERR `code` and, with
        `invalidate`, forget the statement id each was sent with (a later EXECUTE
        with it gets ERR 1243). fail_executes(0) disarms."""
        with self._lock:
            self._fail_skip = skip
            self._fail_times = times
            self._fail_code = code
            self._fail_invalidate = invalidate

    def stmt_trace(self, cmds=("PREPARE", "EXECUTE")):
        """The prepared-statement commands received, as tuples (cmd, server id, answer),
        e.g. ("EXECUTE", 1, "ERR 1615"); only the commands named in `cmds`."""
        with self._lock:
            return [(e["cmd"], e["id"], e["answer"]) for e in self.stmt_events
                    if e["cmd"] in cmds]

    def all_stmt_events(self):
        with self._lock:
            return [dict(e) for e in self.stmt_events]

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
            if mode == "full_1040":
                conn.write(self._err(1040, "08004", "Too many connections"))
                return
            if mode == "blocked_1129":
                conn.write(self._err(1129, "HY000", "Host '127.0.0.1' is blocked because of "
                                     "many connection errors; unblock with 'mariadb-admin "
                                     "flush-hosts'"))
                return
            if mode == "hold":
                self.release.wait(60)
                sock.setblocking(False)
                try:  # a peer that gave up meanwhile gets no greeting
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        return
                except BlockingIOError:
                    pass
                finally:
                    sock.settimeout(60)
                mode = "fast"
            caps = self._login(conn, conn_id, mode)
            if caps is not None:
                self._commands(conn, caps, conn_id)
        except _Closed:
            pass
        except (BrokenPipeError, ConnectionResetError) as e:
            if not self._stopping and not getattr(conn, "faulted", False):
                with self._lock:
                    self.errors.append(repr(e))
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

    def _ok(self, caps, header=0x00, warnings=0):
        p = bytes([header]) + lenenc_int(0) + lenenc_int(0)
        p += struct.pack("<HH", SERVER_STATUS_AUTOCOMMIT, warnings)
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

        if mode in ("switch_close", "switch_garbage", "switch_silent"):
            # a login that breaks inside the auth switch: after asking for it
            self._record(**base, kind=mode, ok=False, detail="broke after the switch request")
            conn.write(b"\xfe" + NATIVE.encode() + b"\0" + make_nonce() + b"\0")
            conn.read()
            if mode == "switch_garbage":
                conn.write(b"\x42 not an answer to an auth switch")
                conn.read()  # waits for the peer to hang up
            elif mode == "switch_silent":
                conn.read()
            return None

        if mode in ("rsa_close", "rsa_garbage_key"):
            # full authentication that breaks inside the RSA exchange
            self._record(**base, kind=mode, ok=False, detail="broke in the RSA exchange")
            conn.write(b"\x01\x04")
            conn.read()  # the public key request
            if mode == "rsa_garbage_key":
                conn.write(b"\x01-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
                conn.read()
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
        self._result(conn, caps, [name], [[value]])

    def _result(self, conn, caps, names, rows):
        """A text result set: LONGLONG-typed columns `names`, rows of byte strings."""
        deprecate_eof = bool(caps & CLIENT_DEPRECATE_EOF)
        conn.write(lenenc_int(len(names)))
        for name in names:
            conn.write(lenenc_str(b"def") + lenenc_str(b"") + lenenc_str(b"") + lenenc_str(b"")
                       + lenenc_str(name) + lenenc_str(b"") + b"\x0c"
                       + struct.pack("<HIBHB", 63, 21, 0x08, 0x0081, 0) + b"\0\0")
        if not deprecate_eof:
            conn.write(b"\xfe" + struct.pack("<HH", 0, SERVER_STATUS_AUTOCOMMIT))
        for row in rows:
            conn.write(b"".join(lenenc_str(v) for v in row))
        if deprecate_eof:
            conn.write(self._ok(caps, header=0xFE))
        else:
            conn.write(b"\xfe" + struct.pack("<HH", 0, SERVER_STATUS_AUTOCOMMIT))

    # -- prepared statements

    @staticmethod
    def _coldef(name: bytes, ctype=MYSQL_TYPE_LONGLONG, length=21, flags=0x0081):
        return (lenenc_str(b"def") + lenenc_str(b"") + lenenc_str(b"") + lenenc_str(b"")
                + lenenc_str(name) + lenenc_str(b"") + b"\x0c"
                + struct.pack("<HIBHB", 63, length, ctype, flags, 0) + b"\0\0")

    def _broken_answer(self, conn, caps, kind, binary=False):
        """Writes the start of a result set that goes wrong as BROKEN_ANSWERS says; returns
        True when the connection is to close now. binary: rows as an EXECUTE's are (0x00,
        the NULL bitmap, the values)."""
        deprecate_eof = bool(caps & CLIENT_DEPRECATE_EOF)
        def head(count, defs):
            conn.write(count)
            for i in range(defs):
                conn.write(self._coldef(b"c%d" % i))
        if kind == "absurd_count":  # 2^64-1 columns, then what one column would have
            head(b"\xfe" + b"\xff" * 8, 1)
            conn.write(self._eof())
            return False
        if kind == "short_defs":  # 3 columns announced, 1 sent, then the rest of the answer
            head(lenenc_int(3), 1)
        elif kind == "long_defs":  # 1 column announced, 2 sent
            head(lenenc_int(1), 2)
        elif kind == "garbage_def":  # a packet that is no definition where one is due
            head(lenenc_int(2), 1)
            conn.write(b"\x42 not a column definition")
            return False
        else:  # die_in_rows / die_in_packet: a result with rows, then the server goes
            head(lenenc_int(1), 1)
        if not deprecate_eof:
            conn.write(self._eof())
        for i in range(3):
            conn.write(b"\x00\x00" + struct.pack("<q", i) if binary else lenenc_str(b"%d" % i))
        if kind == "die_in_rows":
            return True
        if kind == "die_in_packet":  # a row whose header promises more than is sent
            conn.sock.sendall(struct.pack("<I", 1000)[:3] + bytes([conn.seq]) + b"\x05" * 100)
            return True
        conn.write(self._ok(caps, header=0xFE) if deprecate_eof else self._eof())
        return False

    def _eof(self):
        return b"\xfe" + struct.pack("<HH", 0, SERVER_STATUS_AUTOCOMMIT)

    def _stmt_event(self, conn_id, cmd, sid, answer, sql=None, value=None):
        with self._lock:
            self.stmt_events.append({"conn": conn_id, "cmd": cmd, "id": sid, "sql": sql,
                                     "value": value, "answer": answer})

    def _stmt_prepare(self, conn, caps, st, arg):
        sql = arg.decode("utf-8", "replace")
        st["next"] += 1
        sid = st["next"]
        nparams = sql.count("?")
        q = sql.strip().rstrip(";").strip()
        ncols = 1 if q.upper().startswith("SELECT") else 0
        if sql in self.prepare_counts:  # a server that reads the same text otherwise now
            nparams, ncols = self.prepare_counts[sql]
        st["stmts"][sid] = {"sql": sql, "params": nparams, "cols": ncols, "types": None,
                            "name": q[6:].strip().encode() or b"1"}
        self._stmt_event(st["conn_id"], "PREPARE", sid, "ok", sql=sql)
        deprecate_eof = bool(caps & CLIENT_DEPRECATE_EOF)
        conn.write(b"\x00" + struct.pack("<IHHBH", sid, ncols, nparams, 0, 0))
        if nparams:
            for _ in range(nparams):
                conn.write(self._coldef(b"?", MYSQL_TYPE_LONGLONG, 21, 0x0080))
            if not deprecate_eof:
                conn.write(self._eof())
        if ncols:
            conn.write(self._coldef(st["stmts"][sid]["name"]))
            if not deprecate_eof:
                conn.write(self._eof())

    @staticmethod
    def _param_value(t, data, pos):
        """One binary parameter value of type t (low byte type, 0x80 in the high
        byte for unsigned) at pos: (int or None, next pos)."""
        base, unsigned = t & 0xFF, bool(t & 0x8000)
        fixed = {MYSQL_TYPE_TINY: ("b", 1), MYSQL_TYPE_SHORT: ("h", 2), MYSQL_TYPE_YEAR: ("h", 2),
                 MYSQL_TYPE_LONG: ("i", 4), MYSQL_TYPE_INT24: ("i", 4),
                 MYSQL_TYPE_LONGLONG: ("q", 8), MYSQL_TYPE_FLOAT: ("f", 4),
                 MYSQL_TYPE_DOUBLE: ("d", 8)}
        if base == MYSQL_TYPE_NULL:
            return None, pos
        if base in fixed:
            fmt, n = fixed[base]
            if unsigned and fmt in "bhiq":
                fmt = fmt.upper()
            v = struct.unpack_from("<" + fmt, data, pos)[0]
            return int(v), pos + n
        # strings, decimals, blobs: length-encoded
        n, pos = _lenenc_at(data, pos)
        raw = data[pos:pos + n]
        try:
            v = int(float(raw.decode()))
        except ValueError:
            v = 0
        return v, pos + n

    def _stmt_execute(self, conn, caps, st, arg):
        conn_id = st["conn_id"]
        sid, flags, iterations = struct.unpack_from("<IBI", arg, 0)
        stmt = st["stmts"].get(sid)
        if stmt is None:
            self._stmt_event(conn_id, "EXECUTE", sid, f"ERR {ER_UNKNOWN_STMT_HANDLER}")
            conn.write(self._err(ER_UNKNOWN_STMT_HANDLER, "HY000",
                                 f"Unknown prepared statement handler ({sid}) given to "
                                 f"mysqld_stmt_execute"))
            return
        value = None
        n = stmt["params"]
        if n:
            pos = 9
            nb = (n + 7) // 8
            nulls = arg[pos:pos + nb]
            pos += nb
            bound = arg[pos]
            pos += 1
            if bound == 1:
                stmt["types"] = [struct.unpack_from("<H", arg, pos + 2 * i)[0] for i in range(n)]
                pos += 2 * n
            if stmt["types"] is None:
                self._stmt_event(conn_id, "EXECUTE", sid, f"ERR {ER_WRONG_ARGUMENTS}",
                                 sql=stmt["sql"])
                conn.write(self._err(ER_WRONG_ARGUMENTS, "HY000",
                                     "Incorrect arguments to mysqld_stmt_execute"))
                return
            vals = []
            for i, t in enumerate(stmt["types"]):
                if nulls[i // 8] & (1 << (i % 8)):
                    vals.append(None)
                    continue
                v, pos = self._param_value(t, arg, pos)
                vals.append(v)
            value = vals[0]
        with self._lock:
            fail = False
            if self._fail_times > 0:
                if self._fail_skip > 0:
                    self._fail_skip -= 1
                else:
                    self._fail_times -= 1
                    fail = True
            code = self._fail_code
            invalidate = self._fail_invalidate
        if fail:
            if invalidate:
                del st["stmts"][sid]
            self._stmt_event(conn_id, "EXECUTE", sid, f"ERR {code}", sql=stmt["sql"], value=value)
            msg = ("Prepared statement needs to be re-prepared" if code == ER_NEED_REPREPARE
                   else f"fake server: injected error {code}")
            conn.write(self._err(code, "HY000", msg))
            return
        self._stmt_event(conn_id, "EXECUTE", sid, "ok", sql=stmt["sql"], value=value)
        if not stmt["cols"]:
            conn.write(self._ok(caps))
            return
        if n:
            out = value
        else:
            name = stmt["name"].decode()
            out = int(name) if name.isdigit() else 1
        deprecate_eof = bool(caps & CLIENT_DEPRECATE_EOF)
        conn.write(lenenc_int(1))
        conn.write(self._coldef(stmt["name"]))
        if not deprecate_eof:
            conn.write(self._eof())
        # binary row: header, NULL bitmap (offset 2), values
        if out is None:
            conn.write(b"\x00" + bytes([0x04]))
        else:
            conn.write(b"\x00\x00" + struct.pack("<q", out))
        if deprecate_eof:
            conn.write(self._ok(caps, header=0xFE))
        else:
            conn.write(self._eof())

    def _stmt_command(self, conn, caps, st, cmd, arg):
        name = STMT_COMMANDS[cmd]
        if cmd == COM_STMT_PREPARE:
            self._stmt_prepare(conn, caps, st, arg)
            return
        if cmd == COM_STMT_EXECUTE:
            self._stmt_execute(conn, caps, st, arg)
            return
        sid = struct.unpack_from("<I", arg, 0)[0]
        known = sid in st["stmts"]
        if cmd == COM_STMT_CLOSE:
            st["stmts"].pop(sid, None)
            self._stmt_event(st["conn_id"], name, sid, "none")
        elif cmd == COM_STMT_SEND_LONG_DATA:
            self._stmt_event(st["conn_id"], name, sid, "none")
        elif cmd == COM_STMT_RESET and known:
            self._stmt_event(st["conn_id"], name, sid, "ok")
            conn.write(self._ok(caps))
        elif cmd == COM_STMT_RESET:
            self._stmt_event(st["conn_id"], name, sid, f"ERR {ER_UNKNOWN_STMT_HANDLER}")
            conn.write(self._err(ER_UNKNOWN_STMT_HANDLER, "HY000",
                                 f"Unknown prepared statement handler ({sid}) given to "
                                 f"mysqld_stmt_reset"))
        else:  # FETCH: no cursors here
            self._stmt_event(st["conn_id"], name, sid, "ERR 1421")
            conn.write(self._err(1421, "HY000", f"The statement ({sid}) has no open cursor."))

    def _commands(self, conn, caps, conn_id=0):
        st = {"conn_id": conn_id, "next": 0, "stmts": {}}
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
            faults = self.fault if isinstance(self.fault, list) else [self.fault]
            f = next((f for f in faults if f and f[0] == cmd and f[1].encode() in arg), None)
            if f:
                with self._lock:
                    if isinstance(self.fault, list):
                        self.fault = [x for x in self.fault if x is not f]
                    else:
                        self.fault = None
                    self.faults_done.append((cmd, arg))
                if f[2] == "close":
                    return
                if f[2] == "stall":  # never answers; reads on until the peer hangs up
                    conn.faulted = True
                    continue
                if f[2] == "stall_mid":  # the start of a result set, then nothing
                    conn.write(lenenc_int(1))
                    conn.write(self._coldef(b"x"))
                    conn.faulted = True
                    continue
                if f[2] in BROKEN_ANSWERS:  # a result set that breaks off or lies
                    try:
                        if self._broken_answer(conn, caps, f[2],
                                               binary=cmd == COM_STMT_EXECUTE):
                            return
                    except OSError:  # mymux gave up on the answer before its end
                        return
                    conn.faulted = True
                    continue
                if f[2] == "garbage":
                    conn.write(b"\x42 this is not an answer")
                    conn.faulted = True  # the peer must hang up now (not an error)
                    continue
                if f[2] == "err_1094":  # a KILL of a thread that has just ended
                    conn.write(self._err(1094, "HY000", "Unknown thread id: "
                                         + arg.decode(errors="replace").split()[-1]))
                    continue
                conn.write(self._err(1105, "HY000", "fake server: injected error"))
                if cmd == COM_STMT_CLOSE:  # no answer was due: the peer must hang up now
                    conn.faulted = True
                continue
            if cmd == COM_QUERY:
                q = arg.decode("utf-8", "replace").strip().rstrip(";").strip()
                if self.close_on_query and self.close_on_query in q:
                    return
                if "WARN" in q:
                    conn.write(self._ok(caps, warnings=1))
                elif q.upper() == "SHOW WARNINGS":  # the warning of the last "WARN" query
                    self._result(conn, caps, [b"Level", b"Code", b"Message"],
                                 [[b"Warning", b"1105", b"fake warning"]])
                elif q.upper().startswith("SELECT @@WARNING_COUNT, @@ERROR_COUNT"):
                    self._result(conn, caps, [b"w", b"e", b"f", b"r"],
                                 [[b"1", b"0", b"0", b"-1"]])
                elif q.upper().startswith("SELECT"):
                    rest = q[6:].strip()
                    value = rest if rest.isdigit() else "1"
                    self._result_one(conn, caps, value.encode(), rest.encode() or b"1")
                else:
                    conn.write(self._ok(caps))
            elif cmd in STMT_COMMANDS:
                self._stmt_command(conn, caps, st, cmd, arg)
            elif cmd == COM_RESET_CONNECTION:
                st["stmts"].clear()  # as a server: the connection's statements are gone
                conn.write(self._ok(caps))
            elif cmd in (COM_PING, COM_INIT_DB):
                conn.write(self._ok(caps))
            else:
                conn.write(self._err(1047, "08S01", f"fake server: unknown command {cmd}"))
