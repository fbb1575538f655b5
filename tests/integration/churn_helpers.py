#!/usr/bin/env python3
"""asyncio load for the churn and idle tests (t_churn.sh, t_idle.sh).

One process holds thousands of sockets without a thread each.  Python 3
standard library only; 127.0.0.0/8 only; every operation has a timeout and
every command a bounded lifetime.  Result lines (key=value) go to stdout,
diagnostics to stderr; exit status 0 means the check passed.
"""

import asyncio
import os
import socket
import sys
import time

from testnet import HOST, log, out, subcommands

CHUNK = 65536


def _small_rcvbuf(sock, size):
    # Set before connect so the window the peer sees stays small: a
    # reader that never reads then pins little kernel memory of its own,
    # and what the tunnel holds for it is the daemons' business.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


async def _serve(handler, port, lifetime, backlog=4096):
    server = await asyncio.start_server(handler, HOST, port, backlog=backlog,
                                        reuse_address=True)
    log("listening on %s:%d" % (HOST, port))
    async with server:
        await asyncio.sleep(lifetime)
    log("lifetime over")


def cmd_echo_server(a):
    """Echo everything until EOF, then half-close and close."""

    async def handle(reader, writer):
        try:
            while True:
                data = await asyncio.wait_for(reader.read(CHUNK), a.io_timeout)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            writer.write_eof()
            await asyncio.wait_for(reader.read(CHUNK), a.io_timeout)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    asyncio.run(_serve(handle, a.port, a.lifetime))


def cmd_endless_server(a):
    """Send zeros to every client until it goes away (or the lifetime
    ends), or only --size bytes; what a client sends is ignored.  Writes wait for the peer
    (drain), so a client that does not read stalls only its own
    connection."""
    chunk = bytes(CHUNK)

    async def handle(reader, writer):
        # A small send buffer: the data a stalled stream leaves waiting
        # stays in this process (one chunk), not in kernel memory, which
        # every TCP socket on the machine shares (tcp_mem).
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                                   a.sndbuf)
        left = a.size
        try:
            while left is None or left > 0:
                n = CHUNK if left is None else min(CHUNK, left)
                writer.write(chunk[:n])
                await writer.drain()
                if left is not None:
                    left -= n
            await asyncio.sleep(a.lifetime)  # then hold the connection open
        except OSError:
            pass
        finally:
            writer.close()

    asyncio.run(_serve(handle, a.port, a.lifetime))


def cmd_churn(a):
    """N short connections, at most --concurrency at once: connect, send
    --size bytes, half-close, read the echo until EOF, compare, close."""
    payload = os.urandom(a.size)
    failures = {}
    done = [0]

    async def one(i):
        msg = payload[i % a.size:] + payload[:i % a.size]  # differs per connection
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(HOST, a.port), a.io_timeout)
            writer.write(msg)
            writer.write_eof()
            got = await asyncio.wait_for(reader.read(-1), a.io_timeout)
            if got != msg:
                return "bad echo (%d of %d bytes)" % (len(got), len(msg))
            return None
        except asyncio.TimeoutError:
            return "timeout"
        except OSError as e:
            return "%s: %s" % (type(e).__name__, e.strerror or e)
        finally:
            if writer is not None:
                writer.close()

    async def worker(queue):
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            err = await one(i)
            done[0] += 1
            if err is not None:
                failures[err] = failures.get(err, 0) + 1
                if sum(failures.values()) <= 5:
                    log("connection %d: %s" % (i, err))

    async def main():
        queue = asyncio.Queue()
        for i in range(a.n):
            queue.put_nowait(i)
        workers = [asyncio.ensure_future(worker(queue))
                   for _ in range(min(a.concurrency, a.n))]
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.gather(*workers), a.timeout)
            timed_out = False
        except asyncio.TimeoutError:
            timed_out = True
        return time.monotonic() - t0, timed_out

    elapsed, timed_out = asyncio.run(main())
    nfail = sum(failures.values())
    ok = done[0] - nfail
    why = ";".join("%s=%d" % kv for kv in sorted(failures.items())) or "-"
    out("n=%d done=%d ok=%d failed=%d timed_out=%d elapsed=%.1f rate=%.0f failures=%s"
        % (a.n, done[0], ok, nfail, timed_out, elapsed, done[0] / max(elapsed, 1e-6),
           why.replace(" ", "_")))
    sys.exit(0 if ok == a.n and not timed_out else 1)


def cmd_hold(a):
    """Open --idle connections to --idle-port that send nothing and --slow
    connections to --slow-port that send --request and never read; write the number of each still
    open to --status-file every 0.5 s, until --release-file exists or
    --hold seconds pass.  A connection counts as closed once the peer
    closes it (EOF or reset), which an idle one notices by reading (it is
    never sent anything); a slow reader, which must not read, by its
    socket's state (TCP_INFO)."""

    async def open_one(port, rcvbuf):
        loop = asyncio.get_running_loop()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if rcvbuf:
            _small_rcvbuf(s, rcvbuf)
        s.bind((HOST, 0))
        try:
            await asyncio.wait_for(loop.sock_connect(s, (HOST, port)), a.io_timeout)
        except (OSError, asyncio.TimeoutError):
            s.close()
            raise
        return s

    async def idle_watch(s, state):
        loop = asyncio.get_running_loop()
        try:
            data = await loop.sock_recv(s, 1)
            state["idle_data"] += len(data)
        except OSError:
            pass
        state["idle_open"] -= 1

    def slow_still_open(s):
        # tcpi_state is the first byte of struct tcp_info; 1 = ESTABLISHED.
        try:
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        except OSError:
            return False
        return info[0] == 1

    async def main():
        state = {"idle_open": 0, "idle_data": 0}
        idle, slow, errors = [], [], 0
        t0 = time.monotonic()
        # Batches: connect in bounded bursts, so the accept queues are
        # never the subject of the test.
        for kind, count, port in (("idle", a.idle, a.idle_port),
                                  ("slow", a.slow, a.slow_port)):
            left = count
            while left > 0:
                k = min(left, 200)
                res = await asyncio.gather(
                    *[open_one(port, a.rcvbuf if kind == "slow" else 0)
                      for _ in range(k)],
                    return_exceptions=True)
                for r in res:
                    if isinstance(r, BaseException):
                        errors += 1
                        if errors <= 5:
                            log("%s connect: %r" % (kind, r))
                    elif kind == "idle":
                        idle.append(r)
                        state["idle_open"] += 1
                    else:
                        slow.append(r)
                left -= k
        if a.request:
            req = a.request.encode()
            for s in slow:
                try:
                    s.send(req)
                except OSError:
                    pass
        tasks = [asyncio.ensure_future(idle_watch(s, state)) for s in idle]
        out("opened idle=%d slow=%d errors=%d in=%.1f"
            % (len(idle), len(slow), errors, time.monotonic() - t0))
        deadline = time.monotonic() + a.hold
        while time.monotonic() < deadline:
            slow_open = sum(1 for s in slow if slow_still_open(s))
            with open(a.status_file + ".new", "w") as f:
                f.write("idle_open=%d slow_open=%d idle_data=%d errors=%d t=%.1f\n"
                        % (state["idle_open"], slow_open, state["idle_data"],
                           errors, time.monotonic() - t0))
            os.replace(a.status_file + ".new", a.status_file)
            if a.release_file and os.path.exists(a.release_file):
                break
            await asyncio.sleep(0.5)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for s in idle + slow:
            s.close()
        return errors

    errors = asyncio.run(main())
    sys.exit(0 if errors == 0 else 1)


def main():
    p, add = subcommands(__doc__)

    def server(sp):
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--lifetime", type=float, default=600.0)
        sp.add_argument("--io-timeout", type=float, default=60.0)

    server(add("echo-server", cmd_echo_server))
    sp = add("endless-server", cmd_endless_server)
    server(sp)
    sp.add_argument("--sndbuf", type=int, default=32768)
    sp.add_argument("--size", type=int, default=None, help="bytes per client (default: endless)")

    sp = add("churn", cmd_churn)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("-n", type=int, default=100000)
    sp.add_argument("--concurrency", type=int, default=64)
    sp.add_argument("--size", type=int, default=32)
    sp.add_argument("--io-timeout", type=float, default=20.0)
    sp.add_argument("--timeout", type=float, default=150.0,
                    help="bound on the whole run")

    sp = add("hold", cmd_hold)
    sp.add_argument("--idle-port", type=int, default=0)
    sp.add_argument("--slow-port", type=int, default=0)
    sp.add_argument("--idle", type=int, default=0)
    sp.add_argument("--slow", type=int, default=0)
    sp.add_argument("--request", default="")
    sp.add_argument("--rcvbuf", type=int, default=4096)
    sp.add_argument("--status-file", required=True)
    sp.add_argument("--release-file")
    sp.add_argument("--hold", type=float, default=120.0)
    sp.add_argument("--io-timeout", type=float, default=20.0)

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
