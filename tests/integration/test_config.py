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


def test_check_config_reports_every_error_with_its_position(conf_file):
    """Issue 12: --check-config stopped at the first error; an operator fixed one, ran it
    again, found the next. Every error of the file now comes in one run, one line each."""
    text = """listen: 300.1.1.1:6033
users:
  - name: app
    password: apppass
    bogus: 1
  - name: other
    pasword: x
backends:
  - name: db1
    address: 127.0.0.1:99999
  - name: db2
    address: 127.0.0.1:3307
pool:
  max_per_backend: -5
shutdown:
  grace: 1s
"""
    path = conf_file(text)
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 1
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("mymux: ")]
    where = [ln.split(": ")[1] for ln in errs]
    # the second user's misspelt key, and so the password it lacks
    assert where == [f"{path}:1:9", f"{path}:5:5", f"{path}:7:5", f"{path}:6:5",
                     f"{path}:10:14", f"{path}:14:20", f"{path}:16:3"], r.stderr
    assert "expected an IPv4 address" in errs[0]
    assert "unknown key 'bogus'" in errs[1]
    assert "unknown key 'pasword' in user (did you mean 'password'?)" in errs[2]
    assert "missing required key 'password'" in errs[3]
    assert "port must be between 1 and 65535" in errs[4]
    assert "unknown key 'grace' in shutdown" in errs[6]


@pytest.mark.parametrize("listen", ["300.1.1.1:6033", "1.2.3:6033", "127.0.0.1.5:6033",
                                    "256.0.0.1:6033"])
def test_invalid_ipv4_listen_refused(conf_file, listen):
    path = conf_file(GOOD.replace("127.0.0.1:6033", listen))
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 1
    assert f"{path}:1:9: listen: expected an IPv4 address" in r.stderr, r.stderr


def test_listen_address_must_be_local(conf_file):
    # TEST-NET-2 (RFC 5737): never an address of this machine
    path = conf_file(GOOD.replace("127.0.0.1:6033", "198.51.100.7:6033"))
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 1
    assert f"{path}:1:9: listen: 198.51.100.7 is not an address of this machine" in r.stderr, \
        r.stderr
    assert "configuration OK" not in r.stdout


@pytest.mark.parametrize("extra, line", [
    ("admin:\n  listen: 127.0.0.1:6033\n", 13),
    ("admin_listen: 0.0.0.0:6033\n", 12),
    ("shutdown:\n  health_listen: 127.0.0.1:6033\n", 13),
], ids=["admin", "admin-wildcard", "health"])
def test_http_listeners_may_not_take_the_sql_address(conf_file, extra, line):
    path = conf_file(GOOD + extra)
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 1
    assert f"{path}:{line}:" in r.stderr and "is the SQL listen address" in r.stderr, r.stderr


def test_unresolvable_backend_is_a_warning(conf_file):
    path = conf_file(GOOD.replace("127.0.0.1:3307", "no-such-host.invalid:3307"))
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 0, r.stderr  # DNS may know it by the time mymux starts
    assert f"{path}:9:14: warning: backend db1: cannot resolve 'no-such-host.invalid'" in \
        r.stderr, r.stderr
    assert "configuration OK" in r.stdout


def test_extra_arguments_are_errors(conf_file):
    path = conf_file(GOOD)
    r = run_mymux(["--check-config", "-c", path, "stray"])
    assert r.returncode == 2
    assert "unexpected argument 'stray'" in r.stderr
    assert "configuration OK" not in r.stdout


def test_version_names_libraries_and_build():
    r = run_mymux(["--version"])
    assert r.returncode == 0
    for lib in ("libuv ", "OpenSSL ", "libyaml ", "zlib ", "zstd ", "libmicrohttpd ",
                "jansson ", "libsystemd "):
        assert lib in r.stdout, r.stdout
    assert "build: " in r.stdout


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


def test_did_you_mean_for_keys_and_values(conf_file):
    """Issue 12: a misspelt key or enumerated value names the nearest valid one, and the
    errors after an unknown key are still reported in the same run."""
    text = GOOD.rstrip("\n") + """
log_leve: info
health:
  type: mysq
balance:
  algoritm: roundrobin
shutdown:
  grace: 1s
"""
    path = conf_file(text)
    r = run_mymux(["--check-config", "-c", path])
    assert r.returncode == 1
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("mymux: ")]
    assert any("unknown key 'log_leve' at top level (did you mean 'log_level'?)" in e
               for e in errs), errs
    assert any("got 'mysq' (did you mean 'mysql'?)" in e for e in errs), errs
    assert any("unknown key 'algoritm' in balance (did you mean 'algorithm'?)" in e
               for e in errs), errs
    # too far from every key for a guess
    assert any("unknown key 'grace' in shutdown (expected" in e for e in errs), errs
    assert len(errs) == 4, errs
