#!/usr/bin/env python3
"""Peers for the server's connection limits (t_limits.sh): many public
connections opened at once, each checked with its own echo payload.

  held   connect -n sockets to an echo mapping while no client is up, tell
         the test (--marker), wait for --go (a client is up by then): the
         first --served must each echo their payload, the others must have
         been closed without a byte.
  fill   connect -n sockets to an echo mapping and send a payload on each;
         after --settle s report how many echoed (--marker); on --release,
         close each socket once it has echoed, so the server's descriptors
         come free, until every one has echoed or --timeout passes.

Results: one key=value line on stdout; exit 0 iff the check passed.
127.0.0.1 only; Python 3 standard library only."""

import os
import selectors
import socket
import sys
import time

from testnet import HOST, log, now, out, subcommands


def _connect_all(port, n):
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5.0)
        try:
            s.connect((HOST, port))
        except OSError as e:
            log("connect %d: %r" % (i, e))
            s.close()
            break
        s.setblocking(False)
        socks.append(s)
    return socks


def _wait_file(path, timeout):
    deadline = now() + timeout
    while now() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def _write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)


class Echo:
    """One connection waiting for its payload to come back."""

    def __init__(self, i, sock):
        self.i = i
        self.sock = sock
        self.payload = b"%06d:" % i + os.urandom(26)
        self.got = b""
        self.state = "waiting"  # waiting | echoed | closed | bad

    def read(self):
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.state = "closed"
            return
        if not data:
            self.state = "closed"
            return
        self.got += data
        if not self.payload.startswith(self.got):
            self.state = "bad"
        elif self.got == self.payload:
            self.state = "echoed"


def _pump(echoes, until, on_echo=None):
    """Read replies until `until` (monotonic) or every echo has settled."""
    sel = selectors.DefaultSelector()
    for e in echoes:
        if e.state == "waiting":
            sel.register(e.sock, selectors.EVENT_READ, e)
    while sel.get_map() and now() < until:
        for key, _ in sel.select(max(0.0, min(0.2, until - now()))):
            e = key.data
            e.read()
            if e.state != "waiting":
                sel.unregister(e.sock)
                if e.state == "echoed" and on_echo:
                    on_echo(e)
    sel.close()


def cmd_held(a):
    """The held-connection cap: the first --served are held and served once
    a client comes, the rest are closed at once."""
    socks = _connect_all(a.port, a.n)
    _write(a.marker, "connected %d" % len(socks))
    if len(socks) != a.n:
        out("connected=%d ok=0" % len(socks))
        sys.exit(1)
    if not _wait_file(a.go, a.go_timeout):
        out("connected=%d go=timeout ok=0" % len(socks))
        sys.exit(1)
    echoes = [Echo(i, s) for i, s in enumerate(socks)]
    # before anything is sent: the extra ones must read as closed, the held
    # ones must not have been closed
    extra = echoes[a.served:]
    held = echoes[:a.served]
    _pump(extra, now() + a.within)
    extra_closed = sum(e.state == "closed" for e in extra)
    held_closed = 0
    for e in held:
        e.read()
        if e.state == "closed":
            held_closed += 1
    t0 = now()
    for e in held:
        if e.state == "waiting":
            try:
                e.sock.send(e.payload)
            except OSError:
                e.state = "closed"
    _pump(held, now() + a.timeout)
    el = now() - t0
    echoed = sum(e.state == "echoed" for e in held)
    bad = sum(e.state == "bad" for e in echoes)
    first_unserved = next((e.i for e in held if e.state != "echoed"), -1)
    ok = echoed == len(held) and extra_closed == len(extra) and held_closed == 0 and bad == 0
    out("connected=%d held=%d echoed=%d held_closed_early=%d extra=%d extra_closed=%d bad=%d "
        "first_unserved=%d echo_s=%.3f ok=%d"
        % (len(socks), len(held), echoed, held_closed, len(extra), extra_closed, bad,
           first_unserved, el, ok))
    for s in socks:
        s.close()
    sys.exit(0 if ok else 1)


def cmd_fill(a):
    """Run the server out of descriptors, then give them back a few at a time."""
    socks = _connect_all(a.port, a.n)
    echoes = [Echo(i, s) for i, s in enumerate(socks)]
    for e in echoes:
        try:
            e.sock.send(e.payload)
        except OSError:
            e.state = "closed"
    _pump(echoes, now() + a.settle)
    first = sum(e.state == "echoed" for e in echoes)
    _write(a.marker, "connected=%d echoed=%d pending=%d"
           % (len(socks), first, sum(e.state == "waiting" for e in echoes)))
    if not _wait_file(a.release, a.release_timeout):
        out("connected=%d echoed=%d release=timeout ok=0" % (len(socks), first))
        sys.exit(1)
    t0 = now()

    def close_it(e):
        e.sock.close()

    for e in echoes:
        if e.state == "echoed":
            e.sock.close()
    _pump(echoes, now() + a.timeout, on_echo=close_it)
    el = now() - t0
    echoed = sum(e.state == "echoed" for e in echoes)
    closed = sum(e.state == "closed" for e in echoes)
    bad = sum(e.state == "bad" for e in echoes)
    ok = len(socks) == a.n and echoed == a.n
    out("connected=%d echoed_first=%d echoed=%d closed=%d bad=%d after_release_s=%.3f ok=%d"
        % (len(socks), first, echoed, closed, bad, el, ok))
    for e in echoes:
        if e.state != "echoed":
            e.sock.close()
    sys.exit(0 if ok else 1)


def main():
    p, add = subcommands(__doc__)
    sp = add("held", cmd_held)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("-n", type=int, required=True)
    sp.add_argument("--served", type=int, required=True)
    sp.add_argument("--marker", required=True)
    sp.add_argument("--go", required=True)
    sp.add_argument("--go-timeout", type=float, default=60.0)
    sp.add_argument("--within", type=float, default=3.0, help="for the extra ones to read closed")
    sp.add_argument("--timeout", type=float, default=60.0)

    sp = add("fill", cmd_fill)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("-n", type=int, required=True)
    sp.add_argument("--settle", type=float, default=3.0)
    sp.add_argument("--marker", required=True)
    sp.add_argument("--release", required=True)
    sp.add_argument("--release-timeout", type=float, default=60.0)
    sp.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
