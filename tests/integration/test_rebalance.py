"""Rebalancing: when a server comes into service, load moves to it without clients
reconnecting — unpinned sessions follow the balancer at each borrow, and connections to
the server left holding far more than its share are retired as they come back idle."""
import json
import threading
import urllib.request

import pymysql

import testbed


def app_conns(b):
    """Connections the app user holds on MariaDB b (mymux's backend connections)."""
    c = b.root_conn()
    try:
        with c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE user='app'")
            return cur.fetchone()[0]
    finally:
        c.close()


def test_load_and_connections_move_to_a_server_brought_into_service(backends, mymux_factory):
    d1, d2 = backends[0], backends[1]
    admin_port = testbed.free_port()
    m = mymux_factory({
        "workers": 1,
        "admin_listen": f"127.0.0.1:{admin_port}",
        "health": {"type": "none"},
        "pool": {"max_per_backend": 16},
        "backends": [{"name": "db1", "address": f"{d1.host}:{d1.port}"},
                     {"name": "db2", "address": f"{d2.host}:{d2.port}", "maintenance": True}],
    })
    stop = threading.Event()
    seen = {}
    errors = []
    lock = threading.Lock()

    def client():
        c = m.connect(autocommit=True)
        try:
            while not stop.is_set():
                with c.cursor() as cur:
                    # long enough that several clients hold connections at once
                    cur.execute("SELECT @@port, SLEEP(0.02)")
                    port = cur.fetchone()[0]
                with lock:
                    seen[port] = seen.get(port, 0) + 1
        except pymysql.MySQLError as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        testbed.wait_until(lambda: app_conns(d1) >= 6, 20, what="db1 to hold the load")
        assert app_conns(d2) == 0
        before = app_conns(d1)
        req = urllib.request.Request(f"http://127.0.0.1:{admin_port}/api/backends/db2/enable",
                                     data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
        with lock:
            seen.clear()
        # The same sessions (no reconnect) now reach db2 ...
        testbed.wait_until(lambda: seen.get(d2.port, 0) >= 20, 20, what="traffic on db2")
        # ... and db1 gives up the connections it no longer needs.
        testbed.wait_until(lambda: app_conns(d1) <= before - 2 and app_conns(d2) >= 2, 20,
                           what="connections to move from db1 to db2")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
