#!/usr/bin/env python3
"""Peers and targets for the tcp-forward edge-case tests (t_reset,
t_targets, t_ipv6): streams reset in the middle of a transfer, RESETs
crossing DATA, and IPv4 or IPv6 endpoints.

Python 3 standard library only; loopback addresses only (127.0.0.0/8 and
::1, or addresses inside a network namespace the test made).  Like
helpers.py: every socket operation has a timeout, every server a bounded
lifetime, results go to stdout as one ``key=value`` line, diagnostics to
stderr, exit status 0 means the check passed.

  free-port     a port free on --host (TCP, and UDP with --udp)
  echo-server   TCP echo until EOF then half-close, or UDP echo (--udp)
  echo-stream   one connection, a deterministic stream echoed back and
                checked byte for byte, until --bytes or --stop-file
  reset-target  target that streams and reads (checked), and resets every
                connection with an RST (SO_LINGER 0) once --reset-file exists
  peer          public peer that streams and reads (checked), then resets
                (--reset-after) or reports how the connection ended
  storm         pairs of (public peer, target) in one process: both ends
                reset at once, or one end and the other must see an RST
  udp-exchange  datagrams with sequence numbers, each echoed back

Run ``edge_helpers.py CMD -h`` for the options of each.
"""

import os
import random
import selectors
import socket
import struct
import sys
import threading
import time

from helpers import Verifier, gen_chunks
from testnet import log, out, subcommands

CHUNK = 65536
LINGER0 = struct.pack("ii", 1, 0)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def hostport(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def tcp_listener(host, port, backlog=1024):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(host) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


def tcp_connect(host, port, timeout):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def rst_close(s):
    """Close with an RST (SO_LINGER 0): an abortive close."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    except OSError:
        pass
    s.close()


class Stream:
    """The deterministic stream of a seed, endless, sent in pieces."""

    def __init__(self, seed):
        self.gen = gen_chunks(seed, None)
        self.buf = b""
        self.total = 0

    def peek(self):
        if not self.buf:
            self.buf = next(self.gen)
        return self.buf

    def advance(self, n):
        self.buf = self.buf[n:]
        self.total += n


def _recv_kind(e):
    """How a socket error says the connection ended: ECONNRESET is an RST
    received (on Linux the error is reported once, to whichever of send or
    recv comes first; later calls see EOF or EPIPE)."""
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, BrokenPipeError):
        return "epipe"
    return "error(%s)" % e.__class__.__name__


# ---------------------------------------------------------------------------
# ports and echo


def cmd_free_port(a):
    """A port free on --host for TCP (and UDP with --udp)."""
    fam = family(a.host)
    for _ in range(100):
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.bind((a.host, 0))
        port = t.getsockname()[1]
        if a.udp:
            u = socket.socket(fam, socket.SOCK_DGRAM)
            try:
                u.bind((a.host, port))
            except OSError:
                t.close()
                u.close()
                continue
            u.close()
        t.close()
        out(port)
        return
    sys.exit(1)


def cmd_echo_server(a):
    """TCP: echo until EOF, then half-close.  UDP: each datagram back to its
    sender."""
    deadline = time.monotonic() + a.lifetime
    if a.udp:
        s = socket.socket(family(a.host), socket.SOCK_DGRAM)
        s.bind((a.host, a.port))
        log("udp echo on %s" % hostport(a.host, a.port))
        while time.monotonic() < deadline:
            s.settimeout(1.0)
            try:
                data, peer = s.recvfrom(65536)
            except socket.timeout:
                continue
            s.sendto(data, peer)
        return
    ls = tcp_listener(a.host, a.port)
    log("echo on %s" % hostport(a.host, a.port))

    def handle(conn):
        conn.settimeout(a.io_timeout)
        try:
            while True:
                data = conn.recv(262144)
                if not data:
                    break
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError:
            pass
        finally:
            conn.close()

    while time.monotonic() < deadline:
        ls.settimeout(1.0)
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def cmd_echo_stream(a):
    """One connection to an echo service: send the stream of --seed (at most
    --window bytes ahead of the echo) until --bytes are sent, --stop-file
    exists or --max-time passes; then half-close and read the echo to EOF.
    Every byte is checked.  --progress-file gets the bytes echoed."""
    t0 = time.monotonic()
    try:
        s = tcp_connect(a.host, a.port, a.io_timeout)
    except OSError as e:
        out("ok=0 how=connect-failed error=%r" % e)
        sys.exit(1)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    src = Stream(a.seed)
    v = Verifier(a.seed)
    sending = True
    how = None
    last_progress = 0.0
    last_rx = time.monotonic()
    while how is None:
        now = time.monotonic()
        if sending and ((a.bytes and src.total >= a.bytes)
                        or (a.stop_file and os.path.exists(a.stop_file))
                        or now - t0 > a.max_time):
            sending = False
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                how = "shutdown:" + _recv_kind(e)
                break
            sel.modify(s, selectors.EVENT_READ)
        if now - last_rx > a.io_timeout:
            how = "timeout"
            break
        if a.progress_file and now - last_progress > 0.2:
            last_progress = now
            with open(a.progress_file + ".tmp", "w") as f:
                f.write("%d\n" % v.total)
            os.replace(a.progress_file + ".tmp", a.progress_file)
        ahead = src.total - v.total
        want = selectors.EVENT_READ
        if sending and ahead < a.window:
            want |= selectors.EVENT_WRITE
        sel.modify(s, want)
        for _key, ev in sel.select(0.2):
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(262144)
                except BlockingIOError:
                    data = None
                except OSError as e:
                    how = _recv_kind(e)
                    break
                if data == b"":
                    how = "eof"
                    break
                if data:
                    last_rx = time.monotonic()
                    if not v.feed(data):
                        how = "corrupt"
                        break
            if ev & selectors.EVENT_WRITE and sending:
                buf = src.peek()
                n = min(len(buf), a.window - ahead)
                if a.bytes:
                    n = min(n, a.bytes - src.total)
                try:
                    src.advance(s.send(buf[:n]))
                except BlockingIOError:
                    pass
                except OSError as e:
                    how = "send:" + _recv_kind(e)
                    break
    s.close()
    el = time.monotonic() - t0
    ok = how == "eof" and v.total == src.total and v.bad_at is None and not sending
    if a.bytes and src.total != a.bytes:
        ok = False
    out("ok=%d how=%s sent=%d echoed=%d bad_at=%s elapsed=%.2f mibps=%.1f"
        % (ok, how, src.total, v.total, v.bad_at, el, v.total / max(el, 1e-6) / (1 << 20)))
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------
# one stream reset in the middle of a transfer


def _duplex(s, src, v, stop, progress_file=None, io_timeout=60.0):
    """Send src and check what comes back against v on non-blocking s until
    stop() says so (returns 'stop') or the connection ends ('eof', 'reset',
    'corrupt', 'timeout', ...)."""
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if src else 0))
    last_progress = 0.0
    last_rx = time.monotonic()
    try:
        while True:
            if stop():
                return "stop"
            now = time.monotonic()
            if now - last_rx > io_timeout:
                return "timeout"
            if progress_file and now - last_progress > 0.1:
                last_progress = now
                with open(progress_file + ".tmp", "w") as f:
                    f.write("%d %d\n" % (v.total, src.total if src else 0))
                os.replace(progress_file + ".tmp", progress_file)
            for _key, ev in sel.select(0.05):
                if ev & selectors.EVENT_READ:
                    try:
                        data = s.recv(262144)
                    except BlockingIOError:
                        data = None
                    except OSError as e:
                        return _recv_kind(e)
                    if data == b"":
                        return "eof"
                    if data:
                        last_rx = time.monotonic()
                        if not v.feed(data):
                            return "corrupt"
                if ev & selectors.EVENT_WRITE:
                    try:
                        src.advance(s.send(src.peek()))
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        return _recv_kind(e)
    finally:
        sel.close()


def cmd_reset_target(a):
    """Per connection: send the stream of --seed-out, read and check the
    stream of --seed-in; once --reset-file exists, close with an RST.
    Appends one line per connection to --result: how it ended (stop = we
    reset it), bytes each way, first wrong byte, CLOCK_MONOTONIC at the end."""
    ls = tcp_listener(a.host, a.port)
    log("reset-target on %s" % hostport(a.host, a.port))
    deadline = time.monotonic() + a.lifetime
    count = [0]

    def handle(conn, i):
        src = Stream(a.seed_out) if a.send else None
        v = Verifier(a.seed_in)
        how = _duplex(conn, src, v,
                      lambda: a.reset_file and os.path.exists(a.reset_file),
                      io_timeout=a.io_timeout)
        t_end = time.monotonic()
        if how == "stop":
            rst_close(conn)
        else:
            conn.close()
        line = ("conn=%d how=%s rx=%d tx=%d bad_at=%s t_end=%.6f\n"
                % (i, how, v.total, src.total if src else 0, v.bad_at, t_end))
        with open(a.result, "a") as f:
            f.write(line)
        log(line.strip())

    while time.monotonic() < deadline:
        ls.settimeout(1.0)
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn, count[0]), daemon=True).start()
        count[0] += 1


def cmd_peer(a):
    """Connect, send the stream of --seed-out (with --send) and check the
    stream of --seed-in.  --reset-after N: once N bytes are sent (received,
    without --send), close with an RST and print when;
    otherwise run until the connection ends and print how (reset: exit 0,
    eof: exit 3, else 1)."""
    t0 = time.monotonic()
    try:
        s = tcp_connect(a.host, a.port, a.io_timeout)
    except OSError as e:
        out("how=connect-failed error=%r" % e)
        sys.exit(1)
    src = Stream(a.seed_out) if a.send else None
    v = Verifier(a.seed_in)

    def enough():
        if not a.reset_after:
            return False
        return (src.total if src else v.total) >= a.reset_after

    how = _duplex(s, src, v, enough, a.progress_file, a.io_timeout)
    t_end = time.monotonic()
    if how == "stop":
        rst_close(s)
        how = "reset-sent"
    else:
        s.close()
    out("how=%s rx=%d tx=%d bad_at=%s t_end=%.6f elapsed=%.3f"
        % (how, v.total, src.total if src else 0, v.bad_at, t_end, t_end - t0))
    if v.bad_at is not None:
        sys.exit(2)
    if a.reset_after:
        sys.exit(0 if how == "reset-sent" else 1)
    sys.exit({"reset": 0, "eof": 3}.get(how, 1))


# ---------------------------------------------------------------------------
# many streams reset on both sides at once


ORDERS = ("both-public-first", "both-target-first", "target-only", "public-only",
          "public-at-once")


class Pair:
    def __init__(self, i, order, threshold):
        self.i = i
        self.order = order
        self.threshold = threshold
        self.pub = None
        self.tgt = None
        self.pub_rx = self.tgt_rx = 0
        self.connected = False
        self.tag_sent = False
        self.state = "connecting"  # -> flowing -> waiting (for the RST) -> done
        self.result = None
        self.t_wait = 0.0
        self.local = "-"


def cmd_storm(a):
    """Rounds of --pairs connections through --port to our own target on
    --target-port: data flows both ways on every pair, then both ends are
    reset within microseconds of each other (so the two RESETs and DATA
    cross on the channel), or one end only and the other end must see an
    RST (not a clean EOF) within --within s.  A pair that closes on its own
    before that, fails to connect or stalls is a failure."""
    rng = random.Random(a.seed)
    ls = tcp_listener(a.target_host, a.target_port)
    ls.setblocking(False)
    if a.go_file:  # listening from the start; the rounds wait for the word
        log("storm target on %s, waiting for %s" % (hostport(a.target_host, a.target_port), a.go_file))
        end = time.monotonic() + a.go_wait
        while not os.path.exists(a.go_file):
            if time.monotonic() > end:
                out("pairs=0 bad=1 error=no-go-file")
                sys.exit(1)
            time.sleep(0.05)
    blob = os.urandom(CHUNK)
    t_start = time.monotonic()
    deadline = t_start + a.timeout
    stats = {o: 0 for o in ORDERS}
    bad = []
    moved = 0
    next_id = 0
    for rnd in range(a.rounds):
        sel = selectors.DefaultSelector()
        sel.register(ls, selectors.EVENT_READ, ("listen", None))
        pairs = {}
        for _ in range(a.pairs):
            p = Pair(next_id, ORDERS[rng.randrange(len(ORDERS))],
                     rng.randint(a.min_bytes, a.max_bytes))
            next_id += 1
            p.pub = socket.socket(family(a.host), socket.SOCK_STREAM)
            p.pub.setblocking(False)
            err = p.pub.connect_ex((a.host, a.port))
            if err not in (0, 115):  # EINPROGRESS
                p.result = "connect: %s" % os.strerror(err)
                p.state = "done"
                p.pub.close()
            else:
                sel.register(p.pub, selectors.EVENT_READ | selectors.EVENT_WRITE, ("pub", p))
            pairs[p.i] = p
        pending_tags = {}  # target socket -> bytes of the tag so far

        def finish(p, result):
            p.result = result
            p.state = "done"
            for s in (p.pub, p.tgt):
                if s is not None:
                    try:
                        sel.unregister(s)
                    except (KeyError, ValueError):
                        pass

        def reset(p, which):
            s = p.pub if which == "pub" else p.tgt
            if s is None:
                return
            try:
                sel.unregister(s)
            except (KeyError, ValueError):
                pass
            rst_close(s)
            if which == "pub":
                p.pub = None
            else:
                p.tgt = None

        def act(p):
            """Data has flowed both ways: reset as the pair's order says."""
            stats[p.order] += 1
            if p.order == "both-public-first":
                reset(p, "pub")
                reset(p, "tgt")
                finish(p, "ok")
            elif p.order == "both-target-first":
                reset(p, "tgt")
                reset(p, "pub")
                finish(p, "ok")
            elif p.order == "target-only":
                reset(p, "tgt")
                p.state = "waiting"
                p.t_wait = time.monotonic()
            elif p.order == "public-only":
                reset(p, "pub")
                p.state = "waiting"
                p.t_wait = time.monotonic()

        def ended(p, side, how):
            """p's socket on side ended (EOF or error) by itself."""
            if p.state == "waiting" and how == "reset":
                if time.monotonic() - p.t_wait > a.within:
                    finish(p, "%s saw the RST only after %.1f s" % (side, time.monotonic() - p.t_wait))
                else:
                    finish(p, "ok")
                reset(p, side)
            elif p.state == "waiting":
                finish(p, "%s ended with %s after the other end's RST, want a reset"
                       % (side, how))
                reset(p, side)
            else:
                finish(p, "%s ended with %s by itself (state %s, %d/%d bytes)"
                       % (side, how, p.state, p.pub_rx, p.tgt_rx))
                reset(p, "pub")
                reset(p, "tgt")

        round_deadline = min(deadline, time.monotonic() + a.round_timeout)
        while time.monotonic() < round_deadline:
            live = [p for p in pairs.values() if p.state != "done"]
            if not live and not pending_tags:
                break
            if not live:  # only unmatched target connections left
                for s in list(pending_tags):
                    sel.unregister(s)
                    rst_close(s)
                pending_tags.clear()
                break
            for p in live:
                if p.state != "waiting":
                    continue
                waited = time.monotonic() - p.t_wait
                if p.order == "public-at-once" and p.tgt is None and waited > min(a.within, 2.0):
                    # the client dropped the stream before its target
                    # saw the tag: nothing for the target to see
                    finish(p, "ok")
                    continue
                if waited > a.within:
                    side = "public peer" if p.order == "target-only" else "target"
                    finish(p, "%s not reset within %.1f s of the other end's RST" % (side, a.within))
                    reset(p, "pub")
                    reset(p, "tgt")
            for key, ev in sel.select(0.05):
                kind, p = key.data
                if kind == "listen":
                    while True:
                        try:
                            c, _ = ls.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        c.setblocking(False)
                        pending_tags[c] = b""
                        sel.register(c, selectors.EVENT_READ, ("tag", None))
                    continue
                if kind == "tag":
                    s = key.fileobj
                    try:
                        data = s.recv(8 - len(pending_tags[s]))
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:  # closed before its tag: a pair reset at once
                        sel.unregister(s)
                        del pending_tags[s]
                        s.close()
                        continue
                    pending_tags[s] += data
                    if len(pending_tags[s]) < 8:
                        continue
                    magic, pid = struct.unpack("!4sI", pending_tags.pop(s))
                    q = pairs.get(pid)
                    if magic != b"PAIR" or q is None or q.state == "done" or q.tgt is not None:
                        sel.unregister(s)
                        rst_close(s)
                        continue
                    q.tgt = s
                    sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, ("tgt", q))
                    if q.state == "connecting":
                        q.state = "flowing"
                    continue
                if p.state == "done":
                    continue
                side = kind
                s = p.pub if side == "pub" else p.tgt
                if s is None or s is not key.fileobj:
                    continue
                if side == "pub" and not p.connected and ev & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        finish(p, "connect: %s" % os.strerror(err))
                        reset(p, "pub")
                        continue
                    p.connected = True
                    p.local = hostport(*s.getsockname()[:2])
                    try:
                        s.send(struct.pack("!4sI", b"PAIR", p.i))
                    except OSError as e:
                        ended(p, side, _recv_kind(e))
                        continue
                    p.tag_sent = True
                    if p.order == "public-at-once":
                        # the RST follows the OPEN (and its early data) at once
                        stats[p.order] += 1
                        reset(p, "pub")
                        p.state = "waiting"
                        p.t_wait = time.monotonic()
                        continue
                if ev & selectors.EVENT_READ:
                    try:
                        data = s.recv(262144)
                    except BlockingIOError:
                        data = None
                    except OSError as e:
                        ended(p, side, _recv_kind(e))
                        continue
                    if data == b"":
                        ended(p, side, "eof")
                        continue
                    if data:
                        moved += len(data)
                        if side == "pub":
                            p.pub_rx += len(data)
                        else:
                            p.tgt_rx += len(data)
                if ev & selectors.EVENT_WRITE:
                    try:
                        s.send(blob[:rng.randint(1, CHUNK)])
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        ended(p, side, _recv_kind(e))
                        continue
                if p.state == "flowing" and p.pub_rx >= p.threshold and p.tgt_rx >= p.threshold:
                    act(p)
        for p in pairs.values():
            if p.state != "done":
                finish(p, "round %d ended with the pair %s (%d/%d bytes, order %s, public peer %s)"
                       % (rnd, p.state, p.pub_rx, p.tgt_rx, p.order, p.local))
                reset(p, "pub")
                reset(p, "tgt")
        for s in list(pending_tags):
            try:
                sel.unregister(s)
            except (KeyError, ValueError):
                pass
            s.close()
        sel.close()
        for p in pairs.values():
            if p.result != "ok":
                bad.append("pair %d (%s): %s" % (p.i, p.order, p.result))
        if time.monotonic() >= deadline:
            bad.append("out of time after round %d" % rnd)
            break
        if a.progress_file:
            with open(a.progress_file, "w") as f:
                f.write("%d\n" % (rnd + 1))
    for b in bad[:10]:
        log(b)
    out("pairs=%d bad=%d bytes=%d elapsed=%.2f %s"
        % (next_id, len(bad), moved, time.monotonic() - t_start,
           " ".join("%s=%d" % kv for kv in stats.items())))
    sys.exit(0 if not bad and next_id == a.rounds * a.pairs else 1)


# ---------------------------------------------------------------------------
# UDP


def cmd_udp_exchange(a):
    """Send --count datagrams of --size bytes (an 8-byte sequence number,
    then random bytes) to --host --port, one at a time; each must come back
    unchanged from that very address, within --within s (--tries sends
    each)."""
    s = socket.socket(family(a.host), socket.SOCK_DGRAM)
    s.bind(("::1" if family(a.host) == socket.AF_INET6 else "127.0.0.1", 0))
    t0 = time.monotonic()
    ok = 0
    tries_total = 0
    want_from = None
    for seq in range(a.count):
        msg = struct.pack("!Q", seq) + os.urandom(max(0, a.size - 8))
        got = False
        for _ in range(a.tries):
            tries_total += 1
            s.sendto(msg, (a.host, a.port))
            end = time.monotonic() + a.within
            while time.monotonic() < end and not got:
                s.settimeout(max(0.01, end - time.monotonic()))
                try:
                    data, peer = s.recvfrom(65536)
                except socket.timeout:
                    break
                want_from = want_from or peer
                if data == msg and peer[:2] == (a.host, a.port):
                    got = True
            if got:
                break
        if not got:
            break
        ok += 1
    fam = "ipv6" if family(a.host) == socket.AF_INET6 else "ipv4"
    out("ok=%d count=%d tries=%d local=%s from=%s family=%s elapsed=%.3f"
        % (ok, a.count, tries_total, hostport(*s.getsockname()[:2]),
           hostport(*want_from[:2]) if want_from else "-", fam, time.monotonic() - t0))
    sys.exit(0 if ok == a.count else 1)


def main():
    p, add = subcommands(__doc__)

    def hp(sp, host="127.0.0.1"):
        sp.add_argument("--host", default=host)
        sp.add_argument("--port", type=int, required=True)

    sp = add("free-port", cmd_free_port)
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--udp", action="store_true")

    sp = add("echo-server", cmd_echo_server)
    hp(sp)
    sp.add_argument("--udp", action="store_true")
    sp.add_argument("--lifetime", type=float, default=300.0)
    sp.add_argument("--io-timeout", type=float, default=60.0)

    sp = add("echo-stream", cmd_echo_stream)
    hp(sp)
    sp.add_argument("--seed", type=int, default=5)
    sp.add_argument("--bytes", type=int, default=0, help="0: until --stop-file or --max-time")
    sp.add_argument("--stop-file")
    sp.add_argument("--max-time", type=float, default=120.0)
    sp.add_argument("--window", type=int, default=1 << 20)
    sp.add_argument("--progress-file")
    sp.add_argument("--io-timeout", type=float, default=30.0)

    sp = add("reset-target", cmd_reset_target)
    hp(sp)
    sp.add_argument("--seed-out", type=int, default=11)
    sp.add_argument("--seed-in", type=int, default=12)
    sp.add_argument("--send", type=int, default=1)
    sp.add_argument("--reset-file")
    sp.add_argument("--result", required=True)
    sp.add_argument("--lifetime", type=float, default=300.0)
    sp.add_argument("--io-timeout", type=float, default=60.0)

    sp = add("peer", cmd_peer)
    hp(sp)
    sp.add_argument("--seed-out", type=int, default=12)
    sp.add_argument("--seed-in", type=int, default=11)
    sp.add_argument("--send", action="store_true")
    sp.add_argument("--reset-after", type=int, default=0)
    sp.add_argument("--progress-file")
    sp.add_argument("--io-timeout", type=float, default=60.0)

    sp = add("storm", cmd_storm)
    hp(sp)
    sp.add_argument("--target-host", default="127.0.0.1")
    sp.add_argument("--target-port", type=int, required=True)
    sp.add_argument("--rounds", type=int, default=10)
    sp.add_argument("--pairs", type=int, default=20)
    sp.add_argument("--min-bytes", type=int, default=16 << 10)
    sp.add_argument("--max-bytes", type=int, default=512 << 10)
    sp.add_argument("--within", type=float, default=10.0)
    sp.add_argument("--round-timeout", type=float, default=30.0)
    sp.add_argument("--timeout", type=float, default=150.0)
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--progress-file")
    sp.add_argument("--go-file", help="listen at once, start the rounds once this exists")
    sp.add_argument("--go-wait", type=float, default=300.0)

    sp = add("udp-exchange", cmd_udp_exchange)
    hp(sp)
    sp.add_argument("--count", type=int, default=10)
    sp.add_argument("--size", type=int, default=100)
    sp.add_argument("--within", type=float, default=2.0)
    sp.add_argument("--tries", type=int, default=3)

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
