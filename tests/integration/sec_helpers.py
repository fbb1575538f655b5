#!/usr/bin/env python3
"""Attack and measurement tools for the tcp-forward security tests.

Python 3 standard library only, 127.0.0.0/8 only.  Like helpers.py: every
socket operation has a timeout, every server a bounded lifetime, results go
to stdout as one ``key=value`` line, diagnostics to stderr, exit status 0
means the check passed.

  relay         TCP relay that records both directions per connection (and
                can flip one byte in flight, a man in the middle)
  peer          connect (from any 127.x source), send, expect an echo or a close
  maxconn       the MAX_CONNECTIONS scenario (two held, third closed, ...)
  replay        send recorded client bytes to INNER_PORT, report the outcome
  fake-server   pretend to be forward-server: replay recorded server bytes,
                or reflect the client's own handshake, then try an OPEN
  canary        listener that records every connection it gets
  junk          1,000 junk / half-open connections to INNER_PORT, in batches
  sample        max ESTABLISHED sockets of a PID on a port, max VmRSS
  check-capture the key (hex, upper hex, base64, raw bytes) is absent from files
  check-absent  a marker string is absent from files (and present in others)
  hostile-client  the hostile-client matrix (HOSTILE_CLIENT, one case a line):
                an authenticated client that sends every frame at the wrong
                moment, unknown ids, huge windows, bad lengths, too many streams
  steady        one echo connection kept busy at a fixed rate, every byte checked

Run ``sec_helpers.py CMD -h`` for the options of each.
"""

import base64
import os
import re
import selectors
import socket
import struct
import sys
import threading
import time

from testnet import HOST, connect, listener, log, out, subcommands

HEADER = 12
HELLO, OPEN, DATA, AUTH, PING, CLOSE = 0x01, 0x02, 0x05, 0x0B, 0x09, 0x0E


def frame(ftype, payload=b"", stream=0):
    return struct.pack("!BBHII", ftype, 0, 0, stream, len(payload)) + payload


def split_frames(data):
    """[(type, stream, payload)] of the complete frames at the start of data."""
    frames = []
    pos = 0
    while len(data) - pos >= HEADER:
        t, _fl, _res, sid, n = struct.unpack("!BBHII", data[pos:pos + HEADER])
        if len(data) - pos - HEADER < n:
            break
        frames.append((t, sid, data[pos + HEADER:pos + HEADER + n]))
        pos += HEADER + n
    return frames, pos


def read_until_close(s, limit, first_only=False):
    """Read until EOF/reset/limit seconds.  Returns (how, bytes)."""
    got = bytearray()
    deadline = time.monotonic() + limit
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "still-open", bytes(got)
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            return "still-open", bytes(got)
        except OSError:
            return "reset", bytes(got)
        if not data:
            return "eof", bytes(got)
        got += data
        if first_only:
            return "data", bytes(got)


# ---------------------------------------------------------------------------
# relay


def cmd_relay(a):
    """Accept on --listen, connect --target, copy both ways; connection i is
    recorded to PREFIX.i.c2s and PREFIX.i.s2c (flushed as it goes)."""
    ls = listener(a.listen)
    log("relay listening on %s:%d -> %d" % (HOST, a.listen, a.target))
    deadline = time.monotonic() + a.lifetime
    n = 0

    def pump(src, dst, path, tamper_at, mask):
        pos = 0
        with open(path, "wb") as f:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                if tamper_at is not None and pos <= tamper_at < pos + len(data):
                    b = bytearray(data)
                    b[tamper_at - pos] ^= mask
                    data = bytes(b)
                    log("tampered byte %d of %s" % (tamper_at, path))
                pos += len(data)
                f.write(data)
                f.flush()
                try:
                    dst.sendall(data)
                except OSError:
                    break
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    while time.monotonic() < deadline:
        ls.settimeout(0.5)
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
        i = n
        n += 1
        log("relay connection %d from %s:%d" % ((i,) + addr))
        for src, dst, d, at, mask in (
                (c, u, "c2s", a.tamper_c2s, a.mask_c2s),
                (u, c, "s2c", a.tamper_s2c, a.mask_s2c)):
            if a.tamper_first_only and i > 0:
                at = None
            threading.Thread(target=pump, daemon=True,
                             args=(src, dst, "%s.%d.%s" % (a.record, i, d), at, mask)).start()
    log("relay lifetime over")


# ---------------------------------------------------------------------------
# public-side peers


def cmd_peer(a):
    """Connect from --src to --port.  --expect echo: send --send bytes and
    read them back (closing our side after); --expect closed: the server
    must close (EOF or reset) within --within s without sending a byte."""
    t0 = time.monotonic()
    try:
        s = connect(a.port, src=a.src, timeout=a.within)
    except OSError as e:
        out("how=connect-failed error=%r ok=%d" % (e, a.expect == "refused"))
        sys.exit(0 if a.expect == "refused" else 1)
    local = "%s:%d" % s.getsockname()
    payload = os.urandom(a.send) if a.send else b""
    if a.marker and a.send:
        m = a.marker.encode()
        payload = (m * (a.send // len(m) + 1))[:a.send]
    if a.expect == "echo":
        got = bytearray()
        how = "eof"
        try:
            s.sendall(payload)
            s.settimeout(a.within)
            while len(got) < len(payload):
                data = s.recv(65536)
                if not data:
                    break
                got += data
            how = "echoed" if bytes(got) == payload else "short/different"
        except socket.timeout:
            how = "timeout"
        except OSError as e:
            how = "error(%s)" % type(e).__name__
        s.close()
        ok = how == "echoed"
        out("local=%s how=%s sent=%d got=%d elapsed=%.3f ok=%d"
            % (local, how, len(payload), len(got), time.monotonic() - t0, ok))
        sys.exit(0 if ok else 1)
    # closed
    if payload:
        try:
            s.sendall(payload)
        except OSError:
            pass
    how, got = read_until_close(s, a.within)
    s.close()
    elapsed = time.monotonic() - t0
    ok = how in ("eof", "reset") and not got
    out("local=%s how=%s got=%d elapsed=%.3f ok=%d" % (local, how, len(got), elapsed, ok))
    sys.exit(0 if ok else 1)


def echo_once(s, n=1000, timeout=5.0):
    data = os.urandom(n)
    s.settimeout(timeout)
    s.sendall(data)
    got = bytearray()
    while len(got) < n:
        d = s.recv(65536)
        if not d:
            return False
        got += d
    return bytes(got) == data


def cmd_maxconn(a):
    """Open --limit connections and prove each echoes; one more must be
    closed without data; the held ones still echo; after one is closed a
    new connection is served (retrying for up to --settle s)."""
    res = {}
    held = []
    for i in range(a.limit):
        s = connect(a.port)
        if not echo_once(s):
            out("step=held-%d result=no-echo ok=0" % i)
            sys.exit(1)
        held.append(s)
    res["held"] = len(held)
    extra = connect(a.port)
    how, got = read_until_close(extra, 2.0)
    extra.close()
    res["extra"] = "%s/%d" % (how, len(got))
    if how not in ("eof", "reset") or got:
        out(" ".join("%s=%s" % kv for kv in res.items()) + " step=extra ok=0")
        sys.exit(1)
    for i, s in enumerate(held):
        if not echo_once(s):
            out(" ".join("%s=%s" % kv for kv in res.items()) + " step=held-after-%d ok=0" % i)
            sys.exit(1)
    res["held_after"] = "echo"
    held[0].close()
    deadline = time.monotonic() + a.settle
    tries = 0
    while True:
        tries += 1
        s = connect(a.port)
        try:
            ok = echo_once(s, timeout=2.0)
        except OSError:
            ok = False
        s.close()
        if ok:
            break
        if time.monotonic() > deadline:
            out(" ".join("%s=%s" % kv for kv in res.items()) +
                " step=new-after-close tries=%d ok=0" % tries)
            sys.exit(1)
        time.sleep(0.1)
    res["new_after_close"] = "echo"
    res["tries"] = tries
    for s in held[1:]:
        if not echo_once(s):
            out(" ".join("%s=%s" % kv for kv in res.items()) + " step=held-final ok=0")
            sys.exit(1)
        s.close()
    out(" ".join("%s=%s" % kv for kv in res.items()) + " ok=1")
    sys.exit(0)


# ---------------------------------------------------------------------------
# handshake attacks


def cmd_replay(a):
    """Replay recorded client->server bytes to --port.  burst: all at once;
    interactive: the first frame, wait for the server's HELLO, then the
    rest.  Prints what the server sent back and how the connection ended."""
    with open(a.file, "rb") as f:
        data = f.read()
    frames, used = split_frames(data)
    if not frames or frames[0][0] != HELLO:
        out("error=recording-does-not-start-with-HELLO frames=%d ok=0" % len(frames))
        sys.exit(1)
    if a.handshake_only:
        frames = [fr for fr in frames if fr[0] in (HELLO, AUTH)]
    t0 = time.monotonic()
    s = connect(a.port)
    local = "%s:%d" % s.getsockname()
    got = b""
    if a.mode == "burst":
        s.sendall(b"".join(frame(t, p, sid) for t, sid, p in frames))
    else:
        s.sendall(frame(frames[0][0], frames[0][2], frames[0][1]))
        how, got = read_until_close(s, 5.0, first_only=True)
        try:
            s.sendall(b"".join(frame(t, p, sid) for t, sid, p in frames[1:]))
        except OSError:
            pass
    how, more = read_until_close(s, a.within)
    got += more
    s.close()
    types = [t for t, _sid, _p in split_frames(got)[0]]
    # The server answers HELLO; it must never send anything after that (an
    # AUTH proof or an OPEN) to a replayer.
    ok = how in ("eof", "reset") and all(t == HELLO for t in types) and types.count(HELLO) <= 1
    out("local=%s frames_sent=%d how=%s got=%d server_frames=%s elapsed=%.3f ok=%d"
        % (local, len(frames), how, len(got), ",".join("%#x" % t for t in types) or "-",
           time.monotonic() - t0, ok))
    sys.exit(0 if ok else 1)


def cmd_offsets(a):
    """Byte offsets, in a recorded direction, of the first HELLO's flags
    byte and nonce and of the first AUTH's proof (for --tamper-*)."""
    with open(a.file, "rb") as f:
        data = f.read()
    frames, _ = split_frames(data)
    pos = 0
    res = {}
    for t, _sid, p in frames:
        if t == HELLO and "hello_flags" not in res:
            res["hello_flags"] = pos + HEADER + 7
            res["hello_nonce"] = pos + HEADER + 8
        if t == AUTH and "auth_proof" not in res:
            res["auth_proof"] = pos + HEADER
        pos += HEADER + len(p)
    out(" ".join("%s=%d" % kv for kv in sorted(res.items())))
    sys.exit(0 if len(res) == 3 else 1)


def cmd_session_of(a):
    """The session id (hex) in the first HELLO of recorded client bytes."""
    with open(a.file, "rb") as f:
        frames, _ = split_frames(f.read())
    if not frames or frames[0][0] != HELLO or len(frames[0][2]) < 56:
        sys.exit(1)
    out(frames[0][2][40:56].hex())


def cmd_skip_auth(a):
    """Send the recorded client HELLO (first frame of --file), wait for the
    server's HELLO, then a PING instead of AUTH.  The server must close the
    connection having sent nothing but its HELLO."""
    with open(a.file, "rb") as f:
        frames, _ = split_frames(f.read())
    s = connect(a.port)
    local = "%s:%d" % s.getsockname()
    t, sid, p = frames[0]
    s.sendall(frame(t, p, sid))
    how, got = read_until_close(s, 5.0, first_only=True)
    try:
        s.sendall(frame(PING, b"12345678") + frame(OPEN + 1, struct.pack("!I", 1 << 20), stream=1))
    except OSError:
        pass
    how, more = read_until_close(s, a.within)
    got += more
    s.close()
    types = [t for t, _s, _p in split_frames(got)[0]]
    ok = how in ("eof", "reset") and types == [HELLO]
    out("local=%s how=%s server_frames=%s ok=%d"
        % (local, how, ",".join("%#x" % t for t in types) or "-", ok))
    sys.exit(0 if ok else 1)


def recv_frame(s):
    """One whole frame (type, stream, payload), or None at EOF."""
    buf = b""
    while len(buf) < HEADER:
        d = s.recv(HEADER - len(buf))
        if not d:
            return None
        buf += d
    t, _fl, _res, sid, n = struct.unpack("!BBHII", buf)
    p = b""
    while len(p) < n:
        d = s.recv(n - len(p))
        if not d:
            return None
        p += d
    return t, sid, p


def cmd_client(a):
    """A minimal forward-client written from docs/PROTOCOL.md (plain TCP):
    HELLO with a chosen --session (hex) and --tag, AUTH with --key-file and
    --name (none with --no-auth); then for --hold s, by --mode:
      polite  answer PINGs, refuse every OPEN (OPEN_FAIL not allowed);
      serve   answer PINGs, accept every OPEN (OPEN_OK) and echo its data,
              counting the early data that came with it;
      silent  answer PINGs, never answer an OPEN;
      ping-flood  send --pings PINGs as fast as possible and read nothing.
    A CLOSE frame from the server is reported as refused=/closed= with its
    text.  For attacks by a client that holds a valid key."""
    import hashlib
    import hmac
    key = b""
    if not a.no_auth:
        with open(a.key_file) as f:
            key = bytes.fromhex(f.read().strip())
    name = a.name.encode()
    tag = a.tag.encode()
    session = bytes.fromhex(a.session) if a.session else os.urandom(16)
    s = connect(a.port, timeout=10.0)
    local = "%s:%d" % s.getsockname()
    flags = 0 if a.no_auth else 1
    hc = b"TCPF" + struct.pack("!HBB", 1, 1, flags) + os.urandom(32) + session + bytes([len(tag)]) + tag
    s.sendall(frame(HELLO, hc))
    r = recv_frame(s)
    if not r or r[0] != HELLO:
        out("local=%s auth=no-server-hello ok=0" % local)
        sys.exit(1)
    hs = r[2]
    label = b"tcp-forward channel auth\0"

    def proof(role):
        msg = label + bytes([role, len(hc)]) + hc + bytes([len(hs)]) + hs + bytes([len(name)]) + name
        return hmac.new(key, msg, hashlib.sha256).digest()

    if not a.no_auth:
        time.sleep(a.auth_delay)  # a slow handshake (a TLS client far away)
        try:
            s.sendall(frame(AUTH, proof(1) + bytes([len(name)]) + name))
            r = recv_frame(s)
        except OSError:
            r = None
        if r and r[0] == CLOSE:
            out("local=%s auth=refused refused=%r ok=0" % (local, r[2][1:].decode(errors="replace")))
            sys.exit(2)
        if not r or r[0] != AUTH or not hmac.compare_digest(r[2][:32], proof(2)):
            out("local=%s auth=failed ok=0" % local)
            sys.exit(1)
    log("local=%s authenticated as %r" % (local, a.name))
    if a.mode == "ping-flood":
        # Many PINGs per send, never a read: the server's answers pile up
        # unless it stops answering.
        batch = frame(PING, b"12345678") * 4096
        sent = 0
        how = "sent"
        s.settimeout(5.0)
        end = time.monotonic() + a.hold
        try:
            while sent < a.pings and time.monotonic() < end:
                s.sendall(batch)
                sent += 4096
        except OSError as e:
            how = "closed-by-server(%s)" % type(e).__name__
        out("local=%s auth=ok how=%s pings=%d ok=1" % (local, how, sent))
        s.close()
        return
    opens = 0
    early = 0
    how = "held"
    end = time.monotonic() + a.hold
    s.settimeout(0.2)
    closed_text = ""
    while time.monotonic() < end:
        try:
            r = recv_frame(s)
        except socket.timeout:
            continue
        except OSError:
            how = "reset"
            break
        if r is None:
            how = "closed-by-server"
            break
        t, sid, p = r
        if t == PING:
            s.sendall(frame(PING + 1, p))
        elif t == OPEN:
            opens += 1
            if a.mode == "polite":
                # refuse politely: OPEN_FAIL, reason 6 (not allowed)
                s.sendall(frame(0x04, b"\x06attack client", stream=sid))
            elif a.mode == "serve":
                s.sendall(frame(0x03, struct.pack("!I", 1 << 20), stream=sid))
        elif t == DATA:
            early += len(p)
            if a.mode == "serve":
                s.sendall(frame(DATA, p, stream=sid))
        elif t == CLOSE:
            closed_text = p[1:].decode(errors="replace")
        log("frame %#x stream %d len %d" % (t, sid, len(p)))
    s.close()
    out("local=%s auth=ok how=%s opens=%d data=%d closed=%r ok=1" % (local, how, opens, early, closed_text))


def cmd_fake_server(a):
    """Listen on --port like forward-server.  For each client (up to
    --count): read its HELLO, then
      replay:  send the recorded server bytes (--file) verbatim,
      reflect: send the client's own HELLO (role byte set to server) and,
               when the client sends its AUTH, that AUTH straight back;
    then an OPEN for 127.0.0.1:--open-port, and record what the client sent
    (PREFIX.i.c2s)."""
    recorded = b""
    if a.file:
        with open(a.file, "rb") as f:
            recorded = f.read()
        frames, _ = split_frames(recorded)
        # the server's HELLO and AUTH only: never stream frames
        recorded = b"".join(frame(t, p, sid) for t, sid, p in frames if t in (HELLO, AUTH))
    ls = listener(a.port)
    log("fake server (%s) on %s:%d" % (a.mode, HOST, a.port))
    deadline = time.monotonic() + a.lifetime
    served = 0
    while served < a.count and time.monotonic() < deadline:
        ls.settimeout(0.5)
        try:
            c, addr = ls.accept()
        except socket.timeout:
            continue
        i = served
        served += 1
        c.settimeout(5.0)
        seen = bytearray()
        try:
            while len(split_frames(bytes(seen))[0]) < 1:
                d = c.recv(65536)
                if not d:
                    break
                seen += d
            frames, _ = split_frames(bytes(seen))
            if not frames:
                log("client %d sent no HELLO" % i)
                c.close()
                continue
            if a.mode == "replay":
                c.sendall(recorded)
            else:
                t, sid, p = frames[0]
                p = bytearray(p)
                p[6] = 2  # role: server
                c.sendall(frame(HELLO, bytes(p)))
                # wait for the client's AUTH and reflect it
                end = time.monotonic() + 5.0
                while time.monotonic() < end:
                    frames, _ = split_frames(bytes(seen))
                    auths = [fr for fr in frames if fr[0] == AUTH]
                    if auths:
                        c.sendall(frame(AUTH, auths[0][2]))
                        break
                    d = c.recv(65536)
                    if not d:
                        break
                    seen += d
            # a peer that could not prove the key tries its luck anyway
            host = b"127.0.0.1"
            op = struct.pack("!IHB", 1 << 20, a.open_port, len(host)) + host
            try:
                c.sendall(frame(OPEN, op, stream=1))
            except OSError:
                pass
            how, more = read_until_close(c, 5.0)
            seen += more
        except OSError as e:
            log("client %d: %r" % (i, e))
            how = "error"
        with open("%s.%d.c2s" % (a.record, i), "wb") as f:
            f.write(bytes(seen))
        types = [t for t, _s, _p in split_frames(bytes(seen))[0]]
        out("client=%d from=%s:%d how=%s client_frames=%s"
            % (i, addr[0], addr[1], how, ",".join("%#x" % t for t in types) or "-"))
        c.close()
    log("fake server done")


def cmd_canary(a):
    """Record every connection to --port (one line each) for --lifetime s."""
    ls = listener(a.port)
    log("canary on %s:%d" % (HOST, a.port))
    deadline = time.monotonic() + a.lifetime
    while time.monotonic() < deadline:
        ls.settimeout(0.5)
        try:
            c, addr = ls.accept()
        except socket.timeout:
            continue
        out("connection from %s:%d" % addr)
        c.close()


# ---------------------------------------------------------------------------
# junk / half-open flood


HELLO_TEMPLATE = None


def hello(flags=1, role=1):
    """A client HELLO with a fresh nonce: the recorded one (--hello-file)
    when given, else built in the version 1 layout."""
    if HELLO_TEMPLATE is not None:
        b = bytearray(HELLO_TEMPLATE)
        b[HEADER + 8:HEADER + 40] = os.urandom(32)
        return bytes(b)
    payload = b"TCPF" + struct.pack("!HBB", 1, role, flags) + os.urandom(32)
    payload += os.urandom(16) + b"\x00"   # session id, empty tag
    return frame(HELLO, payload)


def load_hello(path):
    global HELLO_TEMPLATE
    if path:
        with open(path, "rb") as f:
            frames, _ = split_frames(f.read())
        t, sid, p = frames[0]
        if t != HELLO:
            raise SystemExit("%s does not start with a HELLO" % path)
        HELLO_TEMPLATE = frame(t, p, sid)


def cmd_stall(a):
    """Send a full client HELLO, expect the server's HELLO, then never send
    AUTH: report how long the server keeps the connection."""
    load_hello(a.hello_file)
    s = connect(a.port)
    local = "%s:%d" % s.getsockname()
    t0 = time.monotonic()
    s.sendall(hello())
    how, got = read_until_close(s, a.within, first_only=True)
    answered = any(t == HELLO for t, _s, _p in split_frames(got)[0])
    if how == "data":
        how, more = read_until_close(s, max(0.0, a.within - (time.monotonic() - t0)))
        got += more
    elapsed = time.monotonic() - t0
    s.close()
    ok = answered and how in ("eof", "reset") and a.min <= elapsed <= a.within
    out("local=%s answered_hello=%d how=%s elapsed=%.3f ok=%d" % (local, answered, how, elapsed, ok))
    sys.exit(0 if ok else 1)


JUNK = {
    "garbage": lambda: os.urandom(64),
    "http": lambda: b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "partial-header": lambda: hello()[:5],
    "partial-hello": lambda: hello()[:30],
    "silent": lambda: b"",
    "hello-no-auth": lambda: hello(),   # then never sends AUTH
    "rst": lambda: b"",                 # connect, then abort with RST
}
MODES = ["garbage", "partial-header", "silent", "partial-hello", "hello-no-auth",
         "silent", "http", "partial-header", "silent", "rst"]


def cmd_junk(a):
    """Open -n connections to --port in batches of --batch, --pause s apart,
    cycling through the junk kinds (MODES).  Each is held until the server
    closes it; --hold s after the last batch, count what is still open.
    Exit 0 iff every connection was closed by the server in the end."""
    load_hello(a.hello_file)
    sel = selectors.DefaultSelector()

    class C:
        pass

    conns = []
    t0 = time.monotonic()
    connect_errors = 0

    def poll(timeout):
        for key, _ev in sel.select(timeout):
            c = key.data
            try:
                d = c.s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                c.got += len(d)
                continue
            c.closed_at = time.monotonic()
            sel.unregister(c.s)
            c.s.close()

    opened = 0
    while opened < a.n:
        for _ in range(min(a.batch, a.n - opened)):
            mode = MODES[opened % len(MODES)]
            opened += 1
            c = C()
            c.mode = mode
            c.got = 0
            c.closed_at = None
            try:
                c.s = connect(a.port, timeout=5.0)
            except OSError:
                connect_errors += 1
                continue
            c.opened_at = time.monotonic()
            if mode == "rst":
                c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.s.close()
                c.closed_at = c.opened_at
                c.by_us = True
                conns.append(c)
                continue
            c.by_us = False
            payload = JUNK[mode]()
            try:
                if payload:
                    c.s.sendall(payload)
            except OSError:
                pass
            c.s.setblocking(False)
            sel.register(c.s, selectors.EVENT_READ, c)
            conns.append(c)
        end = time.monotonic() + a.pause
        while time.monotonic() < end:
            poll(max(0.0, end - time.monotonic()))
    last = time.monotonic()
    while time.monotonic() < last + a.hold and sel.get_map():
        poll(0.2)
    still = [c for c in conns if c.closed_at is None]
    for c in still:
        sel.unregister(c.s)
        c.s.close()
    per = {}
    for c in conns:
        if c.by_us:
            continue
        d = per.setdefault(c.mode, {"n": 0, "closed": 0, "max": 0.0, "got": 0})
        d["n"] += 1
        d["got"] += c.got
        if c.closed_at is not None:
            d["closed"] += 1
            d["max"] = max(d["max"], c.closed_at - c.opened_at)
    for m, d in sorted(per.items()):
        log("junk %-15s n=%d closed_by_server=%d max_lifetime=%.2fs bytes_from_server=%d"
            % (m, d["n"], d["closed"], d["max"], d["got"]))
    silent_max = max([d["max"] for m, d in per.items() if m in ("silent", "partial-header",
                                                                "partial-hello", "hello-no-auth")]
                     or [0.0])
    ok = not still and connect_errors == 0
    out("opened=%d connect_errors=%d still_open=%d slowest_half_open=%.2f elapsed=%.1f ok=%d"
        % (len(conns), connect_errors, len(still), silent_max, time.monotonic() - t0, ok))
    sys.exit(0 if ok else 1)


def cmd_hold(a):
    """Open -n silent connections to --port (they may sit in the accept
    queue) and hold them for --hold s; print 'connected N' once done."""
    socks = []
    for _ in range(a.n):
        try:
            socks.append(connect(a.port, src=a.src, timeout=5.0))
        except OSError as e:
            log("connect: %r" % e)
            break
    out("connected %d" % len(socks))
    time.sleep(a.hold)
    for s in socks:
        s.close()


def _socket_inodes(pid):
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def established_on_port(pid, port):
    """ESTABLISHED sockets owned by pid whose local port is port.  Counted as
    distinct inodes: /proc/net/tcp is read a page at a time and resumes by
    position in a hash bucket, so under heavy connection churn the same
    socket can appear twice in one pass."""
    inodes = _socket_inodes(pid)
    if inodes is None:
        return None
    seen = set()
    needle = ":%04X " % port
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    if needle not in line[:60]:
                        continue
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "01" and int(local.rsplit(":", 1)[1], 16) == port \
                            and inode in inodes:
                        seen.add(inode)
        except OSError:
            pass
    return len(seen)


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cmd_sample(a):
    """Every --interval s until --pid is gone or --duration s: the number of
    ESTABLISHED sockets the PID holds on local --port and its VmRSS.  The
    maxima are rewritten to --out after every sample."""
    deadline = time.monotonic() + a.duration
    mx_est = mx_rss = 0
    samples = 0
    while time.monotonic() < deadline:
        est = established_on_port(a.pid, a.port)
        rss = rss_kb(a.pid)
        if est is None or rss is None:
            break
        samples += 1
        mx_est = max(mx_est, est)
        mx_rss = max(mx_rss, rss)
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write("max_established=%d max_rss_kb=%d samples=%d last_established=%d last_rss_kb=%d\n"
                    % (mx_est, mx_rss, samples, est, rss))
        os.replace(tmp, a.out)
        time.sleep(a.interval)


# ---------------------------------------------------------------------------
# capture checks


def key_forms(path):
    with open(path, "rb") as f:
        text = f.read().strip()
    raw = bytes.fromhex(text.decode())
    return {
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "base64": base64.b64encode(raw),
        "raw": raw,
        # any 16-byte window of the raw key, in case it is sent in pieces
        "raw[0:16]": raw[:16],
        "raw[16:32]": raw[16:32],
        "hex[0:32]": raw.hex().encode()[:32],
    }


def cmd_check_capture(a):
    forms = key_forms(a.key_file)
    total = 0
    bad = []
    for path in a.files:
        with open(path, "rb") as f:
            data = f.read()
        total += len(data)
        for name, needle in forms.items():
            if needle in data:
                bad.append("%s in %s" % (name, os.path.basename(path)))
    ok = not bad and total >= a.min_bytes
    out("files=%d bytes=%d key_found=%s ok=%d" % (len(a.files), total, ",".join(bad) or "none", ok))
    sys.exit(0 if ok else 1)


def cmd_check_absent(a):
    needle = a.needle.encode()
    found = []
    total = 0
    for path in a.files:
        with open(path, "rb") as f:
            data = f.read()
        total += len(data)
        if needle in data:
            found.append(os.path.basename(path))
    ok = not found and total >= a.min_bytes
    out("files=%d bytes=%d found_in=%s ok=%d" % (len(a.files), total, ",".join(found) or "none", ok))
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------
# hostile peers (issue 14): the pieces both sides' matrices share


OPEN_OK, OPEN_FAIL, EOF_, RESET, WINDOW, PONG = 0x03, 0x04, 0x06, 0x07, 0x08, 0x0A
UDP_OPEN, DATAGRAM = 0x0C, 0x0D
MAX_WINDOW = 1 << 30        # frame::kMaxWindow
EARLY_WINDOW = 65536        # frame::kEarlyWindow


def raw(ftype, length, payload=b"", stream=0, flags=0, reserved=0):
    """A frame whose header says what we like, whatever follows it."""
    return struct.pack("!BBHII", ftype, flags, reserved, stream, length) + payload


def u32(v):
    return struct.pack("!I", v)


def ere(text):
    """text as a literal in a POSIX extended regular expression (and in
    Python's re, which reads these the same way)."""
    return "".join("\\" + c if c in ".[]()*+?{}|^$\\" else c for c in text)


class CaseError(Exception):
    pass


class Chan:
    """One channel socket read frame by frame; the peer's PINGs are
    answered while we wait, other frames are kept in .other."""

    def __init__(self, s):
        self.s = s
        self.buf = b""
        self.other = []

    def send(self, data):
        self.s.sendall(data)

    def next(self, timeout):
        """The next frame (type, stream, payload), None after timeout;
        EOFError('eof'|'reset') when the peer closes."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= HEADER:
                t, _fl, _res, sid, n = struct.unpack("!BBHII", self.buf[:HEADER])
                if len(self.buf) >= HEADER + n:
                    p = self.buf[HEADER:HEADER + n]
                    self.buf = self.buf[HEADER + n:]
                    if t == PING:
                        self.send(frame(PONG, p))
                        continue
                    return t, sid, p
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(262144)
            except socket.timeout:
                return None
            except OSError:
                raise EOFError("reset")
            if not d:
                raise EOFError("eof")
            self.buf += d

    def wait(self, ftype, timeout, sid=None):
        """The next frame of ftype (and stream sid), or None."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.next(max(0.0, deadline - time.monotonic()))
            if r is None:
                return None
            if r[0] == ftype and (sid is None or r[1] == sid):
                return r
            self.other.append(r)

    def closed_within(self, timeout):
        """'eof' or 'reset' if the peer closes the channel within timeout,
        else 'open'."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                r = self.next(max(0.0, deadline - time.monotonic()))
                if r is not None:
                    self.other.append(r)
        except EOFError as e:
            return str(e)
        return "open"

    def take_windows(self, sid):
        """The sum of the WINDOW increments for sid received so far."""
        got = [r for r in self.other if r[0] == WINDOW and r[1] == sid]
        self.other = [r for r in self.other if not (r[0] == WINDOW and r[1] == sid)]
        return sum(struct.unpack("!I", r[2])[0] for r in got)

    def alive(self, timeout=5.0):
        """Our PING is answered: the channel is up and the peer has
        processed every frame we sent before it."""
        token = os.urandom(8)
        try:
            self.send(frame(PING, token))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                r = self.wait(PONG, max(0.0, deadline - time.monotonic()))
                if r is None:
                    return False
                if r[2] == token:
                    return True
        except (EOFError, OSError):
            return False
        return False


class LogSegment:
    """The part of a daemon's log written while one case ran."""

    def __init__(self, path):
        self.path = path
        self.start = os.path.getsize(path)

    def text(self):
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read().decode("utf-8", "replace")

    def wait(self, pattern, timeout):
        """Until pattern (an ERE) is in the segment, at most timeout s."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if rx.search(self.text()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def save(self, path):
        with open(path, "w") as f:
            f.write(self.text())


def write_matrix_row(out_dir, row):
    """One line of OUT_DIR/cases.tsv: n name peer expect wire_ok wire
    count pattern absent metric (tabs; the shell script reads it)."""
    with open(os.path.join(out_dir, "cases.tsv"), "a") as f:
        f.write("\t".join(str(row[k]).replace("\t", " ").replace("\n", " ") for k in
                          ("n", "name", "peer", "expect", "wire_ok", "wire", "count",
                           "pattern", "absent", "metric")) + "\n")


# ---------------------------------------------------------------------------
# hostile client: authenticates properly, then misbehaves (one case a line)


def auth_proof(key, role, hc, hs, name):
    import hashlib
    import hmac
    msg = (b"tcp-forward channel auth\0" + bytes([role, len(hc)]) + hc + bytes([len(hs)]) + hs
           + bytes([len(name)]) + name)
    return hmac.new(key, msg, hashlib.sha256).digest()


def client_hello(tag, session=None):
    return (b"TCPF" + struct.pack("!HBB", 1, 1, 1) + os.urandom(32) + (session or os.urandom(16))
            + bytes([len(tag)]) + tag)


def client_channel(a, key):
    """An authenticated channel as a shared-key client of tag --tag:
    (Chan, 'ADDR:PORT' the server knows us by)."""
    s = connect(a.port, timeout=10.0)
    ch = Chan(s)
    local = "%s:%d" % s.getsockname()
    hc = client_hello(a.tag.encode())
    ch.send(frame(HELLO, hc))
    try:
        r = ch.wait(HELLO, 5.0)
        if not r:
            raise CaseError("no server HELLO")
        hs = r[2]
        ch.send(frame(AUTH, auth_proof(key, 1, hc, hs, b"") + b"\x00"))
        r = ch.wait(AUTH, 5.0)
    except EOFError as e:
        raise CaseError("the server closed the handshake (%s): %r" % (e, ch.other))
    if not r or r[2][:32] != auth_proof(key, 2, hc, hs, b""):
        raise CaseError("the server did not prove the key")
    return ch, local


class ClientCase:
    """What one case of the hostile client holds."""

    def __init__(self, a):
        self.a = a
        self.ch = None
        self.peer = "?"
        self.sid = self.uid = 0
        self.window = 0
        self.pub = self.upub = None
        self.socks = []
        self.metric = "-"

    def close(self):
        """Public sockets first, then the channel: EOF, and what the
        server still sends read to its end (unread bytes at close() would
        make our end send an RST)."""
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        if self.ch:
            try:
                self.ch.s.shutdown(socket.SHUT_WR)
                read_until_close(self.ch.s, 5.0)
            except OSError:
                pass
            self.ch.s.close()


def public_open(k, answer=True, window=1 << 20, rcvbuf=0):
    """A public connection to the hostile mapping; the server's OPEN for
    it, answered with OPEN_OK(window) unless not answer.  (socket, id)"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5.0)
    s.connect((HOST, k.a.tcp_port))
    k.socks.append(s)
    r = k.ch.wait(OPEN, 5.0)
    if not r:
        raise CaseError("no OPEN for a public connection")
    k.window = struct.unpack("!I", r[2][:4])[0]
    if answer:
        k.ch.send(frame(OPEN_OK, u32(window), r[1]))
    return s, r[1]


def setup_stream(k, **kw):
    k.pub, k.sid = public_open(k, **kw)


def setup_closed(k):
    """A stream we reset ourselves: its id is known but forgotten."""
    setup_stream(k)
    k.ch.send(frame(RESET, b"\x05closed by the test", k.sid))
    if not k.ch.alive():
        raise CaseError("channel gone after our RESET")


def setup_udp(k):
    k.upub = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    k.upub.settimeout(5.0)
    k.socks.append(k.upub)
    k.upub.sendto(b"hello", (HOST, k.a.udp_port))
    r = k.ch.wait(UDP_OPEN, 5.0)
    if not r:
        raise CaseError("no UDP_OPEN for a public datagram")
    k.uid = r[1]
    if not k.ch.wait(DATAGRAM, 5.0, k.uid):
        raise CaseError("no DATAGRAM after UDP_OPEN")


def setup_udp_closed(k):
    setup_udp(k)
    k.ch.send(frame(OPEN_FAIL, b"\x02closed by the test", k.uid))
    if not k.ch.alive():
        raise CaseError("channel gone after our OPEN_FAIL")


CLIENT_SETUPS = {
    "up": lambda k: None,
    "stream": setup_stream,
    "opening": lambda k: setup_stream(k, answer=False),
    "stalled": lambda k: setup_stream(k, rcvbuf=4096),       # a public peer that reads nothing
    "huge": lambda k: setup_stream(k, window=MAX_WINDOW),     # the largest window there is
    "closed": setup_closed,
    "udp": setup_udp,
    "udp-closed": setup_udp_closed,
}


def act_beyond_credit(k):
    """DATA for one byte more than the credit the server granted.  The
    public peer reads nothing: we send all our credit, and again whatever
    WINDOW the server returns while its kernel buffers still take bytes,
    until a PING round trip shows no new credit; then one byte more."""
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
    return how != "open", "one byte beyond the credit: server %s" % (
        "closed the channel (%s)" % how if how != "open" else "kept the channel open")


def act_data_max(k):
    """A 65,536-byte DATA reaches the public peer byte-exact."""
    payload = os.urandom(65536)
    k.ch.send(frame(DATA, payload, k.sid))
    got = bytearray()
    try:
        while len(got) < len(payload):
            d = k.pub.recv(65536)
            if not d:
                break
            got += d
    except OSError as e:
        return False, "public peer: %r after %d bytes" % (e, len(got))
    return bytes(got) == payload and k.ch.alive(), "public peer got %d bytes%s" % (
        len(got), "" if bytes(got) == payload else " (different)")


def act_datagram(size):
    def act(k):
        payload = os.urandom(size)
        k.ch.send(frame(DATAGRAM, payload, k.uid))
        try:
            d, _ = k.upub.recvfrom(65536)
        except OSError as e:
            return False, "public UDP peer: %r" % e
        return d == payload and k.ch.alive(), "public UDP peer got %d bytes%s" % (
            len(d), "" if d == payload else " (different)")
    return act


def act_reset_live(k):
    """Our RESET of a live stream: the public peer is reset (RST), the
    channel stays."""
    k.ch.send(frame(RESET, b"\x01reset by the hostile client", k.sid))
    how, got = read_until_close(k.pub, 5.0)
    return how == "reset" and not got and k.ch.alive(), "public peer: %s after %d bytes" % (how, len(got))


def act_streams_cap(k):
    """OPEN_OK every stream up to MAX_STREAMS_PER_CLIENT; 5 more public
    connections are closed without an OPEN; once one stream ends, a new
    public connection is served again."""
    sids = [public_open(k)[1] for _ in range(k.a.cap)]
    refused = 0
    for _ in range(5):
        s = connect(k.a.tcp_port)
        k.socks.append(s)
        how, got = read_until_close(s, 3.0)
        refused += how in ("eof", "reset") and not got
    extra_open = k.ch.wait(OPEN, 0.5)
    k.ch.send(frame(RESET, b"\x05one stream less", sids[0]))
    try:
        again = public_open(k)[1]
    except CaseError:
        again = None
    ok = len(sids) == k.a.cap and refused == 5 and not extra_open and again and k.ch.alive()
    return ok, "%d streams open, %d of 5 beyond the cap closed, extra OPEN %s, after one ended: %s" % (
        len(sids), refused, "yes" if extra_open else "no", "OPEN %s" % again if again else "no OPEN")


def act_stuck(k):
    """After OPEN_OK with a 1 GiB window we read nothing (PINGs only)
    while the public peer sends 64 MiB: the server closes the channel and
    its memory stays bounded by the channel's queue (peak VmRSS)."""
    res = {"sent": 0, "how": "?"}

    def push():
        chunk = b"p" * 65536
        k.pub.settimeout(30.0)
        try:
            while res["sent"] < 64 << 20:
                k.pub.sendall(chunk)
                res["sent"] += len(chunk)
            res["how"] = "all sent"
        except OSError as e:
            res["how"] = type(e).__name__
    t = threading.Thread(target=push, daemon=True)
    t.start()
    peak = 0
    seg = k.segment
    closed = re.compile("client %s: channel closed" % ere(k.peer))
    deadline = time.monotonic() + 30.0
    next_ping = 0.0
    while time.monotonic() < deadline and not closed.search(seg.text()):
        peak = max(peak, rss_kb(k.a.server_pid) or 0)
        if time.monotonic() >= next_ping:
            next_ping = time.monotonic() + 0.3
            try:
                k.ch.send(frame(PING, b"stuck..."))
            except OSError:
                pass
        time.sleep(0.05)
    t.join(35.0)
    k.metric = peak
    ok = closed.search(seg.text()) is not None and res["how"] != "all sent"
    return ok, "public peer sent %d bytes (%s), server VmRSS peak %d KiB" % (res["sent"], res["how"], peak)


N = 1000  # a stream id the server never handed out
NEVER = "frame for stream 1000 that was never opened"
ANY = "127.0.0.1"
OPEN_P = struct.pack("!IHB", 1 << 20, 80, len(ANY)) + ANY.encode()
UDP_OPEN_P = struct.pack("!HB", 53, len(ANY)) + ANY.encode()

# The matrix.  expect: error (a protocol error closes the channel; the log
# text is what follows "protocol error: "), ignored (the frame is dropped
# silently, the channel answers a PING after it), close (the server ends
# the channel with the client's CLOSE text), or an act_* function's own
# check (delivered, rst, cap, stuck) with the server log line it causes.
HOSTILE_CLIENT = [
    # name                     setup         what the client sends                                  expect       log
    ("hello-again",            "up",         lambda k: frame(HELLO, client_hello(b"hostile")),      "error",     "HELLO after the handshake"),
    ("auth-again",             "up",         lambda k: frame(AUTH, bytes(32) + b"\x00"),           "error",     "AUTH outside the handshake"),
    ("open-to-server",         "up",         lambda k: frame(OPEN, OPEN_P, N),                      "error",     "OPEN sent to the server"),
    ("udp-open-to-server",     "up",         lambda k: frame(UDP_OPEN, UDP_OPEN_P, N),              "error",     "UDP_OPEN sent to the server"),
    ("open-ok-never-opened",   "up",         lambda k: frame(OPEN_OK, u32(1 << 20), N),             "error",     NEVER),
    ("open-fail-never-opened", "up",         lambda k: frame(OPEN_FAIL, b"\x01no", N),              "error",     NEVER),
    ("open-ok-twice",          "stream",     lambda k: frame(OPEN_OK, u32(1 << 20), k.sid),         "error",     "OPEN_OK for stream {sid} that is not opening"),
    ("open-fail-after-ok",     "stream",     lambda k: frame(OPEN_FAIL, b"\x01late", k.sid),        "error",     "OPEN_FAIL for stream {sid} that is not opening"),
    ("open-ok-window-small",   "opening",    lambda k: frame(OPEN_OK, u32(1000), k.sid),            "error",     "OPEN_OK window 1000 below the early-data window"),
    ("open-ok-window-0",       "opening",    lambda k: frame(OPEN_OK, u32(0), k.sid),               "error",     "bad window value 0"),
    ("open-ok-window-2^32-1",  "opening",    lambda k: frame(OPEN_OK, u32(0xFFFFFFFF), k.sid),      "error",     "bad window value 4294967295"),
    ("open-ok-closed",         "closed",     lambda k: frame(OPEN_OK, u32(1 << 20), k.sid),         "ignored",   None),
    ("open-ok-too-long",       "opening",    lambda k: raw(OPEN_OK, 5, u32(1 << 20) + b"\0", k.sid), "error",    "OPEN_OK frame with bad length 5"),
    ("open-ok-time-unannounced", "opening",  lambda k: frame(OPEN_OK, u32(1 << 20) + u32(1000), k.sid), "error", "OPEN_OK with a connect time from a peer that did not announce it"),
    ("data-never-opened",      "up",         lambda k: frame(DATA, b"x" * 100, N),                  "error",     NEVER),
    ("data-closed",            "closed",     lambda k: frame(DATA, b"x" * 100, k.sid),              "ignored",   None),
    ("data-opening",           "opening",    lambda k: frame(DATA, b"x" * 100, k.sid),              "error",     "DATA on stream {sid} in state opening"),
    ("data-after-eof",         "stream",     lambda k: frame(EOF_, b"", k.sid) + frame(DATA, b"x", k.sid), "error", "DATA on stream {sid} in state open after EOF"),
    ("data-zero-length",       "stream",     lambda k: raw(DATA, 0, b"", k.sid),                    "error",     "DATA frame with bad length 0"),
    ("data-max-length",        "stream",     act_data_max,                                          "delivered", None),
    ("data-too-long",          "stream",     lambda k: raw(DATA, 65537, b"x" * 4096, k.sid),        "error",     "DATA frame with bad length 65537"),
    ("data-length-2^32-1",     "stream",     lambda k: raw(DATA, 0xFFFFFFFF, b"x" * 4096, k.sid),   "error",     "DATA frame with bad length 4294967295"),
    ("data-beyond-credit",     "stalled",    act_beyond_credit,                                     "error",     "stream {sid}: peer sent [0-9]+ bytes with only [0-9]+ bytes of credit"),
    ("data-on-udp-session",    "udp",        lambda k: frame(DATA, b"x" * 100, k.uid),              "ignored",   None),
    ("eof-never-opened",       "up",         lambda k: frame(EOF_, b"", N),                         "error",     NEVER),
    ("eof-closed",             "closed",     lambda k: frame(EOF_, b"", k.sid),                     "ignored",   None),
    ("eof-opening",            "opening",    lambda k: frame(EOF_, b"", k.sid),                     "error",     "EOF on stream {sid} in state opening"),
    ("eof-twice",              "stream",     lambda k: frame(EOF_, b"", k.sid) * 2,                 "error",     "EOF on stream {sid} in state open twice"),
    ("eof-with-payload",       "stream",     lambda k: raw(EOF_, 1, b"x", k.sid),                   "error",     "EOF frame with bad length 1"),
    ("reset-never-opened",     "up",         lambda k: frame(RESET, b"\x05x", N),                   "error",     NEVER),
    ("reset-closed",           "closed",     lambda k: frame(RESET, b"\x05x", k.sid),               "ignored",   None),
    ("reset-live",             "stream",     act_reset_live,                                        "rst",       "stream {sid} closed: .*, client {peer}, .*reset by peer"),
    ("reset-empty",            "stream",     lambda k: raw(RESET, 0, b"", k.sid),                   "error",     "RESET frame with bad length 0"),
    ("reset-text-too-long",    "stream",     lambda k: frame(RESET, b"\x05" + b"t" * 201, k.sid),   "error",     "RESET frame with bad length 202"),
    ("window-never-opened",    "up",         lambda k: frame(WINDOW, u32(1000), N),                 "error",     NEVER),
    ("window-closed",          "closed",     lambda k: frame(WINDOW, u32(1000), k.sid),             "ignored",   None),
    ("window-opening",         "opening",    lambda k: frame(WINDOW, u32(1000), k.sid),             "error",     "WINDOW on stream {sid} in state opening"),
    ("window-0",               "stream",     lambda k: frame(WINDOW, u32(0), k.sid),                "error",     "bad window value 0"),
    ("window-2^32-1",          "stream",     lambda k: frame(WINDOW, u32(0xFFFFFFFF), k.sid),       "error",     "bad window value 4294967295"),
    ("window-overflow",        "stream",     lambda k: frame(WINDOW, u32(MAX_WINDOW), k.sid),       "error",     "stream {sid}: WINDOW overflows the maximum credit"),
    ("window-overflow-sum",    "stream",     lambda k: frame(WINDOW, u32(MAX_WINDOW // 2), k.sid) * 3, "error",  "stream {sid}: WINDOW overflows the maximum credit"),
    ("window-too-long",        "stream",     lambda k: raw(WINDOW, 5, u32(1) + b"\0", k.sid),       "error",     "WINDOW frame with bad length 5"),
    ("window-huge-no-read",    "huge",       act_stuck,                                             "stuck",     "client {peer}: channel closed: the peer (has read nothing for .*presumed stuck|does not read)"),
    ("window-on-udp-session",  "udp",        lambda k: frame(WINDOW, u32(1000), k.uid),             "ignored",   None),
    ("eof-on-udp-session",     "udp",        lambda k: frame(EOF_, b"", k.uid),                     "ignored",   None),
    ("open-ok-udp-session",    "udp",        lambda k: frame(OPEN_OK, u32(1 << 20), k.uid),         "ignored",   None),
    ("ping-stream-id",         "up",         lambda k: frame(PING, b"12345678", 5),                 "error",     "PING frame with bad stream id 5"),
    ("ping-bad-length",        "up",         lambda k: raw(PING, 7, b"1234567"),                    "error",     "PING frame with bad length 7"),
    ("pong-unsolicited",       "up",         lambda k: frame(PONG, b"unasked!"),                    "ignored",   None),
    ("close-junk",             "up",         lambda k: frame(CLOSE, b"\xff\x00\x1b[31m\n" + os.urandom(190)), "close", "client {peer}: channel closed: the client closed the channel: "),
    ("close-empty",            "up",         lambda k: raw(CLOSE, 0),                               "error",     "CLOSE frame with bad length 0"),
    ("close-stream-id",        "up",         lambda k: frame(CLOSE, b"\x06x", 3),                   "error",     "CLOSE frame with bad stream id 3"),
    ("unknown-type-0x00",      "up",         lambda k: raw(0x00, 0),                                "error",     "unknown frame type 0x00"),
    ("unknown-type-0x1f",      "up",         lambda k: raw(0x1F, 4, b"abcd"),                       "error",     "unknown frame type 0x1f"),
    ("expose-unagreed",        "up",         lambda k: raw(0x0F, 12, b"\0\0\0\1\0\0\0\0\x1f\x90\x01a"),  "error",     "EXPOSE without the EXPOSE feature agreed in HELLO"),
    ("unknown-type-0xff",      "stream",     lambda k: raw(0xFF, 0xFFFFFFFF, b"", k.sid),           "error",     "unknown frame type 0xff"),
    ("flags-nonzero",          "up",         lambda k: raw(PING, 8, b"12345678", flags=1),          "error",     "non-zero flags/reserved bits in PING frame"),
    ("reserved-nonzero",       "stream",     lambda k: raw(DATA, 1, b"x", k.sid, reserved=1),       "error",     "non-zero flags/reserved bits in DATA frame"),
    ("hello-too-long",         "up",         lambda k: raw(HELLO, 122, b"h" * 122),                 "error",     "HELLO frame with bad length 122"),
    ("open-too-long",          "up",         lambda k: raw(OPEN, 430, b"o" * 430, N),               "error",     "OPEN frame with bad length 430"),
    ("datagram-never-opened",  "up",         lambda k: frame(DATAGRAM, b"d" * 10, N),               "error",     NEVER),
    ("datagram-closed",        "udp-closed", lambda k: frame(DATAGRAM, b"d" * 10, k.uid),           "ignored",   None),
    ("datagram-zero-length",   "udp",        act_datagram(0),                                       "delivered", None),
    ("datagram-max-length",    "udp",        act_datagram(65507),                                   "delivered", None),
    ("datagram-too-long",      "udp",        lambda k: raw(DATAGRAM, 65508, b"d" * 4096, k.uid),    "error",     "DATAGRAM frame with bad length 65508"),
    ("datagram-on-stream",     "stream",     lambda k: frame(DATAGRAM, b"d" * 10, k.sid),           "ignored",   None),
    ("streams-cap",            "up",         act_streams_cap,                                       "cap",       "client {peer} already has MAX_STREAMS_PER_CLIENT \\({cap}\\) streams"),
]


def client_case_pattern(k, expect, text):
    """(pattern that must be in the case's log, how many times, pattern
    that must not be) for the server log."""
    fill = lambda t: t.format(peer=ere(k.peer), sid=k.sid, uid=k.uid, cap=k.a.cap)
    mine = "client %s: channel closed: " % ere(k.peer)
    if expect == "error":
        return mine + "protocol error: " + fill(text), 1, "-"
    if expect in ("ignored", "delivered"):
        return mine + "peer closed the channel", 1, mine + "protocol error"
    if expect == "cap":
        return fill(text), 5, mine + "protocol error"
    if expect == "rst":
        return fill(text), 1, mine + "protocol error"
    return fill(text), 1, "-"


def cmd_hostile_client(a):
    """Run the hostile-client matrix (HOSTILE_CLIENT) against forward-server
    on --port: one authenticated channel per case.  Writes, per case,
    OUT_DIR/NN.seg (what the server logged meanwhile) and a line of
    OUT_DIR/cases.tsv; the shell script checks both."""
    with open(a.key_file) as f:
        key = bytes.fromhex(f.read().strip())
    only = set(a.only.split(",")) if a.only else None
    os.makedirs(a.out_dir, exist_ok=True)
    failed = ran = 0
    for n, (name, setup, action, expect, text) in enumerate(HOSTILE_CLIENT, 1):
        if only and name not in only:
            continue
        ran += 1
        k = ClientCase(a)
        k.segment = seg = LogSegment(a.server_log)
        t0 = time.monotonic()
        try:
            k.ch, k.peer = client_channel(a, key)
            CLIENT_SETUPS[setup](k)
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
                wire = "server closed the channel (%s)" % how if ok else "channel still open after 5 s"
        except (CaseError, EOFError, OSError) as e:
            ok, wire = False, "%s: %r" % (type(e).__name__, e)
        k.close()
        pattern, count, absent = client_case_pattern(k, expect, text)
        # the case is over once the server has ended this channel
        seg.wait("client %s: channel closed" % ere(k.peer), 10.0)
        seg.wait(pattern, 3.0)
        alive = rss_kb(a.server_pid) is not None
        if not alive:
            ok, wire = False, wire + "; THE SERVER IS GONE"
        seg.save(os.path.join(a.out_dir, "%02d.seg" % n))
        write_matrix_row(a.out_dir, {"n": "%02d" % n, "name": name, "peer": k.peer, "expect": expect,
                                     "wire_ok": int(bool(ok)), "wire": wire, "count": count,
                                     "pattern": pattern, "absent": absent, "metric": k.metric})
        failed += not ok
        log("case %02d %-24s %-9s %s: %s (%.2f s)" % (n, name, expect, "ok" if ok else "FAILED", wire,
                                                     time.monotonic() - t0))
        if not alive:
            break
    out("cases=%d wire_failed=%d" % (ran, failed))


def cmd_steady(a):
    """One connection to --port (an echo service through a tunnel) kept
    busy until --stop-file exists: random bytes at about --rate bytes/s,
    every echoed byte compared with what was sent; then EOF, the rest of
    the echo, and one key=value line (ok=1: all of it came back intact,
    the connection never broke)."""
    s = connect(a.port, timeout=a.io_timeout)
    lock = threading.Lock()
    pending = bytearray()          # sent, not yet echoed
    st = {"sent": 0, "echoed": 0, "bad_at": None, "send_error": None, "max_gap": 0.0}

    def sender():
        per_tick = max(1, int(a.rate / 10))
        t_end = time.monotonic() + a.max_time
        try:
            while not os.path.exists(a.stop_file) and time.monotonic() < t_end:
                chunk = os.urandom(per_tick)
                with lock:
                    pending.extend(chunk)
                s.sendall(chunk)
                st["sent"] += len(chunk)
                time.sleep(0.1)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            st["send_error"] = repr(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    last = time.monotonic()
    how = "timeout"
    deadline = time.monotonic() + a.max_time + a.io_timeout
    while time.monotonic() < deadline:
        s.settimeout(a.io_timeout)
        try:
            d = s.recv(262144)
        except socket.timeout:
            how = "stalled"
            break
        except OSError as e:
            how = "error(%s)" % type(e).__name__
            break
        if not d:
            how = "eof"
            break
        now_t = time.monotonic()
        st["max_gap"] = max(st["max_gap"], now_t - last)
        last = now_t
        with lock:
            if st["bad_at"] is None and bytes(pending[:len(d)]) != d:
                st["bad_at"] = st["echoed"]
            del pending[:len(d)]
        st["echoed"] += len(d)
    t.join(a.io_timeout)
    s.close()
    ok = (how == "eof" and st["bad_at"] is None and st["send_error"] is None
          and st["echoed"] == st["sent"] and st["sent"] > 0)
    out("how=%s sent=%d echoed=%d bad_at=%s send_error=%s max_gap=%.2f ok=%d"
        % (how, st["sent"], st["echoed"], st["bad_at"], st["send_error"], st["max_gap"], ok))
    sys.exit(0 if ok else 1)


def main():
    p, add = subcommands(__doc__)

    sp = add("relay", cmd_relay)
    sp.add_argument("--listen", type=int, required=True)
    sp.add_argument("--target", type=int, required=True)
    sp.add_argument("--record", required=True, help="file prefix")
    sp.add_argument("--tamper-c2s", type=int, help="flip bits of this client->server byte")
    sp.add_argument("--tamper-s2c", type=int, help="flip bits of this server->client byte")
    sp.add_argument("--mask-c2s", type=lambda x: int(x, 0), default=0x01)
    sp.add_argument("--mask-s2c", type=lambda x: int(x, 0), default=0x01)
    sp.add_argument("--tamper-first-only", action="store_true")
    sp.add_argument("--lifetime", type=float, default=120.0)

    sp = add("peer", cmd_peer)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--src", default=HOST)
    sp.add_argument("--send", type=int, default=0, help="bytes to send")
    sp.add_argument("--expect", choices=("echo", "closed", "refused"), required=True)
    sp.add_argument("--marker", help="send this text repeated instead of random bytes")
    sp.add_argument("--within", type=float, default=3.0)

    sp = add("maxconn", cmd_maxconn)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--limit", type=int, required=True)
    sp.add_argument("--settle", type=float, default=3.0)

    sp = add("replay", cmd_replay)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--file", required=True)
    sp.add_argument("--mode", choices=("burst", "interactive"), default="burst")
    sp.add_argument("--handshake-only", action="store_true",
                    help="replay only the HELLO and AUTH frames")
    sp.add_argument("--within", type=float, default=5.0)

    sp = add("offsets", cmd_offsets)
    sp.add_argument("--file", required=True)

    sp = add("skip-auth", cmd_skip_auth)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--file", required=True)
    sp.add_argument("--within", type=float, default=5.0)

    sp = add("client", cmd_client)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--key-file", default="")
    sp.add_argument("--name", default="")
    sp.add_argument("--session", default="", help="16 bytes in hex (default random)")
    sp.add_argument("--tag", default="")
    sp.add_argument("--hold", type=float, default=3.0)
    sp.add_argument("--no-auth", action="store_true", help="HELLO without AUTH (AUTH = none servers)")
    sp.add_argument("--mode", choices=("polite", "serve", "silent", "ping-flood"), default="polite")
    sp.add_argument("--pings", type=int, default=3000000)
    sp.add_argument("--auth-delay", type=float, default=0.0, help="seconds between HELLO and AUTH")

    sp = add("session-of", cmd_session_of)
    sp.add_argument("--file", required=True)

    sp = add("fake-server", cmd_fake_server)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--mode", choices=("replay", "reflect"), required=True)
    sp.add_argument("--file", help="recorded server->client bytes (replay)")
    sp.add_argument("--open-port", type=int, required=True)
    sp.add_argument("--record", required=True)
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--lifetime", type=float, default=60.0)

    sp = add("canary", cmd_canary)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--lifetime", type=float, default=120.0)

    sp = add("junk", cmd_junk)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("-n", type=int, default=1000)
    sp.add_argument("--batch", type=int, default=100)
    sp.add_argument("--pause", type=float, default=0.3)
    sp.add_argument("--hold", type=float, default=6.0)
    sp.add_argument("--hello-file", help="recorded client bytes: use their HELLO")

    sp = add("stall", cmd_stall)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--hello-file", help="recorded client bytes: use their HELLO")
    sp.add_argument("--min", type=float, default=0.0, help="must stay open at least this long")
    sp.add_argument("--within", type=float, default=10.0)

    sp = add("hold", cmd_hold)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--src", default=HOST, help="source address (any 127.x)")
    sp.add_argument("-n", type=int, default=100)
    sp.add_argument("--hold", type=float, default=5.0)

    sp = add("sample", cmd_sample)
    sp.add_argument("--pid", type=int, required=True)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--interval", type=float, default=0.1)
    sp.add_argument("--duration", type=float, default=120.0)
    sp.add_argument("--out", required=True)

    sp = add("check-capture", cmd_check_capture)
    sp.add_argument("--key-file", required=True)
    sp.add_argument("--min-bytes", type=int, default=1)
    sp.add_argument("files", nargs="+")

    sp = add("check-absent", cmd_check_absent)
    sp.add_argument("--needle", required=True)
    sp.add_argument("--min-bytes", type=int, default=1)
    sp.add_argument("files", nargs="+")

    sp = add("hostile-client", cmd_hostile_client)
    sp.add_argument("--port", type=int, required=True, help="INNER_PORT")
    sp.add_argument("--key-file", required=True)
    sp.add_argument("--tag", default="hostile")
    sp.add_argument("--tcp-port", type=int, required=True, help="public TCP port of a mapping of --tag")
    sp.add_argument("--udp-port", type=int, required=True, help="public UDP port of a mapping of --tag")
    sp.add_argument("--cap", type=int, required=True, help="the server's MAX_STREAMS_PER_CLIENT")
    sp.add_argument("--server-pid", type=int, required=True)
    sp.add_argument("--server-log", required=True)
    sp.add_argument("--out-dir", required=True)
    sp.add_argument("--only", help="comma-separated case names")

    sp = add("steady", cmd_steady)
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--rate", type=int, default=1 << 20, help="bytes per second")
    sp.add_argument("--stop-file", required=True)
    sp.add_argument("--max-time", type=float, default=300.0)
    sp.add_argument("--io-timeout", type=float, default=20.0)

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
