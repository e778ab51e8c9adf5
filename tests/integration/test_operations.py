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
