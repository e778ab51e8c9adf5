"""backends[].lock_check: user locks that no tracker reports and no statement text shows.

A stored function reached through a view, or a trigger, may call GET_LOCK(); MariaDB's
session trackers report nothing for it and the statement names no routine. With lock_check
on, mymux asks the server (MariaDB's metadata_lock_info plugin) how many user locks the
connection holds before it goes back to the pool, and keeps it (pinned) when any are held or
when the server cannot answer. The isolation battery (test_isolation.py, the `on` path)
proves the first half with a server that has the plugin; here the test bed's server has no
plugin, which stands for an operator who turned lock_check on and forgot to load it: every
doubt pins, nobody gets an error, and the log says why.
"""

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_without_the_plugin_every_session_keeps_its_connection(backends, mymux_factory):
    b = backends[0]
    m = mymux_factory({
        "workers": 1,
        "backends": [{"name": "db1", "address": f"{b.host}:{b.port}", "lock_check": True}],
        "pool": {"max_per_backend": 1, "wait_timeout": "1s"},
    })
    c = m.connect(autocommit=True)  # logged in while the one connection is free
    a = m.connect(autocommit=True)
    try:
        assert one(a, "SELECT 1") == 1  # A's answer is whole; the check then fails: A pins
        testbed.wait_until(lambda: "event=lock_check_failed" in m.log(), 10,
                           what="the failed lock check logged")
        with pytest.raises(pymysql.MySQLError) as ei:
            one(c, "SELECT 2")  # the one connection stays A's
        assert ei.value.args[0] == 9001, ei.value.args
        assert one(a, "SELECT 3") == 3  # A goes on, on its connection
        a.close()
        a = None
        testbed.wait_until(lambda: _served(c), 10, what="B served once A has left")
    finally:
        for x in (a, c):
            if x is not None:
                x.close()


def _served(conn):
    try:
        return one(conn, "SELECT 4") == 4
    except pymysql.MySQLError as e:
        assert e.args[0] == 9001, e.args
        return False
