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

Run ``sec_helpers.py CMD -h`` for the options of each.
"""

import base64
import os
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

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
