"""Counts refused connections through a binary upgrade with admin.listen and
shutdown.health_listen set (issue 12): a connect loop on the SQL port while a
successor takes the listeners over; then reports what the loop saw.

usage: MYMUX_BIN=build/mymux python3 bench/upgrade_refusals.py [seconds-after]
Run from the repository root; starts its own MariaDB (tests/integration/testbed.py)."""

import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import testbed  # noqa: E402


def main():
    after = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    db = testbed.MariaDB(name="bench-db").start()
    d = tempfile.mkdtemp(prefix="mymux-upg-bench-")
    cfg = testbed.default_config([db], 0)
    cfg["shutdown"] = {"grace_period": "2s", "upgrade_socket": os.path.join(d, "u.sock"),
                       "health_listen": f"127.0.0.1:{testbed.free_port()}"}
    cfg["admin"] = {"listen": f"127.0.0.1:{testbed.free_port()}"}
    old = testbed.Mymux(cfg, name="bench-old").start()
    counts = {"ok": 0, "refused": 0, "other": 0}
    stop = threading.Event()
    lock = threading.Lock()

    def loop():
        while not stop.is_set():
            try:
                c = testbed.connect_tcp("127.0.0.1", old.port, connect_timeout=5)
                c.cursor().execute("SELECT 1")
                c.close()
                k = "ok"
            except Exception as e:  # noqa: BLE001
                k = "refused" if "refused" in str(e).lower() else "other"
            with lock:
                counts[k] += 1

    ts = [threading.Thread(target=loop, daemon=True) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(2)
    before = dict(counts)
    new_log = os.path.join(d, "new.log")
    with open(new_log, "wb") as lf:
        p = subprocess.Popen([old.binary, "-c", old.config_path], stdout=lf,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    time.sleep(after)
    stop.set()
    for t in ts:
        t.join(timeout=30)
    alive = p.poll() is None
    print(f"binary={old.binary} before_upgrade={before} through_upgrade_and_{after}s_after="
          f"{ {k: counts[k] - before[k] for k in counts} } successor_alive={alive}")
    if alive:
        p.terminate()
        p.wait(30)
    old.stop()
    db.stop()


if __name__ == "__main__":
    main()
