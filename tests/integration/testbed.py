"""Test bed: real MariaDB servers and a mymux process on free loopback ports.

Standard library and PyMySQL only. Everything lives in temporary directories
that are removed on stop, and every process started here is ended on stop (and
at interpreter exit, should a test run be interrupted).
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pymysql

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MYMUX_BIN = os.environ.get("MYMUX_BIN", os.path.join(REPO, "build", "mymux"))

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
MARIADB_CLI = shutil.which("mariadb") or "/usr/bin/mariadb"

# Users every backend knows; mymux's default configuration lets the same in.
USERS = [("app", "apppass"), ("other", "otherpass")]
# A user with no administrative privilege (it may not KILL others' sessions).
WEAK_USER = ("weak", "weakpass")
DATABASES = ["test", "test2"]

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
STOP_TIMEOUT_MARKER = "testbed: mymux did not exit"
CRASH_MARKER = "testbed: mymux died"

_live = []  # objects to stop at interpreter exit


@atexit.register
def _stop_everything():
    for obj in list(_live):
        try:
            obj.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def free_port():
    """A loopback TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it returns a true value (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - pred may fail until ready
            last_exc = e
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                               + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


def port_accepts(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class MariaDB:
    """One mariadbd in a temporary directory, listening on 127.0.0.1:<free port>.

    Attributes: host, port, socket, datadir, tmpdir, log_path.
    """

    def __init__(self, name="db", extra_args=()):
        self.name = name
        self.host = "127.0.0.1"
        self.port = None
        self.tmpdir = tempfile.mkdtemp(prefix=f"mymux-{name}-")
        self.datadir = os.path.join(self.tmpdir, "data")
        self.socket = os.path.join(self.tmpdir, "mysqld.sock")
        self.log_path = os.path.join(self.tmpdir, "error.log")
        self.extra_args = list(extra_args)
        self.proc = None

    # Server options shared by mariadb-install-db's bootstrap and the server.
    def _common_args(self):
        return [
            "--no-defaults",
            "--user=root",
            f"--datadir={self.datadir}",
            # its own temporary files (internal temporary tables, filesort) in its own
            # directory: a shared /tmp cleaned under it fails statements (errno 2 on an
            # Aria temporary table seen once under a concurrent run)
            f"--tmpdir={self.tmpdir}",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--innodb-flush-log-at-trx-commit=0",
            "--skip-log-bin",
            "--skip-name-resolve",
        ]

    def start(self, timeout=60):
        _live.append(self)
        install_log = os.path.join(self.tmpdir, "install.log")
        for attempt in range(3):  # a transient failure (e.g. memory pressure) gets a retry
            shutil.rmtree(self.datadir, ignore_errors=True)
            with open(install_log, "w") as log:
                r = subprocess.run(
                    [INSTALL_DB, *self._common_args(), "--auth-root-authentication-method=socket",
                     "--skip-test-db"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    timeout=120)
            if r.returncode == 0:
                break
            sys.stderr.write(f"testbed: mariadb-install-db failed (exit {r.returncode}, "
                             f"attempt {attempt + 1}):\n{_read(install_log)[-5000:]}\n")
        else:
            raise RuntimeError(f"mariadb-install-db failed (exit {r.returncode}):\n"
                               f"{_read(install_log)[-5000:]}")
        # A free port can be taken between free_port() and the server's bind:
        # try a few times.
        for attempt in range(5):
            self.port = free_port()
            if self._start_server(timeout):
                break
            if "Do you already have another server running" not in _read(self.log_path) \
                    or attempt == 4:
                raise RuntimeError(f"mariadbd {self.name} did not start:\n"
                                   f"{_read(self.log_path)[-5000:]}")
        self._setup_accounts()
        return self

    def _start_server(self, timeout):
        args = [
            MARIADBD, *self._common_args(),
            f"--socket={self.socket}",
            f"--pid-file={os.path.join(self.tmpdir, 'mysqld.pid')}",
            f"--log-error={self.log_path}",
            "--bind-address=127.0.0.1",
            f"--port={self.port}",
            "--max-connections=500",
            "--local-infile=1",
            "--max-allowed-packet=1G",
            "--net-read-timeout=120",
            "--net-write-timeout=120",
            # These stand for TiDB, which sends no session-state tracking:
            # the proxy must learn session state from the protocol and the SQL.
            "--session-track-schema=OFF",
            "--session-track-state-change=OFF",
            "--session-track-system-variables=",
            "--session-track-transaction-info=OFF",
            *self.extra_args,
        ]
        if os.path.exists(self.log_path):
            os.unlink(self.log_path)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise _Exited()
            c = pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=2)
            c.close()
            return port_accepts(self.host, self.port)

        try:
            wait_until(ready, timeout, interval=0.05, what=f"mariadbd {self.name}")
            return True
        except _Exited:
            self.proc = None
            return False
        except TimeoutError:
            self._kill()
            raise RuntimeError(f"mariadbd {self.name} not ready in {timeout}s:\n"
                               f"{_read(self.log_path)[-5000:]}")

    def _setup_accounts(self):
        c = self.root_conn()
        try:
            cur = c.cursor()
            # Anonymous accounts would shadow app@'%' for local connections.
            cur.execute("SELECT User, Host FROM mysql.user WHERE User = ''")
            for user, host in cur.fetchall():
                cur.execute("DROP USER %s@%s", (user, host))
            for user, password in USERS:
                cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED VIA mysql_native_password "
                            f"USING PASSWORD('{password}')")
                # ALL includes SUPER and CONNECTION ADMIN, which KILL of another
                # user's connection needs.
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION")
            for db in DATABASES:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{db}`")
            user, password = WEAK_USER
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED VIA mysql_native_password "
                        f"USING PASSWORD('{password}')")
            cur.execute(f"GRANT SELECT ON `test`.* TO '{user}'@'%'")
            cur.execute("FLUSH PRIVILEGES")
        finally:
            c.close()

    def root_conn(self, **kw):
        """A pymysql connection as root over the unix socket (autocommit on)."""
        kw.setdefault("autocommit", True)
        kw.setdefault("connect_timeout", 10)
        return pymysql.connect(unix_socket=self.socket, user="root", **kw)

    def connect(self, user="app", password="apppass", database=None, **kw):
        """A pymysql connection over TCP, as a client would make it."""
        return connect_tcp(self.host, self.port, user, password, database, **kw)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    # Fault injection for health-check tests; the data directory is kept.
    def kill(self):
        """SIGKILL the server (a crash) and wait for it to be gone."""
        self._kill()

    def restart(self, timeout=60):
        """Starts the server again on the same port after kill()."""
        if self.proc and self.proc.poll() is None:
            return self
        if not self._start_server(timeout):
            raise RuntimeError(f"mariadbd {self.name} did not restart on port {self.port}:\n"
                               f"{_read(self.log_path)[-5000:]}")
        return self

    def pause(self):
        """SIGSTOP: the server hangs (its kernel still accepts connections)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        """SIGCONT after pause()."""
        self.proc.send_signal(signal.SIGCONT)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self in _live:
            _live.remove(self)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a paused server cannot terminate
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._kill()
        self.proc = None
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class _Exited(Exception):
    pass


def connect_tcp(host, port, user="app", password="apppass", database=None, **kw):
    # Bounded timeouts: a hung proxy makes a test fail, not the whole run hang.
    kw.setdefault("connect_timeout", 10)
    kw.setdefault("read_timeout", 120)
    kw.setdefault("write_timeout", 120)
    return pymysql.connect(host=host, port=port, user=user, password=password,
                           database=database, **kw)


def run_cli(host, port, args, input=None, user="app", password="apppass", timeout=120):
    """Runs the mariadb CLI against host:port over TCP; returns CompletedProcess (text)."""
    cmd = [MARIADB_CLI, "--no-defaults", "--protocol=TCP", f"--host={host}", f"--port={port}",
           f"--user={user}", f"--password={password}", *args]
    return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL)


# --------------------------------------------------------------------------- YAML


def to_yaml(value, indent=0):
    """A small YAML emitter for dicts, lists and scalars (enough for mymux configs)."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{k}:")
                lines.append(to_yaml(v, indent + 2))
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                first = True
                for k, v in item.items():
                    lead = f"{pad}- " if first else f"{pad}  "
                    first = False
                    if isinstance(v, (dict, list)) and v:
                        lines.append(f"{lead}{k}:")
                        lines.append(to_yaml(v, indent + 4))
                    else:
                        lines.append(f"{lead}{k}: {_scalar(v)}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return "\n".join(lines)


def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    s = str(v)
    # Plain when safe, else double-quoted (JSON escapes are valid YAML escapes).
    if s and all(ch.isalnum() or ch in "._-/:" for ch in s) and not s[0] in "-:" \
            and s.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "~"):
        return s
    import json
    return json.dumps(s)


def deep_merge(base, over):
    """A new dict: over merged into base (dicts recursively; other values replaced)."""
    out = dict(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def default_config(backends, listen_port):
    return {
        "listen": f"127.0.0.1:{listen_port}",
        "workers": 2,
        "log_level": "info",
        "users": [{"name": u, "password": p} for u, p in USERS + [WEAK_USER]],
        "backends": [{"name": f"db{i + 1}", "address": f"{b.host}:{b.port}"}
                     for i, b in enumerate(backends)],
        "pool": {"max_per_backend": 64},
        # short, so that stopping mymux at the end of a test does not wait long for
        # clients a test left connected (graceful-shutdown tests set their own)
        "shutdown": {"grace_period": "2s"},
        # every test client comes from 127.0.0.1: only the storm tests turn the
        # per-address authentication-failure block on
        "limits": {"auth_failures": {"max": 1000000}},
    }


# -------------------------------------------------------------------------- mymux


class Mymux:
    """A mymux process started from a generated config on a free port.

    config: a dict (see default_config); its "listen" is replaced by a free port.
    """

    def __init__(self, config, binary=None, name="mymux"):
        self.binary = binary or MYMUX_BIN
        self.host = "127.0.0.1"
        self.port = None
        self.config = dict(config)
        self.tmpdir = tempfile.mkdtemp(prefix=f"{name}-")
        self.config_path = os.path.join(self.tmpdir, "mymux.yaml")
        self.log_path = os.path.join(self.tmpdir, "mymux.log")
        self.proc = None
        self._log_file = None
        self._final_log = None
        self.returncode = None

    def start(self, timeout=30):
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError(f"mymux binary not found: {self.binary} (build it, or set MYMUX_BIN)")
        _live.append(self)
        for attempt in range(5):
            self.port = free_port()
            self.config["listen"] = f"{self.host}:{self.port}"
            with open(self.config_path, "w") as f:
                f.write(to_yaml(self.config) + "\n")
            self._log_file = open(self.log_path, "ab")
            self.proc = subprocess.Popen([self.binary, "-c", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=self._log_file,
                                         stderr=subprocess.STDOUT, cwd=self.tmpdir)

            def ready():
                if self.proc.poll() is not None:
                    raise _Exited()
                return port_accepts(self.host, self.port)

            try:
                wait_until(ready, timeout, interval=0.02, what="mymux to listen")
                return self
            except _Exited:
                self._log_file.close()
                log = _read(self.log_path)
                if "in use" in log.lower() and attempt < 4:
                    continue
                raise RuntimeError(f"mymux exited with {self.proc.returncode} at start; "
                                   f"config:\n{_read(self.config_path)}\nlog:\n{log[-8000:]}")
            except TimeoutError:
                self.stop()
                raise RuntimeError(f"mymux did not listen within {timeout}s; log:\n"
                                   f"{self._final_log[-8000:]}")

    def connect(self, user="app", password="apppass", database=None, **kw):
        return connect_tcp(self.host, self.port, user, password, database, **kw)

    def cli(self, args, input=None, **kw):
        return run_cli(self.host, self.port, args, input=input, **kw)

    def log(self):
        """The log so far (stderr and stdout of the process)."""
        if self._final_log is not None:
            return self._final_log
        return _read(self.log_path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    # Life-cycle helpers (graceful shutdown, reload, binary upgrade tests).
    def send_signal(self, sig):
        """Sends sig (e.g. signal.SIGHUP) to the running process."""
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Waits for the process to exit by itself; returns its exit code.
        Raises TimeoutError if it is still running after timeout seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"mymux still running {timeout}s later") from None

    def write_config(self, config):
        """Rewrites the config file in place (the listen address stays), e.g. before a
        SIGHUP reload; config is a dict as given to the constructor."""
        self.config = dict(config)
        self.config["listen"] = f"{self.host}:{self.port}"
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(to_yaml(self.config) + "\n")
        os.replace(tmp, self.config_path)

    def write_raw_config(self, text):
        """Writes text as the config file (e.g. an invalid one)."""
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def start_successor(self, name="mymux-next", timeout=30):
        """Starts a second mymux with this one's configuration, listen port included (a
        binary upgrade: with shutdown.upgrade_socket set it takes the listeners over).
        Returns it once its log says it started."""
        m = Mymux(self.config, binary=self.binary, name=name)
        m.port = self.port
        _live.append(m)
        with open(m.config_path, "w") as f:
            f.write(to_yaml(m.config) + "\n")
        m._log_file = open(m.log_path, "ab")
        m.proc = subprocess.Popen([m.binary, "-c", m.config_path], stdin=subprocess.DEVNULL,
                                  stdout=m._log_file, stderr=subprocess.STDOUT, cwd=m.tmpdir)

        def started():
            if m.proc.poll() is not None:
                raise _Exited()
            return "event=started " in m.log()

        try:
            wait_until(started, timeout, interval=0.01, what="the successor mymux to start")
        except _Exited:
            raise RuntimeError(f"successor mymux exited with {m.proc.returncode}:\n"
                               f"{m.stop()[-8000:]}")
        return m

    def stop(self, timeout=20):
        """SIGTERM, wait (then SIGKILL); returns the whole log. Idempotent."""
        if self in _live:
            _live.remove(self)
        if self._final_log is not None:
            return self._final_log
        note = ""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    note = (f"\n{STOP_TIMEOUT_MARKER} within {timeout}s of SIGTERM; "
                            f"killed with SIGKILL\n")
            elif self.proc.returncode < 0:
                note = (f"\n{CRASH_MARKER} of signal {-self.proc.returncode} "
                        f"before it was stopped\n")
            else:
                note = f"\ntestbed: mymux had already exited with {self.proc.returncode}\n"
            self.returncode = self.proc.returncode
        if self._log_file:
            self._log_file.close()
        self._final_log = _read(self.log_path) + note
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        return self._final_log


def sanitizer_errors(log):
    """Lines of the log that report a sanitizer finding, a crash or a hang on SIGTERM."""
    return [line for line in log.splitlines()
            if any(m in line for m in SANITIZER_MARKERS)
            or STOP_TIMEOUT_MARKER in line or CRASH_MARKER in line]


def assert_clean_log(log, what="mymux"):
    bad = sanitizer_errors(log)
    if bad:
        print(f"===== {what} log =====\n{log}\n===== end of {what} log =====")
        raise AssertionError(f"{what}: sanitizer findings in the log: {bad[:5]}")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def mymux_with_admin(factory, config):
    """factory(config) with its admin API listening on m.admin_port (once it accepts)."""
    port = free_port()
    m = factory({**config, "admin_listen": f"127.0.0.1:{port}"})
    m.admin_port = port
    wait_until(lambda: port_accepts("127.0.0.1", port), 10, what="admin listener")
    return m


def mymux_over_fake(factory, fake, pool, users=(("app", "apppass"),)):
    """mymux (one worker, users: (name, password) pairs) in front of the scripted server
    `fake`, health checks off, with its admin API on m.admin_port; pool: the pool section."""
    return mymux_with_admin(factory, {
        "workers": 1,
        "users": [{"name": u, "password": p} for u, p in users],
        "backends": [{"name": "fake8", "address": fake.address, "health": {"type": "none"}}],
        "health": {"type": "none"},
        "pool": pool,
    })


def admin_json(m, path):
    """GET path of m's admin API (m.admin_port), decoded."""
    import json
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{m.admin_port}{path}", timeout=10) as r:
        return json.loads(r.read().decode())


def backend_connections(m):
    """The first backend's connection counts from m's admin API."""
    doc = admin_json(m, "/api/backends")
    return (doc["backends"] if isinstance(doc, dict) else doc)[0]["connections"]
