#!/usr/bin/env python3
"""Connection-storm client for bench/storm.sh: N MySQL clients in one asyncio process.

Speaks just enough of the MySQL protocol: the v10 greeting, HandshakeResponse41 with
mysql_native_password (auth switch to it supported), COM_QUERY and reading its answer
(result set with EOF packets, OK or ERR), COM_QUIT. Standard library only.

Modes
  storm (default): all N clients connect at the same moment (behind one gate), each runs
      SELECT 1, stays connected --hold seconds, runs SELECT 1 again and quits. Prints one JSON
      line: successes, failures by cause, time until all were served, latency percentiles.
  --idle: N clients connect and authenticate (no query unless --idle-query), print
      "READY {json}" and stay connected until a line (or EOF) on stdin; then COM_QUIT.
"""

import argparse
import asyncio
import collections
import errno
import hashlib
import json
import os
import resource
import struct
import sys
import time

CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000


class MyErr(Exception):
    def __init__(self, code, msg):
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


class Closed(Exception):
    pass


def native_scramble(password, nonce):
    if not password:
        return b""
    p1 = hashlib.sha1(password.encode()).digest()
    p2 = hashlib.sha1(p1).digest()
    p3 = hashlib.sha1(nonce + p2).digest()
    return bytes(a ^ b for a, b in zip(p1, p3))


class Conn:
    def __init__(self, reader, writer):
        self.r = reader
        self.w = writer
        self.seq = 0

    async def read(self):
        try:
            hdr = await self.r.readexactly(4)
            n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
            payload = await self.r.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            raise Closed(str(e)) from None
        self.seq = (hdr[3] + 1) & 0xFF
        return payload

    def send(self, payload):
        self.w.write(struct.pack("<I", len(payload))[:3] + bytes([self.seq]) + payload)
        self.seq = (self.seq + 1) & 0xFF

    @staticmethod
    def check_err(p):
        if p[:1] == b"\xff":
            code = struct.unpack("<H", p[1:3])[0]
            msg = p[3:]
            if msg[:1] == b"#":
                msg = msg[6:]
            raise MyErr(code, msg.decode("utf-8", "replace"))

    async def handshake(self, user, password, db):
        g = await self.read()
        self.check_err(g)
        if g[0] != 10:
            raise MyErr(-1, f"protocol {g[0]}")
        i = g.index(b"\0", 1) + 1
        i += 4  # connection id
        nonce = g[i:i + 8]
        i += 9
        caps = struct.unpack("<H", g[i:i + 2])[0]
        i += 2 + 1 + 2  # caps low, charset, status
        caps |= struct.unpack("<H", g[i:i + 2])[0] << 16
        i += 2
        alen = g[i]
        i += 1 + 10
        if caps & CLIENT_SECURE_CONNECTION:
            n2 = max(13, alen - 8)
            nonce += g[i:i + n2 - 1]
            i += n2
        plugin = b"mysql_native_password"
        if caps & CLIENT_PLUGIN_AUTH:
            j = g.find(b"\0", i)
            plugin = g[i:j if j >= 0 else len(g)] or plugin
        want = (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
                | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
                | (CLIENT_CONNECT_WITH_DB if db else 0))
        mycaps = want & (caps | CLIENT_PROTOCOL_41)
        auth = native_scramble(password, nonce[:20]) if plugin == b"mysql_native_password" else b""
        p = struct.pack("<IIB23x", mycaps, 1 << 24, 45) + user.encode() + b"\0"
        p += bytes([len(auth)]) + auth
        if mycaps & CLIENT_CONNECT_WITH_DB:
            p += db.encode() + b"\0"
        if mycaps & CLIENT_PLUGIN_AUTH:
            p += b"mysql_native_password\0"
        self.send(p)
        await self.w.drain()
        while True:
            r = await self.read()
            self.check_err(r)
            if r[0] == 0x00:
                return
            if r[0] == 0xFE:  # auth switch
                j = r.index(b"\0", 1)
                name, data = r[1:j], r[j + 1:]
                if name != b"mysql_native_password":
                    raise MyErr(-1, f"auth switch to {name.decode()} not supported")
                self.send(native_scramble(password, data[:20]))
                await self.w.drain()
                continue
            if r[0] == 0x01:  # caching_sha2 fast auth result etc.: wait for OK
                continue
            raise MyErr(-1, f"unexpected auth packet {r[:8]!r}")

    async def query(self, sql):
        self.seq = 0
        self.send(b"\x03" + sql.encode())
        await self.w.drain()
        p = await self.read()
        self.check_err(p)
        if p[0] == 0x00:
            return None
        eofs, rows = 0, []
        while eofs < 2:
            p = await self.read()
            self.check_err(p)
            if p[0] == 0xFE and len(p) < 9:
                eofs += 1
            elif eofs == 1:
                rows.append(p)
        return rows

    async def quit(self):
        try:
            self.seq = 0
            self.send(b"\x01")
            await self.w.drain()
        except Exception:  # noqa: BLE001
            pass
        self.w.close()
        try:
            await asyncio.wait_for(self.w.wait_closed(), 5)
        except Exception:  # noqa: BLE001
            pass


def cause(e):
    if isinstance(e, MyErr):
        return f"ERR {e.code}"
    if isinstance(e, asyncio.TimeoutError):
        return "timeout"
    if isinstance(e, Closed):
        return "closed by server"
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


async def one_storm(a, gate, t0box, res):
    await gate.wait()
    t0 = t0box[0]
    phase = "connect"
    c = None
    try:
        async def first():
            nonlocal c, phase
            r, w = await asyncio.open_connection(a.host, a.port)
            c = Conn(r, w)
            phase = "handshake"
            await c.handshake(a.user, a.password, a.db)
            if not a.autocommit:  # what PyMySQL and mysqlclient send at connect (PEP 249)
                phase = "set_autocommit"
                await c.query("SET autocommit=0")
            phase = "query"
            rows = await c.query("SELECT 1")
            assert rows and rows[0] == b"\x011", rows
        await asyncio.wait_for(first(), a.timeout)
        served = time.monotonic() - t0
        await asyncio.sleep(a.hold)
        phase = "query2"
        rows = await asyncio.wait_for(c.query("SELECT 1"), a.timeout)
        assert rows and rows[0] == b"\x011", rows
        await c.quit()
        c = None
        res.append(("ok", served, time.monotonic() - t0))
    except Exception as e:  # noqa: BLE001
        res.append((cause(e) + ("" if phase in ("connect", "handshake", "set_autocommit", "query") or
                                isinstance(e, MyErr) else f" ({phase})"),
                     time.monotonic() - t0, phase))
    finally:
        if c is not None:
            c.w.close()


def pct(v, q):
    if not v:
        return None
    v = sorted(v)
    return round(v[min(len(v) - 1, int(q * len(v)))], 3)


async def storm(a):
    gate = asyncio.Event()
    res = []
    t0box = [0.0]
    tasks = [asyncio.create_task(one_storm(a, gate, t0box, res)) for _ in range(a.n)]
    await asyncio.sleep(0.2)  # let every task reach the gate
    t0box[0] = time.monotonic()
    gate.set()
    await asyncio.gather(*tasks)
    ok = [r for r in res if r[0] == "ok"]
    fails = collections.Counter(r[0] for r in res if r[0] != "ok")
    served = [r[1] for r in ok]
    return {
        "n": a.n, "ok": len(ok), "failed": a.n - len(ok), "failures": dict(fails),
        "all_served_s": round(max(served), 3) if served else None,
        "first_select_p50_s": pct(served, 0.5), "first_select_p99_s": pct(served, 0.99),
        "total_s": round(time.monotonic() - t0box[0], 3), "hold_s": a.hold,
    }


async def idle(a):
    conns, fails = [], collections.Counter()
    sem = asyncio.Semaphore(a.idle_parallel)

    async def one():
        async with sem:
            c = None
            try:
                async def go():
                    nonlocal c
                    r, w = await asyncio.open_connection(a.host, a.port)
                    c = Conn(r, w)
                    await c.handshake(a.user, a.password, a.db)
                    if a.idle_query:
                        await c.query("SELECT 1")
                await asyncio.wait_for(go(), a.timeout)
                conns.append(c)
            except Exception as e:  # noqa: BLE001
                fails[cause(e)] += 1
                if c is not None:
                    c.w.close()

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(a.n)))
    print("READY " + json.dumps({"n": a.n, "ok": len(conns), "failures": dict(fails),
                                 "connect_s": round(time.monotonic() - t0, 3)}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    await asyncio.gather(*(c.quit() for c in conns))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", default="app")
    ap.add_argument("--password", default="apppass")
    ap.add_argument("--db", default="")
    ap.add_argument("-n", "--clients", dest="n", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=3.0, help="seconds between the two SELECT 1")
    ap.add_argument("--autocommit", type=int, choices=(0, 1), default=1,
                    help="0: send SET autocommit=0 after login, as DB-API drivers do by default")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds allowed for connect+login+first SELECT (and for the second)")
    ap.add_argument("--idle", action="store_true")
    ap.add_argument("--idle-query", action="store_true", help="idle clients run one SELECT 1")
    ap.add_argument("--idle-parallel", type=int, default=500,
                    help="--idle: logins in progress at once")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < a.n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.n + 256), hard))
    if a.idle:
        asyncio.run(idle(a))
    else:
        print(json.dumps(asyncio.run(storm(a))), flush=True)


if __name__ == "__main__":
    main()
