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
