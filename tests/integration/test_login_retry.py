"""A login whose first backend connection fails before the client's first command tries
another eligible server (issue 14): a backend that greets with garbage, closes at once,
refuses the TCP connection, or answers ERR 1040 / 1129 instead of a greeting stands beside
a healthy real MariaDB, and every login succeeds there.

The bad backend is the scripted fake server (fakeserver.py), since a real server does not
greet badly on demand; "refused" is a port nobody listens on. Health checks are off, so
nothing but the retry keeps logins away from the bad server, and round robin sends every
other login to it.
"""

import re

import pymysql
import pytest

import fakeserver
import testbed

pytestmark = pytest.mark.proxy_only

BAD = ["garbage", "garbage_pkt", "close", "full_1040", "blocked_1129", "refused", "switch_close",
       "switch_garbage", "switch_silent", "rsa_close", "rsa_garbage_key"]


@pytest.fixture
def bad_backend(request):
    """(mode, address, fake or None) of a backend that misbehaves as request.param says."""
    mode = request.param
    if mode == "refused":
        yield mode, f"127.0.0.1:{testbed.free_port()}", None
        return
    f = fakeserver.FakeMySQL8(users={"app": "apppass"}, mode=mode).start()
    try:
        yield mode, f.address, f
    finally:
        f.stop()


def config(bad_address, good=None):
    backends = [{"name": "bad", "address": bad_address}]
    if good is not None:
        backends.append({"name": "good", "address": f"{good.host}:{good.port}"})
    return {
        "workers": 1,
        "backends": backends,
        "balance": "roundrobin",
        "health": {"type": "none"},
    }


@pytest.mark.parametrize("bad_backend", BAD, indirect=True)
def test_every_login_succeeds_beside_a_bad_backend(bad_backend, backends, mymux_factory):
    mode, address, fake = bad_backend
    good = backends[0]
    m = mymux_factory(config(address, good))
    c0 = fake.connections if fake else 0  # the start-up probe's
    n = 12
    for i in range(n):
        c = m.connect(database="test")
        try:
            with c.cursor() as cur:
                cur.execute("SELECT @@port, %s", (i,))
                assert cur.fetchone() == (good.port, i)
        finally:
            c.close()
    log = m.log()
    retries = re.findall(r"event=login_retry conn_id=\d+ from=bad to=good code=(\d+)", log)
    # round robin gave the bad server about every other login; each of them moved on
    assert len(retries) >= n // 3, log[-4000:]
    if fake is not None:
        assert fake.connections - c0 == len(retries), (fake.connections, c0, len(retries))
    # garbage or a close: a malformed or lost login
    expected = {"full_1040": {"1040"}, "blocked_1129": {"1129"}, "refused": {"2003"},
                "rsa_garbage_key": {"2061"}}
    assert set(retries) <= expected.get(mode, {"2013", "2027"}), retries
    # health checks are off: the retry alone did it, nothing was taken down
    assert "to=down" not in log


def test_no_other_server_left_fails_the_login_with_the_servers_error(mymux_factory):
    """With only the bad server, the login fails once with what the server said (no loop)."""
    fake = fakeserver.FakeMySQL8(users={"app": "apppass"}, mode="full_1040").start()
    try:
        m = mymux_factory(config(fake.address))
        c0 = fake.connections
        with pytest.raises(pymysql.MySQLError) as ei:
            m.connect()
        assert ei.value.args[0] == 1040, ei.value.args
        assert fake.connections - c0 == 1
        assert "event=login_retry" not in m.log()
    finally:
        fake.stop()


def test_a_wrong_backend_password_is_not_retried(backends, mymux_factory):
    """A server that refuses the login's credentials (1045) would refuse them elsewhere
    too: the login fails with that error and no other server is asked."""
    good = backends[0]
    fake = fakeserver.FakeMySQL8(users={"app": "apppass"}, mode="deny").start()
    try:
        m = mymux_factory(dict(config(fake.address, good), balance="first"))
        with pytest.raises(pymysql.MySQLError) as ei:
            m.connect()
        assert ei.value.args[0] == 1045, ei.value.args
        assert "event=login_retry" not in m.log()
    finally:
        fake.stop()
