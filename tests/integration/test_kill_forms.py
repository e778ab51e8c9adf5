"""KILL and CONNECTION_ID() in every form a client can send them (issue 10, in part).

Client-visible connection ids are mymux's; the backend's thread ids are another space. A KILL
whose target mymux cannot read as a literal id of a statement of its own (an expression, a
multi-statement text, a prepared statement) would be read by the backend in its own id space
and could end an unrelated backend thread: it is refused with a clear error, never forwarded.
CONNECTION_ID() in a prepared statement returns the session's id as in a text query.
"""

from types import SimpleNamespace

import pymysql
import pytest
from pymysql.constants import CLIENT

import testbed
from test_isolation import PsClient, isolation_ps  # noqa: F401 - the fixture is used here

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


def test_prepared_kill_refused_and_connection_id_translated(mymux, isolation_ps):
    target = SimpleNamespace(host=mymux.host, port=mymux.port)
    victim = mymux.connect(database="test", autocommit=True)
    ps = PsClient(isolation_ps, target, "app", "apppass")
    try:
        parts = ps.cmd("prep", "KILL ?").split("\t")
        assert parts[0] == "err" and parts[1] == "1105", parts
        parts = ps.cmd("prep", f"KILL {victim.thread_id()}").split("\t")
        assert parts[0] == "err" and parts[1] == "1105", parts
        assert one(victim, "SELECT 1") == 1
        mine = ps.cmd("q", "SELECT CONNECTION_ID()").split("\t")[1]
        slot, _ = ps.prepare("SELECT CONNECTION_ID()")
        assert ps.cmd("exec", slot).split("\t") == ["ok", mine]
    finally:
        ps.close()
        victim.close()


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
