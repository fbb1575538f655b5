#!/usr/bin/env python3
"""Open N TCP streams to 127.0.0.1:PORT (an echo server, possibly through a
tunnel), verify each one echoes a unique payload, then hold them idle.

usage: hold_streams.py PORT N [--batch B] [--timeout S] [--max-hold S]
                              [--procs K]

Protocol with the caller (lines on stdout, flushed):
  PROGRESS <verified>          after every batch
  READY <n> <seconds>          all N streams verified; now idle. <seconds>
                               is the wall time from the first connect to
                               the last verified echo (open rate = n/seconds)
  FAILED <reason>              something did not work; exits 1
  RECHECK ok=<k> fail=<m>      after SIGUSR1: every held stream is verified
                               again with a new payload
  CLOSED <n>                   after SIGTERM (or --max-hold): all closed
The streams are opened in batches of B (default 100), each batch connected
and verified concurrently, so a listener's accept backlog is never flooded.
Every wait is bounded by --timeout (per batch, default 30 s); holding is
bounded by --max-hold (default 900 s).

--procs K (default 1) splits the N streams over K forked worker processes
(contiguous slices, opened in parallel), for when one process may not hold
N descriptors (RLIMIT_NOFILE). The parent holds no
stream; it forwards SIGUSR1/SIGTERM to the workers and sums their reports,
so the caller sees the same protocol as with one process. Workers exit by
themselves if the parent goes away.
"""
import argparse
import errno
import os
import selectors
import signal
import socket
import sys
import time


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


def hold(port, lo, hi, a, out, sigs, parent=None):
    """Open, verify and hold streams lo..hi-1. Returns the exit status."""
    socks = {}
    t0 = time.monotonic()
    done = lo
    while done < hi:
        idxs = range(done, min(done + a.batch, hi))
        fails = verify(socks, idxs, a.port, "stream-%06d\n", a.timeout, True)
        if fails:
            i, why = fails[0]
            out("FAILED %d of batch %d..%d failed; first: stream %d: %s"
                % (len(fails), idxs[0], idxs[-1], i, why))
            return 1
        done = idxs[-1] + 1
        out("PROGRESS %d" % (done - lo))
        if "TERM" in sigs:
            out("FAILED interrupted")
            return 1
    out("READY %d %.3f" % (hi - lo, time.monotonic() - t0))

    end = time.monotonic() + a.max_hold
    while time.monotonic() < end:
        if parent is not None and os.getppid() != parent:
            break  # the parent is gone: do not linger
        if not sigs:
            time.sleep(0.1)
            continue
        s = sigs.pop(0)
        if s == "TERM":
            break
        if s == "USR1":
            fails = []
            for b in range(lo, hi, a.batch):
                fails += verify(socks, range(b, min(b + a.batch, hi)), a.port,
                                "again-%06d\n", a.timeout, False)
            msg = "RECHECK ok=%d fail=%d" % (hi - lo - len(fails), len(fails))
            if fails:
                msg += " first: stream %d: %s" % fails[0]
            out(msg)
    for s in socks.values():
        if s is not None:
            s.close()
    out("CLOSED %d" % (hi - lo))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--max-hold", type=float, default=900.0)
    ap.add_argument("--procs", type=int, default=1)
    a = ap.parse_args()

    sigs = []
    signal.signal(signal.SIGTERM, lambda *_: sigs.append("TERM"))
    signal.signal(signal.SIGINT, lambda *_: sigs.append("TERM"))
    signal.signal(signal.SIGUSR1, lambda *_: sigs.append("USR1"))

    def out(*x):
        print(*x, flush=True)

    k = max(1, min(a.procs, a.n))
    if k == 1:
        sys.exit(hold(a.port, 0, a.n, a, out, sigs))

    # ---- K workers, each holds a contiguous slice; parent aggregates.
    me = os.getpid()
    workers = []  # [pid, read fd, buffer, state dict]
    bounds = [a.n * j // k for j in range(k + 1)]
    for j in range(k):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            for wk in workers:
                os.close(wk[1])
            wf = os.fdopen(w, "w", buffering=1)

            def wout(*x):
                print(*x, file=wf, flush=True)
            wsigs = []
            signal.signal(signal.SIGTERM, lambda *_: wsigs.append("TERM"))
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent relays it
            signal.signal(signal.SIGUSR1, lambda *_: wsigs.append("USR1"))
            try:
                rc = hold(a.port, bounds[j], bounds[j + 1], a, wout, wsigs, parent=me)
            except Exception as e:  # report, never hang the parent
                wout("FAILED worker %d: %r" % (j, e))
                rc = 1
            os._exit(rc)
        os.close(w)
        workers.append([pid, r, b"", {}])

    sel = selectors.DefaultSelector()
    for wk in workers:
        os.set_blocking(wk[1], False)
        sel.register(wk[1], selectors.EVENT_READ, wk)
    progress = {}
    ready = {}
    rechecks = {}
    closed = {}
    rc = 0
    printed_ready = False
    deadline_open = time.monotonic() + (a.n // max(a.batch, 1) + 2) * (a.timeout + 1) + 60
    hold_end = None

    def relay(sig):
        for wk in workers:
            try:
                os.kill(wk[0], sig)
            except ProcessLookupError:
                pass

    while True:
        if sigs:
            s = sigs.pop(0)
            if s == "TERM":
                relay(signal.SIGTERM)
            elif s == "USR1":
                rechecks.clear()
                relay(signal.SIGUSR1)
        now = time.monotonic()
        if not printed_ready and now > deadline_open:
            out("FAILED workers did not finish opening in time")
            relay(signal.SIGTERM)
            rc = 1
            break
        if hold_end is not None and now > hold_end:
            relay(signal.SIGTERM)
            hold_end = now + 3600  # once
        if not sel.get_map():
            break
        for key, _ in sel.select(timeout=0.1):
            wk = key.data
            try:
                data = os.read(wk[1], 65536)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(wk[1])
                os.close(wk[1])
                continue
            wk[2] += data
            while b"\n" in wk[2]:
                line, wk[2] = wk[2].split(b"\n", 1)
                line = line.decode(errors="replace")
                word = line.split(" ", 1)[0]
                if word == "PROGRESS":
                    progress[wk[0]] = int(line.split()[1])
                    out("PROGRESS %d" % sum(progress.values()))
                elif word == "READY":
                    ready[wk[0]] = float(line.split()[2])
                    if len(ready) == k and not printed_ready:
                        out("READY %d %.3f" % (a.n, max(ready.values())))
                        printed_ready = True
                        hold_end = time.monotonic() + a.max_hold
                elif word == "FAILED":
                    if rc == 0:
                        out(line)
                        rc = 1
                        relay(signal.SIGTERM)
                elif word == "RECHECK":
                    f = dict(x.split("=", 1) for x in line.split()[1:3])
                    rechecks[wk[0]] = (int(f["ok"]), int(f["fail"]), line)
                    if len(rechecks) == k:
                        ok = sum(v[0] for v in rechecks.values())
                        bad = sum(v[1] for v in rechecks.values())
                        msg = "RECHECK ok=%d fail=%d" % (ok, bad)
                        firsts = [v[2].split(" first: ", 1)[1] for v in rechecks.values()
                                  if " first: " in v[2]]
                        if firsts:
                            msg += " first: " + firsts[0]
                        out(msg)
                elif word == "CLOSED":
                    closed[wk[0]] = int(line.split()[1])
    for wk in workers:
        for _ in range(100):  # bounded: 10 s, then SIGKILL
            pid, _st = os.waitpid(wk[0], os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        else:
            os.kill(wk[0], signal.SIGKILL)
            os.waitpid(wk[0], 0)
    if rc == 0:
        out("CLOSED %d" % sum(closed.values()))
    sys.exit(rc)


if __name__ == "__main__":
    main()
