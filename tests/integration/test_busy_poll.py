"""busy_poll (issue 13): after a command goes to a backend the worker polls without sleeping
for at most busy_poll, so that an answer arriving meanwhile costs no wake-up. Whether that
pays is the benchmark's to say (bench/run.sh); here: answers are the same with it on, and
the spin ends by itself, so an idle mymux uses no CPU however long busy_poll is."""

import os
import time

import pytest

import testbed

pytestmark = pytest.mark.proxy_only


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_busy_poll_answers_and_stops_spinning_when_idle(mymux_factory):
    m = mymux_factory({"busy_poll": "10ms", "workers": 2})
    conns = [m.connect(database="test", autocommit=True) for _ in range(4)]
    try:
        for i in range(300):
            c = conns[i % len(conns)]
            with c.cursor() as cur:
                cur.execute("SELECT %s + 1", (i,))
                assert cur.fetchone()[0] == i + 1
        with conns[0].cursor() as cur:
            cur.execute("SELECT SLEEP(0.05)")  # longer than a spin: the loop sleeps again
            assert cur.fetchone()[0] == 0
        # idle: a spin that never ended would burn a whole core (1 s of CPU per second)
        before = cpu_seconds(m.proc.pid)
        time.sleep(1.0)  # a measured interval, not a synchronisation
        used = cpu_seconds(m.proc.pid) - before
        assert used < 0.5, f"idle mymux used {used:.2f} s of CPU in 1 s: still spinning"
    finally:
        for c in conns:
            c.close()
