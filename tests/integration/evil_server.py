#!/usr/bin/env python3
"""A malicious forward-server for the client-side limit tests (t_sec_client).

Speaks docs/PROTOCOL.md version 1 over plain TCP without authentication
(the client runs with --no-auth), then floods the client it accepted.
Python 3 standard library only, 127.0.0.1 only; every wait is bounded.

  early    OPEN --streams streams to a target whose connect never completes,
           then --bytes of DATA on each before any OPEN_OK
  opens    --streams OPENs to that target, then --bytes of DATA on each
  udp      --streams UDP_OPENs to 127.0.0.1:--udp-port
  one      a single OPEN (or --udp: UDP_OPEN) to --host:--target-port

After the flood it keeps reading for --hold seconds (answering PINGs) and
prints one key=value line: how the channel ended (closed / open), counts of
OPEN_OK, OPEN_FAIL and RESET by reason, and the texts seen.

A target that never completes connect() on loopback: a listener with a
backlog of 0 whose one queue slot is taken and never accepted; the kernel
then drops every further SYN, so the client's connect() stays in progress.
"""

import socket
import struct
import threading
import time
from collections import Counter

import os

from sec_helpers import HELLO, OPEN, frame, hello, recv_frame, split_frames
from testnet import HOST, listener, log, out, subcommands

OPEN_OK, OPEN_FAIL, DATA, RESET, PING, PONG, UDP_OPEN = 0x03, 0x04, 0x05, 0x07, 0x09, 0x0A, 0x0C
REASONS = {1: "refused", 2: "unreachable", 3: "timeout", 4: "dns", 5: "other",
           6: "not_allowed", 7: "resource_limit"}


def blackhole():
    """(listening socket, filler socket): connect() to its port hangs."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind((HOST, 0))
    ls.listen(0)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler.settimeout(5.0)
    filler.connect(ls.getsockname())
    return ls, filler


class Reader(threading.Thread):
    """Collects the client's frames and answers its PINGs."""

    def __init__(self, sock, lock):
        super().__init__(daemon=True)
        # its own socket object: its own timeout, the writer keeps its own
        self.sock = socket.socket(fileno=os.dup(sock.fileno()))
        self.writer, self.lock = sock, lock
        self.closed_at = None
        self.counts = Counter()
        self.texts = Counter()

    def run(self):
        self.sock.settimeout(0.5)
        buf = b""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                d = b""
            if not d:
                self.closed_at = time.monotonic()
                return
            buf += d
            frames, used = split_frames(buf)
            buf = buf[used:]
            for t, sid, p in frames:
                self.frame(t, p)

    def frame(self, t, p):
        if t == PING:
            with self.lock:
                try:
                    self.writer.sendall(frame(PONG, p))
                except OSError:
                    pass
        elif t == OPEN_OK:
            self.counts["open_ok"] += 1
        elif t in (OPEN_FAIL, RESET) and p:
            kind = "open_fail" if t == OPEN_FAIL else "reset"
            self.counts["%s_%s" % (kind, REASONS.get(p[0], "?"))] += 1
            self.texts[p[1:].decode("utf-8", "replace")] += 1


def handshake(c):
    r = recv_frame(c)
    if not r or r[0] != HELLO:
        raise SystemExit("client sent no HELLO")
    c.sendall(hello(flags=0, role=2))  # no AUTH flag: the client runs --no-auth


def open_payload(port, host=HOST, window=1 << 20):
    h = host.encode()
    return struct.pack("!IHB", window, port, len(h)) + h


def main_cmd(a):
    ls = listener(a.port)
    ls.settimeout(a.accept_timeout)
    log("evil server (%s) on %s:%d" % (a.cmd, HOST, a.port))
    try:
        c, addr = ls.accept()
    except socket.timeout:
        out("how=no-client ok=0")
        raise SystemExit(1)
    c.settimeout(10.0)
    handshake(c)
    lock = threading.Lock()
    reader = Reader(c, lock)
    reader.start()
    time.sleep(0.3)  # the client's side of the handshake completes
    hole = None
    sent = 0

    def send(data):
        nonlocal sent
        with lock:
            c.sendall(data)
        sent += len(data)

    t0 = time.monotonic()
    try:
        if a.cmd in ("early", "opens"):
            hole, _filler = blackhole()
            port = hole.getsockname()[1]
            ids = range(1, a.streams + 1)
            for i in ids:
                send(frame(OPEN, open_payload(port), stream=i))
            chunk = b"x" * 65536
            for i in ids:
                left = a.bytes
                while left > 0:
                    n = min(left, len(chunk))
                    send(frame(DATA, chunk[:n], stream=i))
                    left -= n
                if reader.closed_at:
                    break
        elif a.cmd == "udp":
            for i in range(1, a.streams + 1):
                h = HOST.encode()
                send(frame(UDP_OPEN, struct.pack("!HB", a.udp_port, len(h)) + h, stream=i))
        elif a.cmd == "one":
            if a.udp:
                h = a.host.encode()
                send(frame(UDP_OPEN, struct.pack("!HB", a.target_port, len(h)) + h, stream=1))
            else:
                send(frame(OPEN, open_payload(a.target_port, a.host), stream=1))
    except OSError as e:
        log("send: %r after %d bytes" % (e, sent))
    end = time.monotonic() + a.hold
    while time.monotonic() < end and reader.closed_at is None:
        time.sleep(0.1)
    how = "closed" if reader.closed_at is not None else "open"
    after = "%.2f" % (reader.closed_at - t0) if reader.closed_at else "-"
    fields = ["how=%s" % how, "closed_after=%s" % after, "sent=%d" % sent]
    fields += ["%s=%d" % kv for kv in sorted(reader.counts.items())]
    out(" ".join(fields))
    for text, n in reader.texts.most_common(5):
        out("text=%r count=%d" % (text, n))
    c.close()


def main():
    p, add = subcommands(__doc__)
    for name in ("early", "opens", "udp", "one"):
        sp = add(name, main_cmd, "see the module docstring")
        sp.add_argument("--port", type=int, required=True, help="listen here (INNER_PORT)")
        sp.add_argument("--streams", type=int, default=1)
        sp.add_argument("--bytes", type=int, default=0, help="DATA bytes per stream")
        sp.add_argument("--udp-port", type=int, default=9)
        sp.add_argument("--host", default=HOST)
        sp.add_argument("--target-port", type=int, default=0)
        sp.add_argument("--udp", action="store_true")
        sp.add_argument("--hold", type=float, default=3.0)
        sp.add_argument("--accept-timeout", type=float, default=15.0)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
