"""Issue 14, the binary protocol: an EXECUTE's answer that breaks off or contradicts itself
ends the statement with an error the client reads, never a hang, for libmariadb's and Go's
server-side prepared statements (a scripted server: a real one never sends these). The same
faults as test_backend_faults.py's text answers; what the client reads differs only where
the client library words it differently."""

import pytest

import fakeserver
from test_backend_faults import BROKEN_ANSWERS, fake, proxy_deadline  # noqa: F401 - fixtures
from test_isolation import PsClient, isolation_go, isolation_ps  # noqa: F401 - fixtures

pytestmark = pytest.mark.proxy_only


@pytest.fixture(params=["libmariadb", "go"])
def ps_binary(request):
    return request.param, request.getfixturevalue(
        "isolation_ps" if request.param == "libmariadb" else "isolation_go")


# libmariadb checks an EXECUTE's column count against the prepared statement's before it
# reads the definitions: more columns announced than prepared is its own error 2057, as it
# would be directly from a server that announced them.
CLIENT_OWN = {("libmariadb", "short_defs"): "2057", ("libmariadb", "garbage_def"): "2057"}


def _code(answer):
    parts = answer.split("\t")
    return parts[1] if parts[0] == "err" and len(parts) > 1 else None


@pytest.mark.parametrize("kind", sorted(BROKEN_ANSWERS))
def test_broken_execute_answer_is_an_error_not_a_hang(proxy_deadline, fake, ps_binary, kind):
    name, binary = ps_binary
    code, text, goes_on = BROKEN_ANSWERS[kind]
    c = PsClient(binary, proxy_deadline, "app", "apppass")
    other = PsClient(binary, proxy_deadline, "app", "apppass")
    try:
        slot, _ = c.prepare("SELECT ?")
        assert c.cmd("exec", slot, "7") == "ok\t7"
        fake.fault = (fakeserver.COM_STMT_EXECUTE, "", kind)
        # every row read before answering (Go's "execall"); within _line's 60 s: no hang
        answer = c.cmd("execall" if name == "go" else "exec", slot, "8")
        assert answer.startswith("err"), answer
        assert fake.faults_done
        if code == 2013:  # nothing can be added inside a packet: the connection is lost
            assert _code(answer) in ("2013", "2006", "0"), answer
        elif (name, kind) in CLIENT_OWN:
            assert _code(answer) in (str(code), CLIENT_OWN[(name, kind)]), answer
        else:
            assert _code(answer) == str(code) and text in answer, answer
        later = c.cmd("exec", slot, "9")
        if goes_on:
            assert later == "ok\t9", later
        elif name == "libmariadb":
            assert later.startswith("err"), later  # the session ended after the error
        assert other.cmd("q", "SELECT 3") == "ok\t3"
        assert proxy_deadline.alive()
    finally:
        c.close()
        other.close()
