"""What drivers' own test suites expect of a server, kept true through mymux (docs/driver-suites.md).

PyMySQL's test_connection_gone_away and DBD::mysql's t/rt85919-fetch-lost-connection.t set
the session's wait_timeout and expect the server to end the session once it has been idle that
long (the next statement fails with 2006 / 2013). Through the pool the backend connection is
not the session's: with multiplexing it goes back to the pool and the next statement gets
another one (wait_timeout replayed on it), without it mymux took a new connection when the
pinned one timed out. Either way the session outlived its own wait_timeout; mymux now keeps
that rule on the client side.

Connector/C's test_conc525 prepares LOAD DATA LOCAL INFILE on the server and executes it: mymux
let the server ask for a file only when a text COM_QUERY had named it, so each EXECUTE was
refused and the backend connection dropped ("Server has gone away"). The file named by the
prepared text is now expected at each EXECUTE of it.
"""

import os
import socket
import subprocess
import time

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only

MODES = [pytest.param(True, id="multiplex"), pytest.param(False, id="no-multiplex")]


def start(mymux_factory, multiplex, tracking=None):
    return mymux_factory({"pool": {"multiplex": multiplex}, "session_tracking": tracking})


def wait_closed(conn, timeout):
    """Waits, sending nothing (a command would restart the idle clock), until the peer closes
    the connection; returns the seconds waited. TimeoutError if still open."""
    sock = conn._sock
    t0 = time.monotonic()
    while True:
        left = t0 + timeout - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"connection still open after {timeout}s")
        sock.settimeout(left)
        try:
            if sock.recv(65536, socket.MSG_PEEK) == b"":
                return time.monotonic() - t0
            raise AssertionError("unexpected bytes from an idle session")
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0


def assert_gone(conn):
    with pytest.raises(pymysql.err.OperationalError) as ei:
        conn.cursor().execute("SELECT 1+1")
    assert ei.value.args[0] in (2006, 2013), ei.value


@pytest.mark.parametrize("tracking", ["off", "on"])
@pytest.mark.parametrize("multiplex", MODES)
def test_wait_timeout_ends_idle_session(mymux_factory, multiplex, tracking):
    """The session that set wait_timeout=1 is closed after about a second of idleness, as
    MariaDB would; one that did not stays open (the limit is the session's, not the pool's)."""
    m = start(mymux_factory, multiplex, tracking)
    timed = m.connect(database="test")
    other = m.connect(database="test")
    try:
        timed.cursor().execute("SET wait_timeout=1")
        other.cursor().execute("SELECT 1")
        waited = wait_closed(timed, 15)
        assert waited >= 0.9, waited  # not before its own timeout
        assert_gone(timed)
        cur = other.cursor()
        cur.execute("SELECT 1+1")
        assert cur.fetchone() == (2,)
    finally:
        other.close()


@pytest.mark.parametrize("multiplex", MODES)
def test_wait_timeout_raised_again_keeps_session(mymux_factory, multiplex):
    """A later SET of a longer wait_timeout replaces the short one: that session is still
    open when a session which kept wait_timeout=1, started at the same time, has been closed."""
    m = start(mymux_factory, multiplex)
    short = m.connect()
    raised = m.connect()
    try:
        short.cursor().execute("SET SESSION wait_timeout = 1")
        cur = raised.cursor()
        cur.execute("SET wait_timeout=1")
        cur.execute("SET @@session.wait_timeout=3600")
        wait_closed(short, 15)
        cur.execute("SELECT @@wait_timeout")
        assert cur.fetchone() == (3600,)
    finally:
        raised.close()


DBD_SCRIPT = r"""
use strict; use warnings; use DBI; use IO::Select;
my ($port) = @ARGV;
my $dbh = DBI->connect("DBI:mysql:database=test;host=127.0.0.1;port=$port", "app", "apppass",
                       { RaiseError => 0, PrintError => 0, AutoCommit => 0 }) or die $DBI::errstr;
$dbh->do("SET wait_timeout = 1") or die $dbh->errstr;
# wait for the server's end of the socket to close, sending nothing
my $sel = IO::Select->new($dbh->{sockfd});
my @ready = $sel->can_read(15);
print "readable\t", scalar(@ready), "\n";
my $sth = $dbh->prepare("SELECT 1");
my $ok = $sth->execute();
print "executed\t", ($ok ? 1 : 0), "\n";
print "err\t", ($DBI::err // 0), "\n";
"""


@pytest.mark.parametrize("multiplex", MODES)
def test_dbd_wait_timeout_lost_connection(mymux_factory, multiplex):
    """DBD::mysql (AutoCommit off, as in its rt85919 test): the statement after the session's
    wait_timeout fails with CR_SERVER_GONE_ERROR or CR_SERVER_LOST instead of returning a row."""
    if not subprocess.run(["perl", "-MDBD::mysql", "-e", "1"], capture_output=True).returncode == 0:
        pytest.skip("DBD::mysql not installed")
    m = start(mymux_factory, multiplex)
    r = subprocess.run(["perl", "-e", DBD_SCRIPT, str(m.port)], capture_output=True, text=True,
                       timeout=60)
    out = dict(line.split("\t", 1) for line in r.stdout.splitlines())
    assert r.returncode == 0, r.stdout + r.stderr
    assert out["readable"] == "1", out
    assert out["executed"] == "0", out
    assert int(out["err"]) in (2006, 2013), out


@pytest.mark.parametrize("multiplex", MODES)
def test_libmariadb_prepared_local_infile(mymux_factory, multiplex):
    """libmariadb: a prepared LOAD DATA LOCAL of a missing file fails alone, and one of a real
    file loads its 10 rows at each of two EXECUTEs (client_test.c local_infile_prepared)."""
    binary = os.path.join(testbed.REPO, os.environ.get("MYMUX_BUILD_DIR", "build"), "client_test")
    m = start(mymux_factory, multiplex)
    r = subprocess.run([binary, m.host, str(m.port), "app", "apppass", "local_infile_prepared"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok local_infile_prepared" in r.stdout.splitlines(), \
        r.stdout + r.stderr
    assert "infile_refused" not in m.log()
