"""A backend that dies in the middle of mymux's own commands (issue 11, in part).

The scripted fake server (fakeserver.py) stands in for a backend that drops its connection
at an exact point, which a real server does not do on demand: here, on the revert that
mymux sends before lending a connection A left a setting on to B.
"""

import pymysql
import pytest

import fakeserver
# the scripted server and a one-connection mymux in front of it, as test_reprepare has them
from test_reprepare import fake, proxy  # noqa: F401 - fixtures used here

pytestmark = pytest.mark.proxy_only


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()[0][0]


def test_backend_dies_during_state_sync(proxy, fake):
    """B's command fails with the lost connection; B goes on on a new connection, A keeps its
    setting, and nothing uses the dead connection again (the sanitizer build would report a
    use after free; the log is checked for it at the end)."""
    a = proxy.connect(autocommit=True)
    b = proxy.connect(autocommit=True)
    try:
        with a.cursor() as cur:
            cur.execute("SET time_zone = '+01:00'")
        assert one(a, "SELECT 1") == 1
        fake.close_on_query = "time_zone = DEFAULT"
        with pytest.raises(pymysql.MySQLError) as ei:
            one(b, "SELECT 2")
        assert ei.value.args[0] in (2013, 1105, 2027), ei.value.args
        fake.close_on_query = None
        assert one(b, "SELECT 3") == 3  # a new connection
        assert one(b, "SELECT 4") == 4
        assert one(a, "SELECT 5") == 5  # A's setting is replayed on it
        synced = [arg for cmd, arg in fake.all_commands() if cmd == fakeserver.COM_QUERY]
        assert any(b"time_zone = '+01:00'" in q for q in synced[-3:]), synced[-5:]
    finally:
        a.close()
        b.close()
