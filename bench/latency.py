#!/usr/bin/env python3
"""Round-trip latency of a small request/response on one stream, optionally
while another stream to the same port saturates the path.

usage: latency.py PORT [--n 1000] [--size 64] [--bulk none|down|up]
                       [--warmup S] [--timeout S]

PORT is a path's entry; behind it is bench/lat_target.py, which reads the
first byte of each connection as the mode (E echo, S sink, G generate).

  --bulk down  a forked process opens a bulk stream in mode G and reads
               and discards everything: data flows target -> public peer
               (for tcp-forward: forward-client -> forward-server, like a
               download through the tunnel)
  --bulk up    the bulk process sends 1 MiB chunks in mode S: public peer
               -> target (like an upload)
  --bulk none  no bulk stream (the baseline)

After --warmup seconds of bulk (default 1), the interactive stream (mode E,
TCP_NODELAY) does --n round trips of --size bytes (default 1000 x 64): send
one message with a unique sequence number, read exactly that many bytes
back, check they are identical, take the time with perf_counter_ns. The
bulk stream's bytes are counted over the same interval (shared memory), so
the result also says how much bulk moved meanwhile. Every wait is bounded
by --timeout (whole measurement, default 60 s).

Prints one line:
  RESULT n=N p50_us=.. p90_us=.. p99_us=.. max_us=.. mean_us=.. bulk_gbps=.. seconds=..
or FAILED <reason> (exit 1), e.g. wrong echo data, EOF, a timeout, or a bulk
stream that moved nothing.
"""
import argparse
import math
import mmap
import os
import signal
import socket
import struct
import sys
import time

CHUNK = 1 << 20


def bulk_proc(port, mode, counter, parent, max_seconds):
    """Child: move bulk data until SIGTERM, parent exit or max_seconds."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end = time.monotonic() + max_seconds
    total = 0
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.settimeout(1.0)
        s.sendall(b"G" if mode == "down" else b"S")
        buf = bytearray(CHUNK)
        data = memoryview(bytes(CHUNK))
        while not stop and time.monotonic() < end and os.getppid() == parent:
            try:
                if mode == "down":
                    n = s.recv_into(buf)
                    if n == 0:
                        struct.pack_into("q", counter, 8, 1)  # EOF: flag it
                        break
                else:
                    n = s.send(data)
            except socket.timeout:
                continue
            total += n
            struct.pack_into("q", counter, 0, total)
        s.close()
    except OSError:
        struct.pack_into("q", counter, 8, 2)  # error: flag it
    os._exit(0)


def pct(sorted_v, p):
    if not sorted_v:
        return 0.0
    # nearest rank: the smallest value with at least p% of samples <= it
    k = min(len(sorted_v) - 1, max(0, math.ceil(p / 100.0 * len(sorted_v)) - 1))
    return sorted_v[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--bulk", choices=("none", "down", "up"), default="none")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    counter = mmap.mmap(-1, 16)  # [bytes moved, error flag], shared with the child
    kid = None
    me = os.getpid()

    def fail(msg):
        print("FAILED " + msg, flush=True)
        stop_kid()
        sys.exit(1)

    def stop_kid():
        if kid is None:
            return
        try:
            os.kill(kid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for _ in range(50):  # bounded: 5 s, then SIGKILL
            if os.waitpid(kid, os.WNOHANG)[0]:
                return
            time.sleep(0.1)
        os.kill(kid, signal.SIGKILL)
        os.waitpid(kid, 0)

    signal.signal(signal.SIGTERM, lambda *_: fail("interrupted"))
    if a.bulk != "none":
        kid = os.fork()
        if kid == 0:
            bulk_proc(a.port, a.bulk, counter, me, a.timeout + 10)
        time.sleep(a.warmup)
        moved = struct.unpack_from("q", counter, 0)[0]
        if struct.unpack_from("q", counter, 8)[0] or moved == 0:
            fail("bulk stream (%s) did not flow: %d bytes in %.1fs warm-up, flag %d"
                 % (a.bulk, moved, a.warmup, struct.unpack_from("q", counter, 8)[0]))

    try:
        s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    except OSError as e:
        fail("connect: %s" % e)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b"E")
    samples = []
    b0 = struct.unpack_from("q", counter, 0)[0]
    t_start = time.perf_counter()
    buf = bytearray(a.size)
    for i in range(a.n):
        left = deadline - time.monotonic()
        if left <= 0:
            fail("timed out after %d of %d round trips" % (i, a.n))
        s.settimeout(left)
        msg = (b"%010d:" % i).ljust(a.size, b"x")[:a.size]
        t0 = time.perf_counter_ns()
        try:
            s.sendall(msg)
            got = 0
            view = memoryview(buf)
            while got < a.size:
                n = s.recv_into(view[got:])
                if n == 0:
                    fail("EOF on the interactive stream after %d round trips" % i)
                got += n
        except socket.timeout:
            fail("timed out in round trip %d of %d" % (i, a.n))
        except OSError as e:
            fail("round trip %d: %s" % (i, e))
        t1 = time.perf_counter_ns()
        if bytes(buf) != msg:
            fail("wrong echo data in round trip %d: %r != %r" % (i, bytes(buf[:24]), msg[:24]))
        samples.append((t1 - t0) / 1000.0)
    secs = time.perf_counter() - t_start
    b1 = struct.unpack_from("q", counter, 0)[0]
    flag = struct.unpack_from("q", counter, 8)[0]
    s.close()
    if a.bulk != "none" and flag:
        fail("bulk stream (%s) broke during the measurement (flag %d)" % (a.bulk, flag))
    stop_kid()
    v = sorted(samples)
    print("RESULT n=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f "
          "bulk_gbps=%.3f seconds=%.3f"
          % (len(v), pct(v, 50), pct(v, 90), pct(v, 99), v[-1], sum(v) / len(v),
             (b1 - b0) * 8 / secs / 1e9, secs), flush=True)


if __name__ == "__main__":
    main()
