"""A backend answering COM_STMT_EXECUTE with ERR 1615 (ER_NEED_REPREPARE).

mymux swallows the error, prepares the statement's text again on that
connection and sends the EXECUTE again with the new server id, once; the client
sees only the successful answer. A second 1615 for the same EXECUTE goes to the
client.

A real MariaDB cannot be made to answer 1615 on demand, so the backend is the
scripted fake server (fakeserver.py: binary prepared statements for `SELECT ?`,
fail_executes() to inject the error, stmt_trace() for what it received). The
client is reprepare_client.c (libmariadb, binary protocol): it prepares
`SELECT ?` once, binds once and executes with 1..N, so only its first EXECUTE
carries the parameter types; an EXECUTE sent again on a freshly prepared server
statement must carry them (the fake refuses one without, ERR 1210, as a server
does).

mymux runs with the fake as its only backend, one worker and one backend
connection, so that every command of the client lands on the same connection.
"""

import os
import re
import subprocess

import pytest

import fakeserver
import testbed

pytestmark = pytest.mark.proxy_only

BUILD_DIR = os.path.join(testbed.REPO, os.environ.get("MYMUX_BUILD_DIR", "build"))
CLIENT = os.path.join(BUILD_DIR, "reprepare_client")

with open(os.path.join(testbed.REPO, "src", "session", "session.c")) as _f:
    REPREPARE_BUILT = "1615" in _f.read()
needs_reprepare = pytest.mark.xfail(not REPREPARE_BUILT, strict=False,
                                    reason="re-prepare on 1615 being built")

N = 6
EXEC_RX = re.compile(r"^exec (\d+) (ok|err|bad) ?(.*)$")


@pytest.fixture
def fake():
    f = fakeserver.FakeMySQL8(users={"app": "apppass"}).start()
    try:
        yield f
    finally:
        f.stop()
    assert not f.errors, f.errors


@pytest.fixture
def proxy(mymux_factory, fake):
    return mymux_factory({
        "workers": 1,
        "users": [{"name": "app", "password": "apppass"}],
        "backends": [{"name": "fake8", "address": fake.address, "health": {"type": "none"}}],
        "health": {"type": "none"},
        "pool": {"max_per_backend": 1, "wait_timeout": "10s"},
    })


def run_client(m, n=N):
    """Runs reprepare_client; returns (exit code, {i: (kind, rest)}, stdout)."""
    if not os.access(CLIENT, os.X_OK):
        pytest.fail(f"{CLIENT} not built (cmake --build {BUILD_DIR} --target reprepare_client)")
    r = subprocess.run([CLIENT, m.host, str(m.port), "app", "apppass", str(n)],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode in (0, 1), f"reprepare_client exited {r.returncode}:\n{out}"
    execs = {}
    for line in r.stdout.splitlines():
        mt = EXEC_RX.match(line)
        if mt:
            execs[int(mt.group(1))] = (mt.group(2), mt.group(3))
    assert sorted(execs) == list(range(1, n + 1)), out
    assert m.alive(), f"mymux died:\n{m.log()[-4000:]}"
    return r.returncode, execs, out


def expected_trace(n, fail_at, failures):
    """What the fake should receive: PREPARE 1, EXECUTEs; at the execute numbered
    fail_at (1-based) `failures` ERR 1615 answers, each followed by a new PREPARE,
    at most one retry per client EXECUTE."""
    t = [("PREPARE", 1, "ok")]
    sid = 1
    for i in range(1, n + 1):
        if i == fail_at:
            for _ in range(failures):
                t.append(("EXECUTE", sid, "ERR 1615"))
                sid += 1
                t.append(("PREPARE", sid, "ok"))
            t.append(("EXECUTE", sid, "ok"))
        else:
            t.append(("EXECUTE", sid, "ok"))
    return t


def test_fake_direct(fake):
    """The fake itself, with libmariadb straight to it (no mymux): the statement works,
    and an injected 1615 reaches the client and forgets the id (ERR 1243 after).
    libmariadb does not send CLIENT_DEPRECATE_EOF, so this covers the fake's EOF
    packets; mymux's own backend login decides the other case."""
    direct = type("Direct", (), {"host": fake.host, "port": fake.port, "alive": lambda self: True,
                                 "log": lambda self: ""})()
    rc, execs, out = run_client(direct, 3)
    assert rc == 0, out
    fake.fail_executes(1, skip=1)
    rc, execs, out = run_client(direct, 3)
    assert rc == 1, out
    assert execs[1][0] == "ok"
    assert execs[2] == ("err", "1615 HY000 Prepared statement needs to be re-prepared"), out
    assert execs[3][0] == "err" and execs[3][1].startswith("1243 HY000 "), out


def test_no_injection(proxy, fake):
    """(c) Without 1615 nothing extra happens: one PREPARE, N EXECUTEs on it."""
    rc, execs, out = run_client(proxy)
    assert rc == 0, out
    assert all(k == "ok" for k, _ in execs.values()), out
    assert fake.stmt_trace() == [("PREPARE", 1, "ok")] + [("EXECUTE", 1, "ok")] * N
    values = [e["value"] for e in fake.all_stmt_events() if e["cmd"] == "EXECUTE"]
    assert values == list(range(1, N + 1))


@needs_reprepare
@pytest.mark.parametrize("skip", [0, 2], ids=["first-execute", "later-execute"])
def test_1615_once_is_hidden(proxy, fake, skip):
    """(a) One 1615: mymux prepares again on the connection and sends the EXECUTE
    again; every execute of the client succeeds. On the first execute the EXECUTE
    carries the parameter types; on a later one (the client sends no types) mymux
    must add them for the new server statement."""
    fake.fail_executes(1, skip=skip)
    rc, execs, out = run_client(proxy)
    assert rc == 0, out
    assert all(k == "ok" for k, _ in execs.values()), out
    trace = fake.stmt_trace()
    assert trace == expected_trace(N, skip + 1, 1), trace
    # the retried EXECUTE had the same parameter
    values = [e["value"] for e in fake.all_stmt_events() if e["cmd"] == "EXECUTE"]
    assert values[skip] == values[skip + 1] == skip + 1, values
    # prepared again with the same text
    sqls = {e["sql"] for e in fake.all_stmt_events() if e["cmd"] == "PREPARE"}
    assert sqls == {"SELECT ?"}
    # one backend connection throughout
    assert len({e["conn"] for e in fake.all_stmt_events()}) == 1


@needs_reprepare
@pytest.mark.parametrize("invalidate", [True, False], ids=["id-dropped", "id-kept"])
def test_1615_twice_reaches_client_once(proxy, fake, invalidate):
    """(b) Two 1615 in a row for one EXECUTE: one retry, then the second 1615 goes
    to the client; its next execute works. id-dropped: the fake forgets a statement
    id it answered 1615 for (a later EXECUTE with it would get ERR 1243), so mymux
    must not reuse the server statement that answered the passed-through 1615.
    id-kept: as a real server, the statement stays valid."""
    fake.fail_executes(2, skip=1, invalidate=invalidate)
    rc, execs, out = run_client(proxy)
    assert rc == 1, out
    errs = {i: rest for i, (k, rest) in execs.items() if k != "ok"}
    assert list(errs) == [2], out
    assert errs[2].startswith("1615 HY000 Prepared statement needs to be re-prepared"), out
    trace = fake.stmt_trace()
    # exactly one retry: PREPARE, EXECUTE ok, EXECUTE 1615, PREPARE, EXECUTE 1615, ...
    assert trace[:5] == [("PREPARE", 1, "ok"), ("EXECUTE", 1, "ok"), ("EXECUTE", 1, "ERR 1615"),
                         ("PREPARE", 2, "ok"), ("EXECUTE", 2, "ERR 1615")], trace
    rest = trace[5:]
    assert ("EXECUTE", 2, "ERR 1243") not in rest, trace
    assert [t for t in rest if t[0] == "EXECUTE"] == \
        [("EXECUTE", t[1], "ok") for t in rest if t[0] == "EXECUTE"], trace
    assert len([t for t in rest if t[0] == "EXECUTE"]) == N - 2, trace
    assert len([t for t in trace if t[0] == "PREPARE"]) <= 3, trace
