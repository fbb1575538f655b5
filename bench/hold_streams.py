#!/usr/bin/env python3
"""Open N TCP streams to 127.0.0.1:PORT (an echo server, possibly through a
tunnel), verify each one echoes a unique payload, then hold them idle.

usage: hold_streams.py PORT N [--batch B] [--timeout S] [--max-hold S]

Protocol with the caller (lines on stdout, flushed):
  PROGRESS <verified>          after every batch
  READY <n> <seconds>          all N streams verified; now idle
  FAILED <reason>              something did not work; exits 1
  RECHECK ok=<k> fail=<m>      after SIGUSR1: every held stream is verified
                               again with a new payload
  CLOSED <n>                   after SIGTERM (or --max-hold): all closed
The streams are opened in batches of B (default 100), each batch connected
and verified concurrently, so a listener's accept backlog is never flooded.
Every wait is bounded by --timeout (per batch, default 30 s); holding is
bounded by --max-hold (default 900 s).
"""
import argparse
import errno
import selectors
import signal
import socket
import sys
import time


def out(*a):
    print(*a, flush=True)


def verify(socks, idxs, port, payload_fmt, timeout, connect):
    """Connect (if connect) and echo-check sockets idxs. Returns list of
    (idx, reason) failures."""
    sel = selectors.DefaultSelector()
    state = {}  # idx -> [phase, expected, got]
    fails = []
    for i in idxs:
        exp = (payload_fmt % i).encode()
        if connect:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                fails.append((i, "connect: %s" % errno.errorcode.get(err, err)))
                s.close()
                continue
            socks[i] = s
            state[i] = ["connecting", exp, bytearray()]
            sel.register(s, selectors.EVENT_WRITE, i)
        else:
            s = socks[i]
            state[i] = ["sending", exp, bytearray()]
            sel.register(s, selectors.EVENT_WRITE, i)
    deadline = time.monotonic() + timeout
    while state:
        left = deadline - time.monotonic()
        if left <= 0:
            for i, st in state.items():
                fails.append((i, "timeout in phase %s (got %r)" % (st[0], bytes(st[2]))))
            break
        for key, mask in sel.select(timeout=min(left, 1.0)):
            i = key.data
            s = socks[i]
            st = state[i]
            try:
                if st[0] == "connecting":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, "connect: " + errno.errorcode.get(err, str(err)))
                    st[0] = "sending"
                if st[0] == "sending":
                    n = s.send(st[1])
                    if n != len(st[1]):
                        raise OSError(0, "short send %d" % n)
                    st[0] = "reading"
                    sel.modify(s, selectors.EVENT_READ, i)
                    continue
                if st[0] == "reading":
                    d = s.recv(4096)
                    if not d:
                        raise OSError(0, "EOF after %r" % bytes(st[2]))
                    st[2] += d
                    if len(st[2]) >= len(st[1]):
                        if bytes(st[2]) != st[1]:
                            raise OSError(0, "wrong data %r != %r" % (bytes(st[2]), st[1]))
                        sel.unregister(s)
                        del state[i]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                fails.append((i, "%s in phase %s" % (e, st[0])))
                sel.unregister(s)
                del state[i]
    sel.close()
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--max-hold", type=float, default=900.0)
    a = ap.parse_args()

    sigs = []
    signal.signal(signal.SIGTERM, lambda *_: sigs.append("TERM"))
    signal.signal(signal.SIGINT, lambda *_: sigs.append("TERM"))
    signal.signal(signal.SIGUSR1, lambda *_: sigs.append("USR1"))

    socks = [None] * a.n
    t0 = time.monotonic()
    done = 0
    while done < a.n:
        idxs = range(done, min(done + a.batch, a.n))
        fails = verify(socks, idxs, a.port, "stream-%06d\n", a.timeout, True)
        if fails:
            i, why = fails[0]
            out("FAILED %d of batch %d..%d failed; first: stream %d: %s"
                % (len(fails), idxs[0], idxs[-1], i, why))
            sys.exit(1)
        done = idxs[-1] + 1
        out("PROGRESS %d" % done)
        if "TERM" in sigs:
            out("FAILED interrupted")
            sys.exit(1)
    out("READY %d %.2f" % (a.n, time.monotonic() - t0))

    end = time.monotonic() + a.max_hold
    while time.monotonic() < end:
        if not sigs:
            time.sleep(0.1)
            continue
        s = sigs.pop(0)
        if s == "TERM":
            break
        if s == "USR1":
            fails = []
            for b in range(0, a.n, a.batch):
                fails += verify(socks, range(b, min(b + a.batch, a.n)), a.port,
                                "again-%06d\n", a.timeout, False)
            msg = "RECHECK ok=%d fail=%d" % (a.n - len(fails), len(fails))
            if fails:
                msg += " first: stream %d: %s" % fails[0]
            out(msg)
    for s in socks:
        if s is not None:
            s.close()
    out("CLOSED %d" % a.n)


if __name__ == "__main__":
    main()
