"""Packaging (issue 12): `cmake --install` into a DESTDIR puts the binary, the
configuration, the systemd unit and the man page where the unit says they are; the
installed binary checks its shipped configuration and serves the test bed; the unit
passes systemd-analyze; the man page renders and names every option, signal and
configuration section; readiness reaches $NOTIFY_SOCKET as Type=notify expects."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest
import yaml

import testbed

pytestmark = pytest.mark.proxy_only

BUILD = os.path.dirname(os.path.abspath(testbed.MYMUX_BIN))


def cache(key):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split("=", 1)[1].strip()
    raise KeyError(key)


@pytest.fixture(scope="module")
def dest():
    d = tempfile.mkdtemp(prefix="mymux-destdir-")
    r = subprocess.run(["cmake", "--install", BUILD], env={**os.environ, "DESTDIR": d},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    yield d
    shutil.rmtree(d, ignore_errors=True)


def unit_text(dest):
    prefix = cache("CMAKE_INSTALL_PREFIX")
    with open(os.path.join(dest + prefix, "lib/systemd/system/mymux.service")) as f:
        return f.read()


def exec_start(dest):
    m = re.search(r"^ExecStart=(\S+) -c (\S+)$", unit_text(dest), re.M)
    assert m, unit_text(dest)
    return m.group(1), m.group(2)


def test_install_puts_every_file_where_the_unit_says(dest):
    prefix = cache("CMAKE_INSTALL_PREFIX")
    binary, conf = exec_start(dest)
    assert os.access(dest + binary, os.X_OK), binary
    assert os.path.isfile(dest + conf), conf
    assert binary == os.path.join(prefix, "sbin/mymux")
    for rel in ("share/man/man8/mymux.8", "share/doc/mymux/mymux.yaml.example"):
        assert os.path.isfile(os.path.join(dest + prefix, rel)), rel
    text = unit_text(dest)
    assert re.search(r"^Type=notify$", text, re.M)
    assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", text, re.M)
    assert "@" not in text.replace("$MAINPID", ""), "an unsubstituted @VAR@ in the unit"


def test_installed_binary_checks_its_shipped_configuration(dest):
    binary, conf = exec_start(dest)
    r = subprocess.run([dest + binary, "--check-config", "-c", dest + conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration OK" in r.stdout


def test_unit_passes_systemd_analyze(dest, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    binary, _ = exec_start(dest)
    # the same unit, pointing into the DESTDIR, since nothing is installed in /
    unit = tmp_path / "mymux.service"
    unit.write_text(unit_text(dest).replace(binary, dest + binary))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr


def test_man_page_renders_and_covers_options_signals_and_sections(dest):
    prefix = cache("CMAKE_INSTALL_PREFIX")
    page = os.path.join(dest + prefix, "share/man/man8/mymux.8")
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": ""})
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "", r.stderr  # no groff warnings
    out = re.sub(r".\x08", "", r.stdout)
    for opt in ("--check-config", "--version", "--config", "--help"):
        assert opt in out, opt
    for sig in ("SIGHUP", "SIGUSR1", "SIGTERM", "SIGINT"):
        assert sig in out, sig
    with open(os.path.join(testbed.REPO, "conf", "mymux.yaml")) as f:
        sections = list(yaml.safe_load(f))
    missing = [k for k in sections if not re.search(rf"^\s+{re.escape(k)}\b", out, re.M)]
    assert missing == [], missing
    assert "@" not in out, "an unsubstituted @VAR@ in the man page"


def test_installed_binary_serves_the_test_bed(dest, backends):
    binary, _ = exec_start(dest)
    m = testbed.Mymux(testbed.default_config(backends, 0), binary=dest + binary,
                      name="mymux-installed").start()
    try:
        c = m.connect()
        with c.cursor() as cur:
            cur.execute("SELECT @@port")
            assert cur.fetchone()[0] == backends[0].port
        c.close()
    finally:
        testbed.assert_clean_log(m.stop(), "installed mymux")


def test_reinstall_keeps_an_edited_configuration(dest):
    _, conf = exec_start(dest)
    with open(dest + conf, "a") as f:
        f.write("# edited by the operator\n")
    r = subprocess.run(["cmake", "--install", BUILD], env={**os.environ, "DESTDIR": dest},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with open(dest + conf) as f:
        assert f.read().endswith("# edited by the operator\n")


def test_readiness_reaches_notify_socket(backends, mymux_factory, monkeypatch, tmp_path):
    """Type=notify: READY=1 once the listeners accept, RELOADING=1 then READY=1 around a
    SIGHUP, STOPPING=1 at SIGTERM (sd_notify's protocol, written without libsystemd)."""
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(20)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    try:
        m = mymux_factory({})
        msg = s.recv(4096).decode()
        assert msg.startswith("READY=1\n"), msg
        assert f"MAINPID={m.proc.pid}" in msg
        assert testbed.port_accepts(m.host, m.port)  # ready means listening
        m.send_signal(signal.SIGHUP)
        assert s.recv(4096).decode() == "RELOADING=1"
        assert s.recv(4096).decode().startswith("READY=1\n")
        m.send_signal(signal.SIGTERM)
        assert s.recv(4096).decode().startswith("STOPPING=1\n")
        assert m.wait_exit(20) == 0
    finally:
        s.close()


def test_watchdog_pings_while_the_loops_run(backends, mymux_factory, monkeypatch, tmp_path):
    """WatchdogSec=: WATCHDOG=1 at half the interval while every loop runs."""
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(20)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    try:
        m = mymux_factory({})
        assert s.recv(4096).decode().startswith("READY=1\n")
        pings = 0
        while pings < 4:  # about two seconds of them
            msg = s.recv(4096).decode()
            assert msg == "WATCHDOG=1", msg
            pings += 1
        assert "event=watchdog" not in m.log()
    finally:
        s.close()
