"""Descriptor limits (issue 14): mymux raises RLIMIT_NOFILE's soft limit to the hard one,
keeps a reserve of descriptors for backend connections and health checks, refuses new
clients with ERR 1040 before the reserve is touched, and never takes a backend down for
its own lack of descriptors.

mymux runs under a lowered limit (a shell wrapper sets it, then execs the binary, so the
process under test is mymux itself with that limit); the backends are the test bed's real
MariaDB servers, the clients PyMySQL. Health checks are tcp checks every 200 ms that take
a server down after two failures: with the old behaviour (no reserve), a check that cannot
open a socket fails and the servers go down within half a second of the limit.
"""

import os
import re
import socket
import stat

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only

FAST = {"type": "tcp", "interval": 200, "timeout": 150, "rise": 2, "fall": 2}


def limited_binary(tmp_path, soft, hard):
    """A wrapper that starts mymux with RLIMIT_NOFILE soft:hard (soft first: the soft
    limit may not exceed the hard one at any moment)."""
    path = tmp_path / "mymux-limited"
    path.write_text("#!/bin/sh\n"
                    f"ulimit -Sn {soft} || exit 97\n"
                    f"ulimit -Hn {hard} || exit 97\n"
                    f"exec '{testbed.MYMUX_BIN}' \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def limited(backends, tmp_path):
    """start(soft, hard, overrides) -> a running mymux in front of db1 and db2 with that
    descriptor limit; stopped (and its log checked) at the end of the test."""
    started = []

    def start(soft, hard, overrides=None):
        cfg = testbed.deep_merge(testbed.default_config(backends[:2], 0), {
            "workers": 1,
            "health": FAST,
            "pool": {"max_per_backend": 4, "wait_timeout": "5s"},
        })
        cfg = testbed.deep_merge(cfg, overrides or {})
        m = testbed.Mymux(cfg, binary=limited_binary(tmp_path, soft, hard), name="mymux-fd")
        started.append(m)
        m.start()
        return m

    yield start
    for m in started:
        testbed.assert_clean_log(m.stop())


def budget(m):
    """The client budget mymux logged once it serves: (limit, at_start, reserve, clients)."""
    rx = re.compile(r"event=fd_budget limit=(\d+) at_start=(\d+) reserve=(\d+) clients=(\d+)")
    mm = testbed.wait_until(lambda: rx.search(m.log()), 10, what="the fd_budget log line")
    return tuple(int(x) for x in mm.groups())


def nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no 'Max open files' line")


def global_connections(root):
    with root.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE 'Connections'")
        return int(cur.fetchone()[1])


def fill_until_refused(m, limit=1000):
    """Logs clients in until one is refused; returns (established, the refusal)."""
    conns = []
    for _ in range(limit):
        try:
            conns.append(m.connect(autocommit=True))
        except pymysql.MySQLError as e:
            return conns, e
    raise AssertionError(f"{limit} clients and none refused")


def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_soft_limit_raised_to_hard_and_logged(limited):
    m = limited(100, 300)
    assert nofile(m.proc.pid) == (300, 300)
    assert re.search(r"event=fd_limit soft=300 hard=300 was=100\b", m.log()), m.log()[-3000:]
    assert budget(m)[0] == 300


def test_clients_refused_with_1040_before_the_reserve(limited, backends):
    """At the limit: new clients get ERR 1040 (a server's 'Too many connections', not a
    dropped connection); the sessions already in keep working and get new backend
    connections from the reserve; the health checks keep passing, so both servers stay up;
    when clients leave, others get in."""
    m = limited(200, 200)
    limit, at_start, reserve, room = budget(m)
    assert reserve == 32 + 2 * (4 + 1)
    assert room == limit - at_start - reserve and room > 20, (limit, at_start, reserve, room)
    roots = [b.root_conn() for b in backends[:2]]
    conns = []
    try:
        conns, refusal = fill_until_refused(m)
        assert refusal.args[0] == 1040, refusal.args
        assert "Too many connections" in refusal.args[1]
        # every client socket counts, the refused one too while mymux answers it; the
        # start-up readiness probe's socket may not be closed yet (one less then)
        assert room - 1 <= len(conns) <= room, (len(conns), room)
        assert "reason=descriptors" in m.log()

        # sessions already in: 8 transactions hold every backend connection the pools
        # allow (4 per server), each opened now, from the reserve
        ports = []
        for c in conns[:8]:
            with c.cursor() as cur:
                cur.execute("START TRANSACTION")
                cur.execute("SELECT @@port")
                ports.append(cur.fetchone()[0])
        assert sorted(set(ports)) == sorted(b.port for b in backends[:2]), ports

        # the checks run on (each one is a connection the server counts) and pass
        c0 = [global_connections(r) for r in roots]
        testbed.wait_until(lambda: all(global_connections(r) >= c + 6 for r, c in zip(roots, c0)),
                           20, what="three more health checks on each server")
        log = m.log()
        assert "to=down" not in log, log[-4000:]
        assert "event=check_skipped" not in log, log[-4000:]
        assert "out_of_descriptors" not in log, log[-4000:]

        with pytest.raises(pymysql.MySQLError) as ei:
            m.connect()
        assert ei.value.args[0] == 1040

        for c in conns[:8]:
            c.commit()
        for i, c in enumerate(conns):
            assert one(c, f"SELECT {i}") == i
        # leaving makes room again
        for c in conns[-3:]:
            c.close()
        conns = conns[:-3]
        fresh = testbed.wait_until(lambda: m.connect(), 10, what="a login after clients left")
        conns.append(fresh)
        assert one(fresh, "SELECT @@port") in (backends[0].port, backends[1].port)
    finally:
        for c in conns + roots:
            c.close()


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_out_of_descriptors_never_takes_a_backend_down(limited, backends):
    """A limit too small for the reserve (pool caps of 200 per server under a limit of 120):
    clients get half of what is left, and idle admin connections (which the reserve's margin
    does not bound here) take the rest. Backend connections then run out of descriptors: the
    statement fails with a clear 1040, the health checks that cannot open a socket are
    skipped, not failed, and neither server goes down; once the admin connections close,
    the same sessions work."""
    admin_port = testbed.free_port()
    m = limited(120, 120, {"pool": {"max_per_backend": 200},
                           "admin_listen": f"127.0.0.1:{admin_port}"})
    testbed.wait_until(lambda: re.search(r"level=warn event=fd_limit soft=120 .*does not fit",
                                         m.log()), 10, what="the warning that the reserve does not fit")
    conns, admin = [], []
    try:
        conns, refusal = fill_until_refused(m)
        assert refusal.args[0] == 1040, refusal.args
        # the admin side accepts up to 16 connections per client address: 64 from four
        # loopback addresses are more than what is left
        for i in range(64):
            a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            a.settimeout(5)
            a.bind((f"127.0.0.{2 + i % 4}", 0))
            a.connect(("127.0.0.1", admin_port))
            admin.append(a)
        testbed.wait_until(lambda: open_fds(m.proc.pid) >= 118, 10,
                           what="mymux to hold (nearly) all of its 120 descriptors")
        # each transaction holds its own backend connection: soon there is none to open
        failed = None
        held = []
        for c in conns:
            try:
                with c.cursor() as cur:
                    cur.execute("START TRANSACTION")
                    cur.execute("SELECT 1")
                held.append(c)
            except pymysql.MySQLError as e:
                failed = e
                break
        assert failed is not None, f"{len(held)} backend connections and no limit reached"
        assert failed.args[0] == 1040 and "file descriptors" in failed.args[1], failed.args
        assert "event=out_of_descriptors" in m.log()
        # while the descriptors are gone, each server's check is skipped
        testbed.wait_until(lambda: all(f"event=check_skipped backend={n}" in m.log()
                                       for n in ("db1", "db2")),
                           20, what="a skipped check on each server")
        assert "to=down" not in m.log(), m.log()[-4000:]
        for c in held:
            c.rollback()
        for a in admin:
            a.close()
        admin = []
        # descriptors are back: every session works, on connections old and new
        testbed.wait_until(lambda: open_fds(m.proc.pid) < 100, 10,
                           what="the admin connections to be closed")
        for i, c in enumerate(conns):
            assert one(c, f"SELECT {i}") == i
        # and backend connections open again: more transactions at once than before
        more = conns[:len(held) + 4]
        for c in more:
            with c.cursor() as cur:
                cur.execute("START TRANSACTION")
                cur.execute("SELECT 1")
        for c in more:
            c.rollback()
        assert "to=down" not in m.log(), m.log()[-4000:]
    finally:
        for c in conns:
            c.close()
        for a in admin:
            a.close()
