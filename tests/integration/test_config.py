"""mymux's command line and configuration handling, and routing over two backends."""

import os
import subprocess
import tempfile

import pytest

import testbed

pytestmark = pytest.mark.proxy_only


def run_mymux(args, timeout=20):
    return subprocess.run([testbed.MYMUX_BIN, *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def conf_file():
    paths = []

    def write(text):
        fd, path = tempfile.mkstemp(suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        paths.append(path)
        return path

    yield write
    for p in paths:
        os.unlink(p)


GOOD = """listen: 127.0.0.1:6033
workers: 2
log_level: info
users:
  - name: app
    password: apppass
backends:
  - name: db1
    address: 127.0.0.1:3307
pool:
  max_per_backend: 64
"""


def test_version():
    r = run_mymux(["--version"])
    assert r.returncode == 0, r.stderr
    assert "mymux" in (r.stdout + r.stderr).lower()


def test_check_config_accepts_minimal_config(conf_file):
    path = conf_file(GOOD)
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 0, r.stdout + r.stderr


def test_repo_example_config_is_valid():
    path = os.path.join(testbed.REPO, "conf", "mymux.yaml")
    if not os.path.exists(path):
        pytest.skip("conf/mymux.yaml not written yet")
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("text, lines", [
    (GOOD + "no_such_key: 1\n", (12,)),                                # unknown key
    (GOOD.replace("workers: 2", "workers: two"), (2,)),                # wrong type
    (GOOD.replace("127.0.0.1:3307", "127.0.0.1:notaport"), (9,)),      # bad address
    (GOOD.replace("listen: 127.0.0.1:6033\n", ""), None),              # missing required key
    (GOOD.replace("    password: apppass\n", "    pasword: apppass\n"), (5, 6)),  # typo
], ids=["unknown-key", "wrong-type", "bad-address", "missing-key", "typo-in-user"])
def test_config_errors_name_file_line_and_column(conf_file, text, lines):
    path = conf_file(text)
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert path in out, out
    if lines is not None:
        assert any(f"{path}:{n}:" in out for n in lines), out
    # Not started either.
    r = run_mymux(["-c", path])
    assert r.returncode != 0


def test_missing_config_file():
    r = run_mymux(["-c", "/nonexistent/mymux.yaml"])
    assert r.returncode != 0
    assert "/nonexistent/mymux.yaml" in r.stdout + r.stderr


def test_two_backends_both_used(mymux_factory, backends):
    m = mymux_factory({"backends": [{"name": f"db{i + 1}", "address": f"{b.host}:{b.port}"}
                                    for i, b in enumerate(backends)]})
    ports = set()
    conns = [m.connect() for _ in range(12)]
    try:
        for c in conns:
            with c.cursor() as cur:
                cur.execute("SELECT @@port")
                ports.add(cur.fetchone()[0])
    finally:
        for c in conns:
            c.close()
    assert ports == {b.port for b in backends}
