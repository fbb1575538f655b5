#!/usr/bin/env python3
"""UDP measurements for bench/udp.sh (standard library only, 127.0.0.1).

  udp_bench.py echo-server PORT [--max-seconds S]
      UDP echo; prints "LISTENING PORT" once bound.
  udp_bench.py rate PORT --n N --min A --max B --window W [--seed S]
      N datagrams of random sizes A..B, at most W in flight; every reply must
      equal a datagram in flight (modified, merged or split ones are
      counted as "bad"). Prints one line:
      RESULT n= answered= lost= bad= seconds= dps= mbps= p50_us= p99_us=
  udp_bench.py lat PORT --n N --size B
      ping-pong, one datagram in flight: the same RESULT line, where p50/p99
      are the round trips of one datagram alone.

Exit status 1 when a reply was bad or more than --max-loss were lost.
"""

import argparse
import os
import random
import select
import socket
import struct
import sys

# The clock and percentile helpers are the integration tests' own.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from testnet import now, pct  # noqa: E402


def udp_socket(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for force, opt in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):
        try:
            s.setsockopt(socket.SOL_SOCKET, force, 4 << 20)  # *BUFFORCE (root)
        except OSError:
            try:
                s.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
            except OSError:
                pass
    s.bind(("127.0.0.1", port))
    return s


def echo_server(a):
    s = udp_socket(a.port)
    print("LISTENING %d" % a.port, flush=True)
    buf = bytearray(65536)
    mv = memoryview(buf)
    end = now() + a.max_seconds
    while now() < end:
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            continue
        for _ in range(256):
            try:
                n, peer = s.recvfrom_into(buf, 65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            try:
                s.sendto(mv[:n], peer)
            except OSError:
                pass


def payload(block, seq, size):
    head = struct.pack("<II", seq & 0xFFFFFFFF, size)
    if size <= 8:
        return head[:size]
    off = (seq * 7919) % 65536
    return head + block[off:off + size - 8]


def run(port, sizes, window, timeout, overall, seed):
    block = random.Random(seed).randbytes(140000)
    s = udp_socket()
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    n = len(sizes)
    inflight = {}
    order = []
    head = 0
    rtts = []
    answered = lost = bad = 0
    nxt = 0
    t0 = now()
    stop = t0 + overall
    while (nxt < n or inflight) and now() < stop:
        while nxt < n and len(inflight) < window:
            p = payload(block, nxt, sizes[nxt])
            if p in inflight:
                break
            t = now()
            try:
                s.send(p)
            except BlockingIOError:
                break
            inflight[p] = (nxt, t)
            order.append((t, p, nxt))
            nxt += 1
        while head < len(order) and order[head][1] not in inflight:
            head += 1
        wait = 0.2
        if head < len(order):
            wait = max(0.0, min(wait, order[head][0] + timeout - now()))
        if nxt < n and len(inflight) < window:
            wait = 0.0
        r, _, _ = select.select([s], [], [], wait)
        if r:
            while True:
                try:
                    d = s.recv(65536)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                hit = inflight.pop(d, None)
                if hit is None:
                    bad += 1
                    continue
                rtts.append(now() - hit[1])
                answered += 1
        t = now()
        while head < len(order) and order[head][0] + timeout <= t:
            _, p, seq = order[head]
            head += 1
            cur = inflight.get(p)
            if cur is not None and cur[0] == seq:
                del inflight[p]
                lost += 1
    lost += len(inflight) + (n - nxt)
    el = now() - t0
    return {"n": n, "answered": answered, "lost": lost, "bad": bad, "seconds": el,
            "dps": answered / max(el, 1e-9),
            "mbps": sum(sizes) * 8 / max(el, 1e-9) / 1e6,
            "p50_us": pct(rtts, 50) * 1e6, "p99_us": pct(rtts, 99) * 1e6}


def report(r, max_loss):
    # "late" replies (after their timeout) are counted as bad here too; on
    # loopback with a 2 s timeout there are none.
    print("RESULT n=%(n)d answered=%(answered)d lost=%(lost)d bad=%(bad)d seconds=%(seconds).3f "
          "dps=%(dps).0f mbps=%(mbps).1f p50_us=%(p50_us).0f p99_us=%(p99_us).0f" % r, flush=True)
    sys.exit(0 if r["bad"] == 0 and r["lost"] <= max_loss * r["n"] else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo-server")
    e.add_argument("port", type=int)
    e.add_argument("--max-seconds", type=float, default=900)
    for name in ("rate", "lat"):
        sp = sub.add_parser(name)
        sp.add_argument("port", type=int)
        sp.add_argument("--n", type=int, default=20000)
        sp.add_argument("--timeout", type=float, default=2.0)
        sp.add_argument("--overall", type=float, default=120.0)
        sp.add_argument("--max-loss", type=float, default=0.001)
        sp.add_argument("--seed", type=int, default=1)
        if name == "rate":
            sp.add_argument("--min", type=int, default=1)
            sp.add_argument("--max", type=int, default=1400)
            sp.add_argument("--window", type=int, default=32)
        else:
            sp.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    if a.cmd == "echo-server":
        echo_server(a)
    elif a.cmd == "rate":
        rng = random.Random(a.seed)
        sizes = [rng.randint(a.min, a.max) for _ in range(a.n)]
        report(run(a.port, sizes, a.window, a.timeout, a.overall, a.seed), a.max_loss)
    else:
        report(run(a.port, [a.size] * a.n, 1, a.timeout, a.overall, a.seed), a.max_loss)


if __name__ == "__main__":
    main()
