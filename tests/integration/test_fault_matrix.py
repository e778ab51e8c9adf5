"""Fault injection at mymux's own commands, with the pool's books checked (issue 11).

test_backend_faults.py's matrix makes the scripted backend close, send garbage or an error
at each internal command; this one adds a backend that stops answering one (the
connection's own deadline, pool.connect_timeout, gives it up) and the re-prepare of a
server-side statement, and checks after each that the pool's counters are true again: no
connection lent, and as many open as the backend has (a leaked or double-counted slot
would show here, and with max_per_backend 1 it would also make the next borrow wait)."""

import pytest

import fakeserver
import testbed
from test_backend_faults import FAULT_POINTS, run_fault_point
from test_isolation import PsClient, isolation_ps  # noqa: F401 - fixture
from test_reprepare import fake  # noqa: F401 - fixture

pytestmark = pytest.mark.proxy_only


@pytest.fixture
def proxy_books(mymux_factory, fake):
    return testbed.mymux_over_fake(mymux_factory, fake, {
        "max_per_backend": 1, "wait_timeout": "10s", "connect_timeout": "1500ms"})


books = testbed.backend_connections


def assert_books_true(m, fake):
    """Nothing lent once every session is idle, and mymux counts the connections the
    backend has (its handler threads end shortly after mymux closes one: polled)."""
    def true():
        c = books(m)
        return (c["lent"] == 0 and c["busy"] == 0 and c["opening"] == 0
                and c["open"] == len(fake._socks) and c["open"] <= 1)
    testbed.wait_until(true, 15, what=lambda: f"pool counters true: {books(m)}, backend has "
                       f"{len(fake._socks)}")


@pytest.mark.parametrize("action", ["close", "garbage", "err", "stall"])
@pytest.mark.parametrize("point", sorted(FAULT_POINTS))
def test_fault_at_each_internal_command_keeps_the_books(proxy_books, fake, point, action):
    run_fault_point(proxy_books, fake, point, action,
                    after=lambda: assert_books_true(proxy_books, fake))
    assert proxy_books.alive()
    assert_books_true(proxy_books, fake)


@pytest.mark.parametrize("action", ["close", "garbage", "err", "stall"])
def test_fault_at_the_re_prepare_keeps_the_books(proxy_books, fake, isolation_ps, action):
    """The server answers an EXECUTE with 1615 (re-prepare needed) and then fails the
    COM_STMT_PREPARE mymux sends to prepare it again: the EXECUTE gets a clear error, the
    client's statement still works on the next try, the books are true."""
    m = proxy_books
    c = PsClient(isolation_ps, m, "app", "apppass")
    try:
        slot, _ = c.prepare("SELECT ?")
        assert c.cmd("exec", slot, "1") == "ok\t1"
        fake.fail_executes(1)
        fake.fault = (fakeserver.COM_STMT_PREPARE, "SELECT ?", action)
        answer = c.cmd("exec", slot, "2")
        assert fake.faults_done, "mymux did not prepare the statement again"
        assert answer.startswith("err"), answer
        code = answer.split("\t")[1]
        assert code in ("1105", "1615", "2013"), answer
        again = c.cmd("exec", slot, "3")
        assert again == "ok\t3" or again.startswith("err\t2013") or again.startswith(
            "err\t2006"), again
        assert_books_true(m, fake)
    finally:
        c.close()
    assert_books_true(m, fake)


@pytest.mark.parametrize("counts", [(3, 1), (0, 1), (200, 1), (1, 4), (1, 0)])
def test_prepare_answered_with_other_counts(proxy_books, fake, isolation_ps, counts):
    """The same text prepared again (here on a new connection after the first was lost)
    is announced with other parameter or column counts than the client's statement has (a
    schema change, another server behind the pool): everything a backend sends is input,
    so the EXECUTE fails with a clear error or runs with what the client bound, never
    copies past what mymux allocated (the sanitizer build checks), and the books stay
    true."""
    m = proxy_books
    c = PsClient(isolation_ps, m, "app", "apppass")
    try:
        slot, _ = c.prepare("SELECT ?")
        assert c.cmd("exec", slot, "1") == "ok\t1"
        fake.prepare_counts["SELECT ?"] = counts
        fake.fault = (fakeserver.COM_STMT_EXECUTE, "", "close")
        lost = c.cmd("exec", slot, "2")
        assert lost.startswith("err"), lost
        answer = c.cmd("exec", slot, "3")  # prepared again on a new connection
        if counts[0] != 1:  # the client bound one parameter: that cannot be sent
            assert answer.startswith("err\t1105") and "parameter" in answer, answer
        else:
            assert answer.startswith("ok") or answer.startswith("err"), answer
        assert c.cmd("q", "SELECT 5") == "ok\t5"  # the session goes on
        assert_books_true(m, fake)
        assert m.alive()
    finally:
        c.close()
    assert_books_true(m, fake)
