"""A stand-in for TiDB's HTTP status port (default 10080), for health-check tests.

It behaves as TiDB documents and implements it (pkg/server/http_status.go, handleStatus):
- while the server is serving, GET /status answers 200 with a JSON body
  {"connections": N, "version": "8.0.11-TiDB-v7.5.0", "git_hash": "..."};
- once a graceful shutdown has begun (SIGTERM, and during graceful-wait-before-shutdown),
  TiDB marks itself unhealthy and /status answers 500 with an empty body, while the SQL
  port still serves: this is the signal a proxy uses to drain the server before it goes.
- GET /metrics answers Prometheus' text format, as TiDB's does: among many other metrics
  (here some 200 kB of them before it, histogram lines included, so that a reader must
  follow lines across reads) the gauge `tidb_server_maxprocs`, the value of GOMAXPROCS,
  that is the CPUs the server uses (pkg/metrics/server.go); maxprocs=None leaves it out.
Other paths answer 404. Run it alone with `python3 tidb_status.py [port]`.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "8.0.11-TiDB-v7.5.0"
GIT_HASH = "069631e2ecfedc000ffac92c67207bac10a0ec2c"


def metrics_text(maxprocs):
    """A /metrics body: histograms first, then the process gauges, as TiDB lists them."""
    lines = []
    for i in range(600):
        lines.append(f"# HELP tidb_server_handle_query_duration_seconds_{i} Bucketed histogram.")
        lines.append(f"# TYPE tidb_server_handle_query_duration_seconds_{i} histogram")
        for le in ("0.0005", "0.001", "0.002", "+Inf"):
            lines.append(f'tidb_server_handle_query_duration_seconds_{i}_bucket'
                         f'{{sql_type="Select",le="{le}"}} {i * 7}')
    # a name that starts like the gauge's but is another metric
    lines.append("tidb_server_maxprocs_total_seen 99")
    if maxprocs is not None:
        lines.append("# HELP tidb_server_maxprocs The value of GOMAXPROCS.")
        lines.append("# TYPE tidb_server_maxprocs gauge")
        lines.append(f"tidb_server_maxprocs {maxprocs}")
    lines.append("tidb_server_gogc 100")
    return ("\n".join(lines) + "\n").encode()


class TiDBStatus:
    """The status port on 127.0.0.1:<free port>. Attributes: host, port, requests."""

    def __init__(self, connections=0, maxprocs=None):
        self.host = "127.0.0.1"
        self.connections = connections
        self.maxprocs = maxprocs
        self.requests = 0
        self.metrics_requests = 0
        self.shutting_down = False
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "TiDB-status-fixture"

            def do_GET(self):  # noqa: N802 - http.server's naming
                path = self.path.split("?")[0]
                with owner._lock:
                    owner.requests += 1
                    owner.metrics_requests += path == "/metrics"
                    shutting_down = owner.shutting_down
                    conns = owner.connections
                    maxprocs = owner.maxprocs
                if path == "/metrics":
                    self._answer(200, metrics_text(maxprocs), "text/plain; version=0.0.4")
                elif path != "/status":
                    self._answer(404, b"404 page not found\n", "text/plain; charset=utf-8")
                elif shutting_down:
                    self._answer(500, b"", "application/json")
                else:
                    body = json.dumps({"connections": conns, "version": VERSION,
                                       "git_hash": GIT_HASH}).encode()
                    self._answer(200, body, "application/json")

            def _answer(self, code, body, ctype):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def set_maxprocs(self, n):
        with self._lock:
            self.maxprocs = n

    def metrics_count(self):
        with self._lock:
            return self.metrics_requests

    def set_shutting_down(self, on=True):
        """True: graceful shutdown in progress (500); False: serving again (200)."""
        with self._lock:
            self.shutting_down = on

    def request_count(self):
        with self._lock:
            return self.requests

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":
    s = TiDBStatus()
    if len(sys.argv) > 1:
        s._server.server_close()
        s._server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), s._server.RequestHandlerClass)
        s.port = int(sys.argv[1])
    print(f"TiDB status stand-in on 127.0.0.1:{s.port}", flush=True)
    s._server.serve_forever()
