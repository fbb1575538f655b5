#!/usr/bin/env python3
"""UDP traffic generators and checkers for the tcp-forward UDP tests
(t_udp_dns, t_udp_echo, t_udp_sessions, t_udp_load).

Python 3 standard library only, 127.0.0.0/8 only.  Every socket operation
has a timeout and every server a bounded lifetime.  Results go to stdout as
``key=value`` lines; diagnostics to stderr.  Exit status 0 means the check
passed.  ``udp_helpers.py -h`` lists the subcommands.
"""

import os
import random
import select
import socket
import struct
import sys
import time

from testnet import HOST, log, now, out, pct, subcommands

MAX_UDP = 65507


def udp_socket(src=HOST, sport=0, bufsize=4 << 20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt, force in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):
        try:  # SO_RCVBUFFORCE / SO_SNDBUFFORCE: root may pass rmem_max
            s.setsockopt(socket.SOL_SOCKET, force, bufsize)
        except OSError:
            try:
                s.setsockopt(socket.SOL_SOCKET, opt, bufsize)
            except OSError:
                pass
    if sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    return s


def local_text(s):
    return "%s:%d" % s.getsockname()


# ---------------------------------------------------------------------------
# ports and servers


def cmd_free_port(a):
    """A port free for both TCP and UDP on 127.0.0.1 (held for a moment)."""
    for _ in range(100):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((HOST, 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind((HOST, port))
        except OSError:
            u.close()
            t.close()
            continue
        t.close()
        u.close()
        out(port)
        return
    sys.exit(1)


def cmd_echo_server(a):
    """UDP echo: every datagram goes back, unchanged, to its sender."""
    s = udp_socket(HOST, a.port)
    log("udp echo listening on %s:%d" % (HOST, a.port))
    out("LISTENING %d" % a.port)
    deadline = now() + a.lifetime
    n = 0
    buf = bytearray(65536)
    while now() < deadline:
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            continue
        for _ in range(256):
            try:
                k, peer = s.recvfrom_into(buf, 65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError as e:
                log("recvfrom:", e)
                break
            try:
                s.sendto(memoryview(buf)[:k], peer)
                n += 1
            except OSError as e:
                log("sendto %s: %s" % (peer, e))
    log("lifetime over after %d datagrams" % n)


# ---------------------------------------------------------------------------
# windowed echo: every reply must equal one datagram in flight


class Payloads:
    """Datagram n: 8-byte little-endian (seq, size) header, then bytes of a
    fixed random block; a datagram shorter than 8 bytes is a prefix of the
    header (its first byte is seq & 0xff)."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.block = rng.randbytes(140000)

    def make(self, seq, size):
        head = struct.pack("<II", seq & 0xFFFFFFFF, size)
        if size <= 8:
            return head[:size]
        off = (seq * 7919) % 65536
        return head + self.block[off:off + size - 8]


def windowed_echo(sock, sizes, payloads, window, timeout, overall):
    """Send len(sizes) datagrams on a connected socket with at most `window`
    outstanding; returns a dict of counters and round trips (seconds)."""
    n = len(sizes)
    outstanding = {}  # payload -> (seq, t_sent)
    order = []        # (t_sent, payload, seq) in send order
    head = 0
    expired = set()
    answered_seen = set()
    rtts = []
    st = {"sent": 0, "answered": 0, "lost": 0, "mismatch": 0, "dup": 0, "late": 0,
          "reordered": 0, "send_errors": 0, "examples": []}
    last_seq = -1
    nxt = 0
    t0 = now()
    stop = t0 + overall
    sock.setblocking(False)
    while (nxt < n or outstanding) and now() < stop:
        while nxt < n and len(outstanding) < window:
            p = payloads.make(nxt, sizes[nxt])
            if p in outstanding:
                break  # same bytes already in flight (tiny datagram): wait
            t = now()
            try:
                sock.send(p)
            except BlockingIOError:
                break
            except OSError as e:
                st["send_errors"] += 1
                if st["send_errors"] <= 3:
                    log("send #%d (%d bytes): %s" % (nxt, len(p), e))
                nxt += 1
                continue
            outstanding[p] = (nxt, t)
            order.append((t, p, nxt))
            st["sent"] += 1
            nxt += 1
        # wait for replies until the oldest outstanding one expires
        while head < len(order) and order[head][1] not in outstanding:
            head += 1
        wait = 0.2
        if head < len(order):
            wait = max(0.0, min(wait, order[head][0] + timeout - now()))
        if nxt < n and len(outstanding) < window and wait > 0:
            wait = 0.0 if not outstanding else min(wait, 0.001)
        r, _, _ = select.select([sock], [], [], wait)
        if r:
            for _ in range(window + 16):
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    continue
                t = now()
                hit = outstanding.pop(data, None)
                if hit is not None:
                    seq, ts = hit
                    rtts.append(t - ts)
                    st["answered"] += 1
                    if seq < last_seq:
                        st["reordered"] += 1
                    last_seq = max(last_seq, seq)
                    if len(data) > 8:
                        answered_seen.add(data[:8])
                elif data in expired:
                    st["late"] += 1
                elif len(data) > 8 and data[:8] in answered_seen:
                    st["dup"] += 1
                else:
                    st["mismatch"] += 1
                    if len(st["examples"]) < 3:
                        st["examples"].append("%d bytes, head %s" % (len(data), data[:12].hex()))
        t = now()
        while head < len(order) and order[head][0] + timeout <= t:
            ts, p, seq = order[head]
            head += 1
            cur = outstanding.get(p)
            if cur is not None and cur[0] == seq:
                del outstanding[p]
                expired.add(p)
                st["lost"] += 1
    st["lost"] += len(outstanding) + (n - nxt)
    st["elapsed"] = now() - t0
    st["rtts"] = rtts
    return st


def cmd_echo(a):
    """Windowed echo of -n datagrams of random sizes --min..--max (seeded),
    each reply checked against the datagrams in flight."""
    rng = random.Random(a.seed)
    sizes = [rng.randint(a.min, a.max) for _ in range(a.n)]
    s = udp_socket(a.src)
    s.connect((a.host, a.port))
    st = windowed_echo(s, sizes, Payloads(a.seed), a.window, a.timeout, a.overall)
    rt = st["rtts"]
    dps = st["answered"] / max(st["elapsed"], 1e-9)
    lost_frac = st["lost"] / max(a.n, 1)
    ok = (st["mismatch"] == 0 and st["dup"] == 0 and st["send_errors"] == 0
          and lost_frac <= a.max_loss)
    out("label=%s local=%s n=%d sent=%d answered=%d lost=%d mismatch=%d dup=%d late=%d reordered=%d "
        "send_errors=%d elapsed=%.3f dps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f bytes=%d ok=%d"
        % (a.label, local_text(s), a.n, st["sent"], st["answered"], st["lost"], st["mismatch"], st["dup"],
           st["late"], st["reordered"], st["send_errors"], st["elapsed"], dps,
           pct(rt, 50) * 1e3, pct(rt, 99) * 1e3, (max(rt) if rt else 0) * 1e3, sum(sizes), ok))
    for e in st["examples"]:
        log("unmatched reply: " + e)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------
# single exchanges


def cmd_exchange(a):
    """Send --count datagrams of --size bytes from one socket, --gap apart;
    --expect echo: each must come back exactly (resent up to --tries times
    if nothing came within --within s); --expect none: nothing may come back
    within --within s after the last one."""
    s = udp_socket(a.src, a.sport)
    s.connect((a.host, a.port))
    s.settimeout(0.05)
    local = local_text(s)
    answered = 0
    bad = 0
    tries_used = 0
    last_reply_ms = 0
    rtts = []
    for i in range(a.count):
        rng = random.Random(a.seed * 1000003 + i)
        p = rng.randbytes(a.size)
        if i:
            time.sleep(a.gap)
        got = False
        for t in range(a.tries if a.expect == "echo" else 1):
            tries_used = max(tries_used, t + 1)
            t_sent = now()
            try:
                s.send(p)
            except OSError as e:
                log("send %d bytes: %s" % (len(p), e))
                out("local=%s error=%r ok=0" % (local, e))
                sys.exit(1)
            if a.expect == "none":
                break
            deadline = t_sent + a.within
            while now() < deadline:
                try:
                    data = s.recv(65536)
                except socket.timeout:
                    continue
                except ConnectionRefusedError:
                    continue
                if data == p:
                    got = True
                    rtts.append(now() - t_sent)
                    last_reply_ms = int(time.time() * 1000)
                    break
                bad += 1
                log("unexpected reply: %d bytes (sent %d)" % (len(data), len(p)))
            if got:
                break
        answered += got
    if a.expect == "none":
        deadline = now() + a.within
        while now() < deadline:
            try:
                data = s.recv(65536)
            except (socket.timeout, ConnectionRefusedError):
                continue
            answered += 1
            log("reply where none was expected: %d bytes" % len(data))
        ok = answered == 0
    else:
        ok = answered == a.count and bad == 0
    out("local=%s sent=%d answered=%d bad=%d tries=%d rtt_ms=%.3f last_reply_ms=%d ok=%d"
        % (local, a.count, answered, bad, tries_used, (max(rtts) if rtts else 0) * 1e3,
           last_reply_ms, ok))
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------
# UDP_MAX_SESSIONS


def _ping_once(s, payload, within):
    s.send(payload)
    deadline = now() + within
    while now() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - now()))
        if not r:
            break
        try:
            data = s.recv(65536)
        except (BlockingIOError, ConnectionRefusedError):
            continue
        if data == payload:
            return True
    return False


def cmd_cap(a):
    """--live peers hold sessions (answered); one more peer gets no answer
    while they live (its datagrams are counted); after --marker is written
    and --go appears, the live peers go quiet and the extra peer is served
    once their sessions have expired."""
    live = []
    for i in range(a.live):
        s = udp_socket()
        s.connect((HOST, a.port))
        s.setblocking(False)
        if not _ping_once(s, b"live-%d-start" % i, 2.0):
            out("phase=open live=%d ok=0" % i)
            sys.exit(1)
        live.append(s)
    x = udp_socket()
    x.connect((HOST, a.port))
    x.setblocking(False)
    x_local = local_text(x)
    x_sent = 0
    x_answers = 0
    live_fail = 0
    t_end = now() + a.capped_for
    k = 0
    next_x = now()
    while now() < t_end:
        if now() >= next_x and x_sent < a.extra_sends:
            x.send(b"extra-%d" % x_sent)
            x_sent += 1
            next_x = now() + a.capped_for / max(a.extra_sends, 1)
        for i, s in enumerate(live):
            if not _ping_once(s, b"live-%d-%d" % (i, k), 1.0):
                live_fail += 1
        k += 1
        try:
            while True:
                x.recv(65536)
                x_answers += 1
        except (BlockingIOError, ConnectionRefusedError):
            pass
        time.sleep(0.2)
    # late answers to the extra peer
    r, _, _ = select.select([x], [], [], 0.5)
    if r:
        try:
            while True:
                x.recv(65536)
                x_answers += 1
        except (BlockingIOError, ConnectionRefusedError):
            pass
    out("phase=capped extra=%s extra_sent=%d extra_answered=%d live=%d live_pings=%d live_failed=%d"
        % (x_local, x_sent, x_answers, a.live, k * a.live, live_fail))
    capped_ok = x_answers == 0 and live_fail == 0
    with open(a.marker + ".tmp", "w") as f:
        f.write("%d %d\n" % (x_sent, x_answers))
    os.rename(a.marker + ".tmp", a.marker)
    # keep the live sessions busy until the test has looked at the status
    deadline = now() + a.go_timeout
    while not os.path.exists(a.go) and now() < deadline:
        for i, s in enumerate(live):
            if not _ping_once(s, b"live-%d-hold" % i, 1.0):
                live_fail += 1
        time.sleep(0.2)
    # now quiet: the live sessions expire; the extra peer is served then
    t_quiet = now()
    served_after = -1.0
    while now() - t_quiet < a.expire_wait:
        payload = b"extra-%d" % x_sent
        x_sent += 1
        if _ping_once(x, payload, 0.5):
            served_after = now() - t_quiet
            break
    out("phase=expired extra_sent_total=%d served_after=%.2f live_failed=%d"
        % (x_sent, served_after, live_fail))
    ok = capped_ok and served_after >= 0 and live_fail == 0
    out("ok=%d" % ok)
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------
# paced ping (t_udp_load)


def cmd_ping(a):
    """A --size byte datagram every --interval s for --duration s; a reply
    counts when it comes back unchanged within --timeout s.  last_reply_ms
    is the wall clock (ms since the epoch) of the last reply that counted."""
    s = udp_socket(a.src)
    s.connect((a.host, a.port))
    s.setblocking(False)
    pad = random.Random(a.seed).randbytes(max(0, a.size - 8))
    sent = {}
    rtts = []
    late = []
    bad = 0
    last_reply_ms = 0
    t0 = now()
    end = t0 + a.duration
    i = 0
    while True:
        t = now()
        if t >= end:
            break
        due = t0 + i * a.interval
        if t >= due:
            p = struct.pack("!Q", i) + pad
            try:
                sent[i] = now()
                s.send(p[:a.size])
            except OSError as e:
                log("send: %s" % e)
            i += 1
            continue
        r, _, _ = select.select([s], [], [], max(0.0, min(due, end) - t))
        if r:
            k = len(rtts)
            bad += _ping_read(s, sent, rtts, late, a.timeout, a.size, pad)
            if len(rtts) > k:
                last_reply_ms = int(time.time() * 1000)
    stop = now() + a.timeout
    while sent and now() < stop:  # sent: the pings still unanswered
        r, _, _ = select.select([s], [], [], max(0.0, stop - now()))
        if r:
            k = len(rtts)
            bad += _ping_read(s, sent, rtts, late, a.timeout, a.size, pad)
            if len(rtts) > k:
                last_reply_ms = int(time.time() * 1000)
    n = i
    frac = len(rtts) / max(n, 1)
    ok = frac >= a.min_answered and bad == 0
    out("label=%s local=%s sent=%d answered=%d answered_frac=%.4f late=%d bad=%d p50_ms=%.3f "
        "p99_ms=%.3f max_ms=%.3f last_reply_ms=%d ok=%d"
        % (a.label, local_text(s), n, len(rtts), frac, len(late), bad, pct(rtts, 50) * 1e3,
           pct(rtts, 99) * 1e3, (max(rtts) if rtts else 0) * 1e3, last_reply_ms, ok))
    sys.exit(0 if ok else 1)


def _ping_read(s, sent, rtts, late, timeout, size, pad):
    bad = 0
    while True:
        try:
            data = s.recv(65536)
        except (BlockingIOError, ConnectionRefusedError):
            return bad
        t = now()
        if len(data) != size or len(data) < 8:
            bad += 1
            continue
        (i,) = struct.unpack("!Q", data[:8])
        ts = sent.pop(i, None)
        if ts is None or data[8:] != pad[:size - 8]:
            bad += 1
            continue
        if t - ts <= timeout:
            rtts.append(t - ts)
        else:
            late.append(t - ts)


# ---------------------------------------------------------------------------
# bulk TCP (t_udp_load)


class TcpPattern:
    """The deterministic byte stream of tcp-source / tcp-sink: a seeded
    random block of PERIOD bytes repeated; PERIOD is no power of two, so a
    byte dropped, duplicated or moved by any amount that is not a multiple
    of it lands on a different byte.  Any slice of up to SPAN bytes is one
    contiguous memoryview (no copy), so checking costs a memcmp."""

    PERIOD = (1 << 20) + 4093
    SPAN = 1 << 20

    def __init__(self, seed):
        block = random.Random(seed).randbytes(self.PERIOD)
        self.ring = memoryview(block + block[:self.SPAN])

    def at(self, offset, n):
        """n <= SPAN bytes of the stream from offset."""
        o = offset % self.PERIOD
        return self.ring[o:o + n]


def cmd_tcp_source(a):
    """Accept one connection and send the TcpPattern stream of --seed for
    --duration s (or --bytes), then close; prints the byte count sent."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, a.port))
    ls.listen(4)
    out("LISTENING %d" % a.port)
    ls.settimeout(a.accept_timeout)
    try:
        c, peer = ls.accept()
    except socket.timeout:
        log("no connection within %.0f s" % a.accept_timeout)
        sys.exit(1)
    ls.close()
    c.settimeout(10.0)
    pat = TcpPattern(a.seed)
    step = 256 << 10
    sent = 0
    t0 = now()
    try:
        while now() - t0 < a.duration and sent < a.bytes:
            n = min(step, a.bytes - sent)
            c.sendall(pat.at(sent, n))
            sent += n
    except OSError as e:
        log("send: %s" % e)
    el = now() - t0
    c.close()
    log("source: sent %d bytes in %.2f s (%.2f Gbit/s)" % (sent, el, sent * 8 / max(el, 1e-9) / 1e9))
    out("sent=%d seconds=%.2f" % (sent, el))


def cmd_tcp_sink(a):
    """Connect, read until EOF (bounded), checking every byte against the
    TcpPattern stream of --seed; print bytes, the first wrong offset
    (bad_at=None when all matched), duration, rate.  Exit 0 only for EOF
    with every byte right; 2 for a wrong byte."""
    s = socket.socket()
    s.bind((HOST, 0))
    s.settimeout(10.0)
    s.connect((HOST, a.port))
    pat = TcpPattern(a.seed)
    buf = bytearray(TcpPattern.SPAN)
    got = 0
    bad_at = None
    t0 = now()
    if a.started:
        with open(a.started, "w") as f:
            f.write("%s\n" % local_text(s))
    how = "eof"
    while now() - t0 < a.timeout:
        try:
            k = s.recv_into(buf)
        except socket.timeout:
            how = "stalled"
            break
        except OSError as e:
            how = "error:%s" % type(e).__name__
            break
        if not k:
            break
        if bad_at is None:
            want = pat.at(got, k)
            if not buf.startswith(want):
                bad_at = got + next(i for i in range(k) if buf[i] != want[i])
        got += k
    else:
        how = "timeout"
    el = now() - t0
    out("received=%d bad_at=%s seconds=%.2f gbps=%.2f how=%s"
        % (got, bad_at, el, got * 8 / max(el, 1e-9) / 1e9, how))
    if bad_at is not None:
        sys.exit(2)
    sys.exit(0 if how == "eof" else 1)


# ---------------------------------------------------------------------------
# DNS (t_udp_dns)


def dns_query(qid, name):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack("!HH", 1, 1)


def _dns_name(msg, off, depth=0):
    labels = []
    while True:
        if off >= len(msg) or depth > 20:
            raise ValueError("truncated name")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            ptr = struct.unpack("!H", msg[off:off + 2])[0] & 0x3FFF
            rest, _ = _dns_name(msg, ptr, depth + 1)
            labels.append(rest)
            return ".".join(x for x in labels if x), off + 2
        off += 1
        if n == 0:
            return ".".join(labels), off
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def dns_parse(msg):
    """(id, rcode, qname, [A addresses])"""
    qid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if not flags & 0x8000:
        raise ValueError("not a response")
    off = 12
    qname = None
    for _ in range(qd):
        qname, off = _dns_name(msg, off)
        off += 4
    addrs = []
    for _ in range(an):
        _, off = _dns_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return qid, flags & 0xF, qname, addrs


def cmd_dns_load(a):
    """--peers sockets (distinct source ports) send --queries queries in
    all, at most --window in flight each, names pNN-qNNNNN.--domain.  Every
    answer must carry the ID and name of a query in flight from that very
    socket, come from the server's address and give --expect."""
    per = a.queries // a.peers
    peers = []
    for i in range(a.peers):
        s = udp_socket(bufsize=1 << 20)
        s.connect((a.host, a.port))
        s.setblocking(False)
        peers.append({"s": s, "i": i, "next": 0, "out": {}, "used": set(),
                      "rng": random.Random(a.seed * 7919 + i)})
    by_fd = {p["s"].fileno(): p for p in peers}
    st = {"sent": 0, "answered": 0, "lost": 0, "foreign": 0, "wrong": 0, "late": 0}
    rtts = []
    examples = []
    t0 = now()
    stop = t0 + a.overall

    def fill(p):
        while p["next"] < per and len(p["out"]) < a.window:
            qid = p["rng"].randrange(65536)
            while qid in p["out"]:
                qid = p["rng"].randrange(65536)
            name = "p%02d-q%05d.%s" % (p["i"], p["next"], a.domain)
            try:
                p["s"].send(dns_query(qid, name))
            except BlockingIOError:
                return
            p["out"][qid] = (name.lower(), now())
            p["used"].add((qid, name.lower()))
            p["next"] += 1
            st["sent"] += 1

    for p in peers:
        fill(p)
    poller = select.poll()
    for p in peers:
        poller.register(p["s"], select.POLLIN)
    while now() < stop and any(p["next"] < per or p["out"] for p in peers):
        for fd, _ in poller.poll(20):
            p = by_fd[fd]
            while True:
                try:
                    msg = p["s"].recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                try:
                    qid, rcode, qname, addrs = dns_parse(msg)
                except (ValueError, struct.error, IndexError) as e:
                    st["wrong"] += 1
                    examples.append("peer %d: unparsable reply (%s)" % (p["i"], e))
                    continue
                qname = (qname or "").lower()
                hit = p["out"].get(qid)
                if hit is None or hit[0] != qname:
                    if (qid, qname) in p["used"]:
                        st["late"] += 1
                    else:
                        st["foreign"] += 1
                        examples.append("peer %d got id %d for %s: not a query it has sent"
                                        % (p["i"], qid, qname))
                    continue
                del p["out"][qid]
                if rcode != 0 or addrs != [a.expect]:
                    st["wrong"] += 1
                    examples.append("peer %d: %s -> rcode %d %s" % (p["i"], qname, rcode, addrs))
                    continue
                st["answered"] += 1
                rtts.append(now() - hit[1])
        t = now()
        for p in peers:
            for qid in [q for q, (_, ts) in p["out"].items() if t - ts > a.timeout]:
                del p["out"][qid]
                st["lost"] += 1
            fill(p)
    for p in peers:
        st["lost"] += len(p["out"]) + (per - p["next"])
    total = per * a.peers
    frac = st["answered"] / max(total, 1)
    el = now() - t0
    ok = frac >= a.min_answered and st["foreign"] == 0 and st["wrong"] == 0
    for e in examples[:5]:
        log(e)
    out("queries=%d peers=%d answered=%d answered_frac=%.4f lost=%d late=%d foreign=%d wrong=%d "
        "seconds=%.2f qps=%.0f p50_ms=%.3f p99_ms=%.3f ok=%d"
        % (total, a.peers, st["answered"], frac, st["lost"], st["late"], st["foreign"],
           st["wrong"], el, st["answered"] / max(el, 1e-9), pct(rtts, 50) * 1e3,
           pct(rtts, 99) * 1e3, ok))
    sys.exit(0 if ok else 1)


def main():
    p, add = subcommands(__doc__)

    def target(sp):
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--host", default=HOST)
        sp.add_argument("--src", default=HOST, help="source address (127.0.0.0/8)")

    add("free-port", cmd_free_port, "a port free for TCP and UDP on 127.0.0.1")

    sp = add("echo-server", cmd_echo_server, "UDP echo server")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--lifetime", type=float, default=300.0)

    sp = add("echo", cmd_echo, "windowed, checked UDP echo")
    target(sp)
    sp.add_argument("-n", type=int, default=10000)
    sp.add_argument("--min", type=int, default=1)
    sp.add_argument("--max", type=int, default=1400)
    sp.add_argument("--window", type=int, default=32)
    sp.add_argument("--timeout", type=float, default=1.0, help="per datagram")
    sp.add_argument("--overall", type=float, default=60.0)
    sp.add_argument("--max-loss", type=float, default=0.001)
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--label", default="echo")

    sp = add("exchange", cmd_exchange, "send datagrams, expect echo or nothing")
    target(sp)
    sp.add_argument("--sport", type=int, default=0, help="source port (0: any)")
    sp.add_argument("--size", type=int, default=100)
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--gap", type=float, default=0.1)
    sp.add_argument("--expect", choices=("echo", "none"), default="echo")
    sp.add_argument("--within", type=float, default=2.0)
    sp.add_argument("--tries", type=int, default=1)
    sp.add_argument("--seed", type=int, default=5)

    sp = add("cap", cmd_cap, "UDP_MAX_SESSIONS scenario")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--live", type=int, default=3)
    sp.add_argument("--capped-for", type=float, default=1.5)
    sp.add_argument("--extra-sends", type=int, default=3)
    sp.add_argument("--marker", required=True)
    sp.add_argument("--go", required=True)
    sp.add_argument("--go-timeout", type=float, default=15.0)
    sp.add_argument("--expire-wait", type=float, default=8.0)

    sp = add("ping", cmd_ping, "paced UDP ping")
    target(sp)
    sp.add_argument("--size", type=int, default=64)
    sp.add_argument("--interval", type=float, default=0.01)
    sp.add_argument("--duration", type=float, default=5.0)
    sp.add_argument("--timeout", type=float, default=1.0)
    sp.add_argument("--min-answered", type=float, default=0.99)
    sp.add_argument("--seed", type=int, default=9)
    sp.add_argument("--label", default="ping")

    sp = add("tcp-source", cmd_tcp_source, "one TCP connection, bulk send")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--duration", type=float, default=8.0)
    sp.add_argument("--bytes", type=int, default=1 << 40)
    sp.add_argument("--accept-timeout", type=float, default=60.0)
    sp.add_argument("--seed", type=int, default=1)

    sp = add("tcp-sink", cmd_tcp_sink, "read one TCP connection to EOF")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--timeout", type=float, default=60.0)
    sp.add_argument("--started", help="file written once connected")
    sp.add_argument("--seed", type=int, default=1)

    sp = add("dns-load", cmd_dns_load, "parallel DNS queries, answers checked per peer")
    target(sp)
    sp.add_argument("--peers", type=int, default=20)
    sp.add_argument("--queries", type=int, default=2000)
    sp.add_argument("--window", type=int, default=4)
    sp.add_argument("--timeout", type=float, default=3.0)
    sp.add_argument("--overall", type=float, default=60.0)
    sp.add_argument("--domain", default="test.tcpf")
    sp.add_argument("--expect", default="10.9.8.7")
    sp.add_argument("--min-answered", type=float, default=0.999)
    sp.add_argument("--seed", type=int, default=11)

    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
