"""The admin stats page in a real (headless) Chromium: it renders, needs nothing from the
internet, and the numbers it shows are the ones the JSON API gives."""

import html.parser
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(args, timeout=90):
    if CHROMIUM is None:
        pytest.skip("chromium (Debian package chromium) is not installed")
    profile = tempfile.mkdtemp(prefix="mymux-chromium-")
    try:
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--no-first-run",
                            "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args],
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return r
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Cells(html.parser.HTMLParser):
    """Collects the text of every element that carries data-k."""

    def __init__(self):
        super().__init__()
        self.values = {}
        self.text = {}  # what the cell shows, where data-v carries the exact value
        self.stack = []
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if a.get(k, "").startswith(("http:", "https:", "//")):
                self.external.append(a[k])
        if tag == "script":
            self.external.append("script")
        self.stack.append((tag, a.get("data-k"), [], a.get("data-v")))

    def handle_endtag(self, tag):
        while self.stack:
            t, key, text, exact = self.stack.pop()
            if key is not None:
                self.text[key] = "".join(text).strip()
                self.values[key] = exact if exact is not None else self.text[key]
            if self.stack:
                self.stack[-1][2].extend(text)
            if t == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)


def api(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def human_bytes(n):
    if n < 1024:
        return f"{n} B"
    d, u = float(n), 0
    while d >= 1024 and u < 5:
        d, u = d / 1024, u + 1
    return f"{d:.1f} {['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'][u]}"


def human_uptime(s):
    d, h, m, sec = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
    return (f"{d}d {h:02d}h" if d else f"{h}h {m:02d}m" if h else f"{m}m {sec:02d}s" if m
            else f"{sec}s")


def test_human_units_format():
    assert human_bytes(0) == "0 B" and human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(5 * 1024 ** 3) == "5.0 GiB"
    assert human_uptime(59) == "59s" and human_uptime(61) == "1m 01s"
    assert human_uptime(3 * 3600 + 120) == "3h 02m" and human_uptime(2 * 86400 + 3600) == "2d 01h"


def shown(v):
    """How the page prints an API value."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.1f}"
    if v is None:
        return "-"
    return str(v)


def test_page_in_headless_chromium(backends, mymux_factory):
    port = testbed.free_port()
    # one health check at start, then none during the test: its latency stays put
    m = mymux_factory({"admin_listen": f"127.0.0.1:{port}", "health": {"interval": "1h"},
                       "backends": [{"name": f"db{i + 1}", "address": f"{b.host}:{b.port}"}
                                    for i, b in enumerate(backends)]})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    # traffic from two users, one session left open, one backend in maintenance
    for user, pw in (("app", "apppass"), ("other", "otherpass")):
        c = m.connect(user=user, password=pw)
        cur = c.cursor()
        for i in range(7 if user == "app" else 3):
            cur.execute(f"SELECT {i}, 'x' IN ('a', 'b')")
        c.close()
    keep = m.connect(database="test")
    try:
        keep.cursor().execute("SELECT 1")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/backends/db2/disable",
                                     data=b"", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

        # refresh=0: the page must not reload itself while Chromium dumps it
        r = chromium(["--dump-dom", f"http://127.0.0.1:{port}/?refresh=0"])
        assert r.returncode == 0, r.stderr[-3000:]
        status, backends_api = api(port, "/api/status"), api(port, "/api/backends")
        users_api, digests_api = api(port, "/api/users"), api(port, "/api/digests?top=20")
        sessions_api = api(port, "/api/sessions")
    finally:
        keep.close()

    p = Cells()
    p.feed(r.stdout)
    v = p.values
    assert p.external == [], "the page loads nothing from elsewhere and runs no script"
    assert v["status.version"] == status["version"]
    for k in ("config_generation", "workers", "sessions", "queries", "errors", "accepted",
              "bytes_in", "bytes_out"):
        assert v[f"status.{k}"] == shown(status[k]), k
    # byte counts and the uptime read as units; the exact number stays in data-v
    bytes_cells = [k for k in p.text if k.rsplit(".", 1)[-1].startswith("bytes")]
    assert len(bytes_cells) >= 2 + 2 * len(backends_api) + 2 * len(users_api), bytes_cells
    for k in bytes_cells:
        assert p.text[k] == human_bytes(int(v[k])), (k, p.text[k], v[k])
    up = int(v["status.uptime_s"])
    assert abs(up - status["uptime_s"]) <= 2
    assert p.text["status.uptime_s"] == human_uptime(up)
    for b in backends_api:
        n = b["name"]
        assert v[f"backends.{n}.state"] == b["state"]
        assert v[f"backends.{n}.address"] == b["address"]
        for k in ("weight", "queries", "errors", "bytes_to_backend", "bytes_from_backend",
                  "sessions", "queue", "waits"):
            assert v[f"backends.{n}.{k}"] == shown(b[k]), (n, k)
        for k in ("idle", "busy", "opening", "open", "max"):
            assert v[f"backends.{n}.{k}"] == shown(b["connections"][k]), (n, k)
        for k in ("transitions", "sessions_peak"):
            assert v[f"backends.{n}.{k}"] == shown(b[k]), (n, k)
        for k in ("open_peak", "lent_peak"):
            assert v[f"backends.{n}.{k}"] == shown(b["connections"][k]), (n, k)
        assert v[f"backends.{n}.check_transitions"] == shown(b["check"]["transitions"])
        assert v[f"backends.{n}.checks_failed"] == shown(b["check"]["failed"])
        assert abs(int(v[f"backends.{n}.state_s"]) - b["state_s"]) <= 2
        assert p.text[f"backends.{n}.state_s"] == human_uptime(int(v[f"backends.{n}.state_s"]))
        ok = b["check"]["ok"]
        assert v[f"backends.{n}.check"] == ("-" if ok is None else "ok" if ok else "failed")
        assert v[f"backends.{n}.check_ms"] == shown(b["check"]["latency_ms"])
    assert v["backends.db2.state"] == "maint" and v["backends.db2.transitions"] == "1"
    # peaks: the session kept open, and the connection it used, were counted
    assert int(v["status.sessions_peak"]) >= 1 and v["status.sessions_peak"] == \
        shown(status["sessions_peak"])
    assert sum(int(v[f"backends.{b['name']}.open_peak"]) for b in backends_api) >= 1
    assert sum(int(v[f"backends.{b['name']}.sessions_peak"]) for b in backends_api) >= 1
    assert int(v["backends.db1.queries"]) + int(v["backends.db2.queries"]) >= 10
    for u in users_api:
        for k in ("sessions", "connects", "queries", "errors", "bytes_in", "bytes_out"):
            assert v[f"users.{u['name']}.{k}"] == shown(u[k]), (u["name"], k)
    assert int(v["users.app.queries"]) >= 7 and int(v["users.other.queries"]) >= 3
    assert v["sessions.count"] == str(len(sessions_api)) == "1"
    sid = sessions_api[0]["id"]
    assert v[f"sessions.{sid}.user"] == "app" and v[f"sessions.{sid}.schema"] == "test"
    for d in digests_api:
        assert v[f"digests.{d['digest']}.count"] == str(d["count"])
        assert v[f"digests.{d['digest']}.text"] == d["text"]
    assert any(d["text"] == "SELECT ?, ? IN (...)" for d in digests_api)

    # it also paints: a screenshot of a real size
    shot_dir = tempfile.mkdtemp(prefix="mymux-shot-")
    try:
        shot = os.path.join(shot_dir, "page.png")
        r = chromium([f"--screenshot={shot}", "--window-size=1400,900",
                      f"http://127.0.0.1:{port}/?refresh=0"])
        assert r.returncode == 0, r.stderr[-3000:]
        with open(shot, "rb") as f:
            data = f.read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000
    finally:
        shutil.rmtree(shot_dir, ignore_errors=True)


def test_page_refreshes_itself(backends, mymux_factory):
    port = testbed.free_port()
    mymux_factory({"admin_listen": f"127.0.0.1:{port}"})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        body = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/html")
    assert '<meta http-equiv="refresh" content="2">' in body
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?refresh=10", timeout=10) as r:
        assert 'content="10"' in r.read().decode()


def backend(port, name):
    return next(b for b in api(port, "/api/backends") if b["name"] == name)


def test_page_actions_clicked_in_chromium(backends, mymux_factory, tmp_path):
    """An operator's actions from the page, clicked and typed in headless Chromium over the
    DevTools protocol: drain, disable, enable, recycle and set the weight of a backend, kill a
    session.
    The browser sends its own Origin, Sec-Fetch-Site and the page's CSRF token; the same
    form from another origin (a page served on another port) changes nothing. At 1024 px the
    page is no wider than the window."""
    import cdp
    if cdp.CHROMIUM is None:
        pytest.skip("chromium (Debian package chromium) is not installed")
    port = testbed.free_port()
    m = mymux_factory({"admin_listen": f"127.0.0.1:{port}", "health": {"interval": "1h"},
                       "backends": [{"name": f"db{i + 1}", "address": f"{b.host}:{b.port}"}
                                    for i, b in enumerate(backends)]})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    page = f"http://127.0.0.1:{port}/?refresh=0"
    victim = m.connect(database="test")
    victim.cursor().execute("SELECT 1")
    vid = victim.thread_id()
    b = cdp.Browser(width=1024, height=800)
    try:
        b.goto(page)
        b.screenshot(str(tmp_path / "page-1024.png"))
        # readable at 1024 px: no table past the window's right edge (less its scroll bar),
        # nothing to scroll sideways
        inner = b.eval("document.documentElement.clientWidth")
        assert 980 <= inner <= 1024, inner
        wide = b.eval("[...document.querySelectorAll('table')].map(t => [t.previousElementSibling"
                      "?.textContent, Math.ceil(t.getBoundingClientRect().right)])")
        assert all(right <= inner for _, right in wide), (inner, wide)
        assert b.eval("document.documentElement.scrollWidth") <= inner

        for action, state in (("drain", "draining"), ("disable", "maint"), ("enable", "up")):
            b.goto(page)
            b.click(f'form[action="/api/backends/db2/{action}"] button')
            b.wait_event("Page.loadEventFired")  # the API sent the browser back to the page
            assert b.eval("location.pathname") == "/"
            assert backend(port, "db2")["state"] == state, action
            assert b.eval("document.querySelector('[data-k=\"backends.db2.state\"]')"
                          ".textContent") == state
        assert backend(port, "db1")["state"] == "up"

        b.goto(page)
        b.type_into('form[action="/api/backends/db1/weight"] input[name=value]', "7")
        b.click('form[action="/api/backends/db1/weight"] button')
        b.wait_event("Page.loadEventFired")
        assert backend(port, "db1")["weight"] == 7
        assert b.eval("document.querySelector('[data-k=\"backends.db1.weight\"]')"
                      ".textContent") == "7"

        # recycle (issue 16): the backend's pooled connections are replaced, the page says so
        b.goto(page)
        b.click('form[action="/api/backends/db1/recycle"] button')
        b.wait_event("Page.loadEventFired")
        assert b.eval("location.pathname") == "/"
        assert "event=backend_recycle backend=db1 recycle=1 reason=admin" in m.log()

        b.goto(page)
        b.click(f'form[action="/api/sessions/{vid}/kill"] button')
        b.wait_event("Page.loadEventFired")
        testbed.wait_until(lambda: all(s["id"] != vid for s in api(port, "/api/sessions")), 10,
                           what="the killed session gone")
        with pytest.raises(pymysql.err.OperationalError):
            victim.cursor().execute("SELECT 1")

        # the same forms on a page of another origin (another port): refused by Origin
        token = re.search(r'name=csrf value="([0-9a-f]+)"', urllib.request.urlopen(
            page, timeout=10).read().decode()).group(1)
        evil_dir = tmp_path / "evil"
        evil_dir.mkdir()
        (evil_dir / "index.html").write_text(
            f'<form method=post action="http://127.0.0.1:{port}/api/backends/db1/disable">'
            f'<input type=hidden name=csrf value="{token}"><button id=go>win</button></form>')
        evil_port = testbed.free_port()
        evil = subprocess.Popen([sys.executable, "-m", "http.server", str(evil_port),
                                 "--bind", "127.0.0.2", "--directory", str(evil_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            testbed.wait_until(lambda: testbed.port_accepts("127.0.0.2", evil_port), 10,
                               what="the other origin's server")
            b.goto(f"http://127.0.0.2:{evil_port}/")
            b.click("#go")
            b.wait_event("Page.loadEventFired")
        finally:
            evil.terminate()
            evil.wait(10)
        assert backend(port, "db1")["state"] == "up"
        assert 'reason="Origin is not this listener"' in m.log() or \
            'reason="Sec-Fetch-Site is not same-origin"' in m.log()
    finally:
        b.close()
        victim.close()
    log = m.log()
    for action in ("to=draining reason=admin", "to=maint", "to=up reason=admin",
                   "backend_weight backend=db1", f"admin_kill conn_id={vid}"):
        assert action in log or action.replace("maint", "maintenance") in log, action


def test_check_transitions_and_time_in_state(backends, mymux_factory):
    """A backend whose checks fail goes down and comes back: the API and the page count the
    failed checks and the state changes the checks made, and say how long it has been in its
    state; a state set by the operator counts as a change but not as one by the checks."""
    port = testbed.free_port()
    spare = socket.socket()
    spare.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    spare.bind(("127.0.0.1", 0))  # held, not listening: connects to it are refused
    addr = f"127.0.0.1:{spare.getsockname()[1]}"
    fast = {"type": "tcp", "interval": 100, "timeout": 80, "rise": 2, "fall": 2}
    m = mymux_factory({"admin_listen": f"127.0.0.1:{port}",
                       "backends": [{"name": "db1", "address": f"{backends[0].host}:"
                                     f"{backends[0].port}"},
                                    {"name": "flaky", "address": addr, "health": fast}]})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    try:
        down = testbed.wait_until(lambda: (lambda b: b if b["state"] == "down" else None)(
            backend(port, "flaky")), 20, what="flaky down")
        assert down["check"]["transitions"] == 1 and down["transitions"] == 1, down
        assert down["check"]["failed"] >= 2 and down["check"]["ok"] is False
        # now the checks connect and read a greeting, the one a real server sent
        with socket.create_connection((backends[0].host, backends[0].port), timeout=10) as r:
            greeting = r.recv(4096)
        spare.listen(16)
        spare.settimeout(0.2)

        def serve():
            while not stop.is_set():
                try:
                    c, _ = spare.accept()
                except OSError:
                    continue
                with c:
                    c.sendall(greeting)
        stop = threading.Event()
        greeter = threading.Thread(target=serve, daemon=True)
        greeter.start()
        up = testbed.wait_until(lambda: (lambda b: b if b["state"] == "up" else None)(
            backend(port, "flaky")), 20, what="flaky up again")
        assert up["check"]["transitions"] == 2 and up["transitions"] == 2, up
        failed = up["check"]["failed"]
        # time in state grows while nothing changes
        testbed.wait_until(lambda: backend(port, "flaky")["state_s"] >= 2, 10,
                           what="two seconds up")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/backends/flaky/disable",
                                     data=b"", method="POST")
        urllib.request.urlopen(req, timeout=10).read()
        b = backend(port, "flaky")
        assert b["state"] == "maint" and b["state_s"] <= 1, b
        assert b["transitions"] == 3 and b["check"]["transitions"] == 2, b
        assert b["check"]["failed"] >= failed
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?refresh=0", timeout=10) as r:
            p = Cells()
            p.feed(r.read().decode())
        b = backend(port, "flaky")
        v = p.values
        assert v["backends.flaky.transitions"] == "3"
        assert v["backends.flaky.check_transitions"] == "2"
        assert v["backends.flaky.checks_failed"] == str(b["check"]["failed"])
        assert abs(int(v["backends.flaky.state_s"]) - b["state_s"]) <= 1
        assert p.text["backends.flaky.state_s"] == human_uptime(int(v["backends.flaky.state_s"]))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        assert 'mymux_backend_state_changes_total{backend="flaky"} 3\n' in metrics
        assert 'mymux_backend_check_state_changes_total{backend="flaky"} 2\n' in metrics
        assert re.search(r'^mymux_backend_check_failures_total\{backend="flaky"\} [1-9]', metrics,
                         re.M)
        db1 = backend(port, "db1")
        assert db1["transitions"] == 0 and db1["check"]["failed"] == 0
        assert abs(db1["state_s"] - api(port, "/api/status")["uptime_s"]) <= 1  # since start
    finally:
        if "stop" in locals():
            stop.set()
            greeter.join(10)
        spare.close()
