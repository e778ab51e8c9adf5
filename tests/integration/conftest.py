"""Fixtures for the integration tests: real MariaDB backends and mymux in front of them.

MYMUX_BIN selects the mymux binary (default build/mymux).
MYMUX_DIRECT=1 makes the `mymux` fixture the first backend itself (same interface), to check
the tests against MariaDB; tests marked `proxy_only` are then skipped.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testbed  # noqa: E402

DIRECT = os.environ.get("MYMUX_DIRECT") == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "proxy_only: needs mymux itself (skipped with MYMUX_DIRECT=1)")


def pytest_collection_modifyitems(config, items):
    if not DIRECT:
        return
    skip = pytest.mark.skip(reason="MYMUX_DIRECT=1: test needs the proxy")
    for item in items:
        if "proxy_only" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    target = "MariaDB directly (MYMUX_DIRECT=1)" if DIRECT else testbed.MYMUX_BIN
    return f"mymux integration tests against: {target}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the tail of the mymux log to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and not DIRECT:
        for name in ("mymux",):
            m = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if m is not None and hasattr(m, "log"):
                tail = "\n".join(m.log().splitlines()[-80:])
                rep.sections.append((f"mymux log (last 80 lines)", tail))


@pytest.fixture(scope="session")
def backends():
    """Two MariaDB servers, started once for the whole run."""
    servers = []
    try:
        for i in range(2):
            servers.append(testbed.MariaDB(name=f"db{i + 1}").start())
        yield servers
    finally:
        for s in servers:
            s.stop()


class Direct:
    """The mymux interface, served by a backend directly (MYMUX_DIRECT=1)."""

    direct = True

    def __init__(self, backend):
        self.backend = backend
        self.host = backend.host
        self.port = backend.port

    def connect(self, user="app", password="apppass", database=None, **kw):
        return testbed.connect_tcp(self.host, self.port, user, password, database, **kw)

    def cli(self, args, input=None, **kw):
        return testbed.run_cli(self.host, self.port, args, input=input, **kw)

    def log(self):
        return ""

    def alive(self):
        return True


def _start_mymux(backends, overrides=None, name="mymux"):
    """overrides may hold "session_tracking": on|off|auto, set on every backend."""
    overrides = dict(overrides or {})
    tracking = overrides.pop("session_tracking", None)
    cfg = testbed.deep_merge(testbed.default_config(backends[:1], 0), overrides)
    if tracking:
        for b in cfg["backends"]:
            b["session_tracking"] = tracking
    m = testbed.Mymux(cfg, name=name)
    m.direct = False
    m.backend = backends[0]
    return m.start()


@pytest.fixture(scope="module")
def mymux(backends):
    """mymux in front of backends[0] (users app/apppass and other/otherpass), per test module."""
    if DIRECT:
        yield Direct(backends[0])
        return
    m = _start_mymux(backends)
    try:
        yield m
    finally:
        log = m.stop()
        testbed.assert_clean_log(log)


@pytest.fixture
def mymux_factory(backends):
    """start(overrides: dict) -> a new mymux whose config is the default merged with overrides.

    All are stopped at the end of the test, and their logs checked for sanitizer findings.
    """
    if DIRECT:
        pytest.skip("MYMUX_DIRECT=1: test needs the proxy")
    started = []

    def start(overrides=None):
        m = _start_mymux(backends, overrides, name=f"mymux-f{len(started)}")
        started.append(m)
        return m

    try:
        yield start
    finally:
        logs = [m.stop() for m in started]
        for log in logs:
            testbed.assert_clean_log(log)
