#!/usr/bin/env python3
"""Fairness among bulk streams through one path: N streams at full speed at
once, each one's bytes counted over the same interval.

usage: fairness.py PORT [--streams 8] [--seconds 5] [--warmup 1]
                        [--dir down|up] [--timeout S]

PORT is a path's entry; behind it is bench/lat_target.py (G: generate,
S: sink). Each stream runs in its own process (down: reads and discards
what mode G sends; up: sends 1 MiB chunks in mode S) and counts its bytes
in shared memory. After --warmup seconds the counters are read, again
--seconds later, and the per-stream rates give Jain's fairness index
(sum x)^2 / (n * sum x^2): 1.0 when all streams got the same, 1/n when one
got everything.

Prints one line:
  RESULT streams=N total_gbps=.. jain=.. min_gbps=.. max_gbps=.. per_stream_gbps=a,b,..
or FAILED <reason> (exit 1): a stream that could not connect or moved nothing.
"""
import argparse
import mmap
import os
import signal
import socket
import struct
import sys
import time

CHUNK = 1 << 20


def stream_proc(port, direction, counter, slot, parent, max_seconds):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end = time.monotonic() + max_seconds
    total = 0
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.settimeout(1.0)
        s.sendall(b"G" if direction == "down" else b"S")
        buf = bytearray(CHUNK)
        data = memoryview(bytes(CHUNK))
        while not stop and time.monotonic() < end and os.getppid() == parent:
            try:
                if direction == "down":
                    n = s.recv_into(buf)
                    if n == 0:
                        break
                else:
                    n = s.send(data)
            except socket.timeout:
                continue
            total += n
            struct.pack_into("Q", counter, slot * 8, total)
    except OSError:
        pass
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--dir", choices=("down", "up"), default="down")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    n = a.streams
    counter = mmap.mmap(-1, 8 * n)
    parent = os.getpid()
    kids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            stream_proc(a.port, a.dir, counter, i, parent, a.timeout)
        kids.append(pid)

    def read():
        return [struct.unpack_from("Q", counter, i * 8)[0] for i in range(n)]

    try:
        time.sleep(a.warmup)
        t0, c0 = time.monotonic(), read()
        time.sleep(a.seconds)
        t1, c1 = time.monotonic(), read()
    finally:
        for pid in kids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.monotonic() + 10
        for pid in kids:
            while time.monotonic() < deadline:
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                except ChildProcessError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
    rates = [(b - a_) * 8 / (t1 - t0) / 1e9 for a_, b in zip(c0, c1)]
    if any(r <= 0 for r in rates):
        print("FAILED a stream moved nothing: %s" % ",".join("%.3f" % r for r in rates))
        sys.exit(1)
    total = sum(rates)
    jain = total * total / (n * sum(r * r for r in rates))
    print("RESULT streams=%d total_gbps=%.3f jain=%.4f min_gbps=%.3f max_gbps=%.3f per_stream_gbps=%s"
          % (n, total, jain, min(rates), max(rates), ",".join("%.3f" % r for r in rates)))


if __name__ == "__main__":
    main()
