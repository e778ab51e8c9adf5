"""Issue 12: the admin side against other web pages and other machines, and connection ids
unique across instances.

A page on another site must not drive the API with the operator's browser (cross-site form
POST), a name the attacker controls must not reach it (DNS rebinding: a Host header that is
not ours), a non-loopback listener needs credentials unless the configuration says otherwise,
half-open connections from one host must not lock out another, and JSON floats print as a
person writes them. instance_id puts the instance in the high bits of every connection id.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import tempfile

import pymysql
import pytest

import testbed

pytestmark = pytest.mark.proxy_only


def two_backends(backends):
    return [{"name": f"db{i + 1}", "address": f"{b.host}:{b.port}"} for i, b in enumerate(backends)]


class Api:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, headers=None, body=None, source="127.0.0.1"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                       source_address=(source, 0))
        try:
            h = {"Host": f"127.0.0.1:{self.port}"}
            h.update(headers or {})
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.read().decode()
        finally:
            c.close()

    def json(self, path):
        st, body = self.request("GET", path)
        assert st == 200, (path, st, body)
        return json.loads(body)

    def state(self, name):
        return next(b for b in self.json("/api/backends") if b["name"] == name)["state"]


@pytest.fixture
def api(backends, mymux_factory):
    port = testbed.free_port()
    m = mymux_factory({"admin": {"listen": f"127.0.0.1:{port}",
                                 "allowed_hosts": ["admin.example"]},
                       "backends": two_backends(backends)})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    a = Api(port)
    a.m = m
    return a


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_cross_site_form_post_is_refused_and_changes_nothing(api):
    assert api.state("db1") == "up"
    evil = "http://evil.example"
    # what a browser sends for a form on another site: both headers, or Origin alone (older
    # browsers), or Sec-Fetch-Site alone (a redirect that dropped Origin)
    for h in ({"Origin": evil, "Sec-Fetch-Site": "cross-site"}, {"Origin": evil},
              {"Origin": "null"}, {"Sec-Fetch-Site": "same-site"},
              {"Origin": f"http://127.0.0.1:{api.port + 1}"},
              {"Origin": f"https://127.0.0.1:{api.port}"}):
        st, body = api.request("POST", "/api/backends/db1/disable", {**FORM, **h}, body="x=1")
        assert st == 403, (h, st, body)
        assert "refused" in json.loads(body)["error"]
        st, _ = api.request("POST", "/api/backends/db1/weight?value=7", {**FORM, **h}, body="")
        assert st == 403, h
    b = next(b for b in api.json("/api/backends") if b["name"] == "db1")
    assert b["state"] == "up" and b["weight"] == b["config_weight"]
    # a session the cross-site request tried to kill lives on
    c = api.m.connect()
    try:
        cid = c.thread_id()
        st, _ = api.request("POST", f"/api/sessions/{cid}/kill", {"Origin": evil}, body="")
        assert st == 403
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone()[0] == 1
    finally:
        c.close()
    assert "event=admin_refused" in api.m.log()


def page_token(api):
    st, page = api.request("GET", "/?refresh=0")
    assert st == 200
    tokens = set(re.findall(r'name=csrf value="([0-9a-f]+)"', page))
    assert len(tokens) == 1 and len(next(iter(tokens))) == 32, tokens
    return tokens.pop()


def test_same_origin_and_non_browser_posts_work(api):
    own = f"http://127.0.0.1:{api.port}"
    token = page_token(api)
    st, body = api.request("POST", "/api/backends/db1/disable",
                           {**FORM, "Origin": own, "Sec-Fetch-Site": "same-origin"},
                           body=f"x=1&csrf={token}")
    assert st == 303, body  # a form goes back to the page
    assert api.state("db1") == "maint"
    # a name from admin.allowed_hosts is its own origin too
    st, body = api.request("POST", "/api/backends/db1/enable",
                           {"Host": f"admin.example:{api.port}", "X-CSRF-Token": token,
                            "Origin": f"http://admin.example:{api.port}"}, body="")
    assert st == 200, body
    assert api.state("db1") == "up"
    # curl and scripts send neither header (and no browser's User-Agent): no token needed
    st, body = api.request("POST", "/api/backends/db1/drain", body="")
    assert st == 200, body
    assert api.state("db1") == "draining"
    # urllib and curl -d send a form type: still a script, answered with JSON, not sent to /
    st, body = api.request("POST", "/api/backends/db1/drain", FORM, body="")
    assert st == 200 and json.loads(body)["to"] == "draining", body
    st, body = api.request("POST", "/api/backends/db1/weight", {**FORM, "User-Agent": "curl/7.88"},
                           body="value=3")
    assert st == 400, body  # a script's form body is not the page's form: ?value= or JSON
    # a user typing the address (Sec-Fetch-Site: none)
    st, _ = api.request("POST", "/api/backends/db1/enable",
                        {"Sec-Fetch-Site": "none", "X-CSRF-Token": token}, body="")
    assert st == 200
    assert api.state("db1") == "up"


def test_browser_posts_need_this_process_token(api):
    """Every state-changing request from a browser (Origin, Sec-Fetch-Site or a Mozilla/
    User-Agent, as even browsers that send no Origin on forms have) needs the CSRF token of
    the page this process served; same-origin is not enough."""
    own = f"http://127.0.0.1:{api.port}"
    token = page_token(api)
    assert page_token(api) == token  # one per process, not per page
    wrong = ("0" * 32, token[:-1], token + "0", token.upper(), "")
    old_browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:60.0) Firefox/60.0"}
    for h in ({"Origin": own}, {"Sec-Fetch-Site": "same-origin"}, old_browser):
        for body in ["value=5"] + [f"csrf={t}&value=5" for t in wrong]:
            st, text = api.request("POST", "/api/backends/db1/weight", {**FORM, **h}, body=body)
            assert st == 403 and "CSRF" in text, (h, body, st, text)
            st, text = api.request("POST", "/api/backends/db1/disable", {**FORM, **h},
                                   body=body.replace("value=5", "x=1"))
            assert st == 403, (h, body, st)
        for t in wrong[:4]:
            st, _ = api.request("POST", "/api/backends/db1/drain", {**h, "X-CSRF-Token": t},
                                body="")
            assert st == 403
    b = next(b for b in api.json("/api/backends") if b["name"] == "db1")
    assert b["state"] == "up" and b["weight"] == b["config_weight"], b
    # the right token through the page's form: the weight moves, the browser goes back to /
    for h in ({"Origin": own}, old_browser):
        st, _ = api.request("POST", "/api/backends/db1/weight", {**FORM, **h},
                            body=f"csrf={token}&value=5")
        assert st == 303
    assert next(b for b in api.json("/api/backends") if b["name"] == "db1")["weight"] == 5
    assert "no CSRF token" in api.m.log() and "wrong CSRF token" in api.m.log()


def test_host_header_must_name_this_listener(api):
    for host in (f"evil.example:{api.port}", "evil.example", f"127.0.0.1.evil.example:{api.port}",
                 f"127.0.0.1:{api.port}x"):
        st, body = api.request("GET", "/api/status", {"Host": host})
        assert st == 403, (host, st, body)
    st, _ = api.request("GET", "/", {"Host": "evil.example"})
    assert st == 403
    for host in (f"127.0.0.1:{api.port}", f"localhost:{api.port}", f"[::1]:{api.port}",
                 f"ADMIN.example:{api.port}", "127.0.0.1"):
        st, body = api.request("GET", "/api/status", {"Host": host})
        assert st == 200, (host, st, body)


def test_half_open_requests_from_one_host_do_not_lock_out_another(api):
    """70 connections from 127.0.0.2 that send half a request: the listener keeps answering
    127.0.0.1, turns away what one address holds past its share, and lets the rest go once they
    have been silent for its idle timeout (10 s)."""
    socks = []
    try:
        for _ in range(70):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", api.port))
            s.sendall(b"POST /api/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n")
            socks.append(s)
        st, body = api.request("GET", "/api/status")
        assert st == 200, body
        assert json.loads(body)["workers"] >= 1

        def closed(s):
            s.settimeout(0)
            try:
                return s.recv(1) == b""
            except BlockingIOError:
                return False
            except OSError:
                return True

        # the per-address limit (16) closes the others without waiting
        testbed.wait_until(lambda: sum(map(closed, socks)) >= 70 - 16, 5,
                           what="connections over the per-address limit closed")
        st, _ = api.request("GET", "/api/status")
        assert st == 200
        # and the idle timeout frees the slots of those it had taken
        testbed.wait_until(lambda: all(map(closed, socks)), 30, interval=0.2,
                           what="half-open connections timed out")
    finally:
        for s in socks:
            s.close()


def sig_digits(tok):
    mant = re.split(r"[eE]", tok)[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mant.rstrip("0")) if "." in tok else len(mant)


def test_json_floats_print_as_written(api):
    """latency_ms is microseconds / 1000: 3513 us is 3.513, which %.17g prints as
    3.5129999999999999. Every float has at most 15 significant digits, and at least one of them
    is such a value (so the check does not pass on round numbers alone)."""
    floats = re.compile(r"(?<![\w.\"])-?\d+\.\d+(?:[eE][-+]?\d+)?(?![\w.\"])")

    def tokens():
        out = []
        for path in ("/api/backends", "/api/status"):
            st, body = api.request("GET", path)
            assert st == 200
            out += floats.findall(body)
        return out

    def inexact():
        return [t for t in tokens() if sig_digits(format(float(t), ".17g")) > 15]

    testbed.wait_until(lambda: inexact(), 20, interval=0.2,
                       what="a float that is not exact in binary (a check latency)")
    toks = tokens()
    assert toks and all(sig_digits(t) <= 15 for t in toks), toks
    for t in toks:
        assert float(format(float(t), ".15g")) == float(t)


# ---- configuration ----

def check_config(text):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        r = subprocess.run([testbed.MYMUX_BIN, "--check-config", "-c", path], capture_output=True,
                           text=True, timeout=20, stdin=subprocess.DEVNULL)
        return r, path
    finally:
        os.unlink(path)


BASE = """listen: 127.0.0.1:6033
users:
  - name: app
    password: apppass
backends:
  - name: db1
    address: 127.0.0.1:3307
"""


@pytest.mark.parametrize("listen", ["0.0.0.0:18080", "[::]:18080"])
def test_exposed_admin_without_credentials_is_refused(listen):
    r, path = check_config(BASE + f"admin:\n  listen: \"{listen}\"\n")
    assert r.returncode == 1, r.stdout
    assert f"{path}:9:" in r.stderr and "reachable from other machines" in r.stderr, r.stderr
    assert "allow_unauthenticated" in r.stderr
    for extra in ("  allow_unauthenticated: true\n", "  user: ops\n  password: secret\n"):
        r, _ = check_config(BASE + f"admin:\n  listen: \"{listen}\"\n" + extra)
        assert r.returncode == 0, (extra, r.stderr)


@pytest.mark.parametrize("listen", ["127.0.0.1:18080", "127.9.9.9:18080", "[::1]:18080",
                                    "localhost:18080"])
def test_loopback_admin_needs_no_credentials(listen):
    r, _ = check_config(BASE + f"admin:\n  listen: \"{listen}\"\n")
    assert r.returncode == 0, r.stderr


def test_exposed_admin_refuses_to_start(backends, mymux_factory):
    with pytest.raises(Exception):
        mymux_factory({"admin": {"listen": f"0.0.0.0:{testbed.free_port()}"},
                       "backends": two_backends(backends)})


@pytest.mark.parametrize("text, msg", [
    ("instance_id: 256\n", "instance_id: expected an integer between 0 and 255"),
    ("instance_id: -1\n", "instance_id: expected a non-negative integer"),
    ("admin:\n  listen: 127.0.0.1:18080\n  allowed_hosts: [\"a.example:80\"]\n",
     "allowed_hosts: expected a host name without port"),
    ("admin:\n  listen: 127.0.0.1:18080\n  allowed_hosts: a.example\n",
     "allowed_hosts: expected a sequence"),
])
def test_new_keys_are_validated(text, msg):
    r, _ = check_config(BASE + text)
    assert r.returncode == 1
    assert msg in r.stderr, r.stderr


# ---- connection ids ----

def one(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()[0][0]


def test_instance_ids_are_disjoint_and_kill_works_across_the_id_space(backends, mymux_factory):
    port = testbed.free_port()
    m3 = mymux_factory({"instance_id": 3})
    m200 = mymux_factory({"instance_id": 200, "admin_listen": f"127.0.0.1:{port}"})
    m0 = mymux_factory()
    conns = {m: [m.connect(autocommit=True) for _ in range(5)] for m in (m3, m200, m0)}
    try:
        ids = {}
        for m, cs in conns.items():
            ids[m] = set()
            for c in cs:
                cid = one(c, "SELECT CONNECTION_ID()")
                assert cid == c.thread_id()  # the handshake and CONNECTION_ID() agree
                ids[m].add(cid)
        assert all(i >> 24 == 3 and i & 0xffffff for i in ids[m3]), ids[m3]
        assert all(i >> 24 == 200 and i & 0xffffff for i in ids[m200]), ids[m200]
        assert all(0 < i < 1 << 24 for i in ids[m0]), ids[m0]  # default 0: ids as before
        assert not (ids[m3] & ids[m200]) and not (ids[m3] & ids[m0]) and not (ids[m200] & ids[m0])

        # KILL of an id with the high bit set, from another session of the same user
        a, b, c = conns[m200][:3]
        victim = a.thread_id()
        assert victim > 1 << 31
        with b.cursor() as cur:
            cur.execute(f"KILL {victim}")
        with pytest.raises(pymysql.MySQLError):
            one(a, "SELECT 3")
        # an id of another instance is unknown here, not some local session's
        other = next(iter(ids[m3]))
        with pytest.raises(pymysql.MySQLError) as ei:
            with b.cursor() as cur:
                cur.execute(f"KILL {other}")
        assert ei.value.args[0] == 1094
        assert one(conns[m3][0], "SELECT 4") == 4
        # the admin API lists and kills by the whole id
        api = Api(port)
        testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin")
        listed = {s["id"] for s in api.json("/api/sessions")}
        assert c.thread_id() in listed and victim not in listed
        st, body = api.request("POST", f"/api/sessions/{c.thread_id()}/kill", body="")
        assert st == 200, body
        testbed.wait_until(lambda: c.thread_id() not in {s["id"] for s in
                                                         api.json("/api/sessions")},
                           10, what="session killed through the API")
        with pytest.raises(pymysql.MySQLError):
            one(c, "SELECT 5")
    finally:
        for cs in conns.values():
            for c in cs:
                try:
                    c.close()
                except Exception:
                    pass
