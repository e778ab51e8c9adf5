"""The workers' buffer free lists keep what the last minute needed (issue 14).

A burst of 21,000 short-lived clients, 3,000 at a time, each holding a full 16 KiB input
buffer (a handshake response announced longer than what it sends), grows mymux by tens of
MiB. Once they are gone the free lists hold those buffers; after a minute without such need
they are freed and the memory handed back, so RSS falls back below half of the burst's
growth. Under AddressSanitizer freed memory waits in its quarantine, so there only the
trimming itself (its log line) and the serving afterwards are checked.
"""

import resource
import socket
import struct
import time

import pytest

import testbed

WAVE = 3000
WAVES = 7
SOURCES = [f"127.0.0.{i}" for i in range(2, 22)]  # spread over addresses, as real clients are


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def sanitized(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def wave(m, n):
    """n clients that each make mymux fill one input buffer, then all leave."""
    socks = []
    # a handshake response of 16,300 bytes of which 16,000 arrive: mymux's 16 KiB buffer
    # is written through (every page resident) and waits for the rest
    payload = struct.pack("<I", 16300)[:3] + b"\x01" + b"\x00" * 16000
    try:
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.bind((SOURCES[i % len(SOURCES)], 0))
            s.connect((m.host, m.port))
            socks.append(s)
        for s in socks:
            s.sendall(payload)
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise


@pytest.mark.proxy_only
def test_rss_falls_back_after_a_burst(mymux_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = WAVE + 1024
    if hard < 2 * need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} is below {2 * need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2 * need), hard))
    m = mymux_factory({"limits": {"max_handshakes": 2 * WAVE, "handshake_timeout": "60s"}})
    asan = sanitized(m.binary)
    pid = m.proc.pid
    c = m.connect()
    assert c.cursor().execute("SELECT 1") == 1
    c.close()
    base = rss_kib(pid)
    expect = WAVE * 16  # KiB held by the first wave's buffers
    peak = base
    for k in range(WAVES):
        socks = wave(m, WAVE)
        try:
            if k == 0:
                # mymux has read them all once its RSS carries their buffers
                def grown():
                    return rss_kib(pid) - base >= expect * 6 // 10
                testbed.wait_until(grown, 60, what="the first wave's buffers resident")
            peak = max(peak, rss_kib(pid))
        finally:
            for s in socks:
                s.close()  # SO_LINGER 0: gone at once, no TIME_WAIT
    peak = max(peak, rss_kib(pid))
    growth = peak - base
    assert growth >= expect * 6 // 10, (base, peak)
    # within 60 s of the burst nothing is trimmed; then the free lists give back
    testbed.wait_until(lambda: "event=buffers_trimmed" in m.log(), 120,
                       what="the free lists trimmed")
    if not asan:
        def fell():
            return rss_kib(pid) - base < growth // 2
        t0 = time.monotonic()
        testbed.wait_until(fell, 60, interval=0.5,
                           what=f"RSS back below half the burst's growth ({growth} KiB)")
        assert time.monotonic() - t0 < 60
    c = m.connect()
    try:
        cur = c.cursor()
        cur.execute("SELECT 'serving'")
        assert cur.fetchone() == ("serving",)
    finally:
        c.close()
