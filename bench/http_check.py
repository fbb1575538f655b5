#!/usr/bin/env python3
"""Check that GET /PATH through 127.0.0.1:PORT returns exactly FILE's bytes,
before wrk hammers the path (wrk itself does not compare bodies).

usage: http_check.py PORT URLPATH FILE [--requests N] [--timeout S]

Sends N (default 20) keep-alive requests on one connection, then one request
with "Connection: close" on a new connection; every response must be
"200", carry Content-Length equal to the file's size and a body identical to
the file. Prints "OK <requests>" or "FAILED <reason>" (exit 1). Every socket
wait is bounded by --timeout (default 10 s).
"""
import argparse
import socket
import sys


def read_response(f, want):
    status = f.readline()
    if not status:
        raise ValueError("EOF before the status line")
    parts = status.split(None, 2)
    if len(parts) < 2 or parts[1] != b"200":
        raise ValueError("status line %r" % status[:80])
    length = None
    while True:
        h = f.readline()
        if not h:
            raise ValueError("EOF in the headers")
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if length != len(want):
        raise ValueError("Content-Length %r, expected %d" % (length, len(want)))
    body = f.read(length)
    if body != want:
        if len(body) != len(want):
            raise ValueError("body truncated: %d of %d bytes" % (len(body), len(want)))
        first = next(i for i in range(len(want)) if body[i] != want[i])
        raise ValueError("body differs from the file at byte %d" % first)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("urlpath")
    ap.add_argument("file")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    with open(a.file, "rb") as fh:
        want = fh.read()
    done = 0
    try:
        with socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout) as s:
            f = s.makefile("rb")
            for _ in range(a.requests):
                s.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % a.urlpath.encode())
                read_response(f, want)
                done += 1
        with socket.create_connection(("127.0.0.1", a.port), timeout=a.timeout) as s:
            f = s.makefile("rb")
            s.sendall(b"GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
                      % a.urlpath.encode())
            read_response(f, want)
            done += 1
            if f.read(1) != b"":
                raise ValueError("bytes after the response on a Connection: close stream")
    except (OSError, ValueError, StopIteration) as e:
        print("FAILED request %d: %s" % (done + 1, e), flush=True)
        return 1
    print("OK %d" % done, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
