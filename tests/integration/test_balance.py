"""Balancing and stickiness (issue 4) against real MariaDB backends.

Each test starts mymux in front of two (or three) MariaDB servers, opens N PyMySQL clients
(autocommit on, so nothing pins), runs `SELECT @@port` on each and counts the clients per
backend. Clients stay open until counted: affinity keeps a session on the server it logged in
to, so the count is the algorithm's distribution. Tolerances are stated per test; the exact
ones come from smooth weighted round robin (each worker alternates exactly, so with W workers
the totals are off by at most W). Clients of `source` tests bind to different 127.0.0.x
addresses (all of 127/8 is loopback on Linux).
"""

import time

import pytest

import testbed

pytestmark = pytest.mark.proxy_only


# --------------------------------------------------------------------------- helpers


def backends_cfg(backends, per):
    """The `backends:` list; per maps an index to extra keys (weight, backup, ...)."""
    out = []
    for i, b in enumerate(backends):
        entry = {"name": f"db{i + 1}", "address": f"{b.host}:{b.port}"}
        entry.update(per.get(i, {}))
        out.append(entry)
    return out


def config(backends, balance, per=None, workers=2, **extra):
    cfg = {"workers": workers, "balance": balance, "backends": backends_cfg(backends, per or {})}
    cfg.update(extra)
    return cfg


def port_of(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT @@port")
        return cur.fetchone()[0]


def open_clients(m, n, trx=False, **kw):
    """n clients, each having run SELECT @@port (inside an open transaction when trx, so the
    session keeps its backend connection). Returns (connections, ports)."""
    conns, ports = [], []
    for _ in range(n):
        c = m.connect(autocommit=True, **kw)
        if trx:
            c.begin()
        ports.append(port_of(c))
        conns.append(c)
    return conns, ports


def close_all(conns):
    for c in conns:
        try:
            c.close()
        except Exception:
            pass


def counts(backends, ports):
    by_port = {b.port: i for i, b in enumerate(backends)}
    out = [0] * len(backends)
    for p in ports:
        out[by_port[p]] += 1
    return out


def distribution(m, backends, n, **kw):
    conns, ports = open_clients(m, n, **kw)
    try:
        return counts(backends, ports)
    finally:
        close_all(conns)


@pytest.fixture(scope="module")
def third_backend():
    """A third MariaDB server, for this module only."""
    db = testbed.MariaDB(name="db3").start()
    try:
        yield db
    finally:
        db.stop()


# --------------------------------------------------------------------------- algorithms


def test_roundrobin_even(mymux_factory, backends):
    """40 clients, equal weights: 20/20 +- 2 (one per worker)."""
    m = mymux_factory(config(backends, "roundrobin"))
    c = distribution(m, backends, 40)
    assert abs(c[0] - c[1]) <= 2, c


def test_roundrobin_three(mymux_factory, backends, third_backend):
    """60 clients over three servers: 20 each +- 2."""
    bs = backends + [third_backend]
    m = mymux_factory(config(bs, "roundrobin"))
    c = distribution(m, bs, 60)
    assert all(18 <= x <= 22 for x in c), c


def test_roundrobin_weights(mymux_factory, backends):
    """Weights 3:1, 40 clients: 30/10 +- 2."""
    m = mymux_factory(config(backends, "roundrobin", {0: {"weight": 3}}))
    c = distribution(m, backends, 40)
    assert abs(c[0] - 30) <= 2, c


def test_static_rr_weights(mymux_factory, backends):
    """static-rr, weights 1:3, 40 clients: 10/30 +- 2."""
    m = mymux_factory(config(backends, "static-rr", {1: {"weight": 3}}))
    c = distribution(m, backends, 40)
    assert abs(c[1] - 30) <= 2, c


def test_leastconn_follows_busy(mymux_factory, backends):
    """Clients that hold a transaction (a busy backend connection each): each new one goes
    to the server with fewer busy connections per weight. 1:1: 20/20 +- 1; 3:1: 30/10 +- 1."""
    m = mymux_factory(config(backends, "leastconn"))
    conns, ports = open_clients(m, 40, trx=True)
    try:
        c = counts(backends, ports)
        assert abs(c[0] - c[1]) <= 1, c
    finally:
        close_all(conns)
    m2 = mymux_factory(config(backends, "leastconn", {0: {"weight": 3}}))
    conns, ports = open_clients(m2, 40, trx=True)
    try:
        c = counts(backends, ports)
        assert abs(c[0] - 30) <= 1, c
    finally:
        close_all(conns)


def test_leastconn_idle_ties_spread(mymux_factory, backends):
    """Without held connections every server ties at zero: ties rotate, 20/20 +- 2."""
    m = mymux_factory(config(backends, "leastconn"))
    c = distribution(m, backends, 40)
    assert abs(c[0] - c[1]) <= 2, c


def test_first(mymux_factory, backends):
    """first: everything on db1 while it has room; with max_connections 5 on db1, clients
    holding transactions fill db1 with exactly 5, the rest go to db2."""
    m = mymux_factory(config(backends, "first"))
    c = distribution(m, backends, 20)
    assert c == [20, 0], c
    # one worker: idle connections of another worker would hold db1's cap
    m2 = mymux_factory(config(backends, "first", {0: {"max_connections": 5}}, workers=1))
    conns, ports = open_clients(m2, 12, trx=True)
    try:
        assert counts(backends, ports) == [5, 7]
    finally:
        close_all(conns)


def test_random(mymux_factory, backends):
    """random, 120 clients: equal weights 60 +- 24 each (4 sigma); 3:1: db1 90 +- 19."""
    m = mymux_factory(config(backends, "random"))
    c = distribution(m, backends, 120)
    assert abs(c[0] - 60) <= 24, c
    m2 = mymux_factory(config(backends, "random", {0: {"weight": 3}}))
    c = distribution(m2, backends, 120)
    assert abs(c[0] - 90) <= 19, c


def test_random2_held(mymux_factory, backends):
    """random(2) with held transactions: the less loaded of two draws, 20/20 +- 2."""
    m = mymux_factory(config(backends, "random(2)"))
    conns, ports = open_clients(m, 40, trx=True)
    try:
        c = counts(backends, ports)
        assert abs(c[0] - c[1]) <= 2, c
    finally:
        close_all(conns)


def test_source(mymux_factory, backends):
    """source: one address always lands on one server (10 connections each from 5
    addresses, spread over both workers); 60 addresses spread 30 +- 14 per server."""
    m = mymux_factory(config(backends, "source"))
    for a in range(2, 7):
        c = distribution(m, backends, 10, bind_address=f"127.0.0.{a}")
        assert sorted(c) == [0, 10], (a, c)
    total = [0, 0]
    for a in range(10, 70):
        c = distribution(m, backends, 1, bind_address=f"127.0.0.{a}")
        total = [x + y for x, y in zip(total, c)]
    assert abs(total[0] - 30) <= 14, total


def _user_cfg(n):
    """n front users u0..u{n-1} that all log in to the backends as app."""
    users = [{"name": u, "password": p} for u, p in testbed.USERS + [testbed.WEAK_USER]]
    users += [{"name": f"u{i}", "password": "pw", "backend_user": "app",
               "backend_password": "apppass"} for i in range(n)]
    return users


def _user_map(m, backends, n):
    out = {}
    for i in range(n):
        c = distribution(m, backends, 1, user=f"u{i}", password="pw")
        out[i] = c.index(1)
    return out


def test_user_consistent_hashing(mymux_factory, backends, third_backend):
    """user: a user always lands on one server; 60 users spread 30 +- 14 on two servers;
    adding a third server (same names for the first two) moves fewer than 1/3 + 0.15 of the
    users, all of them to the new server."""
    n = 60
    m = mymux_factory(config(backends, "user", users=_user_cfg(n)))
    for i in range(3):
        c = distribution(m, backends, 5, user=f"u{i}", password="pw")
        assert sorted(c) == [0, 5], (i, c)
    before = _user_map(m, backends, n)
    on_first = sum(1 for v in before.values() if v == 0)
    assert abs(on_first - 30) <= 14, before
    bs = backends + [third_backend]
    m3 = mymux_factory(config(bs, "user", users=_user_cfg(n)))
    after = _user_map(m3, bs, n)
    moved = [i for i in range(n) if after[i] != before[i]]
    assert all(after[i] == 2 for i in moved), (before, after)
    assert 0 < len(moved) < n * (1 / 3 + 0.15), len(moved)


def test_backup_only_when_primaries_down(mymux_factory, backends):
    """A backup takes nothing while a primary is up, everything when none is (the primary
    in maintenance)."""
    m = mymux_factory(config(backends, "roundrobin", {1: {"backup": True}}))
    assert distribution(m, backends, 20) == [20, 0]
    m2 = mymux_factory(config(backends, "roundrobin",
                              {0: {"maintenance": True}, 1: {"backup": True}}))
    assert distribution(m2, backends, 20) == [0, 20]


def test_maintenance_server_skipped(mymux_factory, backends):
    """A primary in maintenance takes no session."""
    m = mymux_factory(config(backends, "roundrobin", {1: {"maintenance": True}}))
    assert distribution(m, backends, 10) == [10, 0]


# --------------------------------------------------------------------------- stickiness


def test_stick_on_src(mymux_factory, backends):
    """stick on src with roundrobin: new connections from one address (either worker) land
    where the first did, while other addresses still alternate."""
    m = mymux_factory(config(backends, {"algorithm": "roundrobin", "stick": {"on": "src"}}))
    for a in (21, 22, 23):
        c = distribution(m, backends, 12, bind_address=f"127.0.0.{a}")
        assert sorted(c) == [0, 12], (a, c)
    # one client at a time from 20 addresses: both servers used
    seen = [0, 0]
    for a in range(30, 50):
        c = distribution(m, backends, 1, bind_address=f"127.0.0.{a}")
        seen = [x + y for x, y in zip(seen, c)]
    assert min(seen) >= 5, seen


def test_stick_expiry(mymux_factory, backends):
    """An entry expires: one worker, so round robin is deterministic. A from .9 goes to X;
    again from .9 -> X (stuck, round robin not consulted); .10 -> Y; .11 -> X; after the
    expiry, .9 -> Y (round robin decides again). Without expiry it would be X."""
    m = mymux_factory(config(backends, {"algorithm": "roundrobin",
                                        "stick": {"on": "src", "expire": "1s"}}, workers=1))

    def one(a):
        return distribution(m, backends, 1, bind_address=f"127.0.0.{a}").index(1)

    x = one(9)
    assert one(9) == x
    y = one(10)
    assert y != x
    assert one(11) == x
    time.sleep(1.6)
    assert one(9) == y


def test_stick_held_sessions_stay(mymux_factory, backends):
    """Sessions from one address opened while others from it are still connected all share
    the server (the entry is found, not recomputed), and stay there statement after
    statement."""
    m = mymux_factory(config(backends, {"algorithm": "roundrobin", "stick": {"on": "src"}}))
    conns, ports = open_clients(m, 8, bind_address="127.0.0.40")
    try:
        assert len(set(ports)) == 1, ports
        for c in conns:
            for _ in range(3):
                assert port_of(c) == ports[0]
    finally:
        close_all(conns)
