#!/usr/bin/env python3
"""A TCP relay that can black-hole its connections, for t_session.sh.

  relay  accept on --listen, connect --target, copy both ways.  When the
         file --freeze holds a number K, connections 0..K-1 (in the order
         they were accepted) stop being copied in both directions but stay
         open: a path that silently drops everything, as a dead NAT or a
         pulled cable does.  Later connections are copied as usual.

Diagnostics on stderr; 127.0.0.1 only; Python 3 standard library only."""

import os
import select
import socket
import threading
import time

from testnet import HOST, listener, log, now, subcommands


def frozen_below(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or "0")
    except (OSError, ValueError):
        return 0


def cmd_relay(a):
    ls = listener(a.listen)
    ls.settimeout(0.2)
    log("relay listening on %s:%d -> %d" % (HOST, a.listen, a.target))
    deadline = now() + a.lifetime
    keep = []  # every socket stays open until the relay ends

    def pump(i, src, dst):
        said = False
        while now() < deadline:
            if i < frozen_below(a.freeze):
                if not said:
                    log("connection %d black-holed" % i)
                    said = True
                time.sleep(0.1)
                continue
            r, _, _ = select.select([src], [], [], 0.1)
            if not r:
                continue
            if i < frozen_below(a.freeze):
                continue
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    n = 0
    while now() < deadline:
        try:
            c, addr = ls.accept()
        except socket.timeout:
            continue
        try:
            u = socket.create_connection((HOST, a.target), timeout=5)
        except OSError as e:
            log("relay: cannot connect target: %r" % e)
            c.close()
            continue
        c.settimeout(None)
        u.settimeout(None)
        keep += [c, u]
        log("relay connection %d from %s:%d via %s:%d" % ((n,) + addr + u.getsockname()))
        for src, dst in ((c, u), (u, c)):
            threading.Thread(target=pump, daemon=True, args=(n, src, dst)).start()
        n += 1
    log("relay lifetime over")
    os._exit(0)


def main():
    p, add = subcommands(__doc__)
    sp = add("relay", cmd_relay, "relay that can black-hole its connections")
    sp.add_argument("--listen", type=int, required=True)
    sp.add_argument("--target", type=int, required=True)
    sp.add_argument("--freeze", required=True, help="file: connections below this number are dropped")
    sp.add_argument("--lifetime", type=float, default=120.0)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
