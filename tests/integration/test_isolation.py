"""Session isolation that no client can evade (issue 9): the battery.

mymux runs with one worker and ONE backend connection (pool.max_per_backend 1, min_idle 0),
shared by two clients that log in as different mymux users: A (user app) and B (user other,
whose backend identity is app, so that the pool may lend them the same connection). For every
vector:
  1. B's own view: a client B0 logs in as B on MariaDB itself (through mymux a leak left by
     an earlier vector could be read as B's own), runs the vector's probe twice and leaves;
  2. B logs in, then A logs in and changes session state the vector's way, then runs a
     harmless `SELECT 1` (the moment a proxy that believed A clean would lend the connection);
  3. B runs the probe twice: it must read exactly what its own session reads (1.), or wait
     for the connection (error 9001 after the short pool wait: A keeps it). B then leaves;
  4. A runs the probe: it must still have its own state;
  5. A leaves; a new B logs in and must again read exactly its own view (the connection A
     left is reset or its state known).
Nothing is asserted about pins: only that B never sees A's state and that A keeps it.

Each vector runs on three targets: `direct` (MariaDB itself, where every client has its own
session: it proves the vector changes state that B would otherwise see, and that the expected
values are the server's), `on` (mymux with session_tracking: on, MariaDB's session trackers)
and `off` (session_tracking: off, the classifier only: MariaDB stands for TiDB there). With
MYMUX_DIRECT=1 only `direct` runs. Vectors that only MariaDB's trackers can see (a trigger, a
view over a stored function: the text shows no routine, and TiDB has neither) are skipped on
`off`.

The binary protocol comes from isolation_ps.c (libmariadb: mysql_stmt_prepare/execute,
mysql_reset_connection, mysql_change_user), compiled here with mariadb_config, and from
isolation_go.go (Go's go-sql-driver/mysql with its defaults, built offline from Debian's
GOPATH; skipped without go); library defaults (autocommit off) from PyMySQL and mysqlclient
(MySQLdb). Each vector asserts that A's reading differs from B's own (unless marked
distinct=False), so a B that shared A's very session would fail it.

Run: MYMUX_BIN=build/mymux /usr/bin/python3 -m pytest tests/integration/test_isolation.py -q
"""

import decimal
import os
import re
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import pymysql
import pytest
from pymysql.constants import CLIENT

import testbed

try:
    import MySQLdb
except ImportError:  # python3-mysqldb not installed: those vectors are skipped
    MySQLdb = None

DIRECT_ONLY = os.environ.get("MYMUX_DIRECT") == "1"
HERE = os.path.dirname(os.path.abspath(__file__))

# A client waiting for the one connection gets 9001 after this; short, since a pinned A makes
# B wait in most vectors.
POOL_WAIT = "200ms"
A_USER = ("app", "apppass")
B_USER = ("other", "otherpass")
# Two mymux users, one backend identity: their sessions share the pool's one connection.
USERS = [{"name": "app", "password": "apppass"},
         {"name": "other", "password": "otherpass", "backend_user": "app",
          "backend_password": "apppass"}]

MULTI = {"client_flag": CLIENT.MULTI_STATEMENTS}

# What a probe can read besides a value.
OK = "<ok: no result set>"
WAITS = "<waits: error 9001, A keeps the one connection>"
BASELINE = "<what B's own session reads>"
AS_CLEAN = "<what B reads while A is there>"


def error(code):
    return f"<error {code}>"


DB_ERRORS = (pymysql.MySQLError,) + ((MySQLdb.MySQLError,) if MySQLdb else ())


# ------------------------------------------------------------------------------ server


# Objects the vectors use, created once per module as root. Routines exist only on MariaDB
# (TiDB has no stored routines, triggers or user-defined functions).
SCHEMA = [
    "CREATE OR REPLACE TABLE test.iso_rw (a INT)",
    "CREATE OR REPLACE TABLE test.iso_h (a INT)",
    "INSERT INTO test.iso_h VALUES (1)",
    "CREATE OR REPLACE TABLE test.iso_rc (id INT PRIMARY KEY, v INT)",
    "INSERT INTO test.iso_rc VALUES (1, 1), (2, 2), (3, 3)",
    "CREATE OR REPLACE TABLE test.iso_bl (a INT)",
    "CREATE ROLE IF NOT EXISTS iso_role",
    "GRANT iso_role TO app",
    "GRANT iso_role TO other",
    "CREATE OR REPLACE SEQUENCE test.iso_seq",
    # stored functions: each changes session state the statement text does not show
    "CREATE OR REPLACE FUNCTION test.f_uservar() RETURNS INT DETERMINISTIC "
    "BEGIN SET @fx = 7; RETURN 1; END",
    "CREATE OR REPLACE FUNCTION test.f_sessvar() RETURNS INT DETERMINISTIC "
    "BEGIN SET SESSION time_zone = '+03:00'; RETURN 1; END",
    "CREATE OR REPLACE FUNCTION test.f_lock() RETURNS INT DETERMINISTIC "
    "RETURN GET_LOCK('iso_lock', 0)",
    "CREATE OR REPLACE FUNCTION test.f_nextval() RETURNS INT NOT DETERMINISTIC "
    "RETURN NEXTVAL(test.iso_seq)",
    # a stored function with a built-in's name: test.abs(x) is it, abs(x) the built-in
    "CREATE OR REPLACE FUNCTION test.abs(x INT) RETURNS INT DETERMINISTIC "
    "BEGIN SET @abs = 1; RETURN x; END",
    # procedures (CALL): temporary tables and PREPARE are not allowed in functions
    "CREATE OR REPLACE PROCEDURE test.p_uservar() BEGIN SET @pv = 5; END",
    "CREATE OR REPLACE PROCEDURE test.p_sessvar() BEGIN SET SESSION time_zone = '+04:00'; END",
    "CREATE OR REPLACE PROCEDURE test.p_temptable() "
    "BEGIN CREATE TEMPORARY TABLE test.iso_ptmp (a INT); END",
    "CREATE OR REPLACE PROCEDURE test.p_prepare() BEGIN PREPARE iso_pp FROM 'SELECT 1'; END",
    "CREATE OR REPLACE PROCEDURE test.p_lii() BEGIN DO LAST_INSERT_ID(99); END",
    "CREATE OR REPLACE PROCEDURE test.p_lock() BEGIN DO GET_LOCK('iso_lock', 0); END",
    # triggers and views: the text names no routine at all
    "CREATE OR REPLACE TABLE test.iso_trig (a INT)",
    "CREATE OR REPLACE TRIGGER test.iso_trig_bi BEFORE INSERT ON test.iso_trig "
    "FOR EACH ROW SET @trg = NEW.a",
    "CREATE OR REPLACE TABLE test.iso_trigl (a INT)",
    "CREATE OR REPLACE TRIGGER test.iso_trigl_bi BEFORE INSERT ON test.iso_trigl "
    "FOR EACH ROW DO GET_LOCK('iso_lock', 0)",
    "CREATE OR REPLACE VIEW test.iso_view AS SELECT test.f_uservar() AS a",
    "CREATE OR REPLACE VIEW test.iso_vlock AS SELECT test.f_lock() AS a",
]


@pytest.fixture(scope="module")
def server():
    """One MariaDB for the module (its trackers off globally, as the test bed starts it)."""
    # metadata_lock_info: the server then says which user locks a connection holds, which
    # mymux asks before a connection goes back (backends[].lock_check, the `on` path)
    s = testbed.MariaDB(name="iso", extra_args=["--plugin-load-add=metadata_lock_info"]).start()
    try:
        root = s.root_conn()
        for sql in SCHEMA:
            with root.cursor() as cur:
                cur.execute(sql)
        root.close()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def root(server):
    c = server.root_conn()
    yield c
    c.close()


@pytest.fixture(scope="module")
def globals_(root):
    """The server's defaults, for expected values."""
    with root.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.sql_mode, @@GLOBAL.time_zone")
        mode, tz = cur.fetchone()
    return {"sql_mode": mode, "time_zone": tz}


# ------------------------------------------------------------------------------ targets


class Target:
    """Where clients connect: MariaDB itself or a mymux in front of it."""

    def __init__(self, kind, server, host, port, mux=None):
        self.kind = kind
        self.server = server  # the MariaDB behind: where B's own view is read
        self.host = host
        self.port = port
        self.proxied = mux is not None
        self.mux = mux

    def log(self):
        return self.mux.log() if self.mux else ""

    def alive(self):
        return self.mux.alive() if self.mux else True


def mux_config(server, tracking):
    cfg = testbed.default_config([server], 0)
    cfg["workers"] = 1
    cfg["users"] = USERS
    cfg["pool"] = {"max_per_backend": 1, "min_idle": 0, "wait_timeout": POOL_WAIT}
    cfg["backends"][0]["session_tracking"] = tracking
    if tracking == "on":  # MariaDB: the locks hidden in routines and triggers are asked for
        cfg["backends"][0]["lock_check"] = True
    return cfg


@pytest.fixture(scope="module", params=["direct", "on", "off"])
def target(request, server):
    """direct: MariaDB; on: mymux with the server's trackers; off: the classifier only
    (standing for TiDB). One mymux per path, reused by every vector of the module."""
    kind = request.param
    if kind == "direct":
        yield Target(kind, server, server.host, server.port)
        return
    if DIRECT_ONLY:
        pytest.skip("MYMUX_DIRECT=1: only the direct target runs")
    m = testbed.Mymux(mux_config(server, kind), name=f"mymux-iso-{kind}").start()
    try:
        yield Target(kind, server, m.host, m.port, m)
    finally:
        log = m.stop()
        testbed.assert_clean_log(log)


@pytest.fixture
def mymux(target):
    """The target under the name conftest looks for, to attach mymux's log to a failure."""
    return target


# ------------------------------------------------------------------------------ clients


def norm(v):
    """One spelling for a value, whichever client read it (text from isolation_ps)."""
    if isinstance(v, (bytes, bytearray)):
        v = bytes(v).decode("utf-8", "replace")
    if isinstance(v, decimal.Decimal):
        v = str(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
        return int(v)
    return v


def val(conn, sql):
    """Runs sql (str or bytes; every result is read): OK, the first column of the first row
    (a tuple for several columns, None for no row), WAITS on 9001, or error(code)."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall() if cur.description is not None else OK
            while cur.nextset():
                pass
    except DB_ERRORS as e:
        code = e.args[0] if e.args else None
        return WAITS if code == 9001 else error(code)
    if rows is OK:
        return OK
    if not rows:
        return None
    row = rows[0]
    return norm(row[0]) if len(row) == 1 else tuple(norm(x) for x in row)


def nrows(sql):
    """A probe: how many rows sql returns (or WAITS / the error)."""
    def probe(conn):
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return len(cur.fetchall())
        except DB_ERRORS as e:
            return WAITS if e.args[0] == 9001 else error(e.args[0])
    probe.__name__ = sql
    return probe


def _login(open_fn, timeout=10):
    """open_fn() until it does not fail with 9001 (the one connection being given back by a
    client that just left: logging in borrows it too)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return open_fn()
        except DB_ERRORS as e:
            if e.args[0] != 9001 or time.monotonic() > deadline:
                raise


def connect(target, who, lib="pymysql", **kw):
    """A client of target (a Target, or the MariaDB itself) logged in as A or B.

    lib: pymysql (autocommit on: PyMySQL's default autocommit=0 would pin, so the harness's
    clients turn it on), pymysql-defaults or mysqlclient-defaults (each library's own
    defaults, autocommit off)."""
    user, password = A_USER if who == "A" else B_USER
    if lib == "mysqlclient-defaults":
        return _login(lambda: MySQLdb.connect(host=target.host, port=target.port, user=user,
                                              passwd=password, db="test", connect_timeout=10,
                                              **kw))
    if lib == "pymysql":
        kw.setdefault("autocommit", True)
    return _login(lambda: testbed.connect_tcp(target.host, target.port, user, password, "test",
                                              **kw))


def close(conn):
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - broken on purpose or already closed
        pass


class PsClient:
    """isolation_ps (libmariadb) or isolation_go (Go's driver) as a client: one command per
    line, one answer per line."""

    def __init__(self, binary, target, user, password, db="test"):
        self.proc = subprocess.Popen([binary, target.host, str(target.port), user, password, db],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._buf = b""
        first = self._line()
        if first != "ready":
            self.close()
            raise ConnectionError(first)

    def _line(self, timeout=60):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not r:
                raise TimeoutError("isolation_ps did not answer")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return f"exited {self.proc.wait()}: {self.proc.stderr.read().decode()}"
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def cmd(self, *fields):
        self.proc.stdin.write("\t".join(fields).encode() + b"\n")
        self.proc.stdin.flush()
        return self._line()

    def value(self, *fields):
        """cmd's answer as val() gives it."""
        parts = self.cmd(*fields).split("\t")
        if parts[0] == "ok":
            if len(parts) == 1:
                return OK
            return None if parts[1] == "\\N" else norm(parts[1])
        if parts[0] == "err":
            return WAITS if parts[1] == "9001" else error(int(parts[1]))
        raise AssertionError(f"isolation_ps: {parts}")

    def prepare(self, sql):
        """(slot, statement id) or the error."""
        parts = self.cmd("prep", sql).split("\t")
        assert parts[0] == "ok", f"prepare {sql!r}: {parts}"
        return parts[1], parts[2]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture(scope="module")
def isolation_ps(tmp_path_factory):
    """isolation_ps.c compiled against libmariadb (as test_compress builds its client)."""
    out = tmp_path_factory.mktemp("isops") / "isolation_ps"
    flags = subprocess.run(["mariadb_config", "--cflags", "--libs"], capture_output=True,
                           text=True, check=True).stdout.split()
    r = subprocess.run(["cc", "-O1", "-Wall", "-o", str(out),
                        os.path.join(HERE, "isolation_ps.c"), *flags],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


GO_DRIVER = "/usr/share/gocode/src/github.com/go-sql-driver/mysql"


@pytest.fixture(scope="module")
def isolation_go(tmp_path_factory):
    """isolation_go.go built against Debian's go-sql-driver (GOPATH, offline)."""
    if not shutil.which("go") or not os.path.isdir(GO_DRIVER):
        pytest.skip("go or golang-github-go-sql-driver-mysql-dev not installed")
    d = tmp_path_factory.mktemp("isogo")
    env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off", GOFLAGS="",
               GOCACHE=str(d / "cache"), GOPROXY="off")
    r = subprocess.run(["go", "build", "-o", str(d / "isolation_go"),
                        os.path.join(HERE, "isolation_go.go")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    return str(d / "isolation_go")


# ------------------------------------------------------------------------------ vectors


@dataclass
class V:
    """One way to change session state.

    act: A's statements (str, bytes, or a callable taking A's connection); each must succeed.
    probe: SQL (or a callable taking a connection) whose answer shows the state.
    mine: what A's probe reads afterwards (a callable gets the server's defaults).
    clean: what B reads: BASELINE (its own session's reading, taken first) or a value.
    after: what a new B reads once A has left (default: clean).
    settle: run `SELECT 1` after act (False where it would overwrite the state itself, as
    for ROW_COUNT()).
    a_kw, b_kw: connect() options for A and B (character set, MULTI_STATEMENTS).
    setup: root statements run first.
    global_: the state is also visible server-wide (locks), so the server drops it a moment
    after A leaves: the last check polls.
    trackers_only: only MariaDB's trackers can know it (skipped on `off`).
    distinct: A's state differs from B's (False for vectors that check A keeps exactly its
    own values and nothing was invented for it).
    first_not_mine: B's first reading depends on what its session ran before (ROW_COUNT(),
    FOUND_ROWS() of a session's first statement: mymux's own connection setup may differ
    from a fresh server session's), so it must only differ from A's; the second is exact.
    """
    act: list
    probe: Any
    mine: Any
    clean: Any = BASELINE
    after: Any = AS_CLEAN
    settle: bool = True
    a_kw: dict = field(default_factory=dict)
    b_kw: dict = field(default_factory=dict)
    setup: list = field(default_factory=list)
    global_: bool = False
    trackers_only: bool = False
    distinct: bool = True
    first_not_mine: bool = False


TZ = "SELECT @@session.time_zone"
DB = "SELECT DATABASE()"
MODE = "SELECT @@session.sql_mode"
LOCK = "SELECT RELEASE_LOCK('iso_lock')"  # 1: held by this session, 0: by another, NULL: free
TMP = "SELECT COUNT(*) FROM iso_tmp"
LII = "SELECT LAST_INSERT_ID()"
TZ_MODE = "SELECT CONCAT(@@session.time_zone, ' ', @@session.sql_mode)"
ANSI = "REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI"
AI_TABLE = ["CREATE OR REPLACE TABLE test.iso_ai (id INT AUTO_INCREMENT PRIMARY KEY) "
            "AUTO_INCREMENT=77"]
FRESH_SEQ = ["CREATE OR REPLACE SEQUENCE test.iso_seq"]


def lock_vector(act, **kw):
    """A takes user lock iso_lock: another session finds it held by someone else (0), the
    holder releases it (1), and it is free (NULL) once the holder's session is gone."""
    return V(act, LOCK, 1, clean=0, after=None, global_=True, **kw)


TEXT = {
    # --- session variables, each spelling of SET
    "session_time_zone": V(["SET SESSION time_zone='+05:00'"], TZ, "+05:00"),
    "local_time_zone_at_at": V(["SET @@local.time_zone='+05:30'"], TZ, "+05:30"),
    "time_zone_no_scope_lowercase": V(["set time_zone = '-03:00'"], TZ, "-03:00"),
    "sql_mode_ansi_quotes": V(["SET sql_mode='ANSI_QUOTES'"], MODE, "ANSI_QUOTES"),
    "sql_mode_expression": V(["SET sql_mode=CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"],
                             "SELECT FIND_IN_SET('NO_BACKSLASH_ESCAPES', @@sql_mode) > 0", 1),
    "set_names_latin1": V(["SET NAMES latin1"],
                          "SELECT CONCAT(@@character_set_client, ',', @@character_set_results, "
                          "',', @@collation_connection)", "latin1,latin1,latin1_swedish_ci"),
    "set_names_collate": V(["SET NAMES utf8mb4 COLLATE utf8mb4_bin"], "SELECT 'a' = 'A'", 0),
    "set_character_set": V(["SET CHARACTER SET cp1251"],
                           "SELECT CONCAT(@@character_set_client, ',', @@character_set_results)",
                           "cp1251,cp1251"),
    # B's character set is its handshake's (utf8mb4), not the server default (latin1): a
    # revert with `= DEFAULT` would give B latin1
    "character_set_client_revert_is_bs_own": V(["SET character_set_client='latin1'"],
                                               "SELECT @@character_set_client", "latin1"),
    "character_set_client_revert_b_cp1251": V(["SET character_set_client='koi8r'"],
                                              "SELECT @@character_set_client", "koi8r",
                                              b_kw={"charset": "cp1251"}),
    "character_set_results_null": V(["SET character_set_results=NULL"],
                                    "SELECT @@character_set_results IS NULL", 1),
    "time_zone_and_user_variable_in_one_set": V(
        ["SET SESSION time_zone='+02:00', @mix=3"],
        "SELECT CONCAT(@@time_zone, '/', IFNULL(@mix, '-'))", "+02:00/3"),
    "transaction_isolation": V(["SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"],
                               "SELECT @@tx_isolation", "SERIALIZABLE"),
    "lc_time_names": V(["SET lc_time_names='de_DE'"], "SELECT DAYNAME('2024-01-01')", "Montag"),
    "div_precision_increment": V(["SET div_precision_increment=10"],
                                 "SELECT CAST(1/3 AS CHAR)", "0.3333333333"),
    "sql_select_limit": V(["SET SESSION sql_select_limit=1"],
                          nrows("SELECT 1 UNION ALL SELECT 2"), 1),
    "default_storage_engine": V(["SET default_storage_engine=MyISAM"],
                                "SELECT @@default_storage_engine", "MyISAM"),
    "foreign_key_checks": V(["SET foreign_key_checks=0"], "SELECT @@foreign_key_checks", 0),
    "timestamp": V(["SET timestamp=1000000000"], "SELECT UNIX_TIMESTAMP() = 1000000000", 1),
    "insert_id": V(["SET insert_id=100"], "SELECT @@insert_id", 100),
    "last_insert_id_variable": V(["SET last_insert_id=7"], LII, 7),
    "autocommit_off": V(["SET autocommit=0"], "SELECT @@autocommit", 0),
    # SET STATEMENT ... FOR is one statement's: nothing may be replayed for A afterwards
    "set_statement_is_one_shot": V(["SET STATEMENT time_zone='+09:00' FOR SELECT 1"], TZ,
                                   lambda g: g["time_zone"], distinct=False),
    "use_db": V(["USE test2"], DB, "test2"),
    "use_db_backticks": V(["USE `test2`"], DB, "test2"),
    "init_db_command": V([lambda a: a.select_db("test2")], DB, "test2"),
    "set_role": V(["SET ROLE iso_role"], "SELECT CURRENT_ROLE()", "iso_role"),
    "time_zone_assignment_operator": V(["SET @@session.time_zone := '+06:00'"], TZ, "+06:00"),
    "time_zone_from_subquery": V(["SET time_zone = (SELECT '+07:00')"], TZ, "+07:00"),
    "collation_connection_only": V(["SET collation_connection = 'utf8mb4_bin'"],
                                   "SELECT 'a' = 'A'", 0),
    "set_names_quoted": V(["SET NAMES 'latin1'"], "SELECT @@character_set_client", "latin1"),
    "autocommit_assignment_operator": V(["SET @@autocommit := 0"], "SELECT @@autocommit", 0),
    # dynamic SQL: what runs is a string, or an expression
    "execute_immediate_user_variable": V(["EXECUTE IMMEDIATE 'SET @ei = 1'"], "SELECT @ei", 1),
    "execute_immediate_expression": V(
        ["EXECUTE IMMEDIATE CONCAT('SET SESSION time_zone', '=''+05:00''')"], TZ, "+05:00"),
    # the prepared statement is gone, what it did stays
    "executed_then_deallocated": V(["PREPARE iso_p FROM 'SET @pe = 3'", "EXECUTE iso_p",
                                    "DEALLOCATE PREPARE iso_p"], "SELECT @pe", 3),

    # --- user variables, every way to assign one
    "user_variable_set": V(["SET @v=1"], "SELECT @v", 1),
    "user_variable_select_assign": V(["SELECT @w:=1"], "SELECT @w", 1),
    "user_variable_select_into": V(["SELECT 1 INTO @i"], "SELECT @i", 1),
    "user_variable_from_dual_into": V(["SELECT 2 FROM DUAL INTO @i2"], "SELECT @i2", 2),
    "user_variable_do": V(["DO @z:=1"], "SELECT @z", 1),
    "user_variable_parenthesized": V(["SELECT (@par := 4)"], "SELECT @par", 4),
    "user_variable_backquoted_name": V(["SET @`q v`=1"], "SELECT @`q v`", 1),
    "user_variable_single_quoted_name": V(["SELECT @'sq':=1"], "SELECT @sq", 1),
    "user_variable_double_quoted_name": V(['SELECT @"dq":=1'], "SELECT @dq", 1),

    # --- locks, temporary objects, prepared SQL, transactions
    "get_lock": lock_vector(["SELECT GET_LOCK('iso_lock', 0)"]),
    "get_lock_do": lock_vector(["DO GET_LOCK('iso_lock', 0)"]),
    "get_lock_in_expression": lock_vector(["SELECT IF(GET_LOCK('iso_lock', 0), 'y', 'n')"]),
    "temporary_table": V(["CREATE TEMPORARY TABLE iso_tmp (a INT)",
                          "INSERT INTO iso_tmp VALUES (1)"], TMP, 1),
    "temporary_table_lowercase_commented": V(["create /* x */ temporary table iso_tmp (a int)"],
                                             TMP, 0),
    "temporary_table_or_replace": V(["CREATE OR REPLACE TEMPORARY TABLE iso_tmp (a INT)"],
                                    TMP, 0),
    "temporary_table_as_select": V(["CREATE TEMPORARY TABLE iso_tmp SELECT 1 AS a"], TMP, 1),
    "temporary_table_in_executable_comment": V(["/*!CREATE TEMPORARY TABLE iso_tmp (a INT)*/"],
                                               TMP, 0),
    # a temporary table hides the permanent one of the same name for its session only
    "temporary_table_shadows_a_table": V(
        ["CREATE TEMPORARY TABLE iso_shadow (a INT)"], "SELECT COUNT(*) FROM iso_shadow", 0,
        setup=["CREATE OR REPLACE TABLE test.iso_shadow (a INT)",
               "INSERT INTO test.iso_shadow VALUES (1), (2), (3)"]),
    "temporary_sequence": V(["CREATE TEMPORARY SEQUENCE iso_tseq", "SELECT NEXTVAL(iso_tseq)"],
                            "SELECT PREVIOUS VALUE FOR iso_tseq", 1),
    "text_prepare": V(["PREPARE iso_p FROM 'SELECT 1'"], "EXECUTE iso_p", 1),
    "text_prepare_from_variable": V(["SET @s='SELECT 2'", "PREPARE iso_p FROM @s"],
                                    "EXECUTE iso_p", 2),
    "handler_open": V(["HANDLER iso_h OPEN"], "HANDLER iso_h READ FIRST", 1),
    "lock_tables": V(["LOCK TABLES iso_rw READ"], "SELECT COUNT(*) FROM iso_h", error(1100)),
    "lock_table_singular_write": V(["LOCK TABLE iso_rw WRITE"], "SELECT COUNT(*) FROM iso_h",
                                   error(1100)),
    "flush_tables_with_read_lock": V(["FLUSH TABLES iso_rw WITH READ LOCK"],
                                     "SELECT COUNT(*) FROM iso_h", error(1100)),
    "flush_tables_for_export": V(["FLUSH TABLES iso_rw FOR EXPORT"],
                                 "SELECT COUNT(*) FROM iso_h", error(1100)),
    "temporary_table_like": V(["CREATE TEMPORARY TABLE iso_tmp LIKE iso_h"], TMP, 0),
    "start_transaction": V(["START TRANSACTION"], "SELECT @@in_transaction", 1),
    "begin": V(["BEGIN"], "SELECT @@in_transaction", 1),
    "xa_start": V(["XA START 'iso_xa'"], "SELECT @@in_transaction", 1),
    # A's uncommitted row is A's only
    "autocommit_off_uncommitted_row": V(["SET autocommit=0", "INSERT INTO iso_rw VALUES (5)"],
                                        "SELECT COUNT(*) FROM iso_rw WHERE a = 5", 1),
    # one-shot characteristics: on MariaDB 10.11 they outlive the SELECT 1 that follows
    "set_transaction_read_only": V(["SET TRANSACTION READ ONLY"],
                                   "INSERT INTO iso_rw VALUES (1)", error(1792)),
    "set_session_transaction_read_only": V(["SET SESSION TRANSACTION READ ONLY"],
                                           "INSERT INTO iso_rw VALUES (1)", error(1792)),
    "tx_read_only_variable": V(["SET SESSION tx_read_only=1"], "INSERT INTO iso_rw VALUES (1)",
                               error(1792)),
    # BACKUP LOCK: another session's DDL on the table times out (1205), the holder's own is
    # refused (1223), and it is possible once the holder has gone
    "backup_lock": V(["BACKUP LOCK test.iso_bl"], "TRUNCATE TABLE test.iso_bl NOWAIT",
                     error(1223), clean=error(1205), after=OK, global_=True),
    "profiling_variable": V(["SET profiling=1"], "SELECT @@profiling", 1),
    # B's SHOW PROFILES must not list A's statements
    "profiling_show_profiles": V(["SET profiling=1", "SELECT 'profiled'"],
                                 nrows("SHOW PROFILES"), 2),
    "sequence_nextval": V(["SELECT NEXTVAL(iso_seq)"], "SELECT LASTVAL(iso_seq)", 1,
                          setup=FRESH_SEQ),
    "sequence_next_value_for": V(["SELECT NEXT VALUE FOR iso_seq"],
                                 "SELECT PREVIOUS VALUE FOR iso_seq", 1, setup=FRESH_SEQ),
    # warnings are the last statement's: B's own count, not A's
    "warnings": V(["SELECT 1/0"], "SELECT @@warning_count", 1, settle=False),

    # --- names written another way (each read back with LAST_INSERT_ID() by both)
    "last_insert_id_call": V(["SELECT LAST_INSERT_ID(42)"], LII, 42),
    "last_insert_id_backticks": V(["SELECT `LAST_INSERT_ID`(42)"], LII, 42),
    "last_insert_id_comment_before_paren": V(["SELECT LAST_INSERT_ID /**/ (42)"], LII, 42),
    "last_insert_id_comment_in_args": V(["SELECT LAST_INSERT_ID(/**/42)"], LII, 42),
    "last_insert_id_lowercase_do": V(["DO last_insert_id(42)"], LII, 42),
    "last_insert_id_counter_update": V(
        ["UPDATE iso_counter SET n = LAST_INSERT_ID(n + 1)"], LII, 42,
        setup=["CREATE OR REPLACE TABLE test.iso_counter (n INT)",
               "INSERT INTO test.iso_counter VALUES (41)"]),
    "get_lock_backticks": lock_vector(["SELECT `GET_LOCK`('iso_lock', 0)"]),
    "get_lock_comment_before_paren": lock_vector(["SELECT get_lock /**/ ('iso_lock', 0)"]),
    "get_lock_comment_in_args": lock_vector(["SELECT GET_LOCK(/**/'iso_lock', 0)"]),
}

# A's INSERT sets LAST_INSERT_ID() to 77; B reads its own (0) however it spells the read.
for _name, _probe in {"plain": LII, "comment_in_parens": "SELECT LAST_INSERT_ID(/**/)",
                      "comment_before_paren": "SELECT LAST_INSERT_ID /**/ ()",
                      "backticks": "SELECT `LAST_INSERT_ID`()", "identity": "SELECT @@identity",
                      "last_insert_id_variable": "SELECT @@last_insert_id",
                      "session_identity": "SELECT @@session.identity"}.items():
    TEXT[f"insert_then_read_last_insert_id_{_name}"] = V(
        ["INSERT INTO iso_ai VALUES ()"], _probe, 77, setup=AI_TABLE)

# A's UPDATE changes 3 rows and its SELECT SQL_CALC_FOUND_ROWS finds 3; B's ROW_COUNT() and
# FOUND_ROWS() are its own however spelled. No SELECT 1 after: it would reset A's own.
for _name, _spelling in {"plain": "{}()", "backticks": "`{}`()", "comment_before_paren":
                         "{} /**/ ()", "comment_in_parens": "{}(/**/)",
                         "comment_before": "/* c */ {}()", "lowercase": "{}( )"}.items():
    for _fn, _act in (("ROW_COUNT", "UPDATE iso_rc SET v = v + 1"),
                      ("FOUND_ROWS", "SELECT SQL_CALC_FOUND_ROWS * FROM iso_rc LIMIT 1")):
        _call = _spelling.format(_fn.lower() if _name == "lowercase" else _fn)
        TEXT[f"{_fn.lower()}_{_name}"] = V([_act], f"SELECT {_call}", 3, settle=False,
                                           first_not_mine=True)


# --- lexing: text whose tokens only the server's rules show
LEAD = {"gbk": b"\xbf", "sjis": b"\x95", "cp932": b"\x95", "big5": b"\xa5"}


def mb_string(cs):
    """A string literal ending in a 2-byte character whose trail byte is 0x5C: it closes for
    the server; a lexer that ignores the character set takes \\' as an escaped quote."""
    return b"'" + LEAD[cs] + b"\\'"


for _cs in LEAD:
    _s = mb_string(_cs)
    _names = [f"SET NAMES {_cs}"]
    TEXT[f"{_cs}_hides_user_variable"] = V(
        _names + [b"SELECT LENGTH(" + _s + b") AS n, @mb:=1 AS m #'"], "SELECT @mb", 1)
    TEXT[f"{_cs}_hides_set_session"] = V(
        _names + [b"SELECT LENGTH(" + _s + b") AS n; SET SESSION time_zone='+05:00' #'"],
        TZ, "+05:00", a_kw=MULTI)
    TEXT[f"{_cs}_hides_use"] = V(
        _names + [b"SELECT LENGTH(" + _s + b") AS n; USE test2 #'"], DB, "test2", a_kw=MULTI)
    # the character set from the handshake, not from SET NAMES
    TEXT[f"{_cs}_handshake_hides_user_variable"] = V(
        [b"SELECT LENGTH(" + _s + b") AS n, @mb:=1 AS m #'"], "SELECT @mb", 1,
        a_kw={"charset": _cs})

_GBK = mb_string("gbk")
TEXT.update({
    "gbk_hides_get_lock": lock_vector(
        ["SET NAMES gbk", b"SELECT LENGTH(" + _GBK + b") AS n, GET_LOCK('iso_lock', 0) AS l #'"]),
    "gbk_hides_temporary_table": V(
        ["SET NAMES gbk", b"SELECT LENGTH(" + _GBK + b") AS n; CREATE TEMPORARY TABLE iso_tmp "
         b"(a INT) #'"], TMP, 0, a_kw=MULTI),
    "gbk_hides_sql_mode": V(
        ["SET NAMES gbk", b"SELECT LENGTH(" + _GBK + b") AS n; SET sql_mode='ANSI_QUOTES' #'"],
        MODE, "ANSI_QUOTES", a_kw=MULTI),
    "gbk_character_set_client_only": V(
        ["SET character_set_client='gbk'", b"SELECT LENGTH(" + _GBK + b") AS n, @mb:=1 AS m #'"],
        "SELECT @mb", 1),
    "gbk_set_character_set": V(
        ["SET CHARACTER SET gbk", b"SELECT LENGTH(" + _GBK + b") AS n, @mb:=1 AS m #'"],
        "SELECT @mb", 1),
})

# sql_mode values that turn ANSI_QUOTES on without saying "ansi": "a\" is an identifier that
# ends at the second quote for the server, a string that does not end for a naive lexer.
for _mode in ["ORACLE", "POSTGRESQL", "MSSQL", "DB2", "MAXDB", "ANSI", "ANSI_QUOTES",
              "TRADITIONAL,ANSI_QUOTES", "4", "512"]:
    _set = f"SET sql_mode={_mode}" if _mode.isdigit() else f"SET sql_mode='{_mode}'"
    _tag = _mode.lower().replace(",", "_")
    TEXT[f"sql_mode_{_tag}_hides_user_variable"] = V(
        [_set, 'SELECT 1 AS "a\\", @aq:=1 #"'], "SELECT @aq", 1)
for _mode in ["ORACLE", "4"]:
    _set = f"SET sql_mode={_mode}" if _mode.isdigit() else f"SET sql_mode='{_mode}'"
    TEXT[f"sql_mode_{_mode.lower()}_hides_set_session"] = V(
        [_set, 'SELECT 1 AS "a\\"; SET SESSION time_zone=\'+05:00\' #"'], TZ, "+05:00",
        a_kw=MULTI)
TEXT.update({
    "sql_mode_expression_hides_user_variable": V(
        ["SET sql_mode=CONCAT('ANSI', '_QUOTES')", 'SELECT 1 AS "a\\", @aq:=1 #"'],
        "SELECT @aq", 1),
    # NO_BACKSLASH_ESCAPES: 'a\' is a whole string for the server
    "no_backslash_escapes_hides_user_variable": V(
        ["SET sql_mode='NO_BACKSLASH_ESCAPES'", "SELECT LENGTH('a\\') AS n, @nbe:=1 #'"],
        "SELECT @nbe", 1),
    "no_backslash_escapes_numeric_hides_user_variable": V(
        ["SET sql_mode=1048576", "SELECT LENGTH('a\\') AS n, @nbe:=1 #'"], "SELECT @nbe", 1),
    "no_backslash_escapes_hides_use": V(
        ["SET sql_mode='TRADITIONAL,NO_BACKSLASH_ESCAPES'", "SELECT LENGTH('a\\') AS n; "
         "USE test2 #'"], DB, "test2", a_kw=MULTI),
    # executable comments: versions the server skips must not be taken as run (nor a
    # sql_mode the client never had replayed), versions it runs must be
    "comment_80000_skipped": V(["SET time_zone='+01:00' /*!80000 , sql_mode='ANSI' */"],
                               TZ_MODE, lambda g: "+01:00 " + g["sql_mode"]),
    "comment_50700_skipped": V(["SET time_zone='+01:00' /*!50700 , sql_mode='ANSI' */"],
                               TZ_MODE, lambda g: "+01:00 " + g["sql_mode"]),
    "comment_99999_skipped": V(["SET time_zone='+01:00' /*!99999 , sql_mode='ANSI' */"],
                               TZ_MODE, lambda g: "+01:00 " + g["sql_mode"]),
    "comment_mariadb_999999_skipped": V(
        ["SET time_zone='+01:00' /*M!999999 , sql_mode='ANSI' */"], TZ_MODE,
        lambda g: "+01:00 " + g["sql_mode"]),
    "comment_unversioned_runs": V(["SET time_zone='+01:00' /*! , sql_mode='ANSI' */"],
                                  TZ_MODE, "+01:00 " + ANSI),
    "comment_50600_runs": V(["SET time_zone='+01:00' /*!50600 , sql_mode='ANSI' */"],
                            TZ_MODE, "+01:00 " + ANSI),
    "comment_mariadb_100000_runs": V(["SET time_zone='+01:00' /*M!100000 , sql_mode='ANSI' */"],
                                     TZ_MODE, "+01:00 " + ANSI),
    "comment_runs_user_variable": V(["SELECT 1 /*!, @ec:=1 */"], "SELECT @ec", 1),
    "comment_runs_get_lock": lock_vector(["SELECT 1 /*!50000 , GET_LOCK('iso_lock', 0) */"]),
    # comments and quotes the server reads differently from a simple lexer
    "double_dash_without_space_is_minus": V(["SELECT 2 --(@dd:=1)"], "SELECT @dd", 1),
    "hash_in_backticks": V(["SELECT 1 AS `#`, @bt:=1"], "SELECT @bt", 1),
    "doubled_backtick": V(["SELECT 1 AS `x```, @bq:=1 -- `"], "SELECT @bq", 1),
    "quote_in_backticks": V(["SELECT 1 AS `'`, @iq:=1 -- `"], "SELECT @iq", 1),
    "comments_do_not_nest": V(["SELECT 1 /* /* */ , @nc:=1 -- */"], "SELECT @nc", 1),
    "hash_comment_ends_at_newline": V(["SELECT 1 # c\n, @nl:=1"], "SELECT @nl", 1),
    "semicolon_in_string_then_statement": V(["SELECT ';' AS s; SET SESSION time_zone='+05:00'"],
                                            TZ, "+05:00", a_kw=MULTI),
})

# --- routines: state no text shows (MariaDB only). On `off` the classifier must pin any call
# of a function that is not a built-in, and CALL; triggers and views show no call at all.
TEXT.update({
    "function_sets_user_variable": V(["SELECT f_uservar()"], "SELECT @fx", 7),
    "function_qualified_backticks": V(["SELECT `test`.`f_uservar`()"], "SELECT @fx", 7),
    "function_comment_before_paren": V(["SELECT f_uservar /**/ ()"], "SELECT @fx", 7),
    "function_in_update_where": V(["UPDATE iso_h SET a = a WHERE f_uservar() = 1"],
                                  "SELECT @fx", 7),
    "function_do": V(["DO f_uservar()"], "SELECT @fx", 7),
    "function_named_like_builtin": V(["SELECT test.abs(-1)"], "SELECT @abs", 1),
    "function_sets_session_variable": V(["SELECT f_sessvar()"], TZ, "+03:00"),
    "function_takes_lock": lock_vector(["SELECT f_lock()"]),
    "function_nextval": V(["SELECT f_nextval()"], "SELECT LASTVAL(iso_seq)", 1, setup=FRESH_SEQ),
    "procedure_sets_user_variable": V(["CALL p_uservar()"], "SELECT @pv", 5),
    "procedure_sets_session_variable": V(["CALL p_sessvar()"], TZ, "+04:00"),
    "procedure_creates_temporary_table": V(["CALL p_temptable()"],
                                           "SELECT COUNT(*) FROM iso_ptmp", 0),
    "procedure_prepares": V(["CALL p_prepare()"], "EXECUTE iso_pp", 1),
    "procedure_last_insert_id": V(["CALL p_lii()"], LII, 99),
    "procedure_takes_lock": lock_vector(["CALL p_lock()"]),
    "trigger_sets_user_variable": V(["INSERT INTO iso_trig VALUES (42)"], "SELECT @trg", 42,
                                    trackers_only=True),
    "trigger_takes_lock": lock_vector(["INSERT INTO iso_trigl VALUES (1)"], trackers_only=True),
    "view_over_function": V(["SELECT a FROM iso_view"], "SELECT @fx", 7, trackers_only=True),
    "view_over_lock_function": lock_vector(["SELECT a FROM iso_vlock"], trackers_only=True),
})


# ------------------------------------------------------------------------------ the runner


def resolve(expected, globals_):
    return expected(globals_) if callable(expected) else expected


def probe_of(probe):
    return probe if callable(probe) else (lambda conn: val(conn, probe))


def poll_past_waits(fn, timeout=10):
    """fn() until it answers other than WAITS (a client that just left is giving the one
    connection back)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v != WAITS or time.monotonic() > deadline:
            return v


def run_vector(target, root, globals_, name, v, open_a, a_probe=None):
    """Steps 1-5 of the module docstring. open_a() -> (A's connection or client, close it,
    act(stmt) -> answer); a_probe(A) -> A's reading (default: v.probe on A)."""
    if target.kind == "off" and v.trackers_only:
        pytest.skip("only the server's trackers can see it: the text names no routine, and "
                    "TiDB (which the off path stands for) has no triggers or stored functions")
    for sql in v.setup:
        assert val(root, sql) != WAITS
    probe = probe_of(v.probe)

    # 1. B's own view: what B's session reads on MariaDB itself (through mymux, a leak of an
    # earlier vector could already be on the connection)
    b0 = connect(target.server, "B", **v.b_kw)
    own = [probe(b0), probe(b0)]
    close(b0)
    assert WAITS not in own, f"{name}: B waited for its own baseline: {own}"
    clean = own if v.clean == BASELINE else [v.clean, v.clean]
    after = clean if v.after == AS_CLEAN else [v.after, v.after]
    mine = resolve(v.mine, globals_)
    if v.distinct:
        assert mine != clean[0], f"{name}: the vector changes nothing B could see ({mine!r})"

    # 2. B, then A; A changes its session and then looks clean
    b = connect(target, "B", **v.b_kw)
    a, close_a, act = open_a()
    try:
        for stmt in v.act:
            got = poll_past_waits(lambda: act(stmt))
            assert got != WAITS and not str(got).startswith("<error"), (
                f"{name}: A's {stmt!r} failed: {got}")
        if v.settle:
            assert poll_past_waits(lambda: act("SELECT 1")) == 1

        # 3. B reads exactly its own view, or waits for the connection A keeps
        seen = [probe(b)]
        seen.append(WAITS if seen[0] == WAITS else probe(b))  # waiting twice proves no more
        close(b)
        for i, (got, want) in enumerate(zip(seen, clean)):
            ok = got != mine if i == 0 and v.first_not_mine else got == want
            assert ok or (target.proxied and got == WAITS), (
                f"{name}: B read {got!r} where its own session reads {want!r} "
                f"(A's state is {mine!r}): A's session state reached B")

        # 4. A still has its own state
        got = poll_past_waits(lambda: (a_probe or probe)(a))
        assert got == mine, f"{name}: A read {got!r}, its own state is {mine!r}"
    finally:
        close_a()

    # 5. the connection A left carries nothing of A's to the next session
    deadline = time.monotonic() + 10
    while True:
        b2 = connect(target, "B", **v.b_kw)
        first = poll_past_waits(lambda: probe(b2))
        post = [first, probe(b2)]
        close(b2)
        ok = (post[0] != mine and post[1] == after[1]) if v.first_not_mine else post == after
        if ok or not v.global_ or time.monotonic() > deadline:
            break
    assert ok, (f"{name}: after A left, a new B read {post!r} where its own session reads "
                f"{after!r} (A's state is {mine!r})")
    assert target.alive(), f"mymux died:\n{target.log()[-4000:]}"


def pymysql_a(target, v, lib="pymysql"):
    def open_a():
        kw = dict(v.a_kw)
        a = connect(target, "A", lib=lib, **kw)

        def act(stmt):
            if callable(stmt):
                try:
                    stmt(a)
                    return OK
                except DB_ERRORS as e:
                    return WAITS if e.args[0] == 9001 else error(e.args[0])
            return val(a, stmt)
        return a, lambda: close(a), act
    return open_a


# A user lock taken by a stored function that the text does not name (through a view) or by
# a trigger: MariaDB 10.11's trackers report no change for GET_LOCK() and the statement names
# no routine; the `on` path sees them because mymux asks metadata_lock_info before the
# connection goes back (backends[].lock_check; the `off` path stands for TiDB, which has
# neither views over functions nor triggers, and skips them).
@pytest.mark.parametrize("name", sorted(TEXT))
def test_text(mymux, root, globals_, name):
    """Text protocol (COM_QUERY, COM_INIT_DB) from PyMySQL, autocommit on."""
    v = TEXT[name]
    run_vector(mymux, root, globals_, name, v, pymysql_a(mymux, v))


# --- the same vectors from applications that keep their library's defaults (autocommit off)
DEFAULTS_VECTORS = ["session_time_zone", "sql_mode_ansi_quotes",
                    "character_set_client_revert_is_bs_own",
                    "user_variable_set", "get_lock", "temporary_table", "text_prepare",
                    "use_db", "last_insert_id_call", "sequence_nextval",
                    "function_sets_user_variable", "procedure_sets_user_variable"]


@pytest.mark.parametrize("lib", ["pymysql-defaults", "mysqlclient-defaults"])
@pytest.mark.parametrize("name", DEFAULTS_VECTORS)
def test_library_defaults(mymux, root, globals_, lib, name):
    """A keeps its library's defaults (PyMySQL, mysqlclient: autocommit=0, so A runs inside
    a transaction); B observes with autocommit on."""
    if lib.startswith("mysqlclient") and MySQLdb is None:
        pytest.skip("mysqlclient (python3-mysqldb) not installed")
    v = TEXT[name]
    run_vector(mymux, root, globals_, name, v, pymysql_a(mymux, v, lib=lib))


# --- binary protocol: isolation_ps prepares and executes as A
@dataclass
class P:
    """A prepared statement run by A: sql with params (strings), then v's probe and values."""
    sql: str
    params: list
    v: V


PS = {
    "time_zone": P("SET SESSION time_zone='+08:00'", [], V([], TZ, "+08:00")),
    "time_zone_parameter": P("SET SESSION time_zone=?", ["+07:00"], V([], TZ, "+07:00")),
    "sql_mode": P("SET sql_mode='ANSI_QUOTES'", [], V([], MODE, "ANSI_QUOTES")),
    "sql_mode_parameter": P("SET sql_mode=?", ["ANSI_QUOTES"], V([], MODE, "ANSI_QUOTES")),
    # what the statement does depends on its parameters
    "sql_mode_parameter_and_user_variable": P(
        "SET sql_mode=?, @pq=1", ["NO_BACKSLASH_ESCAPES"], V([], "SELECT @pq", 1)),
    "set_names": P("SET NAMES latin1", [], V([], "SELECT @@character_set_client", "latin1")),
    "user_variable_parameter": P("SET @v=?", ["7"], V([], "SELECT @v", 7)),
    "select_into_user_variable": P("SELECT ? INTO @v", ["5"], V([], "SELECT @v", 5)),
    "select_assign_user_variable": P("SELECT @w:=?", ["6"], V([], "SELECT @w", 6)),
    "get_lock_parameter": P("SELECT GET_LOCK(?, 0)", ["iso_lock"], lock_vector([])),
    "temporary_table": P("CREATE TEMPORARY TABLE iso_tmp (a INT)", [], V([], TMP, 0)),
    "last_insert_id_parameter": P("SELECT LAST_INSERT_ID(?)", ["42"], V([], LII, 42)),
    "sequence_nextval": P("SELECT NEXTVAL(iso_seq)", [],
                          V([], "SELECT LASTVAL(iso_seq)", 1, setup=FRESH_SEQ)),
    "function_sets_user_variable": P("SELECT f_uservar()", [], V([], "SELECT @fx", 7)),
    "call_sets_user_variable": P("CALL p_uservar()", [], V([], "SELECT @pv", 5)),
    "use_db": P("USE test2", [], V([], DB, "test2")),
    "autocommit_off": P("SET autocommit=0", [], V([], "SELECT @@autocommit", 0)),
    "start_transaction": P("START TRANSACTION", [], V([], "SELECT @@in_transaction", 1)),
    "set_transaction_read_only": P("SET TRANSACTION READ ONLY", [],
                                   V([], "INSERT INTO iso_rw VALUES (1)", error(1792))),
    "profiling": P("SET profiling=1", [], V([], "SELECT @@profiling", 1)),
}


@pytest.mark.parametrize("name", sorted(PS))
def test_binary_protocol(mymux, root, globals_, isolation_ps, name):
    """A (libmariadb) prepares the statement while its session is clean, runs SELECT 1,
    executes it, runs SELECT 1: the statement changes state only at EXECUTE."""
    p = PS[name]

    def open_a():
        a = _login_ps(isolation_ps, mymux, *A_USER)
        try:
            slot, _ = a.prepare(p.sql)
            assert a.value("q", "SELECT 1") == 1
            got = a.value("exec", slot, *p.params)
            assert got != WAITS and not str(got).startswith("<error"), (
                f"EXECUTE {p.sql!r}: {got}")
        except BaseException:
            a.close()
            raise
        return a, a.close, lambda stmt: a.value("q", stmt)

    run_vector(mymux, root, globals_, f"binary {name}", p.v, open_a,
               a_probe=lambda a: a.value("q", p.v.probe))


def _login_ps(binary, target, user, password, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return PsClient(binary, target, user, password)
        except ConnectionError as e:
            if not str(e).startswith("err\t9001") or time.monotonic() > deadline:
                raise


# --- prepared statements end with the session the server would end
@pytest.mark.parametrize("how", ["reset_connection", "change_user"])
def test_prepared_statements_forgotten(mymux, isolation_ps, how):
    """After COM_RESET_CONNECTION / COM_CHANGE_USER the client's prepared statements are gone:
    an EXECUTE of an old id fails as on the server (1243), and so does EXECUTE of SQL PREPARE;
    the session's user variables are gone too, and new statements work."""
    a = _login_ps(isolation_ps, mymux, *A_USER)
    try:
        slot, stmt_id = a.prepare("SELECT 'kept'")
        assert a.value("exec", slot) == "kept"
        assert a.value("q", "PREPARE iso_p FROM 'SELECT 1'") == OK
        assert a.value("q", "SET @v = 1") == OK
        if how == "reset_connection":
            assert a.value("reset") == OK
        else:
            assert a.value("change_user", *B_USER, "test") == OK
        assert a.value("exec_id", stmt_id) == error(1243), "an old statement id still works"
        assert a.value("q", "EXECUTE iso_p") == error(1243), "SQL PREPARE survived"
        assert a.value("q", "SELECT @v") is None
        slot2, _ = a.prepare("SELECT 'new'")
        assert a.value("exec", slot2) == "new"
    finally:
        a.close()


def test_foreign_statement_id(mymux, isolation_ps):
    """A statement id is its session's: another client that sends it executes nothing."""
    b = _login_ps(isolation_ps, mymux, *B_USER)
    a = None
    try:
        _, stmt_id = b.prepare("SELECT 'b only'")
        a = _login_ps(isolation_ps, mymux, *A_USER)
        assert a.value("exec_id", stmt_id) == error(1243), "A executed B's statement"
    finally:
        b.close()
        if a:
            a.close()


# --- Go's driver with its defaults: a query with arguments is prepared on the server,
# executed and closed (interpolateParams=false); A keeps one database/sql Conn
GO = {
    "set_time_zone_argument": P("SET SESSION time_zone = ?", ["+06:00"], V([], TZ, "+06:00")),
    "set_sql_mode_argument": P("SET sql_mode = ?", ["ANSI_QUOTES"], V([], MODE, "ANSI_QUOTES")),
    "set_user_variable_argument": P("SET @gv = ?", ["9"], V([], "SELECT @gv", 9)),
    "get_lock_argument": P("SELECT GET_LOCK(?, 0)", ["iso_lock"], lock_vector([])),
    "last_insert_id_argument": P("SELECT LAST_INSERT_ID(?)", ["42"], V([], LII, 42)),
    "temporary_table_argument": P("CREATE TEMPORARY TABLE iso_tmp SELECT ? AS a", ["1"],
                                  V([], TMP, 1)),
    "function_argument": P("SELECT f_uservar() + ?", ["0"], V([], "SELECT @fx", 7)),
}


@pytest.mark.parametrize("name", sorted(GO))
def test_go_driver_defaults(mymux, root, globals_, isolation_go, name):
    """A is Go's driver: the statement with arguments is prepared, executed and closed."""
    p = GO[name]

    def open_a():
        a = _login_ps(isolation_go, mymux, *A_USER)
        try:
            got = a.value("once", p.sql, *p.params)
            assert got != WAITS and not str(got).startswith("<error"), f"{p.sql!r}: {got}"
        except BaseException:
            a.close()
            raise
        return a, a.close, lambda stmt: a.value("q", stmt)

    run_vector(mymux, root, globals_, f"go {name}", p.v, open_a,
               a_probe=lambda a: a.value("q", p.v.probe))
