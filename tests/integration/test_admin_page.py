"""The admin stats page in a real (headless) Chromium: it renders, needs nothing from the
internet, and the numbers it shows are the ones the JSON API gives."""

import html.parser
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request

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
        ok = b["check"]["ok"]
        assert v[f"backends.{n}.check"] == ("-" if ok is None else "ok" if ok else "failed")
        assert v[f"backends.{n}.check_ms"] == shown(b["check"]["latency_ms"])
    assert v["backends.db2.state"] == "maint"
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
