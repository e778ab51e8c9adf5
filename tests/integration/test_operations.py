"""Running mymux as an operator would (issue 12): a second instance refused on a port
another process listens on; logs (log.file, reopen on SIGUSR1, the disconnect line,
levels, escaping of client-sent strings, libmicrohttpd's messages); the accept grace
after SIGTERM. Real MariaDB servers behind, real clients in front; every wait polls a
condition against a deadline."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only


def run_second(config, timeout=30):
    """Starts mymux on config as is (its listen address included) and waits for it to
    exit; returns (exit code, log)."""
    d = tempfile.mkdtemp(prefix="mymux-second-")
    path = os.path.join(d, "mymux.yaml")
    with open(path, "w") as f:
        f.write(testbed.to_yaml(config) + "\n")
    try:
        r = subprocess.run([testbed.MYMUX_BIN, "-c", path], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout, cwd=d)
        return r.returncode, r.stdout + r.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------- a second instance on the port


def test_second_instance_refuses_a_port_mymux_listens_on(backends, mymux_factory):
    """SO_REUSEPORT used to let a second mymux (another configuration) join the first's
    port, and the kernel then split new clients between them. It must exit with a clear
    message, and every new client must still reach the first."""
    first = mymux_factory({})
    other = testbed.deep_merge(first.config, {"backends": [
        {"name": "elsewhere", "address": f"{backends[1].host}:{backends[1].port}"}]})
    rc, log = run_second(other)
    assert rc == 3, log
    assert re.search(r"level=error event=listen_failed listen=127\.0\.0\.1:%d "
                     r"err=\"address already in use\" msg=\"another process listens" % first.port,
                     log), log
    assert "event=started" not in log
    for _ in range(20):
        c = first.connect()
        try:
            with c.cursor() as cur:
                cur.execute("SELECT @@port")
                assert cur.fetchone()[0] == backends[0].port
        finally:
            c.close()
    assert first.alive()


def test_second_instance_refuses_any_reuseport_listener(backends):
    """Any process that listens with SO_REUSEPORT as the same user could have been joined;
    mymux refuses it too (nothing is taken over)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    port = s.getsockname()[1]
    try:
        cfg = testbed.default_config(backends, port)
        rc, log = run_second(cfg)
        assert rc == 3, log
        assert "another process listens on this address" in log, log
    finally:
        s.close()


# ------------------------------------------------------------------------------ logs

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) "
                  r"event=[a-z_0-9]+ ")


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def assert_well_formed(text, what):
    assert text == "" or text.endswith("\n"), f"{what}: torn last line: {text[-200:]!r}"
    bad = [ln for ln in text.splitlines() if not LINE.match(ln)]
    assert bad == [], f"{what}: lines not in the log format: {bad[:5]}"


def one_query(m, **kw):
    c = m.connect(**kw)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        c.close()


def test_log_file_reopened_on_sigusr1_under_load(backends, mymux_factory, tmp_path):
    """SIGUSR1 used to kill mymux (the default action). With log.file set it reopens the
    file, as logrotate expects: connections made while the file is renamed and reopened
    again and again each leave their connect and disconnect lines, whole, in one of the
    files, and none goes to stderr."""
    path = str(tmp_path / "mymux.log")
    m = mymux_factory({"log": {"file": path}})
    testbed.wait_until(lambda: "event=started" in read(path), 10, what="the start line")
    assert "event=started" not in m.log()  # stderr carries nothing of it
    n_done = [0]
    errors = []
    stop = threading.Event()
    lock = threading.Lock()

    def load():
        while not stop.is_set():
            try:
                one_query(m)
                with lock:
                    n_done[0] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    rotated = []
    try:
        for i in range(5):
            testbed.wait_until(lambda: n_done[0] >= 40 * (i + 1), 30, what="load")
            moved = f"{path}.{i + 1}"
            os.rename(path, moved)
            rotated.append(moved)
            m.send_signal(signal.SIGUSR1)
            testbed.wait_until(lambda: "event=log_reopened" in read(path), 10,
                               what="the reopened file")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert errors == [], errors[:3]
    assert m.alive()
    one_query(m)  # still serving
    made = n_done[0] + 1

    def all_text():
        return "".join(read(p) for p in rotated + [path])

    # the last disconnect lines may follow the client's close by a moment; the test
    # bed's port probe at start-up leaves a disconnect of no user
    app_gone = 'event=disconnect conn_id='
    testbed.wait_until(lambda: len(re.findall(app_gone + r'\d+ client=\S+ user="app"',
                                              all_text())) >= made, 10,
                       what="every disconnect line")
    text = all_text()
    for p in rotated + [path]:
        assert_well_formed(read(p), p)
    assert text.count("event=connect ") == made, (text.count("event=connect "), made)
    assert len(re.findall(app_gone + r'\d+ client=\S+ user="app"', text)) == made
    assert text.count("event=log_reopened") == 5
    assert "event=connect " not in m.log()


def test_reload_moves_the_log_to_the_file_it_names(backends, mymux_factory, tmp_path):
    """SIGHUP keeps reloading the configuration (it is not a log reopen only): a new
    log.file takes the lines from then on, the old file keeps what it had."""
    first, second = str(tmp_path / "a.log"), str(tmp_path / "b.log")
    m = mymux_factory({"log": {"file": first}})
    testbed.wait_until(lambda: "event=started" in read(first), 10, what="the start line")
    cfg = testbed.deep_merge(m.config, {"log": {"file": second}})
    m.write_config(cfg)
    m.send_signal(signal.SIGHUP)
    testbed.wait_until(lambda: "event=reload" in read(first) + read(second), 10,
                       what="the reload line")
    one_query(m)
    testbed.wait_until(lambda: 'user="app"' in read(second), 10, what="lines in the new file")
    assert 'event=connect' not in read(first)
    assert_well_formed(read(first), first)
    assert_well_formed(read(second), second)


def test_disconnect_line_says_how_long_how_much_and_where(backends, mymux_factory):
    m = mymux_factory({})
    c = m.connect(database="test")
    with c.cursor() as cur:
        for _ in range(3):
            cur.execute("SELECT REPEAT('x', 1000)")
            assert len(cur.fetchone()[0]) == 1000
    cid = c.thread_id()
    c.close()
    rx = re.compile(r"level=info event=disconnect conn_id=%d client=127\.0\.0\.1:\d+ "
                    r"user=\"app\" db=\"test\" duration_ms=(\d+) bytes_in=(\d+) bytes_out=(\d+) "
                    r"queries=(\d+) backend=\"db1\" reason=\"(\w+)\"" % cid)
    mm = testbed.wait_until(lambda: rx.search(m.log()), 10, what="the disconnect line")
    duration, bytes_in, bytes_out, queries = (int(x) for x in mm.groups()[:4])
    assert queries >= 3  # PyMySQL may add its own (autocommit) on connect
    assert bytes_out >= 3 * 1000
    assert bytes_in >= 3 * len("SELECT REPEAT('x', 1000)")
    assert duration >= 0
    assert mm.group(5) == "quit", mm.group(0)  # PyMySQL sends COM_QUIT


def test_client_sent_strings_cannot_forge_a_line(backends, mymux_factory):
    """A user name with a newline used to start a line of its own in the log."""
    m = mymux_factory({})
    forged = "x\n2026-01-01T00:00:00.000Z level=error event=forged user=\"root"
    with pytest.raises(pymysql.err.OperationalError) as ei:
        m.connect(user=forged, password="nope")
    assert ei.value.args[0] == 1045
    line = testbed.wait_until(
        lambda: re.search(r"^.*event=auth_failed .*$", m.log(), re.M), 10,
        what="the auth_failed line")
    assert 'user="x\\n2026-01-01T00:00:00.000Z level=error event=forged user=\\"root"' in \
        line.group(0), line.group(0)
    assert not re.search(r"^2026-01-01T00:00:00.000Z", m.log(), re.M)
    assert_well_formed(m.log(), "mymux log")


def test_backend_going_down_is_a_warning(backends, mymux_factory):
    dead = testbed.free_port()
    m = mymux_factory({
        "backends": [{"name": "db1", "address": f"{backends[0].host}:{backends[0].port}"},
                     {"name": "gone", "address": f"127.0.0.1:{dead}"}],
        "health": {"type": "tcp", "interval": 200, "timeout": 150, "rise": 1, "fall": 1}})
    testbed.wait_until(lambda: re.search(r"level=warn event=backend_state backend=gone "
                                         r"from=up to=down ", m.log()), 15,
                       what="gone to go down at warn level")
    assert not re.search(r"level=info event=backend_state backend=gone from=up to=down", m.log())


def test_libmicrohttpd_messages_use_the_log_format(backends, tmp_path):
    """libmicrohttpd printed its own raw lines (a bind failure, for one) on stderr."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        cfg = testbed.default_config(backends, testbed.free_port())
        cfg["admin"] = {"listen": f"127.0.0.1:{s.getsockname()[1]}"}
        rc, log = run_second(cfg)
    finally:
        s.close()
    assert rc != 0, log
    assert re.search(r"level=warn event=admin_http msg=\"Failed to bind to port \d+: "
                     r"Address already in use\"", log), log
    assert "event=admin_failed" in log
    assert_well_formed("".join(ln + "\n" for ln in log.splitlines()
                               if not ln.startswith("mymux: ")), "mymux log")


# ------------------------------------------------------------------- accept grace


def test_accept_grace_keeps_listening_while_health_says_503(backends, mymux_factory):
    """The listener used to close at SIGTERM, before a load balancer polling the health
    endpoint could take mymux out: its clients got ECONNREFUSED. With shutdown.accept_grace
    the health endpoint says 503 at once and new clients are still served until the
    grace ends; then the listener closes and the drain runs as before."""
    hport = testbed.free_port()
    m = mymux_factory({"shutdown": {"grace_period": "1s", "accept_grace": "4s",
                                    "health_listen": f"127.0.0.1:{hport}"}})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", hport), 10, what="health")
    assert http_status(hport) == 200
    m.send_signal(signal.SIGTERM)
    testbed.wait_until(lambda: http_status(hport) == 503, 10, what="the 503")
    one_query(m)  # a new client, after the 503
    assert "event=accept_grace_end" not in m.log(), "the machine was too slow for this test"
    assert re.search(r"event=shutdown signal=15 mode=graceful grace_ms=1000 "
                     r"accept_grace_ms=4000", m.log())
    testbed.wait_until(lambda: "event=accept_grace_end" in m.log(), 15, what="the grace end")
    testbed.wait_until(lambda: refused(m.port), 10, what="the listener to close")
    assert m.wait_exit(20) == 0


def http_status(port):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        c.request("GET", "/")
        return c.getresponse().status
    except OSError:
        return None
    finally:
        c.close()


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
