#!/usr/bin/env python3
"""Traffic generators and checkers for the tcp-forward integration tests.

Python 3 standard library only.  Every socket operation has a timeout and
every server has a bounded lifetime, so nothing here can hang a test run
or outlive it for long.  Results go to stdout as one ``key=value`` line;
diagnostics go to stderr.  Exit status 0 means the check passed.

Run ``helpers.py -h`` for the list of subcommands.
"""

import errno
import hashlib
import os
import random
import selectors
import socket
import struct
import sys
import threading
import time

from testnet import HOST, connect, listener, log, out, subcommands

CHUNK = 65536


def parse_size(text):
    """'64M', '256K', '1G', '123' -> bytes; '-1' or 'inf' -> None (endless)."""
    text = str(text).strip()
    if text in ("-1", "inf"):
        return None
    mult = 1
    suffix = text[-1:].upper()
    if suffix in ("K", "M", "G"):
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[suffix]
        text = text[:-1]
    return int(text) * mult


# ---------------------------------------------------------------------------
# deterministic byte streams


def gen_chunks(seed, size):
    """Deterministic pseudo-random stream: chunks of CHUNK bytes.

    size None means endless."""
    rng = random.Random(seed)
    left = size
    while left is None or left > 0:
        n = CHUNK if left is None else min(CHUNK, left)
        yield rng.randbytes(n)
        if left is not None:
            left -= n


class Verifier:
    """Compares received bytes against gen_chunks(seed, None) incrementally."""

    def __init__(self, seed):
        self.gen = gen_chunks(seed, None)
        self.buf = b""
        self.pos = 0
        self.total = 0
        self.bad_at = None

    def feed(self, data):
        view = memoryview(data)
        while len(view) and self.bad_at is None:
            if self.pos == len(self.buf):
                self.buf = next(self.gen)
                self.pos = 0
            n = min(len(view), len(self.buf) - self.pos)
            if view[:n] != self.buf[self.pos:self.pos + n]:
                for i in range(n):
                    if view[i] != self.buf[self.pos + i]:
                        self.bad_at = self.total + i
                        break
            self.pos += n
            self.total += n
            view = view[n:]
        return self.bad_at is None


def reply_for(request_digest, size):
    """Reply of the half-close server: hex digest line + deterministic body."""
    head = request_digest.hex().encode() + b"\n"
    seed = int.from_bytes(request_digest[:8], "big")
    body = b"".join(gen_chunks(seed, size))
    return head + body


# ---------------------------------------------------------------------------
# socket helpers


def recv_until_eof(s, sink, limit_time):
    """Read until EOF, feeding sink(bytes).  Returns ('eof'|'reset'|'timeout', n)."""
    n = 0
    deadline = time.monotonic() + limit_time
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout", n
        s.settimeout(min(left, 30.0))
        try:
            data = s.recv(262144)
        except socket.timeout:
            continue
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            return "reset", n
        except OSError as e:
            log("recv error:", e)
            return "reset", n
        if not data:
            return "eof", n
        n += len(data)
        sink(data)


def serve_forever(port, handler, lifetime, once=False, host=HOST):
    """Accept loop; handler(conn, addr) runs in its own daemon thread."""
    threading.stack_size(512 * 1024)
    ls = listener(port, host)
    log("listening on %s:%d" % (host, port))
    deadline = time.monotonic() + lifetime
    threads = []
    while time.monotonic() < deadline:
        ls.settimeout(1.0)
        try:
            conn, addr = ls.accept()
        except socket.timeout:
            continue
        conn.settimeout(None)
        t = threading.Thread(target=_guard, args=(handler, conn, addr),
                             daemon=True)
        t.start()
        threads.append(t)
        if once:
            ls.close()
            t.join(max(0.0, deadline - time.monotonic()))
            return
    log("lifetime over")


def _guard(handler, conn, addr):
    try:
        handler(conn, addr)
    except Exception as e:  # a server thread never kills the process
        log("handler %s: %r" % (addr, e))
    finally:
        try:
            conn.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# subcommands


def cmd_free_port(a):
    s = socket.socket()
    s.bind((HOST, 0))
    out(s.getsockname()[1])


def cmd_closed_port(a):
    """Hold a bound socket that never listens: connecting to its port is
    refused for as long as this runs, and no other process can take the
    port (a port that is merely free may be reused on a shared machine)."""
    s = socket.socket()
    s.bind((HOST, 0))
    out(s.getsockname()[1])
    time.sleep(a.lifetime)


def cmd_echo_server(a):
    """Echo everything until EOF, then half-close (shutdown(SHUT_WR))."""

    def handle(conn, addr):
        conn.settimeout(a.io_timeout)
        while True:
            try:
                data = conn.recv(262144)
            except (ConnectionResetError, socket.timeout):
                return
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        # wait for the peer to close too (bounded), then close
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass

    serve_forever(a.port, handle, a.lifetime)


def cmd_concurrent(a):
    """N simultaneous connections, each sends random bytes, SHUT_WR, reads
    the echo back until EOF and compares it byte-exact."""
    rng = random.Random(a.seed)
    sel = selectors.DefaultSelector()

    class C:
        pass

    conns = []
    t0 = time.monotonic()
    for i in range(a.n):
        c = C()
        c.i = i
        c.size = rng.randint(a.min, a.max)
        c.data = os.urandom(c.size)
        c.want = hashlib.sha256(c.data).digest()
        c.got = hashlib.sha256()
        c.nrecv = 0
        c.off = 0
        c.connected = False
        c.wr_closed = False
        c.result = None
        c.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.s.setblocking(False)
        c.s.bind((HOST, 0))
        err = c.s.connect_ex((a.host, a.port))
        if err not in (0, errno.EINPROGRESS):
            c.result = "connect: %s" % os.strerror(err)
            c.s.close()
        else:
            sel.register(c.s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        conns.append(c)

    def finish(c, result):
        c.result = result
        try:
            sel.unregister(c.s)
        except (KeyError, ValueError):
            pass
        c.s.close()

    pending = sum(1 for c in conns if c.result is None)
    deadline = t0 + a.timeout
    while pending and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1.0):
            c = key.data
            if c.result is not None:
                continue
            if ev & selectors.EVENT_WRITE:
                if not c.connected:
                    err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        finish(c, "connect: %s" % os.strerror(err))
                        pending -= 1
                        continue
                    c.connected = True
                try:
                    if c.off < c.size:
                        c.off += c.s.send(c.data[c.off:c.off + CHUNK])
                    if c.off >= c.size and not c.wr_closed:
                        c.s.shutdown(socket.SHUT_WR)
                        c.wr_closed = True
                        sel.modify(c.s, selectors.EVENT_READ, c)
                except BlockingIOError:
                    pass
                except OSError as e:
                    finish(c, "send after %d bytes: %s" % (c.off, e))
                    pending -= 1
                    continue
            if ev & selectors.EVENT_READ:
                try:
                    data = c.s.recv(262144)
                except BlockingIOError:
                    continue
                except OSError as e:
                    finish(c, "recv after %d bytes: %s" % (c.nrecv, e))
                    pending -= 1
                    continue
                if data:
                    c.nrecv += len(data)
                    c.got.update(data)
                    if c.nrecv > c.size:
                        finish(c, "too much data: %d > %d" % (c.nrecv, c.size))
                        pending -= 1
                    continue
                # EOF
                if not c.wr_closed:
                    finish(c, "EOF before all data was sent (%d/%d sent, %d recv)"
                           % (c.off, c.size, c.nrecv))
                elif c.nrecv != c.size:
                    finish(c, "short echo: %d of %d bytes" % (c.nrecv, c.size))
                elif c.got.digest() != c.want:
                    finish(c, "echo differs (same length %d)" % c.size)
                else:
                    finish(c, "ok")
                pending -= 1
    for c in conns:
        if c.result is None:
            finish(c, "timeout: sent %d/%d recv %d" % (c.off, c.size, c.nrecv))
    elapsed = time.monotonic() - t0
    ok = sum(1 for c in conns if c.result == "ok")
    total = sum(c.size for c in conns)
    bad = [c for c in conns if c.result != "ok"]
    for c in bad[:10]:
        log("stream %d (size %d): %s" % (c.i, c.size, c.result))
    out("ok=%d fail=%d bytes=%d elapsed=%.2f" % (ok, len(bad), total, elapsed))
    sys.exit(0 if not bad else 1)


def cmd_echo_loop(a):
    """Sequential echo round trips for --duration seconds, all byte-exact."""
    rng = random.Random(a.seed)
    t0 = time.monotonic()
    n = 0
    nbytes = 0
    while time.monotonic() - t0 < a.duration:
        size = rng.randint(1, a.max)
        data = os.urandom(size)
        try:
            s = connect(a.port, timeout=a.io_timeout)
            got = bytearray()
            sender = threading.Thread(target=_send_and_shut, args=(s, data),
                                      daemon=True)
            sender.start()
            how, _ = recv_until_eof(s, got.extend, a.io_timeout)
            sender.join(a.io_timeout)
            s.close()
        except OSError as e:
            out("ok=%d fail=1 error=%r" % (n, e))
            sys.exit(1)
        if how != "eof" or bytes(got) != data:
            out("ok=%d fail=1 round=%d size=%d got=%d how=%s"
                % (n, n, size, len(got), how))
            sys.exit(1)
        n += 1
        nbytes += size
        time.sleep(a.pause)
    out("ok=%d fail=0 bytes=%d" % (n, nbytes))
    sys.exit(0 if n > 0 else 1)


def _send_and_shut(s, data):
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        log("send:", e)


def cmd_halfclose_server(a):
    """Read the request until EOF, only then send digest line + reply body."""

    def handle(conn, addr):
        conn.settimeout(a.io_timeout)
        h = hashlib.sha256()
        how, n = recv_until_eof(conn, h.update, a.io_timeout)
        if how != "eof":
            log("request from %s ended with %s after %d bytes" % (addr, how, n))
            return
        log("request from %s: %d bytes" % (addr, n))
        conn.sendall(reply_for(h.digest(), a.reply_size))
        conn.shutdown(socket.SHUT_WR)

    serve_forever(a.port, handle, a.lifetime)


def cmd_halfclose_client(a):
    """Send the request, SHUT_WR, then read the whole reply until EOF."""
    req = os.urandom(a.request_size)
    want = reply_for(hashlib.sha256(req).digest(), a.reply_size)
    t0 = time.monotonic()
    s = connect(a.port, timeout=a.timeout)
    s.sendall(req)
    s.shutdown(socket.SHUT_WR)
    got = bytearray()
    how, n = recv_until_eof(s, got.extend, a.timeout)
    s.close()
    ok = how == "eof" and bytes(got) == want
    out("ok=%d how=%s request=%d reply=%d want=%d elapsed=%.2f"
        % (ok, how, len(req), n, len(want), time.monotonic() - t0))
    sys.exit(0 if ok else 1)


def cmd_halfclose_check(a):
    """Check a reply file (e.g. captured by nc -N) against a request file."""
    with open(a.request_file, "rb") as f:
        req = f.read()
    with open(a.reply_file, "rb") as f:
        got = f.read()
    want = reply_for(hashlib.sha256(req).digest(), a.reply_size)
    ok = got == want
    out("ok=%d reply=%d want=%d" % (ok, len(got), len(want)))
    sys.exit(0 if ok else 1)


def cmd_greeter_server(a):
    """Reverse half-close: send --size bytes, SHUT_WR, then read the peer's
    data until EOF and write '<bytes> <sha256>' to --result."""

    def handle(conn, addr):
        conn.settimeout(a.io_timeout)
        for chunk in gen_chunks(a.seed, a.size):
            conn.sendall(chunk)
        conn.shutdown(socket.SHUT_WR)
        h = hashlib.sha256()
        how, n = recv_until_eof(conn, h.update, a.io_timeout)
        with open(a.result + ".tmp", "w") as f:
            f.write("%s %d %s\n" % (how, n, h.hexdigest()))
        os.rename(a.result + ".tmp", a.result)

    serve_forever(a.port, handle, a.lifetime, once=True)


def cmd_greeter_client(a):
    """Read the greeting until EOF (the target half-closed first), then send
    --send-size bytes and SHUT_WR; prints the sha256 of what it sent."""
    s = connect(a.port, timeout=a.timeout)
    v = Verifier(a.seed)
    how, n = recv_until_eof(s, v.feed, a.timeout)
    greet_ok = how == "eof" and n == a.size and v.bad_at is None
    data = os.urandom(a.send_size)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        # the server closes after reading our EOF
        how2, _ = recv_until_eof(s, lambda d: None, a.timeout)
    except OSError as e:
        how2 = "error %r" % e
    s.close()
    out("greet_ok=%d how=%s got=%d bad_at=%s sent=%d sent_sha=%s close=%s"
        % (greet_ok, how, n, v.bad_at, len(data),
           hashlib.sha256(data).hexdigest(), how2))
    sys.exit(0 if greet_ok else 1)


def cmd_source_server(a):
    """Send the deterministic stream (seed, size; -1 = endless) to every
    client, then half-close.  Whatever the client sends is discarded."""

    def handle(conn, addr):
        conn.settimeout(a.io_timeout)
        threading.Thread(target=_discard, args=(conn,), daemon=True).start()
        sent = 0
        try:
            for chunk in gen_chunks(a.seed, a.size):
                conn.sendall(chunk)
                sent += len(chunk)
            conn.shutdown(socket.SHUT_WR)
            log("sent %d bytes to %s" % (sent, addr))
            time.sleep(1.0)
        except OSError as e:
            log("sending to %s stopped after %d bytes: %r" % (addr, sent, e))

    serve_forever(a.port, handle, a.lifetime)


def _discard(conn):
    try:
        while conn.recv(262144):
            pass
    except OSError:
        pass


def cmd_sink(a):
    """Read the deterministic stream from --port until EOF and verify it.

    With --until-close the stream is read until the connection closes
    (EOF or reset) and the outcome is reported; --progress-file gets the
    byte count every 0.2 s."""
    t0 = time.monotonic()
    s = connect(a.port, timeout=a.timeout)
    v = Verifier(a.seed)
    last = [0.0]
    warm = [None]  # (time, bytes) when --warm seconds had passed

    def feed(data):
        v.feed(data)
        if a.warm and warm[0] is None and time.monotonic() - t0 >= a.warm:
            warm[0] = (time.monotonic(), v.total)
        if a.progress_file and time.monotonic() - last[0] > 0.2:
            last[0] = time.monotonic()
            with open(a.progress_file, "w") as f:
                f.write("%d\n" % v.total)

    how, n = recv_until_eof(s, feed, a.duration or a.timeout)
    t1 = time.monotonic()
    s.close()
    el = max(t1 - t0, 1e-6)
    steady = ""
    if a.warm:
        # the rate after the first --warm seconds (slow start, window growth)
        w = warm[0] or (t1, n)
        steady = " steady_mibps=%.2f" % ((n - w[1]) / max(t1 - w[0], 1e-6) / (1 << 20))
    out("how=%s bytes=%d bad_at=%s elapsed=%.3f mibps=%.1f%s"
        % (how, n, v.bad_at, el, n / el / (1 << 20), steady))
    if v.bad_at is not None:
        sys.exit(2)
    if a.until_close:
        sys.exit({"reset": 0, "eof": 3}.get(how, 124))
    if a.duration:
        sys.exit(0 if how in ("timeout", "eof") and n > 0 else 1)
    size = parse_size(a.size)
    sys.exit(0 if how == "eof" and n == size else 1)


def cmd_slow_reader(a):
    """Connect, never read until --release-file exists (or --hold seconds
    pass), then read --then-read bytes and verify them against the
    deterministic stream of --seed."""
    s = connect(a.port, timeout=a.io_timeout)
    if a.send:
        s.sendall(a.send.encode())
    log("connected from %s:%d, not reading" % s.getsockname())
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.hold:
        if a.release_file and os.path.exists(a.release_file):
            break
        time.sleep(0.1)
    held = time.monotonic() - t0
    if a.then_read <= 0:
        out("held=%.1f" % held)
        return
    v = Verifier(a.seed)
    got = 0
    deadline = time.monotonic() + a.io_timeout
    while got < a.then_read and time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = s.recv(min(262144, a.then_read - got))
        except OSError as e:
            log("recv:", e)
            break
        if not data:
            break
        v.feed(data)
        got += len(data)
    ok = got == a.then_read and v.bad_at is None
    out("held=%.1f read=%d bad_at=%s ok=%d" % (held, got, v.bad_at, ok))
    sys.exit(0 if ok else 1)


def cmd_blackhole_server(a):
    """Accept connections and never read from them (reverse stall)."""
    ls = listener(a.port)
    keep = []
    deadline = time.monotonic() + a.lifetime
    while time.monotonic() < deadline:
        ls.settimeout(1.0)
        try:
            conn, addr = ls.accept()
        except socket.timeout:
            continue
        log("holding %s unread" % (addr,))
        keep.append(conn)


def cmd_flood(a):
    """Connect and send as fast as the connection takes it for --hold
    seconds (or until --release-file exists); prints the bytes sent."""
    s = connect(a.port, timeout=a.io_timeout)
    s.setblocking(False)
    chunk = os.urandom(CHUNK)
    sent = 0
    t0 = time.monotonic()
    last_progress = t0
    while time.monotonic() - t0 < a.hold:
        if a.release_file and os.path.exists(a.release_file):
            break
        try:
            n = s.send(chunk)
            sent += n
            last_progress = time.monotonic()
        except BlockingIOError:
            time.sleep(0.02)
        except OSError as e:
            out("sent=%d error=%r" % (sent, e))
            sys.exit(1)
    out("sent=%d blocked_for=%.1f" % (sent, time.monotonic() - last_progress))


def cmd_bidir_server(a):
    """One connection: send --size random bytes while receiving; writes
    'sent_bytes sent_sha recv_bytes recv_sha how' to --result."""
    res = {}

    def handle(conn, addr):
        conn.settimeout(a.io_timeout)
        res.update(_bidir(conn, a.size, a.io_timeout))
        log("bidir server: received %d bytes in %.2f s" % (res["recv"], res["recv_s"]))
        with open(a.result + ".tmp", "w") as f:
            f.write("%(sent)d %(sent_sha)s %(recv)d %(recv_sha)s %(how)s\n" % res)
        os.rename(a.result + ".tmp", a.result)

    serve_forever(a.port, handle, a.lifetime, once=True)


def cmd_bidir_client(a):
    t0 = time.monotonic()
    s = connect(a.port, timeout=a.io_timeout)
    r = _bidir(s, a.size, a.io_timeout)
    s.close()
    el = time.monotonic() - t0
    out("%(sent)d %(sent_sha)s %(recv)d %(recv_sha)s %(how)s" % r)
    log("bidir client: %.2f s, %.1f MiB/s each way; received %d bytes in %.2f s"
        % (el, r["recv"] / max(el, 1e-6) / (1 << 20), r["recv"], r["recv_s"]))
    sys.exit(0 if r["how"] == "eof" else 1)


def _bidir(s, size, io_timeout):
    sent = {"n": 0, "sha": hashlib.sha256(), "err": None}

    def sender():
        try:
            left = size
            while left > 0:
                chunk = os.urandom(min(CHUNK, left))
                sent["sha"].update(chunk)
                s.sendall(chunk)
                sent["n"] += len(chunk)
                left -= len(chunk)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            sent["err"] = e

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    h = hashlib.sha256()
    t0 = time.monotonic()
    how, n = recv_until_eof(s, h.update, io_timeout)
    recv_s = time.monotonic() - t0
    t.join(io_timeout)
    if sent["err"] is not None:
        how = "send-error:%s" % type(sent["err"]).__name__
    return {"sent": sent["n"], "sent_sha": sent["sha"].hexdigest(),
            "recv": n, "recv_sha": h.hexdigest(), "how": how, "recv_s": recv_s}


# frame types (docs/PROTOCOL.md)
HELLO = 0x01
DATA = 0x05


def frame_header(ftype, length, stream=0, flags=0, reserved=0):
    return struct.pack("!BBHII", ftype, flags, reserved, stream, length)


HELLO_SIZE = 57  # magic, version, role, flags, nonce[32], session[16], tag length 0


def hello_payload(version=1, role=1, magic=b"TCPF", flags=1):
    return magic + struct.pack("!HBB", version, role, flags) + os.urandom(48) + b"\x00"


PROBES = {
    # nothing at all: for a public port that must be closed by the server
    "none": b"",
    "garbage": bytes([0xFF, 0xFE, 0x00, 0x42]) + b"this is not a frame \x00\x01" * 8,
    "http": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t_garbage\r\n\r\n",
    # valid HELLO header announcing a whole HELLO, then only 3 bytes of it
    "half": frame_header(HELLO, HELLO_SIZE) + hello_payload()[:3],
    # HELLO header with an absurd length, then a little payload
    "huge": frame_header(HELLO, 0xFFFFFFF0) + b"TCPF" + b"\x00" * 60,
    # DATA as the first frame with a huge length
    "huge-data": frame_header(DATA, 0x7FFFFFFF, stream=1) + b"\x00" * 64,
    # complete HELLO but with the wrong magic
    "bad-magic": frame_header(HELLO, HELLO_SIZE) + hello_payload(magic=b"XXXX"),
    # complete HELLO with non-zero flags
    "bad-flags": frame_header(HELLO, 40, flags=0x80) + hello_payload(),
}


def cmd_probe(a):
    """Connect (from 127.0.0.1, ephemeral port), send the probe bytes, then
    wait for the server to close.  Exit 0 iff closed within --within s."""
    t0 = time.monotonic()
    try:
        s = connect(a.port, timeout=5.0)
    except OSError as e:
        out("local=? closed=connect-failed error=%r elapsed=%.3f"
            % (e, time.monotonic() - t0))
        sys.exit(1)
    local = "%s:%d" % s.getsockname()
    payload = PROBES[a.mode]
    how = None
    got = 0
    try:
        if payload:
            s.sendall(payload)
    except OSError as e:
        how = "reset-on-send(%s)" % type(e).__name__
    t_sent = time.monotonic()
    deadline = t_sent + a.within + a.grace
    while how is None:
        left = deadline - time.monotonic()
        if left <= 0:
            how = "still-open"
            break
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            how = "still-open"
            break
        except OSError:
            how = "reset"
            break
        if not data:
            how = "eof"
            break
        got += len(data)
    elapsed = time.monotonic() - t_sent
    s.close()
    closed = how != "still-open"
    ok = closed and elapsed <= a.within
    out("local=%s closed=%s elapsed=%.3f got=%d ok=%d" % (local, how, elapsed, got, ok))
    sys.exit(0 if ok else 1)


def main():
    p, add = subcommands(__doc__)

    def server(sp, port=True):
        if port:
            sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--lifetime", type=float, default=900.0,
                        help="exit after this many seconds")
        sp.add_argument("--io-timeout", type=float, default=300.0)

    add("free-port", cmd_free_port, "print a free TCP port on 127.0.0.1")
    sp = add("closed-port", cmd_closed_port, "hold a bound, never-listening port; print it")
    sp.add_argument("--lifetime", type=float, default=300.0)

    server(add("echo-server", cmd_echo_server, "echo until EOF, then half-close"))

    sp = add("concurrent", cmd_concurrent, "N concurrent byte-exact echo streams")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--host", default=HOST)
    sp.add_argument("-n", type=int, default=100)
    sp.add_argument("--min", type=int, default=1)
    sp.add_argument("--max", type=int, default=256 * 1024)
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--timeout", type=float, default=120.0)

    sp = add("echo-loop", cmd_echo_loop, "sequential echo round trips")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--duration", type=float, default=5.0)
    sp.add_argument("--max", type=int, default=256 * 1024)
    sp.add_argument("--seed", type=int, default=2)
    sp.add_argument("--pause", type=float, default=0.05)
    sp.add_argument("--io-timeout", type=float, default=20.0)

    sp = add("halfclose-server", cmd_halfclose_server,
             "reply only after the request's EOF")
    server(sp)
    sp.add_argument("--reply-size", type=parse_size, default=4 << 20)

    sp = add("halfclose-client", cmd_halfclose_client,
             "send request, SHUT_WR, read whole reply")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--request-size", type=parse_size, default=1024)
    sp.add_argument("--reply-size", type=parse_size, default=4 << 20)
    sp.add_argument("--timeout", type=float, default=60.0)

    sp = add("halfclose-check", cmd_halfclose_check,
             "check a captured reply against its request")
    sp.add_argument("--request-file", required=True)
    sp.add_argument("--reply-file", required=True)
    sp.add_argument("--reply-size", type=parse_size, default=4 << 20)

    sp = add("greeter-server", cmd_greeter_server,
             "send, half-close first, then read until EOF (one connection)")
    server(sp)
    sp.add_argument("--size", type=parse_size, default=1 << 20)
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--result", required=True)

    sp = add("greeter-client", cmd_greeter_client, "client for greeter-server")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--size", type=parse_size, default=1 << 20)
    sp.add_argument("--seed", type=int, default=7)
    sp.add_argument("--send-size", type=parse_size, default=1 << 20)
    sp.add_argument("--timeout", type=float, default=60.0)

    sp = add("source-server", cmd_source_server,
             "send a deterministic stream to each client")
    server(sp)
    sp.add_argument("--size", type=parse_size, default=32 << 20,
                    help="bytes per connection; -1 = endless")
    sp.add_argument("--seed", type=int, default=3)

    sp = add("sink", cmd_sink, "read and verify a deterministic stream")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--size", default="32M")
    sp.add_argument("--seed", type=int, default=3)
    sp.add_argument("--timeout", type=float, default=120.0)
    sp.add_argument("--until-close", action="store_true")
    sp.add_argument("--progress-file")
    sp.add_argument("--warm", type=float, default=0.0,
                    help="also report the rate after the first WARM seconds")
    sp.add_argument("--duration", type=float, default=0.0,
                    help="read for this many seconds only (then close), not to EOF")

    sp = add("slow-reader", cmd_slow_reader, "connect and do not read")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--hold", type=float, default=30.0)
    sp.add_argument("--release-file")
    sp.add_argument("--send", default="")
    sp.add_argument("--then-read", type=parse_size, default=0)
    sp.add_argument("--seed", type=int, default=3)
    sp.add_argument("--io-timeout", type=float, default=60.0)

    server(add("blackhole-server", cmd_blackhole_server,
               "accept and never read"))

    sp = add("flood", cmd_flood, "send as fast as possible")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--hold", type=float, default=30.0)
    sp.add_argument("--release-file")
    sp.add_argument("--io-timeout", type=float, default=10.0)

    sp = add("bidir-server", cmd_bidir_server,
             "one connection: send and receive --size bytes at once")
    server(sp)
    sp.add_argument("--size", type=parse_size, default=64 << 20)
    sp.add_argument("--result", required=True)

    sp = add("bidir-client", cmd_bidir_client,
             "send and receive --size bytes at once")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--size", type=parse_size, default=64 << 20)
    sp.add_argument("--io-timeout", type=float, default=120.0)

    sp = add("probe", cmd_probe,
             "send bytes, expect the server to close the connection")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--mode", choices=sorted(PROBES), default="none")
    sp.add_argument("--within", type=float, default=2.0)
    sp.add_argument("--grace", type=float, default=1.0,
                    help="keep waiting this long past --within, for the log")

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
