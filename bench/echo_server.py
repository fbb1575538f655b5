#!/usr/bin/env python3
"""Tiny non-blocking TCP echo server for the bench (selectors, one thread).

usage: echo_server.py PORT

Binds 127.0.0.1:PORT only. Echoes every byte back on the same connection;
on EOF from the peer it finishes sending what is pending, then closes.
Prints "LISTENING <port>" once bound. Exits on SIGTERM/SIGINT.
"""
import errno
import selectors
import signal
import socket
import sys


def main():
    port = int(sys.argv[1])
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)

    pending = {}  # sock -> bytearray still to send
    peer_eof = set()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
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


if __name__ == "__main__":
    main()
