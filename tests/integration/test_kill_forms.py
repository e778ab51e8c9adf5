"""KILL and CONNECTION_ID() in every form a client can send them (issue 10, in part).

Client-visible connection ids are mymux's; the backend's thread ids are another space. mymux
runs KILL itself: a text one with a literal id, and one prepared on the server (a literal id,
or `KILL ?` with the id as its parameter) at each EXECUTE. A KILL whose target it cannot read
(an expression, a statement of a multi-statement text, KILL QUERY ID's server query id) would be read by the backend in its own id space and could end an unrelated
backend thread: it is refused with a clear error, never forwarded. CONNECTION_ID() in a
prepared statement returns the session's id as in a text query.
"""

from types import SimpleNamespace

import pymysql
import pytest
from pymysql.constants import CLIENT

import testbed
from test_isolation import PsClient, isolation_go, isolation_ps  # noqa: F401 - fixtures

pytestmark = pytest.mark.proxy_only


def err(conn, sql):
    with pytest.raises(pymysql.MySQLError) as ei:
        with conn.cursor() as cur:
            cur.execute(sql)
    return ei.value.args[0], ei.value.args[1]


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()[0][0]


def test_kill_that_cannot_be_translated_is_refused(mymux):
    victim = mymux.connect(database="test", autocommit=True)
    killer = mymux.connect(database="test", autocommit=True,
                           client_flag=CLIENT.MULTI_STATEMENTS)
    vid = victim.thread_id()
    try:
        for sql in (f"KILL 0+{vid}", f"KILL QUERY {vid} + 0", f"SELECT 1; KILL {vid}",
                    f"DO 1; KILL CONNECTION {vid}"):
            code, msg = err(killer, sql)
            assert code == 1105 and "KILL takes a literal connection id" in msg, (sql, msg)
        assert one(victim, "SELECT 1") == 1  # nobody was killed
        assert one(killer, "SELECT 1") == 1
    finally:
        victim.close()
        killer.close()


def gone(conn):
    try:
        one(conn, "SELECT 1")
        return False
    except pymysql.MySQLError:
        return True


def test_kill_query_id_refused(mymux):
    """KILL QUERY ID names a server's query id (another space again): it never reaches the
    backend."""
    victim = mymux.connect(database="test", autocommit=True)
    killer = mymux.connect(database="test", autocommit=True)
    try:
        code, msg = err(killer, f"KILL QUERY ID {victim.thread_id()}")
        assert code == 1105 and "KILL QUERY ID" in msg, msg
        assert one(victim, "SELECT 1") == 1
        assert one(killer, "SELECT 1") == 1
    finally:
        victim.close()
        killer.close()


SHARED_USERS = {"users": [
    {"name": "alice", "password": "a", "backend_user": "app", "backend_password": "apppass"},
    {"name": "bob", "password": "b", "backend_user": "app", "backend_password": "apppass"},
    {"name": "boss", "password": "c", "backend_user": "app", "backend_password": "apppass",
     "kill_others": True},
]}


def execute(conn, sql):
    with conn.cursor() as cur:
        return cur.execute(sql)


def test_kill_user_reaches_the_mymux_users_sessions(mymux_factory, backends):
    """KILL [CONNECTION|QUERY] USER (MariaDB's form) names a mymux user: its sessions are
    the victims, never the connections of the backend user the pool shares (here all
    three users log in to the backend as one). Counted in the OK's affected rows as the
    server does; another user's sessions need kill_others (1396 as a server answers a
    user that may see but not kill them), and a name with no session kills nothing."""
    import threading
    m = mymux_factory(SHARED_USERS)
    conns = []

    def login(user, pw):
        c = m.connect(user=user, password=pw, database="test", autocommit=True)
        conns.append(c)
        return c
    alice, alice2 = login("alice", "a"), login("alice", "a")
    bob, boss = login("bob", "b"), login("boss", "c")
    try:
        code, msg = err(bob, "KILL USER alice")
        assert code == 1396 and "KILL USER failed for alice@%" in msg, (code, msg)
        code, msg = err(bob, "KILL QUERY USER 'alice'@'127.0.0.1'")
        assert code == 1396, (code, msg)
        assert execute(bob, "KILL USER nobody") == 0
        assert execute(boss, "KILL USER bob@'10.9.9.9'") == 0  # another client address
        assert one(alice, "SELECT 1") == 1 and one(bob, "SELECT 1") == 1

        # KILL QUERY USER stops the user's running statement and leaves its connections
        box = {}
        t = threading.Thread(target=lambda: box.update(r=_swallow(alice2, "SELECT SLEEP(30)")))
        t.start()
        testbed.wait_until(lambda: _sleeping(backends[0], 30), 10, what="alice2 sleeping")
        assert execute(alice, "KILL QUERY USER alice") == 2  # both of alice's sessions
        t.join(20)
        assert box.get("r") in (1, 1317), f"the sleep was not interrupted: {box}"
        assert one(alice2, "SELECT 2") == 2 and one(alice, "SELECT 3") == 3

        # KILL CONNECTION USER from a user with kill_others, with the client's address
        assert execute(boss, "KILL CONNECTION USER bob@'127.0.0.1'") == 1
        testbed.wait_until(lambda: gone(bob), 10, what="bob's session killed")
        assert one(boss, "SELECT 1") == 1 and one(alice, "SELECT 1") == 1

        # a busy session killed by KILL USER: its statement is stopped on the server too
        t = threading.Thread(target=lambda: box.update(k=_swallow(alice2, "SELECT SLEEP(31)")))
        t.start()
        testbed.wait_until(lambda: _sleeping(backends[0], 31), 10, what="alice2 sleeping")
        assert execute(boss, "KILL USER alice") == 2
        t.join(20)
        assert not t.is_alive(), "the killed session's statement still runs"
        testbed.wait_until(lambda: gone(alice) and gone(alice2), 10, what="alice's sessions")
        testbed.wait_until(lambda: not _sleeping(backends[0], 31), 10,
                           what="the server stopped the killed statement")

        # CURRENT_USER: the requester is among the victims, answered and then closed
        me = login("boss", "c")
        assert execute(me, "KILL USER CURRENT_USER()") == 2
        testbed.wait_until(lambda: gone(me) and gone(boss), 10, what="boss's sessions")
        fresh = login("bob", "b")
        assert one(fresh, "SELECT 1") == 1  # the proxy goes on
    finally:
        for c in conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - killed on purpose
                pass


def _swallow(conn, sql):
    try:
        return one(conn, sql)
    except pymysql.MySQLError as e:
        return e.args[0]


def test_kill_user_is_not_prepared(mymux, isolation_ps):
    """A prepared KILL USER would need its name kept with the statement: refused at
    PREPARE with a clear error, the session goes on."""
    c = PsClient(isolation_ps, mymux, "app", "apppass")
    try:
        out = c.cmd("prep", "KILL USER app")
        assert out.startswith("err\t1105") and "KILL USER runs as a text statement" in out, out
        assert c.cmd("prep", "SELECT 1").startswith("ok")
    finally:
        c.close()


@pytest.fixture(params=["libmariadb", "go"])
def ps_client(request):
    """A client that prepares on the server: libmariadb (binds strings) or Go's database/sql
    (its defaults: Prepare is server-side; execi binds int64, MYSQL_TYPE_LONGLONG)."""
    binary = request.getfixturevalue("isolation_ps" if request.param == "libmariadb"
                                     else "isolation_go")
    return binary, "exec" if request.param == "libmariadb" else "execi"


def test_prepared_kill_runs_in_mymux_ids(mymux, ps_client):
    """KILL prepared on the server (a literal id or `KILL ?`) is run by mymux at EXECUTE, on
    mymux's ids as a text KILL is; what it cannot read is refused, never forwarded."""
    binary, execn = ps_client
    target = SimpleNamespace(host=mymux.host, port=mymux.port)
    v1 = mymux.connect(database="test", autocommit=True)
    v2 = mymux.connect(database="test", autocommit=True)
    v3 = mymux.connect(database="test", autocommit=True)
    ps = PsClient(binary, target, "app", "apppass")
    try:
        slot, _ = ps.prepare("KILL ?")
        assert ps.cmd(execn, slot, str(v1.thread_id())) == "ok"
        testbed.wait_until(lambda: gone(v1), 10, what="the first victim closed")
        assert ps.cmd(execn, slot, str(v2.thread_id())) == "ok"  # the same statement again
        testbed.wait_until(lambda: gone(v2), 10, what="the second victim closed")
        parts = ps.cmd(execn, slot, "999999").split("\t")  # no mymux id: not the backend's
        assert parts[:2] == ["err", "1094"], parts
        if execn == "exec":  # a string parameter: digits only, as a text KILL reads it
            parts = ps.cmd(execn, slot, "0+1").split("\t")
            assert parts[:2] == ["err", "1105"], parts
        q, _ = ps.prepare(f"KILL QUERY {v3.thread_id()}")
        assert ps.cmd("exec", q) == "ok"
        assert one(v3, "SELECT 1") == 1  # KILL QUERY leaves the connection
        lit, _ = ps.prepare(f"KILL CONNECTION {v3.thread_id()}")
        assert ps.cmd("exec", lit) == "ok"
        testbed.wait_until(lambda: gone(v3), 10, what="the literal victim closed")
        for sql in ("KILL 0+?", f"KILL QUERY ID {v3.thread_id()}", "KILL USER app"):
            parts = ps.cmd("prep", sql).split("\t")
            assert parts[0] == "err" and parts[1] == "1105", (sql, parts)
        mine = ps.cmd("q", "SELECT CONNECTION_ID()").split("\t")[1]
        cid, _ = ps.prepare("SELECT CONNECTION_ID()")
        assert ps.cmd("exec", cid).split("\t") == ["ok", mine]
    finally:
        ps.close()
        for c in (v1, v2, v3):
            try:
                c.close()
            except Exception:  # noqa: BLE001 - killed on purpose
                pass


def test_prepared_kill_between_users_of_one_backend_user(mymux_factory, isolation_ps):
    """The ownership rule holds for a prepared KILL too: bob may not kill alice's session
    (1095), alice may kill her own other one."""
    m = mymux_factory({"users": [
        {"name": "alice", "password": "a", "backend_user": "app", "backend_password": "apppass"},
        {"name": "bob", "password": "b", "backend_user": "app", "backend_password": "apppass"},
    ]})
    target = SimpleNamespace(host=m.host, port=m.port)
    alice = m.connect(user="alice", password="a", database="test", autocommit=True)
    bob = PsClient(isolation_ps, target, "bob", "b")
    alice2 = PsClient(isolation_ps, target, "alice", "a")
    try:
        slot, _ = bob.prepare("KILL ?")
        parts = bob.cmd("exec", slot, str(alice.thread_id())).split("\t")
        assert parts[:2] == ["err", "1095"], parts
        slot, _ = bob.prepare(f"KILL QUERY {alice.thread_id()}")
        parts = bob.cmd("exec", slot).split("\t")
        assert parts[:2] == ["err", "1095"], parts
        assert one(alice, "SELECT 1") == 1
        slot, _ = alice2.prepare("KILL ?")
        assert alice2.cmd("exec", slot, str(alice.thread_id())) == "ok"
        testbed.wait_until(lambda: gone(alice), 10, what="alice's other session closed")
    finally:
        bob.close()
        alice2.close()
        try:
            alice.close()
        except Exception:  # noqa: BLE001 - killed on purpose
            pass


def test_kill_between_users_of_one_backend_user(mymux_factory):
    """alice and bob log in to the backend as the same user, so the backend would let either
    kill the other: mymux refuses (1095, as the server refuses a non-owner) unless the
    requesting user has kill_others. A user may always kill its own sessions."""
    m = mymux_factory({"users": [
        {"name": "alice", "password": "a", "backend_user": "app", "backend_password": "apppass"},
        {"name": "bob", "password": "b", "backend_user": "app", "backend_password": "apppass"},
        {"name": "boss", "password": "c", "backend_user": "app", "backend_password": "apppass",
         "kill_others": True},
    ]})
    alice = m.connect(user="alice", password="a", database="test", autocommit=True)
    alice2 = m.connect(user="alice", password="a", database="test", autocommit=True)
    bob = m.connect(user="bob", password="b", database="test", autocommit=True)
    boss = m.connect(user="boss", password="c", database="test", autocommit=True)
    try:
        for sql in (f"KILL {alice.thread_id()}", f"KILL QUERY {alice.thread_id()}"):
            code, msg = err(bob, sql)
            assert code == 1095 and "not owner" in msg, (sql, code, msg)
        assert one(alice, "SELECT 1") == 1  # still alive
        with bob.cursor() as cur:  # COM_PROCESS_KILL alike
            with pytest.raises(pymysql.MySQLError) as ei:
                bob.kill(alice.thread_id())
        assert ei.value.args[0] == 1095
        assert one(alice, "SELECT 1") == 1
        with alice2.cursor() as cur:  # its own other session
            cur.execute(f"KILL QUERY {alice.thread_id()}")
        with boss.cursor() as cur:
            cur.execute(f"KILL {bob.thread_id()}")

        def bob_gone():
            try:
                one(bob, "SELECT 1")
                return False
            except pymysql.MySQLError:
                return True
        testbed.wait_until(bob_gone, 10, what="bob's session killed by boss")
    finally:
        for c in (alice, alice2, bob, boss):
            try:
                c.close()
            except Exception:  # noqa: BLE001 - killed on purpose
                pass


def test_kill_answers_once_the_victim_is_closed(mymux_factory):
    """A server has shut its victim's socket by the time it answers KILL, so a client
    library that checks its socket before the next command (libmariadb does, and then
    reconnects) finds the connection gone instead of losing that command. The victims
    land on all four workers; over loopback the close reaches the victim's socket before
    the killer can read the OK, so a readable socket at once is the assertion."""
    import select
    m = mymux_factory({"workers": 4})
    killer = m.connect(database="test", autocommit=True)
    try:
        for i in range(24):
            victim = m.connect(database="test", autocommit=True)
            try:
                assert one(victim, "SELECT 1") == 1
                with killer.cursor() as cur:
                    cur.execute(f"KILL {victim.thread_id()}")
                readable, _, _ = select.select([victim._sock], [], [], 0)
                assert readable, f"victim {i} still open when KILL was answered"
                assert victim._sock.recv(64) == b""
            finally:
                victim._sock.close()
        assert one(killer, "SELECT 1") == 1
    finally:
        killer.close()


def test_connection_id_in_a_multi_statement(mymux):
    """CONNECTION_ID() in every statement of a multi-statement text is the session's id,
    the column keeping its name (dictionary cursors read it by that name)."""
    c = mymux.connect(database="test", autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS,
                      cursorclass=pymysql.cursors.DictCursor)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1 AS one; SELECT CONNECTION_ID(); SELECT CONNECTION_ID() + 0 AS c")
            assert cur.fetchall() == [{"one": 1}]
            assert cur.nextset()
            assert cur.fetchall() == [{"CONNECTION_ID()": c.thread_id()}]
            assert cur.nextset()
            assert cur.fetchall() == [{"c": c.thread_id()}]
    finally:
        c.close()


def test_kill_query_never_reaches_the_next_borrower(mymux_factory, backends):
    """KILL QUERY of a busy session goes to the server as KILL QUERY of the backend thread
    the victim was busy on. If the requester first waits for a connection and the victim's
    statement ends meanwhile, that thread may be lent to another session: the KILL must not
    stop that session's statement (SLEEP returns 1 when a KILL QUERY interrupts it, 0 when it
    runs out). Sequenced by the pool's queue: two connections, Z holds one in a transaction,
    V sleeps on the other, Y and then R (KILL QUERY V) wait; V's connection goes to Y, Z's
    COMMIT frees the other for R, whose KILL would then name Y's thread."""
    import json
    import threading
    import urllib.request
    port = testbed.free_port()
    m = mymux_factory({"workers": 1, "admin_listen": f"127.0.0.1:{port}",
                       "pool": {"max_per_backend": 2, "wait_timeout": "30s"}})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")

    def queue():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/backends", timeout=5) as r:
            doc = json.load(r)
        bs = doc["backends"] if isinstance(doc, dict) else doc
        return sum(b["queue"] for b in bs)

    z, v, y, r = (m.connect(database="test", autocommit=True) for _ in range(4))
    box = {}

    def run(key, fn):
        def body():
            try:
                box[key] = fn()
            except Exception as e:  # noqa: BLE001 - reported by the assertions below
                box[key] = repr(e)
        t = threading.Thread(target=body)
        t.start()
        return t
    try:
        with z.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT COUNT(*) FROM mysql.db")  # a table read: Z holds a connection
        tv = run("v", lambda: one(v, "SELECT SLEEP(2)"))
        testbed.wait_until(lambda: _sleeping(backends[0], 2), 10, what="V's statement running")
        ty = run("y", lambda: one(y, "SELECT SLEEP(3)"))
        testbed.wait_until(lambda: queue() >= 1, 10, what="Y waiting for a connection")
        tr = run("r", lambda: r.cursor().execute(f"KILL QUERY {v.thread_id()}"))
        testbed.wait_until(lambda: queue() >= 2, 10, what="R's KILL waiting for a connection")
        tv.join(30)
        testbed.wait_until(lambda: _sleeping(backends[0], 3), 10, what="Y's statement running")
        with z.cursor() as cur:
            cur.execute("COMMIT")  # frees the other connection for R's KILL
        tr.join(30)
        ty.join(30)
        assert box.get("r") == 0, f"the KILL QUERY did not answer OK: {box}"
        assert box.get("v") == 0, box  # V's sleep ran out before the KILL could reach it
        assert box.get("y") == 0, f"Y's statement was stopped by a KILL QUERY meant for V: {box}"
    finally:
        for c in (z, v, y, r):
            c.close()


def _sleeping(server, secs):
    c = server.root_conn()
    try:
        with c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = %s",
                        (f"SELECT SLEEP({secs})",))
            return cur.fetchone()[0] > 0
    finally:
        c.close()
