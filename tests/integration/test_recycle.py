"""POST /api/backends/<name>/recycle: a backend's pooled connections are replaced (issue 16).

A session variable the server copies from its global at connect, such as the read-only
session max_allowed_packet, keeps on a pooled connection the value of the moment it was
opened: a lowered GLOBAL max_allowed_packet reached sessions only with pool.max_lifetime.
The recycle closes idle connections (none is lent after it, the tick closes them) and busy
ones when they are given back, so new sessions get connections opened after the change.
"""

import json
import urllib.request

import pytest

import testbed

pytestmark = pytest.mark.proxy_only

LOW = 2 * 1024 * 1024


def post(port, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def one(c, sql):
    with c.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def ex(c, sql):
    with c.cursor() as cur:
        cur.execute(sql)


def app_threads(root):
    with root.cursor() as cur:
        cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app'")
        return {r[0] for r in cur.fetchall()}


@pytest.fixture
def root(backends):
    c = backends[0].root_conn(autocommit=True)
    old = one(c, "SELECT @@GLOBAL.max_allowed_packet")
    assert old != LOW
    yield c
    with c.cursor() as cur:
        cur.execute(f"SET GLOBAL max_allowed_packet = {old}")
    c.close()


def test_recycle_brings_new_globals(mymux_factory, root):
    testbed.wait_until(lambda: not app_threads(root), 20, what="earlier backend connections to close")
    port = testbed.free_port()
    m = mymux_factory({"workers": 1, "admin_listen": f"127.0.0.1:{port}",
                       "pool": {"max_per_backend": 4}})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    old = one(root, "SELECT @@GLOBAL.max_allowed_packet")
    busy = m.connect(autocommit=True)
    idle = [m.connect(autocommit=True) for _ in range(3)]
    try:
        for c in idle + [busy]:  # four connections open at once
            ex(c, "BEGIN")
            assert one(c, "SELECT @@max_allowed_packet") == old
        for c in idle:
            ex(c, "COMMIT")  # three go back to the pool; busy holds its own until COMMIT
        before = app_threads(root)
        assert len(before) == 4
        assert before
        with root.cursor() as cur:
            cur.execute(f"SET GLOBAL max_allowed_packet = {LOW}")
        # pooled connections keep what they had (the limit the README states)
        assert one(idle[0], "SELECT @@max_allowed_packet") == old

        st, body = post(port, "/api/backends/db1/recycle")
        assert st == 200 and body["backend"] == "db1" and body["recycle"] == 1, body
        for c in idle:
            assert one(c, "SELECT @@max_allowed_packet") == LOW
        # the busy one keeps its connection (and its transaction) until it gives it back
        assert one(busy, "SELECT @@max_allowed_packet") == old
        ex(busy, "COMMIT")
        assert one(busy, "SELECT @@max_allowed_packet") == LOW
        # every connection opened before the recycle is gone
        testbed.wait_until(lambda: not (app_threads(root) & before), 10,
                           what="connections opened before the recycle to close")

        st, body = post(port, "/api/backends/nope/recycle")
        assert st == 404, body
    finally:
        for c in idle + [busy]:
            c.close()
    assert m.alive()
