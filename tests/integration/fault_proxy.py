#!/usr/bin/env python3
"""A fault-injecting TCP proxy for the tcp-forward integration tests.

Placed between forward-client and forward-server: the client dials the
proxy's --listen port, the proxy dials --target (the server's INNER_PORT)
once per accepted connection and relays bytes both ways, TCP half-close
included.  Python 3 standard library only (asyncio), 127.0.0.1 only, with a
bounded --lifetime.

    fault_proxy.py serve --listen P --target T --control C [--lifetime S]
    fault_proxy.py ctl --control C COMMAND...      (one command line; prints
                                                   the reply, exit 1 unless
                                                   it starts with "ok")

Control: a line-based TCP socket on 127.0.0.1:C.  Each line is one command,
answered by one line ("ok ..." or "err ...").  Directions are c2s (what the
client sends towards the server), s2c (the reverse) or both.  Settings hold
for every connection, those open now and those made later, from the moment
the command is answered:

    set DIR KEY=VALUE ...   KEY is one of
        delay=MS        deliver each chunk MS ms after it arrived
        jitter=MS       plus a uniform random 0..MS ms; byte order is kept
                        (a chunk never leaves before the one read before it)
        rate=BYTES      at most BYTES bytes/s in DIR, all connections
                        together (token bucket: 1/50 s pieces, a late
                        writer catches up on 50 ms at most); 0 = no cap
        chunk=N         write in pieces of N bytes, one send() each
                        (TCP_NODELAY is always on); 0 = as read
        blackhole=1     read and discard everything in DIR, deliver nothing
                        (not even EOF), keep the connection open; 0 = off
        queue=BYTES     stop reading from the sender while this many bytes
                        wait for delivery in DIR (default 8 MiB), so a rate
                        cap pushes back; latency never stops the reading
    clear               every setting back to its default (no fault)
    reset               abort every open connection with an RST on both
                        sides (SO_LINGER 0); answers "ok reset N"
    stats               "ok conns=OPEN accepted=N c2s_bytes=.. c2s_writes=..
                        c2s_max_write=.. c2s_dropped=.. s2c_..." (bytes
                        delivered, send() calls, largest send, bytes
                        discarded), cumulative
    zero                counters back to 0
    show                the current settings

Latency is a pipeline: the reader stamps each chunk with arrival + delay
(+ jitter) and goes on reading; the writer sends it when its time comes.
So a delay does not cap throughput; only rate and queue do.  A read error
(RST from one side) or a write error aborts the connection with an RST to
the other side, as a middlebox that loses its state would.
"""

import argparse
import asyncio
import collections
import random
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
DEFAULT_QUEUE = 8 << 20
READ_SIZE = 256 * 1024
RATE_SLACK = 0.05
EOF = None  # queue marker


def log(*args):
    print("fault_proxy:", *args, file=sys.stderr, flush=True)


class Direction:
    """Settings and counters of one direction (c2s or s2c)."""

    def __init__(self, name):
        self.name = name
        self.clear()
        self.zero()

    def clear(self):
        self.delay = 0.0
        self.jitter = 0.0
        self.rate = 0
        self.chunk = 0
        self.blackhole = False
        self.queue = DEFAULT_QUEUE
        self.rate_next = 0.0  # token bucket: when the next byte may leave

    def zero(self):
        self.bytes = 0
        self.writes = 0
        self.max_write = 0
        self.dropped = 0

    def set(self, key, value):
        if key == "delay":
            self.delay = float(value) / 1000.0
        elif key == "jitter":
            self.jitter = float(value) / 1000.0
        elif key == "rate":
            self.rate = int(value)
            self.rate_next = time.monotonic()
        elif key == "chunk":
            self.chunk = int(value)
        elif key == "blackhole":
            self.blackhole = value not in ("0", "off", "no")
        elif key == "queue":
            self.queue = max(1, int(value))
        else:
            raise ValueError("unknown key %r" % key)

    def show(self):
        return ("%s_delay=%g %s_jitter=%g %s_rate=%d %s_chunk=%d %s_blackhole=%d %s_queue=%d"
                % (self.name, self.delay * 1000, self.name, self.jitter * 1000,
                   self.name, self.rate, self.name, self.chunk, self.name,
                   int(self.blackhole), self.name, self.queue))

    def stats(self):
        return ("%s_bytes=%d %s_writes=%d %s_max_write=%d %s_dropped=%d"
                % (self.name, self.bytes, self.name, self.writes, self.name,
                   self.max_write, self.name, self.dropped))


class Pipe:
    """One direction of one connection: reader -> timed queue -> writer."""

    def __init__(self, conn, src, dst, d):
        self.conn, self.src, self.dst, self.d = conn, src, dst, d
        self.items = collections.deque()  # (due, bytes or EOF)
        self.queued = 0
        self.last_due = 0.0
        self.changed = asyncio.Event()

    def _notify(self):
        self.changed.set()

    async def _wait_change(self, timeout=None):
        self.changed.clear()
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def reader(self):
        loop = asyncio.get_running_loop()
        d = self.d
        while True:
            while self.queued >= d.queue and not d.blackhole:
                # re-check every 0.1 s: a command may lift the limit
                await self._wait_change(0.1)
            data = await loop.sock_recv(self.src, READ_SIZE)
            # sock_recv returns at once while data waits: yield, or a busy
            # connection starves the others and the control socket
            await asyncio.sleep(0)
            if not data:
                self.items.append((self._due(), EOF))
                self._notify()
                return
            if d.blackhole:
                d.dropped += len(data)
                continue
            self.items.append((self._due(), data))
            self.queued += len(data)
            self._notify()

    def _due(self):
        d = self.d
        due = time.monotonic() + d.delay
        if d.jitter > 0:
            due += random.uniform(0.0, d.jitter)
        due = max(due, self.last_due)  # never overtake an earlier chunk
        self.last_due = due
        return due

    async def writer(self):
        d = self.d
        while True:
            while not self.items:
                await self._wait_change()
            due, data = self.items[0]
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self.items.popleft()
            if data is not EOF:
                self.queued -= len(data)
                self._notify()
            if d.blackhole:
                if data is EOF:
                    return  # deliver nothing, not even the EOF
                d.dropped += len(data)
                continue
            if data is EOF:
                try:
                    self.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            await self._send(data)
            await asyncio.sleep(0)  # as in reader()

    async def _send(self, data):
        loop = asyncio.get_running_loop()
        d = self.d
        view = memoryview(data)
        off = 0
        n_since_yield = 0
        while off < len(view):
            if d.blackhole:
                d.dropped += len(view) - off
                return
            piece = len(view) - off
            if d.chunk > 0:
                piece = min(piece, d.chunk)
            if d.rate > 0:
                piece = min(piece, max(1, d.rate // 50))
                now = time.monotonic()
                # a writer woken late may catch up on at most RATE_SLACK s
                # (timer and scheduling delays would otherwise lower the
                # rate below the cap); the average never exceeds the cap
                start = max(d.rate_next, now - RATE_SLACK)
                d.rate_next = start + piece / d.rate
                if start > now:
                    await asyncio.sleep(start - now)
            try:
                # the common case without a coroutine per piece (1-byte
                # writes are otherwise slowed by the await machinery)
                n = self.dst.send(view[off:off + piece])
            except BlockingIOError:
                n = 0
            if n < piece:
                await loop.sock_sendall(self.dst, view[off + n:off + piece])
            off += piece
            d.bytes += piece
            d.writes += 1
            if piece > d.max_write:
                d.max_write = piece
            n_since_yield += 1
            if n_since_yield >= 256:
                n_since_yield = 0
                await asyncio.sleep(0)


class Proxy:
    def __init__(self, target):
        self.target = target
        self.dirs = {"c2s": Direction("c2s"), "s2c": Direction("s2c")}
        self.conns = set()
        self.accepted = 0

    async def handle(self, csock):
        loop = asyncio.get_running_loop()
        self.accepted += 1
        ssock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ssock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(ssock, (HOST, self.target)), 5.0)
        except (OSError, asyncio.TimeoutError) as e:
            log("cannot connect the target port %d: %r" % (self.target, e))
            _abort(csock)
            ssock.close()
            return
        for s in (csock, ssock):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(self, csock, ssock)
        self.conns.add(conn)
        try:
            await conn.run()
        finally:
            self.conns.discard(conn)

    def command(self, line):
        words = line.split()
        if not words:
            return "err empty command"
        cmd = words[0]
        if cmd == "set":
            if len(words) < 3 or words[1] not in ("c2s", "s2c", "both"):
                return "err usage: set c2s|s2c|both KEY=VALUE ..."
            dirs = list(self.dirs.values()) if words[1] == "both" else [self.dirs[words[1]]]
            try:
                for kv in words[2:]:
                    key, _, value = kv.partition("=")
                    for d in dirs:
                        d.set(key, value)
            except ValueError as e:
                return "err %s" % e
            for c in self.conns:
                c.poke()
            return "ok " + self.show()
        if cmd == "clear":
            for d in self.dirs.values():
                d.clear()
            for c in self.conns:
                c.poke()
            return "ok " + self.show()
        if cmd == "reset":
            n = 0
            for c in list(self.conns):
                c.abort("reset on command")
                n += 1
            return "ok reset %d" % n
        if cmd == "stats":
            return "ok conns=%d accepted=%d %s %s" % (
                len(self.conns), self.accepted, self.dirs["c2s"].stats(),
                self.dirs["s2c"].stats())
        if cmd == "zero":
            for d in self.dirs.values():
                d.zero()
            return "ok"
        if cmd == "show":
            return "ok " + self.show()
        return "err unknown command %r" % cmd

    def show(self):
        return " ".join(d.show() for d in self.dirs.values())


def _abort(s):
    """Close with an RST (SO_LINGER on, timeout 0)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


class Conn:
    def __init__(self, proxy, csock, ssock):
        self.csock, self.ssock = csock, ssock
        self.pipes = [Pipe(self, csock, ssock, proxy.dirs["c2s"]),
                      Pipe(self, ssock, csock, proxy.dirs["s2c"])]
        self.tasks = []
        self.rst = None

    def poke(self):
        for p in self.pipes:
            p._notify()

    def abort(self, why):
        if self.rst is None:
            self.rst = why
        for t in self.tasks:
            t.cancel()

    async def _guard(self, coro, what):
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except OSError as e:
            self.abort("%s: %s" % (what, e))

    async def run(self):
        for p in self.pipes:
            self.tasks.append(asyncio.ensure_future(self._guard(p.reader(), "read %s" % p.d.name)))
            self.tasks.append(asyncio.ensure_future(self._guard(p.writer(), "write %s" % p.d.name)))
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.rst is not None:
            log("connection aborted with RST: %s" % self.rst)
            _abort(self.csock)
            _abort(self.ssock)
        else:
            self.csock.close()
            self.ssock.close()


async def serve_control(proxy, port):
    async def on_client(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                reply = proxy.command(line.decode("ascii", "replace").strip())
                log("control: %s -> %s" % (line.decode("ascii", "replace").strip(), reply))
                writer.write((reply + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(on_client, HOST, port)


async def serve(a):
    loop = asyncio.get_running_loop()
    proxy = Proxy(a.target)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, a.listen))
    ls.listen(128)
    ls.setblocking(False)
    control = await serve_control(proxy, a.control)
    log("listening on %s:%d -> %s:%d, control on %d"
        % (HOST, a.listen, HOST, a.target, a.control))
    deadline = time.monotonic() + a.lifetime
    tasks = set()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            csock, _ = await asyncio.wait_for(loop.sock_accept(ls), min(left, 1.0))
        except asyncio.TimeoutError:
            continue
        csock.setblocking(False)
        t = asyncio.ensure_future(proxy.handle(csock))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    log("lifetime over")
    control.close()
    for c in list(proxy.conns):
        c.abort("lifetime over")
    ls.close()


def ctl(a):
    s = socket.create_connection((HOST, a.control), timeout=5.0)
    s.sendall((" ".join(a.command) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        data = s.recv(4096)
        if not data:
            break
        buf += data
    s.close()
    reply = buf.decode().strip()
    print(reply, flush=True)
    sys.exit(0 if reply.startswith("ok") else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve", help="run the proxy")
    sp.add_argument("--listen", type=int, required=True)
    sp.add_argument("--target", type=int, required=True)
    sp.add_argument("--control", type=int, required=True)
    sp.add_argument("--lifetime", type=float, default=600.0)
    sp = sub.add_parser("ctl", help="send one control command")
    sp.add_argument("--control", type=int, required=True)
    sp.add_argument("command", nargs="+")
    a = p.parse_args()
    if a.cmd == "serve":
        asyncio.run(serve(a))
    else:
        ctl(a)


if __name__ == "__main__":
    main()
