"""The connection cap per backend under `pool.max_per_backend: auto` (issue 13).

auto caps a server at pool.per_cpu (default 8) connections per CPU it has. The CPU count is
backends[].cpus when the configuration states it, else what the server's status port
reports: TiDB's /metrics carries the gauge tidb_server_maxprocs (GOMAXPROCS). MariaDB has no
status port, so the backend here is MariaDB (it serves the SQL) with the TiDB stand-in of
tidb_status.py as its status port: together they stand for one TiDB server. Without a count,
auto keeps the fallback of 64. A number given for max_per_backend, or a backend's own
max_connections, is the cap as before, and then the status port is not asked.

What would break: the probe not reading the gauge (across reads of a 290 kB body, past a
metric whose name starts the same), the cap shown but not enforced by the pool, a stated
count or number ignored.
"""

import re

import pymysql
import pytest

import testbed
from tidb_status import TiDBStatus

pytestmark = pytest.mark.proxy_only

FAST_STATUS = {"type": "status", "interval": 500, "timeout": 450, "rise": 1, "fall": 2}


def start(mymux_factory, pool, backend=None, health=None):
    port = testbed.free_port()
    cfg = {
        "workers": 1,
        "admin_listen": f"127.0.0.1:{port}",
        "health": health or {"type": "none"},
        "pool": pool,
    }
    m = mymux_factory(cfg if backend is None else dict(cfg, backends=[backend]))
    m.admin_port = port
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10,
                       what="admin listener")
    return m


def backend_doc(m):
    doc = testbed.admin_json(m, "/api/backends")
    return (doc["backends"] if isinstance(doc, dict) else doc)[0]


def tidb_like(backends, st, **extra):
    b = backends[0]
    return {"name": "tidb1", "address": f"{b.host}:{b.port}", "status_port": st.port,
            "health": FAST_STATUS, **extra}


def test_auto_cap_follows_the_cpu_count_the_status_port_reports(backends, mymux_factory):
    st = TiDBStatus(maxprocs=2).start()
    try:
        m = start(mymux_factory, {"max_per_backend": "auto", "per_cpu": 2,
                                  "wait_timeout": "300ms"}, tidb_like(backends, st))
        testbed.wait_until(lambda: backend_doc(m)["connections"]["max"] == 4, 15,
                           what="the cap 2 CPUs x per_cpu 2")
        doc = backend_doc(m)
        assert doc["cpus"] == 2
        assert re.search(r"event=backend_cpus backend=tidb1 cpus=2 cap=4 source=status_port",
                         m.log()), m.log()[-2000:]
        # The pool keeps to it: four transactions hold the four connections; a fifth
        # client waits and gets the pool's error naming the cap.
        held = []
        for _ in range(4):
            c = m.connect()
            with c.cursor() as cur:
                cur.execute("BEGIN")
                cur.execute("SELECT 1")
            held.append(c)
        with pytest.raises(pymysql.MySQLError) as e:
            m.connect()  # its login borrows a connection too
        assert e.value.args[0] == 9001 and "its cap: 4 connections" in e.value.args[1], e.value
        held[0].commit()  # a connection comes back: the next client gets it
        late = m.connect()
        with late.cursor() as cur:
            cur.execute("SELECT 2")
            assert cur.fetchone() == (2,)
        assert backend_doc(m)["connections"]["open"] <= 4
        for c in held + [late]:
            c.close()
        # asked once: the count is known, checks go on with /status alone
        n = st.metrics_count()
        testbed.wait_until(lambda: st.request_count() >= n + 3, 10, what="more status checks")
        assert st.metrics_count() == n == 1
    finally:
        st.stop()


def test_auto_cap_keeps_the_fallback_when_the_count_is_unknown(backends, mymux_factory):
    st = TiDBStatus(maxprocs=None).start()  # an older server, or not TiDB: no such gauge
    try:
        m = start(mymux_factory, {"max_per_backend": "auto"}, tidb_like(backends, st))
        w = testbed.wait_until(
            lambda: re.search(r"event=backend_cpus_unknown backend=tidb1 detail=\"GET /metrics: "
                              r"no tidb_server_maxprocs\" cap=64", m.log()), 15,
            what="the probe's finding")
        assert w
        doc = backend_doc(m)
        assert doc["connections"]["max"] == 64 and doc["cpus"] is None
    finally:
        st.stop()


def test_a_number_or_a_stated_count_decides_without_asking(backends, mymux_factory):
    st = TiDBStatus(maxprocs=16).start()
    try:
        # a number for max_per_backend: the cap, as before auto
        m = start(mymux_factory, {"max_per_backend": 5}, tidb_like(backends, st))
        testbed.wait_until(lambda: st.request_count() >= 3, 10, what="status checks")
        doc = backend_doc(m)
        assert doc["connections"]["max"] == 5 and doc["cpus"] is None
        # a backend's own max_connections
        m2 = start(mymux_factory, {"max_per_backend": "auto"},
                   tidb_like(backends, st, max_connections=7))
        testbed.wait_until(lambda: st.request_count() >= 6, 10, what="status checks")
        assert backend_doc(m2)["connections"]["max"] == 7
        assert st.metrics_count() == 0
        # the configuration states the CPUs (a MariaDB or MySQL server has no status port)
        b = backends[0]
        m3 = start(mymux_factory, {"max_per_backend": "auto", "per_cpu": 3},
                   {"name": "db1", "address": f"{b.host}:{b.port}", "cpus": 3})
        doc = backend_doc(m3)
        assert doc["connections"]["max"] == 9 and doc["cpus"] == 3
        # and the default per_cpu is 8
        m4 = start(mymux_factory, {"max_per_backend": "auto"},
                   {"name": "db1", "address": f"{b.host}:{b.port}", "cpus": 2})
        assert backend_doc(m4)["connections"]["max"] == 16
    finally:
        st.stop()
