"""Admin HTTP side: JSON API, actions, Prometheus metrics, auth, TLS, digests and logs,
against a running mymux in front of two real MariaDB servers."""

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

import testbed

pytestmark = pytest.mark.proxy_only


class Admin:
    def __init__(self, m, port, scheme="http", auth=None):
        self.m = m
        self.base = f"{scheme}://127.0.0.1:{port}"
        self.auth = auth
        self.ctx = None
        if scheme == "https":
            self.ctx = ssl.create_default_context()
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE

    def request(self, method, path, body=None, auth=None):
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.base + path, data=data, method=method)
        auth = auth or self.auth
        if auth:
            tok = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {tok}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def get(self, path, **kw):
        st, _, body = self.request("GET", path, **kw)
        assert st == 200, (path, st, body)
        return json.loads(body) if path.startswith("/api") else body

    def post(self, path, body=None, **kw):
        st, _, text = self.request("POST", path, body=body if body is not None else b"", **kw)
        return st, json.loads(text)

    def backend(self, name):
        return next(b for b in self.get("/api/backends") if b["name"] == name)

    def user(self, name):
        return next(u for u in self.get("/api/users") if u["name"] == name)


def two_backends(backends):
    return [{"name": f"db{i + 1}", "address": f"{b.host}:{b.port}"} for i, b in enumerate(backends)]


@pytest.fixture
def adm(backends, mymux_factory):
    port = testbed.free_port()
    m = mymux_factory({"admin_listen": f"127.0.0.1:{port}", "backends": two_backends(backends)})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    return Admin(m, port)


def run_queries(m, n, user="app", password="apppass", database=None, sql="SELECT {i} + 1"):
    c = m.connect(user=user, password=password, database=database)
    try:
        cur = c.cursor()
        for i in range(n):
            cur.execute(sql.format(i=i))
            cur.fetchall()
    finally:
        c.close()


def port_of(m):
    c = m.connect()
    try:
        cur = c.cursor()
        cur.execute("SELECT @@port")
        return cur.fetchone()[0]
    finally:
        c.close()


def test_endpoints_answer_json(adm):
    idx = adm.get("/api")
    assert "GET /api/backends" in idx["endpoints"]
    st = adm.get("/api/status")
    assert st["version"] and st["config_generation"] >= 1 and st["workers"] == 2
    assert st["uptime_s"] >= 0 and "transaction" in st["pins"]
    bs = adm.get("/api/backends")
    assert [b["name"] for b in bs] == ["db1", "db2"]
    for b in bs:
        assert b["state"] == "up"
        assert b["connections"]["max"] == 64
        assert {"ok", "latency_ms", "detail"} <= set(b["check"])
    pools = adm.get("/api/pools")
    assert len(pools) == 2 * 2 and {p["backend"] for p in pools} == {"db1", "db2"}
    assert [u["name"] for u in adm.get("/api/users")] == ["app", "other", "weak"]
    assert adm.get("/api/sessions") == []
    assert isinstance(adm.get("/api/digests?top=5"), list)


def test_counters_move_with_traffic(adm, backends):
    # the test bed's readiness probe is a connection too: let it be counted and gone
    testbed.wait_until(lambda: (lambda st: st["accepted"] >= 1 and st["sessions"] == 0)(
        adm.get("/api/status")), 5, what="the readiness probe to be counted")
    before_st, before_app = adm.get("/api/status"), adm.user("app")
    before_b = {b["name"]: b for b in adm.get("/api/backends")}
    run_queries(adm.m, 25)
    st, app = adm.get("/api/status"), adm.user("app")
    bs = {b["name"]: b for b in adm.get("/api/backends")}
    assert st["queries"] >= before_st["queries"] + 25
    assert st["bytes_in"] > before_st["bytes_in"] and st["bytes_out"] > before_st["bytes_out"]
    assert st["accepted"] == before_st["accepted"] + 1
    assert app["queries"] >= before_app["queries"] + 25 and app["connects"] == 1
    assert adm.user("other")["queries"] == 0
    sent = sum(bs[n]["queries"] - before_b[n]["queries"] for n in bs)
    assert sent >= 25
    assert sum(b["bytes_from_backend"] for b in bs.values()) > 0
    assert sum(b["borrows"] for b in bs.values()) >= 1
    assert sum(b["connects"] for b in bs.values()) >= 1
    # the connection went back to its pool when the client left
    pools = adm.get("/api/pools")
    testbed.wait_until(lambda: sum(p["idle"] for p in adm.get("/api/pools")) >= 1, 5,
                       what="an idle pooled connection")
    assert sum(p["borrows"] for p in pools) >= 1
    # errors count
    c = adm.m.connect()
    with pytest.raises(Exception):
        c.cursor().execute("SELECT * FROM no_such_table_here")
    c.close()
    assert adm.get("/api/status")["errors"] == st["errors"] + 1
    assert adm.user("app")["errors"] == app["errors"] + 1
    # queries per second from the 1-second sampler
    c = adm.m.connect()
    cur = c.cursor()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        cur.execute("SELECT 1")
    c.close()
    assert adm.get("/api/status")["qps"] > 0


def test_digests_normalised_per_user_and_schema(adm):
    for n in (1, 3, 7):
        run_queries(adm.m, 2, sql="SELECT {i} AS v, 'lit' FROM dual WHERE 1 IN ("
                    + ",".join(str(k) for k in range(n)) + ")")
    run_queries(adm.m, 3, user="other", password="otherpass", database="test2",
                sql="SELECT {i} AS v, 'lit' FROM dual WHERE 1 IN (5)")
    ds = adm.get("/api/digests?top=50")
    mine = [d for d in ds if d["text"] == "SELECT ? AS v, ? FROM dual WHERE ? IN (...)"]
    by = {(d["user"], d["schema"]): d for d in mine}
    assert by[("app", "")]["count"] == 6, ds
    assert by[("other", "test2")]["count"] == 3
    d = by[("app", "")]
    assert d["rows"] >= 2 and d["errors"] == 0 and d["max_ms"] >= d["avg_ms"] >= 0
    assert len(d["digest"]) == 16 and d["last_seen_ms"] >= d["first_seen_ms"]
    # no literal reaches the digest text
    assert not any("lit" in x["text"] for x in ds)
    assert len(adm.get("/api/digests?top=1")) == 1
    st, _, body = adm.request("GET", "/api/digests?top=zero")
    assert st == 400 and "top" in json.loads(body)["error"]


def test_digests_read_as_the_server_reads(adm):
    """Digests go through the classifier's lexer with the session's sql_mode and character
    set: a string that ends where the default reading sees an escaped quote (NO_BACKSLASH_ESCAPES,
    a gbk character whose trail byte is 0x5c) leaves no literal in the API's text."""
    c = adm.m.connect()
    try:
        cur = c.cursor()
        cur.execute("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
        cur.execute("SELECT 'x\\', 'nbe_secret' FROM dual")
        assert cur.fetchone() == ("x\\", "nbe_secret")
        cur.execute("SET SESSION sql_mode = 'ANSI_QUOTES'")
        cur.execute("SELECT 'ansi_secret' AS \"col\" FROM dual")
        assert cur.fetchone() == ("ansi_secret",)
    finally:
        c.close()
    c = adm.m.connect(charset="gbk")
    try:
        # b"\xbf\x5c" is one gbk character: the string ends at the quote after it
        assert c.query(b"SELECT '\xbf\\', 'gbk_secret' FROM dual") == 1
        assert c._result.rows[0][1] == "gbk_secret"
    finally:
        c.close()
    ds = adm.get("/api/digests?top=100")
    texts = [d["text"] for d in ds]
    assert "SELECT ?, ? FROM dual" in texts, texts
    assert 'SELECT ? AS "col" FROM dual' in texts, texts
    for t in texts:
        assert "secret" not in t, t


def test_sessions_list_and_kill(adm):
    victim = adm.m.connect(database="test")
    other = adm.m.connect(user="other", password="otherpass")
    try:
        cur = victim.cursor()
        cur.execute("SELECT CONNECTION_ID()")
        vid = cur.fetchone()[0]
        cur.execute("SET @pinned = 1")
        cur.execute("BEGIN")
        cur.execute("SELECT 1")
        sess = {s["id"]: s for s in adm.get("/api/sessions")}
        assert vid in sess and len(sess) == 2
        s = sess[vid]
        assert s["user"] == "app" and s["schema"] == "test"
        assert s["client"].startswith("127.0.0.1:")
        assert s["backend"] in ("db1", "db2") and s["in_transaction"] is True
        assert "user_variable" in s["pins"] and s["state"] == "idle"
        assert s["age_ms"] >= 0
        st, body = adm.post(f"/api/sessions/{vid}/kill")
        assert st == 200 and body["killed"] is True and body["user"] == "app"
        with pytest.raises(Exception):
            cur.execute("SELECT 1")
            cur.fetchall()
        testbed.wait_until(lambda: vid not in {s["id"] for s in adm.get("/api/sessions")}, 5,
                           what="killed session gone")
        # the other session is untouched
        oc = other.cursor()
        oc.execute("SELECT 2")
        assert oc.fetchone()[0] == 2
        st, body = adm.post("/api/sessions/999999/kill")
        assert st == 404 and "999999" in body["error"]
        st, body = adm.post("/api/sessions/abc/kill")
        assert st == 404
        assert "admin_kill" in adm.m.log()
    finally:
        for c in (victim, other):
            try:
                c.close()
            except Exception:  # noqa: BLE001 - the victim is gone
                pass


def test_disable_drain_enable_route_new_clients(adm, backends):
    p1, p2 = backends[0].port, backends[1].port
    assert {port_of(adm.m) for _ in range(8)} == {p1, p2}
    st, body = adm.post("/api/backends/db1/disable")
    assert st == 200 and body == {"backend": "db1", "from": "up", "to": "maint"}
    assert adm.backend("db1")["state"] == "maint"
    assert {port_of(adm.m) for _ in range(8)} == {p2}
    st, body = adm.post("/api/backends/db1/enable")
    assert st == 200 and body["to"] == "up"
    st, body = adm.post("/api/backends/db2/drain")
    assert st == 200 and body["from"] == "up" and body["to"] == "draining"
    assert adm.backend("db2")["state"] == "draining"
    # the health checks leave an operator's drain alone
    time.sleep(2.5)
    assert adm.backend("db2")["state"] == "draining"
    assert {port_of(adm.m) for _ in range(8)} == {p1}
    adm.post("/api/backends/db2/enable")
    assert {port_of(adm.m) for _ in range(8)} == {p1, p2}
    log = adm.m.log()
    assert "event=backend_state backend=db1 from=up to=maint reason=admin" in log
    assert "event=backend_state backend=db2 from=up to=draining reason=admin" in log
    st, body = adm.post("/api/backends/nope/drain")
    assert st == 404 and "nope" in body["error"]
    st, body = adm.post("/api/backends/db1/explode")
    assert st == 404


def test_weight(adm):
    st, body = adm.post("/api/backends/db1/weight?value=5")
    assert st == 200 and body == {"backend": "db1", "from": 1, "to": 5}
    assert adm.backend("db1")["weight"] == 5 and adm.backend("db1")["config_weight"] == 1
    st, body = adm.post("/api/backends/db2/weight", body=json.dumps({"weight": 3}))
    assert st == 200 and adm.backend("db2")["weight"] == 3
    assert 'mymux_backend_weight{backend="db2"} 3' in adm.get("/metrics")
    st, body = adm.post("/api/backends/db2/weight?value=0")  # back to the configured weight
    assert st == 200 and body["to"] == 1
    for bad in ("/api/backends/db1/weight?value=-1", "/api/backends/db1/weight?value=x",
                "/api/backends/db1/weight?value=70000", "/api/backends/db1/weight"):
        st, body = adm.post(bad)
        assert st == 400 and body["error"], bad
    st, body = adm.post("/api/backends/db1/weight", body="{not json")
    assert st == 400 and "JSON" in body["error"]


def test_errors_and_methods(adm):
    st, hdr, body = adm.request("GET", "/nope")
    assert st == 404 and json.loads(body)["status"] == 404
    assert hdr["Content-Type"] == "application/json"
    st, hdr, body = adm.request("GET", "/api/backends/db1/drain")
    assert st == 405 and hdr["Allow"] == "POST"
    st, hdr, body = adm.request("POST", "/api/backends", body=b"")
    assert st == 405 and "GET" in hdr["Allow"]
    st, hdr, body = adm.request("DELETE", "/metrics")
    assert st == 405
    assert adm.backend("db1")["state"] == "up"  # a refused GET changed nothing
    st, body = adm.post("/api/reload")
    assert st == 200 and body["reloaded"], body
    assert body["generation"] == 2, body
    st, hdr, body = adm.request("POST", "/api/backends/db1/weight", body=b"x" * (70 * 1024))
    assert st == 413


def test_metrics_promtool(adm):
    run_queries(adm.m, 10)
    text = adm.get("/metrics")
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            vals[k] = float(v)
    q = vals["mymux_queries_total"]
    assert q >= 10
    assert vals["mymux_query_duration_seconds_count"] == q
    assert vals['mymux_query_duration_seconds_bucket{le="+Inf"}'] == q
    assert vals['mymux_user_queries_total{user="app"}'] >= 10
    assert vals['mymux_backend_state{backend="db1",state="up"}'] == 1
    assert vals['mymux_backend_state{backend="db1",state="maint"}'] == 0
    assert vals['mymux_backend_queries_total{backend="db1"}'] + \
        vals['mymux_backend_queries_total{backend="db2"}'] >= 10
    assert 'mymux_pins_total{reason="transaction"}' in vals
    assert vals["mymux_tls_handshakes_total"] == 0
    assert 'mymux_backend_connections{backend="db1",state="idle"}' in vals
    adm.post("/api/backends/db2/disable")
    vals2 = adm.get("/metrics")
    assert 'mymux_backend_state{backend="db2",state="maint"} 1' in vals2
    run_queries(adm.m, 5)
    after = [ln for ln in adm.get("/metrics").splitlines() if ln.startswith("mymux_queries_total ")]
    assert float(after[0].split()[1]) >= q + 5


def test_basic_auth(backends, mymux_factory):
    port = testbed.free_port()
    m = mymux_factory({"admin": {"listen": f"127.0.0.1:{port}", "user": "ops",
                                 "password": "s3cret pass"}})
    testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10, what="admin listener")
    a = Admin(m, port)
    for path in ("/", "/metrics", "/api/backends"):
        st, hdr, _ = a.request("GET", path)
        assert st == 401 and "Basic" in hdr["WWW-Authenticate"], path
    st, _, _ = a.request("GET", "/api/backends", auth=("ops", "wrong"))
    assert st == 401
    st, _, _ = a.request("POST", "/api/backends/db1/disable", auth=("ops", "s3cret pas"))
    assert st == 401
    assert a.get("/api/backends", auth=("ops", "s3cret pass"))[0]["state"] == "up"
    assert "s3cret" not in m.log()


def test_tls(backends, mymux_factory):
    d = tempfile.mkdtemp(prefix="mymux-admin-tls-")
    try:
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "1", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        port = testbed.free_port()
        m = mymux_factory({"admin": {"listen": f"127.0.0.1:{port}", "tls_cert": cert,
                                     "tls_key": key}})
        testbed.wait_until(lambda: testbed.port_accepts("127.0.0.1", port), 10,
                           what="admin listener")
        a = Admin(m, port, scheme="https")
        assert a.get("/api/status")["version"]
        with pytest.raises(Exception):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5).read()
        assert "tls=1" in m.log()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_slow_query_log_has_no_literals(backends, mymux_factory):
    port = testbed.free_port()
    m = mymux_factory({"admin_listen": f"127.0.0.1:{port}", "log": {"slow_query": "100ms"}})
    run_queries(m, 1, sql="SELECT SLEEP(0.3), 'secret_literal'")
    run_queries(m, 3, sql="SELECT 'fast'")
    testbed.wait_until(lambda: "event=slow_query" in m.log(), 5, what="slow query line")
    lines = [ln for ln in m.log().splitlines() if "event=slow_query" in ln]
    assert len(lines) == 1, lines
    assert 'digest="SELECT SLEEP(?), ?"' in lines[0] and "user=app" in lines[0]
    assert "secret_literal" not in m.log()


def test_transactions_count_as_pins(adm):
    """Every transaction the server opens is counted as a pin by reason "transaction" (the
    page, the API and the metrics), explicit or implicit (autocommit=0)."""
    def pins():
        return adm.get("/api/status")["pins"]["transaction"]

    before = pins()
    c = adm.m.connect(database="test", autocommit=True)
    try:
        cur = c.cursor()
        for _ in range(3):
            cur.execute("BEGIN")
            cur.execute("SELECT 1")
            cur.execute("COMMIT")
        c.autocommit(False)
        cur.execute("SELECT COUNT(*) FROM mysql.user")  # a table read opens one
        c.commit()
    finally:
        c.close()
    assert pins() - before == 4
    assert f'mymux_pins_total{{reason="transaction"}} {pins()}' in adm.get("/metrics")
    page = adm.get("/?refresh=0")  # the stats page's cell
    assert re.search(r'<td data-k="pins\.all\.transaction"[^>]*>%d</td>' % pins(), page), \
        re.findall(r'<td data-k="pins\.all\.transaction"[^>]*>[^<]*</td>', page)


def metric_values(text):
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            vals[k] = float(v)
    return vals


def test_latency_histogram_resolves_microseconds(adm):
    """Latencies are measured in microseconds (issue 11): 20 statements that each sleep
    300 us on the server all land above the 250 us bucket and add at least 6 ms to the sum
    (lower bounds only: a slower machine only makes them slower). Measured in whole
    milliseconds, each was recorded as 0 us, in the first bucket."""
    c = adm.m.connect(database="test", autocommit=True)
    before = metric_values(adm.get("/metrics"))
    assert 'mymux_query_duration_seconds_bucket{le="5e-05"}' in before, \
        "no sub-millisecond buckets"
    try:
        with c.cursor() as cur:
            for _ in range(20):
                cur.execute("DO SLEEP(0.0003)")
    finally:
        c.close()
    after = metric_values(adm.get("/metrics"))

    def delta(k):
        return after[k] - before.get(k, 0)
    assert delta("mymux_query_duration_seconds_count") >= 20
    assert delta('mymux_query_duration_seconds_bucket{le="0.00025"}') == 0
    assert delta("mymux_query_duration_seconds_sum") >= 20 * 300e-6
