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
  matrix   the hostile-server matrix (HOSTILE_SERVER, one case a line) against
           a client that reconnects after each case (t_hostile_server.sh)

After the flood it keeps reading for --hold seconds (answering PINGs) and
prints one key=value line: how the channel ended (closed / open), counts of
OPEN_OK, OPEN_FAIL and RESET by reason, and the texts seen.

A target that never completes connect() on loopback: a listener with a
backlog of 0 whose one queue slot is taken and never accepted; the kernel
then drops every further SYN, so the client's connect() stays in progress.
"""

import re
import socket
import struct
import threading
import time
from collections import Counter

import os

from sec_helpers import (AUTH, CLOSE, DATAGRAM, EOF_, HELLO, MAX_WINDOW, OPEN, WINDOW, CaseError, Chan,
                         LogSegment, auth_proof, ere, frame, hello, raw, read_until_close, recv_frame,
                         rss_kb, split_frames, u32, write_matrix_row)
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


# ---------------------------------------------------------------------------
# matrix: the hostile-server cases (issue 14), one a line


class Targets:
    """The inner targets the client is sent to, all in this process: an
    echo service that records how each connection ended, a port whose
    connect() never completes, a sink that never reads (small buffers), a
    source that never stops sending, and a UDP echo."""

    def __init__(self):
        self.echo_ends = []
        self.echo = self._serve(self._echo)
        self.hole, self._filler = blackhole()
        self.sink_conns = []
        self.sink = self._serve(self._sink, rcvbuf=4096)
        self.source = self._serve(self._source)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((HOST, 0))
        threading.Thread(target=self._udp_echo, daemon=True).start()

    def port(self, which):
        s = getattr(self, which)
        return s.getsockname()[1]

    def _serve(self, handler, rcvbuf=0):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        ls.bind((HOST, 0))
        ls.listen(256)

        def loop():
            while True:
                c, _ = ls.accept()
                threading.Thread(target=handler, args=(c,), daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()
        return ls

    def _echo(self, c):
        c.settimeout(600)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    self.echo_ends.append("eof")
                    break
                c.sendall(d)
        except OSError as e:
            self.echo_ends.append("reset" if isinstance(e, ConnectionResetError) else repr(e))
        c.close()

    def _sink(self, c):
        self.sink_conns.append(c)   # held, never read

    def _source(self, c):
        chunk = b"s" * 65536
        c.settimeout(600)
        try:
            while True:
                c.sendall(chunk)
        except OSError:
            pass
        c.close()

    def _udp_echo(self):
        while True:
            d, addr = self.udp.recvfrom(65536)
            self.udp.sendto(d, addr)


class ServerCase:
    """What one case of the hostile server holds."""

    def __init__(self, a, targets):
        self.a = a
        self.t = targets
        self.ch = None
        self.sid = self.uid = 0
        self.next_id = 1
        self.window = 0
        self.metric = "-"

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def close(self):
        if self.ch:
            try:
                self.ch.s.shutdown(socket.SHUT_WR)
                read_until_close(self.ch.s, 5.0)
            except OSError:
                pass
            self.ch.s.close()


def server_handshake(c, key):
    """Be the server of an authenticated channel (--key-file) or of a
    --no-auth one; returns the Chan."""
    ch = Chan(c)
    r = ch.wait(HELLO, 10.0)
    if not r:
        raise CaseError("the client sent no HELLO")
    hc = r[2]
    hs = b"TCPF" + struct.pack("!HBB", 1, 2, 1 if key else 0) + os.urandom(32) + bytes(16) + b"\x00"
    ch.send(frame(HELLO, hs))
    if key:
        r = ch.wait(AUTH, 10.0)
        if not r or r[2][:32] != auth_proof(key, 1, hc, hs, r[2][33:]):
            raise CaseError("the client's AUTH did not prove the key")
        ch.send(frame(AUTH, auth_proof(key, 2, hc, hs, r[2][33:]) + b"\x00"))
    return ch


def open_p(port, window=1 << 20, host=HOST):
    h = host.encode() if isinstance(host, str) else host
    return struct.pack("!IHB", window, port, len(h)) + h


def udp_open_p(port, host=HOST):
    h = host.encode()
    return struct.pack("!HB", port, len(h)) + h


def s_open(k, target="echo", window=1 << 20, answered=True):
    """OPEN a stream to one of our targets; its OPEN_OK (our send credit
    becomes its window) unless not answered.  Sets k.sid."""
    k.sid = k.new_id()
    k.ch.send(frame(OPEN, open_p(k.t.port(target), window), k.sid))
    if answered:
        r = k.ch.wait(OPEN_OK, 10.0, k.sid)
        if not r:
            raise CaseError("no OPEN_OK for stream %d" % k.sid)
        if len(r[2]) != 8:  # our client sends the window and the connect time
            raise CaseError("OPEN_OK of %d bytes for stream %d, want 8" % (len(r[2]), k.sid))
        k.window = struct.unpack("!I", r[2][:4])[0]
    return k.sid


def s_closed(k):
    s_open(k)
    k.ch.send(frame(RESET, b"\x05closed by the test", k.sid))
    if not k.ch.alive():
        raise CaseError("channel gone after our RESET")


def s_udp(k):
    k.uid = k.new_id()
    k.ch.send(frame(UDP_OPEN, udp_open_p(k.t.port("udp")), k.uid))
    if not k.ch.alive():
        raise CaseError("channel gone after UDP_OPEN")


def s_udp_closed(k):
    s_udp(k)
    k.ch.send(frame(RESET, b"\x05closed by the test", k.uid))
    if not k.ch.alive():
        raise CaseError("channel gone after our RESET")


SERVER_SETUPS = {
    "up": lambda k: None,
    "stream": s_open,
    "opening": lambda k: s_open(k, "hole", answered=False),  # connect() never completes
    "sink": lambda k: s_open(k, "sink"),                     # a target that reads nothing
    "closed": s_closed,
    "udp": s_udp,
    "udp-closed": s_udp_closed,
}


def sa_beyond_credit(k):
    """DATA one byte beyond the client's credit (its target reads
    nothing); see act_beyond_credit in sec_helpers.py."""
    credit = k.window
    for _ in range(64):
        while credit:
            n = min(credit, 65536)
            k.ch.send(frame(DATA, b"c" * n, k.sid))
            credit -= n
        if not k.ch.alive():
            return False, "channel closed while we were within our credit"
        credit = k.ch.take_windows(k.sid)
        if not credit:
            break
    k.ch.send(frame(DATA, b"!", k.sid))
    how = k.ch.closed_within(5.0)
    return how != "open", "one byte beyond the credit: client %s" % (
        "closed the channel (%s)" % how if how != "open" else "kept the channel open")


def sa_data_max(k):
    """A 65,536-byte DATA goes to the echo target and comes back intact."""
    payload = os.urandom(65536)
    k.ch.send(frame(DATA, payload, k.sid))
    got = bytearray()
    deadline = time.monotonic() + 10.0
    while len(got) < len(payload) and time.monotonic() < deadline:
        r = k.ch.wait(DATA, max(0.0, deadline - time.monotonic()), k.sid)
        if not r:
            break
        got += r[2]
    same = bytes(got) == payload
    return same and k.ch.alive(), "echoed %d bytes%s" % (len(got), "" if same else " (different)")


def sa_datagram(size):
    def act(k):
        payload = os.urandom(size)
        k.ch.send(frame(DATAGRAM, payload, k.uid))
        r = k.ch.wait(DATAGRAM, 5.0, k.uid)
        if not r:
            return False, "no DATAGRAM came back"
        return r[2] == payload and k.ch.alive(), "a %d-byte DATAGRAM came back%s" % (
            len(r[2]), "" if r[2] == payload else " (different)")
    return act


def sa_reset_live(k):
    """Our RESET of a live stream: the client resets its target
    connection (RST), the channel stays."""
    before = len(k.t.echo_ends)
    k.ch.send(frame(RESET, b"\x01reset by the hostile server", k.sid))
    deadline = time.monotonic() + 5.0
    while len(k.t.echo_ends) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    end = k.t.echo_ends[before] if len(k.t.echo_ends) > before else "still open"
    return end == "reset" and k.ch.alive(), "the target connection ended: %s" % end


def sa_streams_cap(k):
    """--max-streams + 5 OPENs: OPEN_OK up to the cap, OPEN_FAIL resource
    limit beyond; once one stream ends, a new OPEN is served again."""
    ids = [k.new_id() for _ in range(k.a.max_streams + 5)]
    for i in ids:
        k.ch.send(frame(OPEN, open_p(k.t.port("echo")), i))
    ok_n = fail_n = 0
    deadline = time.monotonic() + 10.0
    while ok_n + fail_n < len(ids) and time.monotonic() < deadline:
        r = k.ch.next(max(0.0, deadline - time.monotonic()))
        if r and r[0] == OPEN_OK:
            ok_n += 1
        elif r and r[0] == OPEN_FAIL and r[2][:1] == b"\x07":
            fail_n += 1
    k.ch.send(frame(RESET, b"\x05one stream less", ids[0]))
    again = k.ch.alive() and s_open(k) and True
    ok = ok_n == k.a.max_streams and fail_n == 5 and again and k.ch.alive()
    return ok, "%d OPEN_OK, %d OPEN_FAIL resource limit, after one ended: %s" % (
        ok_n, fail_n, "OPEN_OK" if again else "none")


def sa_udp_cap(k):
    """--max-udp-sessions + 3 UDP_OPENs: the last 3 get OPEN_FAIL."""
    ids = [k.new_id() for _ in range(k.a.max_udp + 3)]
    for i in ids:
        k.ch.send(frame(UDP_OPEN, udp_open_p(k.t.port("udp")), i))
    fails = []
    deadline = time.monotonic() + 10.0
    while len(fails) < 3 and time.monotonic() < deadline:
        r = k.ch.wait(OPEN_FAIL, max(0.0, deadline - time.monotonic()))
        if not r:
            break
        fails.append((r[1], r[2][:1]))
    want = [(i, b"\x07") for i in ids[-3:]]
    ok = fails == want and k.ch.alive()
    return ok, "OPEN_FAIL for %s" % ([i for i, _ in fails] or "none")


def sa_stuck(k):
    """OPEN with a 1 GiB window to a target that never stops sending,
    then we read nothing (PINGs only): the client closes the channel, its
    memory bounded by the channel's queue (peak VmRSS)."""
    k.sid = k.new_id()
    k.ch.send(frame(OPEN, open_p(k.t.port("source"), MAX_WINDOW), k.sid))
    seg = k.segment
    closed = re.compile("server %s: channel closed" % ere(k.a.peer))
    peak = 0
    deadline = time.monotonic() + 30.0
    next_ping = 0.0
    while time.monotonic() < deadline and not closed.search(seg.text()):
        peak = max(peak, rss_kb(k.a.client_pid) or 0)
        if time.monotonic() >= next_ping:
            next_ping = time.monotonic() + 0.3
            try:
                k.ch.send(frame(PING, b"stuck..."))
            except OSError:
                pass
        time.sleep(0.05)
    k.metric = peak
    return closed.search(seg.text()) is not None, "client VmRSS peak %d KiB" % peak


N = 1000  # an id the server never sent an OPEN for
NEVER = "frame for stream 1000 that was never opened"

# The matrix, as HOSTILE_CLIENT in sec_helpers.py but from the server's
# side: expect error (the client closes the channel; the log text follows
# "protocol error: "), ignored (dropped silently, our PING is answered),
# close (the client ends the channel with our CLOSE text, printable), or
# an sa_* function's own check.  {sid}/{uid}: the case's stream/session.
HOSTILE_SERVER = [
    # name                     setup         what the server sends                                   expect       log
    ("hello-again",            "up",         lambda k: frame(HELLO, b"TCPF" + struct.pack("!HBB", 1, 2, 1) + bytes(49)), "error", "HELLO after the handshake"),
    ("auth-again",             "up",         lambda k: frame(AUTH, bytes(32) + b"\x00"),             "error",     "AUTH outside the handshake"),
    ("open-ok-to-client",      "up",         lambda k: frame(OPEN_OK, u32(1 << 20), N),              "error",     "OPEN_OK sent to the client"),
    ("open-fail-to-client",    "up",         lambda k: frame(OPEN_FAIL, b"\x01no", N),               "error",     "OPEN_FAIL sent to the client"),
    ("open-reuses-id",         "stream",     lambda k: frame(OPEN, open_p(k.t.port("echo")), k.sid), "error",     "OPEN reuses stream id {sid}"),
    ("open-lower-id",          "stream",     lambda k: frame(OPEN, open_p(k.t.port("echo")), k.sid + 1) + frame(OPEN, open_p(k.t.port("echo")), k.sid), "error", "OPEN reuses stream id {sid}"),
    ("open-skips-ids",         "up",         lambda k: frame(OPEN, open_p(k.t.port("echo")), 3) + frame(DATA, b"x", 1), "error", "OPEN skips stream ids: got 3, the next is 1"),
    ("udp-open-skips-ids",     "up",         lambda k: frame(UDP_OPEN, udp_open_p(k.t.port("udp")), 2) + frame(DATAGRAM, b"x", 1), "error", "UDP_OPEN skips ids: got 2, the next is 1"),
    ("udp-open-reuses-id",     "udp",        lambda k: frame(UDP_OPEN, udp_open_p(k.t.port("udp")), k.uid), "error", "UDP_OPEN reuses id {uid}"),
    ("open-window-0",          "up",         lambda k: frame(OPEN, open_p(k.t.port("echo"), 0), 1),  "error",     "OPEN with bad window 0"),
    ("open-window-2^32-1",     "up",         lambda k: frame(OPEN, open_p(k.t.port("echo"), 0xFFFFFFFF), 1), "error", "OPEN with bad window 4294967295"),
    ("open-window-2^30+1",     "up",         lambda k: frame(OPEN, open_p(k.t.port("echo"), MAX_WINDOW + 1), 1), "error", "OPEN with bad window 1073741825"),
    ("open-port-0",            "up",         lambda k: frame(OPEN, open_p(0), 1),                     "error",     "OPEN with port 0"),
    ("open-nul-host",          "up",         lambda k: frame(OPEN, open_p(80, host=b"127.0.0.1\0evil"), 1), "error", "OPEN with NUL in host"),
    ("open-malformed",         "up",         lambda k: frame(OPEN, open_p(80)[:-1], 1),               "error",     "malformed OPEN payload"),
    ("open-too-long",          "up",         lambda k: raw(OPEN, 430, b"o" * 430, 1),                 "error",     "OPEN frame with bad length 430"),
    ("open-id-0",              "up",         lambda k: frame(OPEN, open_p(80), 0),                    "error",     "OPEN frame with bad stream id 0"),
    ("udp-open-port-0",        "up",         lambda k: frame(UDP_OPEN, udp_open_p(0), 1),             "error",     "UDP_OPEN with port 0"),
    ("data-never-opened",      "up",         lambda k: frame(DATA, b"x" * 100, N),                    "error",     NEVER),
    ("data-closed",            "closed",     lambda k: frame(DATA, b"x" * 100, k.sid),                "ignored",   None),
    ("data-after-eof",         "stream",     lambda k: frame(EOF_, b"", k.sid) + frame(DATA, b"x", k.sid), "error", "DATA on stream {sid} in state open after EOF"),
    ("data-zero-length",       "stream",     lambda k: raw(DATA, 0, b"", k.sid),                      "error",     "DATA frame with bad length 0"),
    ("data-max-length",        "stream",     sa_data_max,                                             "delivered", None),
    ("data-too-long",          "stream",     lambda k: raw(DATA, 65537, b"x" * 4096, k.sid),          "error",     "DATA frame with bad length 65537"),
    ("data-length-2^32-1",     "stream",     lambda k: raw(DATA, 0xFFFFFFFF, b"x" * 4096, k.sid),     "error",     "DATA frame with bad length 4294967295"),
    ("data-beyond-credit",     "sink",       sa_beyond_credit,                                        "error",     "stream {sid}: peer sent [0-9]+ bytes with only [0-9]+ bytes of credit"),
    ("early-data-beyond",      "opening",    lambda k: frame(DATA, b"e" * 65536, k.sid) + frame(DATA, b"!", k.sid), "error", "stream {sid}: early data beyond the 65536-byte window"),
    ("data-on-udp-session",    "udp",        lambda k: frame(DATA, b"x" * 100, k.uid),                "ignored",   None),
    ("eof-never-opened",       "up",         lambda k: frame(EOF_, b"", N),                           "error",     NEVER),
    ("eof-closed",             "closed",     lambda k: frame(EOF_, b"", k.sid),                       "ignored",   None),
    ("eof-twice",              "stream",     lambda k: frame(EOF_, b"", k.sid) * 2,                   "error",     "EOF on stream {sid} in state open twice"),
    ("eof-with-payload",       "stream",     lambda k: raw(EOF_, 1, b"x", k.sid),                     "error",     "EOF frame with bad length 1"),
    ("reset-never-opened",     "up",         lambda k: frame(RESET, b"\x05x", N),                     "error",     NEVER),
    ("reset-closed",           "closed",     lambda k: frame(RESET, b"\x05x", k.sid),                 "ignored",   None),
    ("reset-live",             "stream",     sa_reset_live,                                           "rst",       "stream {sid} closed: target .*reset by peer"),
    ("reset-empty",            "stream",     lambda k: raw(RESET, 0, b"", k.sid),                     "error",     "RESET frame with bad length 0"),
    ("reset-text-too-long",    "stream",     lambda k: frame(RESET, b"\x05" + b"t" * 201, k.sid),     "error",     "RESET frame with bad length 202"),
    ("window-never-opened",    "up",         lambda k: frame(WINDOW, u32(1000), N),                   "error",     NEVER),
    ("window-closed",          "closed",     lambda k: frame(WINDOW, u32(1000), k.sid),               "ignored",   None),
    ("window-opening",         "opening",    lambda k: frame(WINDOW, u32(1000), k.sid),               "error",     "WINDOW on stream {sid} in state opening"),
    ("window-0",               "stream",     lambda k: frame(WINDOW, u32(0), k.sid),                  "error",     "bad window value 0"),
    ("window-2^32-1",          "stream",     lambda k: frame(WINDOW, u32(0xFFFFFFFF), k.sid),         "error",     "bad window value 4294967295"),
    ("window-overflow",        "stream",     lambda k: frame(WINDOW, u32(MAX_WINDOW), k.sid),         "error",     "stream {sid}: WINDOW overflows the maximum credit"),
    ("window-overflow-sum",    "stream",     lambda k: frame(WINDOW, u32(MAX_WINDOW // 2), k.sid) * 3, "error",    "stream {sid}: WINDOW overflows the maximum credit"),
    ("window-too-long",        "stream",     lambda k: raw(WINDOW, 5, u32(1) + b"\0", k.sid),         "error",     "WINDOW frame with bad length 5"),
    ("window-huge-no-read",    "up",         sa_stuck,                                                "stuck",     "server {peer}: channel closed: the peer (has read nothing for .*presumed stuck|does not read)"),
    ("window-on-udp-session",  "udp",        lambda k: frame(WINDOW, u32(1000), k.uid),               "ignored",   None),
    ("eof-on-udp-session",     "udp",        lambda k: frame(EOF_, b"", k.uid),                       "ignored",   None),
    ("ping-stream-id",         "up",         lambda k: frame(PING, b"12345678", 5),                   "error",     "PING frame with bad stream id 5"),
    ("ping-bad-length",        "up",         lambda k: raw(PING, 9, b"123456789"),                    "error",     "PING frame with bad length 9"),
    ("pong-unsolicited",       "up",         lambda k: frame(PONG, b"unasked!"),                      "ignored",   None),
    ("close-junk",             "up",         lambda k: frame(CLOSE, b"\xff\x00\x1b[31m\n" + os.urandom(190)), "close", "server {peer}: channel closed: the server closed the channel: "),
    ("close-empty",            "up",         lambda k: raw(CLOSE, 0),                                 "error",     "CLOSE frame with bad length 0"),
    ("close-stream-id",        "up",         lambda k: frame(CLOSE, b"\x06x", 3),                     "error",     "CLOSE frame with bad stream id 3"),
    ("unknown-type-0x00",      "up",         lambda k: raw(0x00, 0),                                  "error",     "unknown frame type 0x00"),
    ("unknown-type-0x1f",      "up",         lambda k: raw(0x1F, 4, b"abcd"),                         "error",     "unknown frame type 0x1f"),
    ("expose-unagreed",        "up",         lambda k: raw(0x10, 7, b"\0\0\0\1\0\x4e\x21"),            "error",     "EXPOSE_REPLY without the EXPOSE feature agreed in HELLO"),
    ("unknown-type-0xff",      "stream",     lambda k: raw(0xFF, 0xFFFFFFFF, b"", k.sid),             "error",     "unknown frame type 0xff"),
    ("flags-nonzero",          "up",         lambda k: raw(PING, 8, b"12345678", flags=1),            "error",     "non-zero flags/reserved bits in PING frame"),
    ("reserved-nonzero",       "stream",     lambda k: raw(DATA, 1, b"x", k.sid, reserved=1),         "error",     "non-zero flags/reserved bits in DATA frame"),
    ("hello-too-long",         "up",         lambda k: raw(HELLO, 122, b"h" * 122),                   "error",     "HELLO frame with bad length 122"),
    ("datagram-never-opened",  "up",         lambda k: frame(DATAGRAM, b"d" * 10, N),                 "error",     NEVER),
    ("datagram-closed",        "udp-closed", lambda k: frame(DATAGRAM, b"d" * 10, k.uid),             "ignored",   None),
    ("datagram-zero-length",   "udp",        sa_datagram(0),                                          "delivered", None),
    ("datagram-max-length",    "udp",        sa_datagram(65507),                                      "delivered", None),
    ("datagram-too-long",      "udp",        lambda k: raw(DATAGRAM, 65508, b"d" * 4096, k.uid),      "error",     "DATAGRAM frame with bad length 65508"),
    ("datagram-on-stream",     "stream",     lambda k: frame(DATAGRAM, b"d" * 10, k.sid),             "ignored",   None),
    ("streams-cap",            "up",         sa_streams_cap,                                          "cap",       "asked for .*refused, {cap} streams open, the --max-streams limit"),
    ("udp-sessions-cap",       "up",         sa_udp_cap,                                              "cap",       "asked for .*\\(udp, id [0-9]+\\): refused, {ucap} UDP sessions open, the --max-udp-sessions limit"),
]


def server_case_pattern(k, expect, text):
    """(pattern the client log must show during the case, count, pattern
    it must not show)."""
    fill = lambda t: t.format(peer=ere(k.a.peer), sid=k.sid, uid=k.uid,
                              cap=k.a.max_streams, ucap=k.a.max_udp)
    mine = "server %s: channel closed: " % ere(k.a.peer)
    if expect == "error":
        return mine + "protocol error: " + fill(text), 1, "-"
    if expect in ("ignored", "delivered"):
        return mine + "peer closed the channel", 1, mine + "protocol error"
    if expect in ("cap", "rst"):
        return fill(text), 1, mine + "protocol error"
    return fill(text), 1, "-"


def cmd_matrix(a):
    """The hostile-server matrix (HOSTILE_SERVER) against one forward-client
    that connects (and reconnects after every case) to --port."""
    key = b""
    if a.key_file:
        with open(a.key_file) as f:
            key = bytes.fromhex(f.read().strip())
    targets = Targets()
    ls = listener(a.port)
    a.peer = "%s:%d" % (HOST, a.port)
    only = set(a.only.split(",")) if a.only else None
    os.makedirs(a.out_dir, exist_ok=True)
    failed = ran = 0
    for n, (name, setup, action, expect, text) in enumerate(HOSTILE_SERVER, 1):
        if only and name not in only:
            continue
        ran += 1
        k = ServerCase(a, targets)
        k.segment = seg = LogSegment(a.client_log)
        t0 = time.monotonic()
        ls.settimeout(a.accept_timeout)
        try:
            c, _ = ls.accept()
        except socket.timeout:
            write_matrix_row(a.out_dir, {"n": "%02d" % n, "name": name, "peer": a.peer, "expect": expect,
                                         "wire_ok": 0, "wire": "the client did not reconnect within %.0f s"
                                         % a.accept_timeout, "count": 1, "pattern": "-", "absent": "-",
                                         "metric": "-"})
            failed += 1
            log("case %02d %-24s the client did not reconnect" % (n, name))
            break
        try:
            k.ch = server_handshake(c, key)
            if not seg.wait("server %s: channel up" % ere(a.peer), 5.0):
                raise CaseError("the client did not log 'channel up'")
            SERVER_SETUPS[setup](k)
            r = action(k)
            if isinstance(r, tuple):
                ok, wire = r
            elif expect == "ignored":
                k.ch.send(r)
                ok = k.ch.alive()
                wire = "PONG after it" if ok else "no PONG after it (%s)" % k.ch.closed_within(0.5)
            else:
                if r:
                    k.ch.send(r)
                how = k.ch.closed_within(5.0)
                ok = how != "open"
                wire = "client closed the channel (%s)" % how if ok else "channel still open after 5 s"
        except (CaseError, EOFError, OSError) as e:
            ok, wire = False, "%s: %r" % (type(e).__name__, e)
        k.close()
        pattern, count, absent = server_case_pattern(k, expect, text)
        seg.wait("server %s: channel closed" % ere(a.peer), 10.0)
        seg.wait(pattern, 3.0)
        alive = rss_kb(a.client_pid) is not None
        if not alive:
            ok, wire = False, wire + "; THE CLIENT IS GONE"
        seg.save(os.path.join(a.out_dir, "%02d.seg" % n))
        write_matrix_row(a.out_dir, {"n": "%02d" % n, "name": name, "peer": a.peer, "expect": expect,
                                     "wire_ok": int(bool(ok)), "wire": wire, "count": count,
                                     "pattern": pattern, "absent": absent, "metric": k.metric})
        failed += not ok
        log("case %02d %-24s %-9s %s: %s (%.2f s)" % (n, name, expect, "ok" if ok else "FAILED", wire,
                                                     time.monotonic() - t0))
        if not alive:
            break
    ls.close()
    out("cases=%d wire_failed=%d" % (ran, failed))


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
    sp = add("matrix", cmd_matrix)
    sp.add_argument("--port", type=int, required=True, help="listen here (the client's SERVER_PORT)")
    sp.add_argument("--key-file", default="", help="authenticate with this key (else the client runs --no-auth)")
    sp.add_argument("--client-pid", type=int, required=True)
    sp.add_argument("--client-log", required=True)
    sp.add_argument("--out-dir", required=True)
    sp.add_argument("--max-streams", type=int, required=True, help="the client's --max-streams")
    sp.add_argument("--max-udp", type=int, required=True, help="the client's --max-udp-sessions")
    sp.add_argument("--accept-timeout", type=float, default=15.0)
    sp.add_argument("--only", help="comma-separated case names")
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
