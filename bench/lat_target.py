#!/usr/bin/env python3
"""Target server for the latency-under-bulk measure (bench/latency.py).

usage: lat_target.py PORT [--max-seconds S]

Binds 127.0.0.1:PORT only and forks one process per connection, so a
saturating bulk stream and the interactive echo stream never wait for each
other inside this server. The first byte a client sends picks the mode:
  E  echo: every byte is sent back (TCP_NODELAY), until EOF
  S  sink: everything is read and discarded, until EOF
  G  generate: 1 MiB chunks of zeros are sent until the peer goes away
Each connection process ends at EOF/error, after --max-seconds (default
300) at the latest, or when the parent goes away. The parent stops its
children on SIGTERM/SIGINT (bounded) and then exits.
Prints "LISTENING <port>" once bound.
"""
import argparse
import os
import select
import signal
import socket
import time

CHUNK = 1 << 20


def serve_conn(c, max_seconds, parent):
    end = time.monotonic() + max_seconds
    c.settimeout(1.0)
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        mode = b""
        while not mode and time.monotonic() < end:
            try:
                mode = c.recv(1)
            except socket.timeout:
                continue
            if not mode:
                return
        if mode == b"E":
            while time.monotonic() < end and os.getppid() == parent:
                try:
                    d = c.recv(65536)
                except socket.timeout:
                    continue
                if not d:
                    return
                c.sendall(d)
        elif mode == b"S":
            buf = bytearray(CHUNK)
            while time.monotonic() < end and os.getppid() == parent:
                try:
                    if c.recv_into(buf) == 0:
                        return
                except socket.timeout:
                    continue
        elif mode == b"G":
            data = memoryview(bytes(CHUNK))
            while time.monotonic() < end and os.getppid() == parent:
                try:
                    c.send(data)
                except socket.timeout:
                    continue
    except OSError:
        pass
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    a = ap.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", a.port))
    ls.listen(128)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    me = os.getpid()
    kids = set()
    print("LISTENING %d" % a.port, flush=True)
    while not stop:
        while kids:  # reap finished connection processes
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                kids.clear()
                break
            if not pid:
                break
            kids.discard(pid)
        try:
            r, _, _ = select.select([ls], [], [], 0.2)
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            c, _ = ls.accept()
        except OSError:
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            ls.close()
            serve_conn(c, a.max_seconds, me)
            os._exit(0)
        kids.add(pid)
        c.close()
    ls.close()
    for pid in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in kids:
        for _ in range(50):  # bounded: 5 s, then SIGKILL
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
