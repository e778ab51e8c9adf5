"""A client that leaves while the backend connection opened for it still logs in (issue 11).

The pool tells a borrower the outcome through its waiter; a connection being opened for a
waiter keeps a link to it until the login ends. The client closing first must cut that link:
the login's end then finds nobody and the connection joins the pool (login OK) or just goes
(login failed), instead of calling back into a freed session (the sanitizer build reported
nothing only because the answer came late enough). The scripted server (fakeserver.py) holds
its greeting back until the test lets it go, which a real server does not do on demand.
"""

import re

import pymysql
import pytest

import fakeserver
import testbed

pytestmark = pytest.mark.proxy_only


@pytest.fixture
def fake():
    f = fakeserver.FakeMySQL8(users={"app": "apppass"}, mode="hold").start()
    try:
        yield f
    finally:
        f.release.set()
        f.stop()
    assert not f.errors, f.errors


@pytest.fixture
def proxy(mymux_factory, fake):
    return testbed.mymux_over_fake(mymux_factory, fake, {
        "max_per_backend": 1, "connect_timeout": "2s", "wait_timeout": "10s"})


def pool(m):
    (p,) = testbed.admin_json(m, "/api/pools")
    return p


def leave_during_login(m, fake):
    """A client logs in to mymux and gives up while mymux's connection to the backend waits
    for its greeting; returns once mymux has ended that session, with the number of TCP
    connections the server has seen (mymux's start-up probe of the greeting is one more)."""
    with pytest.raises(pymysql.MySQLError):
        # the client's own login ends only with the backend's: the read times out first
        m.connect(read_timeout=1)
    testbed.wait_until(lambda: re.search(r'event=disconnect .*user="app"', m.log()), 10,
                       what="session end logged")
    p = pool(m)
    assert (p["opening"], p["open"]) == (1, 1), p
    return fake.connections


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()[0][0]


def test_connection_of_a_gone_client_joins_the_pool(proxy, fake):
    """The login succeeds after its client left: the connection is idle in the pool, and the
    next client borrows it (the server sees no second login)."""
    seen = leave_during_login(proxy, fake)
    fake.release.set()
    testbed.wait_until(lambda: pool(proxy)["idle"] == 1, 10, what="connection idle")
    p = pool(proxy)
    assert (p["opening"], p["busy"], p["open"], p["borrows"]) == (0, 0, 1, 0), p
    c = proxy.connect()
    try:
        assert one(c, "SELECT 7") == 7
    finally:
        c.close()
    assert fake.connections == seen
    assert len(fake.successful_logins()) == 1
    assert proxy.alive()


def test_failed_login_of_a_gone_client_tells_nobody(proxy, fake):
    """The login times out after its client left: nobody is told, the slot comes back, and a
    new client gets a new connection."""
    seen = leave_during_login(proxy, fake)
    testbed.wait_until(lambda: pool(proxy)["connect_errors"] == 1, 10, what="login timeout")
    testbed.wait_until(lambda: pool(proxy)["open"] == 0, 10, what="slot given back")
    assert proxy.alive(), proxy.log()[-3000:]
    fake.release.set()
    c = proxy.connect()
    try:
        assert one(c, "SELECT 8") == 8
    finally:
        c.close()
    assert fake.connections == seen + 1
