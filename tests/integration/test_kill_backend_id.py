"""KILL takes the thread ids SHOW PROCESSLIST shows, for the requester's own sessions (issue 16).

Through mymux the process list is the server's: backend thread ids, which KILL (reading
mymux's ids) answered with 1094. A backend thread id that is no mymux id is now taken as the
requester's own session attached to that thread on the server it is on; another user's is
still unknown to it.
"""

import threading

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only


def q(c, sql):
    with c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


class Sleeper:
    """A session running SELECT SLEEP(30) AS <marker> in a thread; .result: its rows or the
    error; .id: its mymux id."""

    def __init__(self, m, marker, user="app", password="apppass"):
        self.c = m.connect(user=user, password=password, autocommit=True)
        self.id = q(self.c, "SELECT CONNECTION_ID()")[0][0]
        self.marker = marker
        self.result = None
        self.t = threading.Thread(target=self._run)
        self.t.start()

    def _run(self):
        try:
            self.result = q(self.c, f"SELECT SLEEP(30) AS {self.marker}")
        except pymysql.MySQLError as e:
            self.result = e

    def done(self, timeout=20):
        self.t.join(timeout)
        return not self.t.is_alive()


def backend_tid(c, s, *mine):
    """The sleeper's backend thread id as the process list shows it to c; never one of the
    mymux ids in use (KILL reads mymux ids first)."""
    rows = testbed.wait_until(lambda: q(c, "SELECT ID FROM information_schema.PROCESSLIST "
                                           f"WHERE INFO = 'SELECT SLEEP(30) AS {s.marker}'"),
                              20, what="the sleeping statement in the process list")
    assert len(rows) == 1, rows
    tid = rows[0][0]
    ids = {s.id} | {q(x, "SELECT CONNECTION_ID()")[0][0] for x in mine}
    if tid in ids:
        pytest.skip(f"backend thread {tid} is also a mymux id here")
    return tid


@pytest.fixture
def m(mymux_factory):
    return mymux_factory({"workers": 2})


def test_kill_query_by_process_list_id(m):
    s = Sleeper(m, "mx_kq")
    me = m.connect(autocommit=True)
    try:
        tid = backend_tid(me, s, me)
        assert q(me, f"KILL QUERY {tid}") == ()
        assert s.done(), "KILL QUERY did not stop the statement"
        assert s.result == ((1,),) or (isinstance(s.result, pymysql.MySQLError)
                                       and s.result.args[0] == 1317), s.result
        assert q(s.c, "SELECT 2") == ((2,),)  # KILL QUERY leaves the session
    finally:
        s.done()
        s.c.close()
        me.close()


def test_kill_connection_by_process_list_id(m):
    s = Sleeper(m, "mx_kc")
    me = m.connect(autocommit=True)
    try:
        tid = backend_tid(me, s, me)
        q(me, f"KILL {tid}")
        assert s.done(), "KILL did not end the session"
        with pytest.raises(pymysql.MySQLError):
            q(s.c, "SELECT 2")
    finally:
        s.done()
        s.c.close()
        me.close()


def test_other_users_thread_unknown(m):
    s = Sleeper(m, "mx_ko")
    other = m.connect(user="other", password="otherpass", autocommit=True)
    try:
        tid = backend_tid(other, s, other)
        with pytest.raises(pymysql.MySQLError) as ei:
            q(other, f"KILL {tid}")
        assert ei.value.args[0] == 1094, ei.value.args
        assert backend_tid(other, s, other) == tid  # nothing was killed
        mine = m.connect(autocommit=True)
        q(mine, f"KILL QUERY {tid}")  # its owner may
        mine.close()
        assert s.done()
    finally:
        s.done()
        s.c.close()
        other.close()
