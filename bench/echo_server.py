#!/usr/bin/env python3
"""Tiny non-blocking TCP echo server for the bench (selectors, one thread).

usage: echo_server.py PORT [--procs K]

Binds 127.0.0.1:PORT only. Echoes every byte back on the same connection;
on EOF from the peer it finishes sending what is pending, then closes.
Prints "LISTENING <port>" once bound. Exits on SIGTERM/SIGINT.

--procs K (default 1): K processes, each with its own SO_REUSEPORT listener
on the same port (the kernel spreads connections over them by a hash of
the address pair), for when one process may not hold all the connections'
descriptors (RLIMIT_NOFILE). All K sockets are bound before "LISTENING" is
printed; the parent stops its forked workers on SIGTERM, and a worker
exits by itself if the parent goes away.
"""
import argparse
import errno
import os
import selectors
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--procs", type=int, default=1)
    a = ap.parse_args()
    port = a.port
    k = max(1, a.procs)
    lsocks = []
    for _ in range(k):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if k > 1:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(4096)
        ls.setblocking(False)
        lsocks.append(ls)
    parent = os.getpid()
    kids = []
    lsock = lsocks[0]
    for j in range(1, k):
        pid = os.fork()
        if pid == 0:
            kids = []
            lsock = lsocks[j]
            break
        kids.append(pid)
    for ls in lsocks:
        if ls is not lsock:
            ls.close()
    serve(lsock, port, parent if os.getpid() != parent else None, kids)


def serve(lsock, port, parent, kids):
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)

    pending = {}  # sock -> bytearray still to send
    peer_eof = set()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    if parent is None:
        print("LISTENING %d" % port, flush=True)

    def close(s):
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        pending.pop(s, None)
        peer_eof.discard(s)
        s.close()

    def update(s):
        ev = 0
        if s not in peer_eof and len(pending[s]) < (1 << 20):
            ev |= selectors.EVENT_READ
        if pending[s]:
            ev |= selectors.EVENT_WRITE
        if ev == 0:
            if s in peer_eof:
                close(s)
            return
        sel.modify(s, ev, "c")

    while not stop:
        if parent is not None and os.getppid() != parent:
            break  # the parent is gone
        try:
            events = sel.select(timeout=0.5)
        except InterruptedError:
            continue
        for key, mask in events:
            s = key.fileobj
            if key.data is None:  # listener
                for _ in range(256):
                    try:
                        c, _ = lsock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            print("accept: %s" % e, file=sys.stderr, flush=True)
                            break
                        raise
                    c.setblocking(False)
                    pending[c] = bytearray()
                    sel.register(c, selectors.EVENT_READ, "c")
                continue
            if s not in pending:
                continue
            try:
                if mask & selectors.EVENT_READ:
                    data = s.recv(65536)
                    if data:
                        pending[s] += data
                    else:
                        peer_eof.add(s)
                if mask & selectors.EVENT_WRITE and pending[s]:
                    n = s.send(pending[s])
                    del pending[s][:n]
                if s in peer_eof and not pending[s]:
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    close(s)
                    continue
                update(s)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                close(s)
    for s in list(pending):
        close(s)
    lsock.close()
    for pid in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in kids:
        for _ in range(50):  # bounded: 5 s, then SIGKILL
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
