#!/usr/bin/env python3
"""Where the bytes wait: samples `ss -tmi` for the TCP sockets of some
processes while a load runs, then says, per socket, how much sat in its
receive queue (Recv-Q: arrived, not yet read by the process), its send
queue (Send-Q: written, not yet acknowledged) and, of that, the part not
yet sent (notsent), as median, 90th percentile and maximum over the
samples, plus the TCP round trip the kernel measured.

usage: socket_queues.py --pids PID[,PID...] --seconds S [--interval MS]
                        [--raw FILE]

Sampling stops after --seconds (bounded) or at SIGINT/SIGTERM; the table
goes to stdout, the raw `ss -tmnipO` lines (with "@ <time>" separators) to
--raw when given. A socket whose peer is another sampled socket is labelled
"channel" (forward-server <-> forward-client); the others are the public
side (forward-server) or the target side (forward-client).
"""
import argparse
import re
import signal
import statistics
import subprocess
import sys
import time

FIELD_RE = {
    "notsent": re.compile(r"\bnotsent:(\d+)"),
    "rtt": re.compile(r"\brtt:([\d.]+)/"),
}
PROC_RE = re.compile(r'users:\(\("([^"]+)",pid=(\d+)')

stop = False


def on_signal(_sig, _frm):
    global stop
    stop = True


def sample(pids):
    """One `ss` call: [(pid, comm, local, peer, recvq, sendq, fields)]."""
    try:
        out = subprocess.run(["ss", "-tmnipOH", "state", "established"],
                             capture_output=True, text=True, timeout=5).stdout
    except (subprocess.SubprocessError, OSError):
        return [], ""
    rows = []
    kept = []
    for line in out.splitlines():
        m = PROC_RE.search(line)
        if not m or int(m.group(2)) not in pids:
            continue
        parts = line.split()
        # With -H and "state established": Recv-Q Send-Q Local Peer ...
        try:
            recvq, sendq = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            continue
        fields = {}
        for k, rx in FIELD_RE.items():
            f = rx.search(line)
            if f:
                fields[k] = float(f.group(1))
        rows.append((int(m.group(2)), m.group(1), parts[2], parts[3], recvq, sendq, fields))
        kept.append(line)
    return rows, "\n".join(kept)


def pct(values, q):
    if not values:
        return 0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def kib(v):
    return f"{v / 1024:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pids", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--interval", type=float, default=50, help="milliseconds")
    ap.add_argument("--raw")
    a = ap.parse_args()
    pids = {int(p) for p in a.pids.split(",") if p}
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    raw = open(a.raw, "w") if a.raw else None
    series = {}  # (pid, comm, local, peer) -> list of (recvq, sendq, fields)
    n = 0
    deadline = time.monotonic() + min(a.seconds, 600)
    while not stop and time.monotonic() < deadline and n < 20000:
        rows, text = sample(pids)
        n += 1
        if raw:
            raw.write(f"@ {time.time():.3f}\n{text}\n")
        for pid, comm, local, peer, rq, sq, fields in rows:
            series.setdefault((pid, comm, local, peer), []).append((rq, sq, fields))
        time.sleep(a.interval / 1000)
    if raw:
        raw.close()

    locals_ = {k[2] for k in series}
    print(f"# {n} samples every {a.interval:.0f} ms; queues in KiB (p50 / p90 / max over the samples where the socket existed)")
    print(f"{'process':<15} {'role':<8} {'local':<21} {'peer':<21} {'n':>5}  "
          f"{'Recv-Q':>16}  {'Send-Q':>16}  {'notsent':>16}  {'rtt ms p50':>10}")
    busy = sorted(series.items(), key=lambda kv: -max(r[0] + r[1] for r in kv[1]))
    shown = 0
    for (pid, comm, local, peer), rs in busy:
        if shown >= 12:
            break
        if max(r[0] + r[1] for r in rs) == 0 and len(series) > 12:
            continue
        shown += 1
        role = "channel" if peer in locals_ else ("public" if "server" in comm else "target")
        rq = [r[0] for r in rs]
        sq = [r[1] for r in rs]
        ns = [r[2].get("notsent", 0) for r in rs]
        rtt = [r[2]["rtt"] for r in rs if "rtt" in r[2]]

        def trio(v):
            return f"{kib(pct(v, .5))} / {kib(pct(v, .9))} / {kib(max(v))}"
        print(f"{comm[:15]:<15} {role:<8} {local:<21} {peer:<21} {len(rs):>5}  "
              f"{trio(rq):>16}  {trio(sq):>16}  {trio(ns):>16}  "
              f"{(statistics.median(rtt) if rtt else 0):>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
