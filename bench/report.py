#!/usr/bin/env python3
"""Format bench/run.sh's results file as fixed-width tables on stdout.

usage: report.py RESULTS.tsv

Input: one record per line, tab-separated, first field the kind:
  meta     KEY VALUE
  tput     PATH STREAMS ROUND GBIT/S|FAIL
  cpu      PATH STREAMS ROUND PERCENT      (path processes, % of one core)
  wrk      PATH MODE ROUND RPS P50_US P99_US REQUESTS ERRORS | PATH MODE ROUND FAIL
  wrkcpu   PATH MODE ROUND PERCENT
  streams  PATH N                         (streams held through PATH)
  mem      PATH PROCESS STATE KIB          (STATE: idle, held, after)
  memparts PATH PROCESS STATE ANON FILE SHMEM  (KiB: RssAnon, RssFile, RssShmem)
  memcheck PATH opened N SECONDS | PATH recheck OK LINE
  lat      PATH BULK N P50 P90 P99 MAX MEAN BULK_GBPS (us) | PATH BULK FAIL
  note     PATH WHAT MESSAGE               (skipped things; not failures)
  problem  PATH WHAT MESSAGE               (failed measurements)
To add a measure: have run.sh record a new kind and add a section here.
The last section, "Targets", checks the issue-7 and issue-19 targets as ratios within
this run.
"""
import statistics
import sys
from collections import OrderedDict, defaultdict

LABEL = OrderedDict([
    ("direct", "direct"),
    ("haproxy", "haproxy"),
    ("sshR", "ssh -R"),
    ("tcpf", "tcp-forward"),
    ("tcpf_tls", "tcp-forward TLS"),
])
SUBJECTS = ("tcpf", "tcpf_tls")
SUBJECT = "tcpf"
# memory comparisons: (tcp-forward process, anchor path, anchor process)
MEM_PAIRS = [
    ("forward-server", "sshR", "sshd-session"),
    ("forward-client", "sshR", "ssh-client"),
    ("total", "sshR", "total"),
    ("forward-server", "haproxy", "haproxy"),
]
WRK_MODES = [("keepalive", "keep-alive"), ("close", "new connection")]
TARGET_STREAMS = 10000


def label(pid):
    return LABEL.get(pid, pid)


def fmt_num(v, nd=2):
    return "n/a" if v is None else "%.*f" % (nd, v)


def fmt_ms(us):
    if us is None:
        return "n/a"
    ms = us / 1000.0
    return "%.2f" % ms if ms < 10 else "%.1f" % ms


def fmt_int(v):
    return "n/a" if v is None else "{:,}".format(int(round(v)))


def ratio(a, b):
    return a / b if a is not None and b else None


def table(headers, rows, aligns):
    """Fixed-width table; aligns is a string of 'l'/'r' per column."""
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    out = []

    def line(cells):
        parts = []
        for i, c in enumerate(cells):
            parts.append(c.ljust(widths[i]) if aligns[i] == "l" else c.rjust(widths[i]))
        out.append("  " + "   ".join(parts).rstrip())

    line(headers)
    out.append("  " + "   ".join("-" * w for w in widths))
    for r in rows:
        line(r)
    return "\n".join(out)


def ordered(paths):
    """Paths in LABEL order, unknown ones after."""
    paths = set(paths)
    return [x for x in LABEL if x in paths] + sorted(paths - set(LABEL))


def median_or_none(v):
    ok = [x for x in v if x is not None]
    return statistics.median(ok) if ok else None


def main():
    meta = OrderedDict()
    tput = defaultdict(list)          # (path, P) -> [gbps or None]
    cpu = defaultdict(list)           # (path, P) -> [percent of one core]
    wrk_raw = defaultdict(list)       # (path, mode) -> [dict or None (failed)]
    wrkcpu_raw = defaultdict(list)    # (path, mode) -> [percent]
    nstreams = {}                     # path -> N
    mem = OrderedDict()               # (path, proc) -> {state: kib}
    memparts = {}                     # (path, proc, state) -> (anon, file, shmem)
    memcheck = defaultdict(dict)      # path -> {kind: (a, b)}
    lat = OrderedDict()               # (path, bulk) -> dict or None (failed)
    fair = OrderedDict()              # (path, dir, n) -> dict or None (failed)
    notes = OrderedDict()             # (path, msg) -> [what...]
    problems = []
    with open(sys.argv[1]) as f:
        for raw in f:
            r = raw.rstrip("\n").split("\t")
            kind = r[0]
            if kind == "meta":
                meta[r[1]] = r[2] if len(r) > 2 else ""
            elif kind == "tput":
                tput[(r[1], int(r[2]))].append(None if r[4] == "FAIL" else float(r[4]))
            elif kind == "cpu":
                cpu[(r[1], int(r[2]))].append(float(r[4]))
            elif kind == "wrk":
                if r[4] == "FAIL":
                    wrk_raw[(r[1], r[2])].append(None)
                else:
                    wrk_raw[(r[1], r[2])].append(
                        dict(rps=float(r[4]), p50=float(r[5]), p99=float(r[6]),
                             reqs=int(r[7]), errors=int(r[8])))
            elif kind == "wrkcpu":
                wrkcpu_raw[(r[1], r[2])].append(float(r[4]))
            elif kind == "streams":
                nstreams[r[1]] = int(r[2])
            elif kind == "mem":
                mem.setdefault((r[1], r[2]), {})[r[3]] = int(r[4])
            elif kind == "memparts":
                memparts[(r[1], r[2], r[3])] = tuple(int(v) for v in r[4:7])
            elif kind == "memcheck":
                memcheck[r[1]][r[2]] = (r[3], r[4] if len(r) > 4 else "")
            elif kind == "lat":
                if r[3] == "FAIL":
                    lat[(r[1], r[2])] = None
                else:
                    lat[(r[1], r[2])] = dict(n=int(r[3]), p50=float(r[4]), p90=float(r[5]),
                                             p99=float(r[6]), max=float(r[7]), mean=float(r[8]),
                                             gbps=float(r[9]))
            elif kind == "fair":
                if r[4] == "FAIL":
                    fair[(r[1], r[2], int(r[3]))] = None
                else:
                    fair[(r[1], r[2], int(r[3]))] = dict(total=float(r[4]), jain=float(r[5]),
                                                         min=float(r[6]), max=float(r[7]))
            elif kind == "note":
                notes.setdefault((r[1], r[3]), []).append(r[2])
            elif kind == "problem":
                problems.append((r[1], r[2], r[3]))

    # wrk: medians over rounds (None when every round failed)
    wrk = {}
    wrk_rounds = max([len(v) for v in wrk_raw.values()] or [0])
    for k, v in wrk_raw.items():
        ok = [d for d in v if d]
        if not ok:
            wrk[k] = None
            continue
        wrk[k] = dict((f, statistics.median(d[f] for d in ok)) for f in ("rps", "p50", "p99"))
        wrk[k]["errors"] = sum(d["errors"] for d in ok)
        wrk[k]["failed"] = v.count(None)
    wrkcpu = {k: statistics.median(v) for k, v in wrkcpu_raw.items() if v}

    p = print
    p("tcp-forward benchmark (loopback only)  %s" % meta.get("date", ""))
    p("  host:      %s" % meta.get("host", ""))
    p("  load avg:  start %s / end %s (1, 5, 15 min; >0.3 at the start means the box was busy)"
      % (meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?")))
    p("  tools:     %s" % meta.get("tools", ""))
    if "ssh_cipher" in meta:
        p("  ssh -R:    negotiated cipher %s" % meta["ssh_cipher"])
    p("  daemons:   %s" % meta.get("forward_server", ""))
    if "tcpf_auth" in meta:
        p("             channel authentication: %s" % meta["tcpf_auth"])
    if "tls_forced" in meta:
        p("             %s" % meta["tls_forced"])
    p("  settings:  %s" % meta.get("settings", ""))
    secs = ["%s %ss" % (k[len("seconds_"):], v) for k, v in meta.items() if k.startswith("seconds_")]
    p("  sections:  %s (fd limit %s)" % (", ".join(secs) or meta.get("sections", ""),
                                          meta.get("fd_limit", "?")))

    # ---------------------------------------------------------- throughput
    med = {k: median_or_none(v) for k, v in tput.items()}
    if tput:
        ps = sorted({k[1] for k in tput})
        paths = ordered(k[0] for k in tput)
        rounds = max(len(v) for v in tput.values())
        p("")
        title = "Throughput: iperf3 through each path to one iperf3 server, receiver side, Gbit/s"
        if rounds > 1:
            title += " (median of %d rounds; min..max)" % rounds
        p(title)
        rows = []
        for x in paths:
            row = [label(x)]
            for q in ps:
                cell = fmt_num(med.get((x, q)))
                v = [y for y in tput.get((x, q), []) if y is not None]
                if rounds > 1 and v:
                    cell += " (%.2f..%.2f)" % (min(v), max(v))
                if (x, q) in tput and None in tput[(x, q)]:
                    cell += " [%d failed]" % tput[(x, q)].count(None)
                row.append(cell)
            rows.append(row)
        p(table(["path"] + ["-P %d" % q for q in ps], rows, "l" + "r" * len(ps)))
        subjects = [s for s in SUBJECTS if any(k[0] == s for k in tput)]
        if subjects and any(k[0] in ("haproxy", "sshR", "direct") for k in tput):
            p("")
            p("Ratios (same run; >1 means tcp-forward is faster)")
            rows = []
            for subj in subjects:
                for anchor in ("haproxy", "sshR", "direct"):
                    if not any(k[0] == anchor for k in tput):
                        continue
                    row = ["%s / %s" % (label(subj), label(anchor))]
                    for q in ps:
                        row.append(fmt_num(ratio(med.get((subj, q)), med.get((anchor, q)))))
                    rows.append(row)
            p(table(["ratio"] + ["-P %d" % q for q in ps], rows, "l" + "r" * len(ps)))
        if cpu:
            p("")
            p("CPU of the forwarding processes during each test (%% of one core, %s)"
              % ("median" if rounds > 1 else "summed over the path's processes")
              + " and Gbit/s per core")
            rows = []
            for x in paths:
                if not any((x, q) in cpu for q in ps):
                    continue
                row = [label(x)]
                for q in ps:
                    c = statistics.median(cpu[(x, q)]) if cpu.get((x, q)) else None
                    g = med.get((x, q))
                    row.append("n/a" if c is None else "%.0f%%" % c)
                    row.append(fmt_num(g / (c / 100)) if c and g is not None else "n/a")
                rows.append(row)
            hdr = ["path"]
            for q in ps:
                hdr += ["-P %d CPU" % q, "Gbit/s/core"]
            p(table(hdr, rows, "l" + "r" * 2 * len(ps)))

    # ---------------------------------------------------------- wrk
    def wrk_get(path, mode, key):
        d = wrk.get((path, mode))
        return d[key] if d else None

    def wrk_ratio(subj, anchor, mode, key="rps"):
        return ratio(wrk_get(subj, mode, key), wrk_get(anchor, mode, key))

    if wrk:
        paths = ordered(k[0] for k in wrk)
        modes = [m for m in WRK_MODES if any(k[1] == m[0] for k in wrk)]
        p("")
        p("HTTP: wrk -> nginx (1 KiB file) through each path; req/s, latency p50/p99 in ms,"
          " CPU of the path's processes (% of one core)"
          + ("; medians of %d rounds" % wrk_rounds if wrk_rounds > 1 else ""))
        hdr = ["path"]
        for _, mlabel in modes:
            hdr += ["%s req/s" % mlabel, "p50", "p99", "CPU"]
        rows = []
        for x in paths:
            row = [label(x)]
            for m, _ in modes:
                d = wrk.get((x, m), "missing")
                if d == "missing":
                    row += ["n/a"] * 4
                    continue
                if d is None:
                    row += ["FAILED", "", "", ""]
                    continue
                cell = fmt_int(d["rps"])
                if d["errors"]:
                    cell += " [%d err]" % d["errors"]
                if d["failed"]:
                    cell += " [%d failed]" % d["failed"]
                c = wrkcpu.get((x, m))
                row += [cell, fmt_ms(d["p50"]), fmt_ms(d["p99"]),
                        "n/a" if c is None else "%.0f%%" % c]
            rows.append(row)
        p(table(hdr, rows, "l" + "r" * (len(hdr) - 1)))
        subjects = [s for s in SUBJECTS if any(k[0] == s for k in wrk)]
        if subjects and any(k[0] in ("haproxy", "sshR", "direct") for k in wrk):
            p("")
            p("HTTP ratios (same run; req/s: >1 means tcp-forward serves more; p99: <1 means"
              " tcp-forward is faster)")
            hdr = ["ratio"]
            for _, mlabel in modes:
                hdr += ["%s req/s" % mlabel, "p99"]
            rows = []
            for subj in subjects:
                for anchor in ("haproxy", "sshR", "direct"):
                    if not any(k[0] == anchor for k in wrk):
                        continue
                    row = ["%s / %s" % (label(subj), label(anchor))]
                    for m, _ in modes:
                        row.append(fmt_num(wrk_ratio(subj, anchor, m)))
                        row.append(fmt_num(wrk_ratio(subj, anchor, m, "p99")))
                    rows.append(row)
            p(table(hdr, rows, "l" + "r" * (len(hdr) - 1)))

    # ---------------------------------------------------------- streams
    by_path = OrderedDict()
    for (path, proc), st in mem.items():
        by_path.setdefault(path, OrderedDict())[proc] = st
    for path, procs in by_path.items():
        if len(procs) > 1:
            tot = {}
            for s in ("idle", "held", "after"):
                if all(s in st for st in procs.values()):
                    tot[s] = sum(st[s] for st in procs.values())
            procs["total"] = tot

    def per_stream(path, st):
        n = nstreams.get(path)
        if n and "idle" in st and "held" in st:
            return (st["held"] - st["idle"]) / n
        return None

    order = [x for x in SUBJECTS if x in by_path] + [x for x in by_path if x not in SUBJECTS]
    if mem:
        p("")
        p("Concurrency: N idle streams held through one instance to an echo server; VmRSS in KiB")
        p("  (each stream echo-verified when opened and re-verified after the 'held' reading)")
        rows = []
        for path in order:
            for proc, st in by_path[path].items():
                rows.append([label(path), proc, fmt_int(nstreams.get(path)),
                             str(st.get("idle", "n/a")), str(st.get("held", "n/a")),
                             fmt_num(per_stream(path, st)), str(st.get("after", "n/a"))])
        p(table(["path", "process", "streams", "idle", "held", "KiB/stream", "after close"],
                rows, "llrrrrr"))
        parts = []
        for path in order:
            for proc in by_path[path]:
                mp = memparts.get((path, proc, "idle"))
                if mp and path in SUBJECTS:
                    parts.append("%s %s KiB anon + %s KiB file (binary, shared libraries)%s"
                                 % (proc, mp[0], mp[1], " + %s KiB shmem" % mp[2] if mp[2] else ""))
        if parts:
            p("  idle RSS = " + "; ".join(parts))
        rows = []
        for path in order:
            c = memcheck.get(path, {})
            n = nstreams.get(path)
            opened = c.get("opened")
            rate = None
            if opened and float(opened[1]) > 0:
                rate = int(opened[0]) / float(opened[1])
            rechecked = c["recheck"][0] if "recheck" in c else "n/a"
            rows.append([label(path), fmt_int(n),
                         opened[0] if opened else "FAILED",
                         "%.1f" % float(opened[1]) if opened else "n/a",
                         fmt_int(rate), rechecked])
        p("")
        p(table(["path", "streams", "opened+verified", "seconds", "streams/s", "re-verified"],
                rows, "lrrrrr"))
        rows = []
        for proc, anchor, aproc in MEM_PAIRS:
            a = per_stream(SUBJECT, by_path.get(SUBJECT, {}).get(proc, {}))
            b = per_stream(anchor, by_path.get(anchor, {}).get(aproc, {}))
            if a is None or b is None:
                continue
            rows.append(["%s %s / %s %s" % (label(SUBJECT), proc, label(anchor), aproc),
                         fmt_num(a), fmt_num(b), fmt_num(ratio(a, b))])
        if rows:
            p("")
            p("Memory per stream (KiB; ratio <1 means tcp-forward uses less)")
            p(table(["comparison", "tcp-forward", "anchor", "ratio"], rows, "lrrr"))

    # ---------------------------------------------------------- latency
    if lat:
        paths = ordered(k[0] for k in lat)
        bulks = []
        for k in lat:
            if k[1] not in bulks:
                bulks.append(k[1])
        bulks.sort(key=lambda b: {"none": 0, "down": 1, "up": 2}.get(b, 3))
        p("")
        p("Interactive latency: %s-byte request/response round trips on one stream, ms;"
          % meta.get("lat_size", "64"))
        p("  bulk = another stream through the same path at full speed: down = target -> public"
          " peer (like a download), up = the reverse")
        rows = []
        for x in paths:
            for b in bulks:
                if (x, b) not in lat:
                    continue
                d = lat[(x, b)]
                if d is None:
                    rows.append([label(x), b, "FAILED", "", "", "", "", ""])
                    continue
                rows.append([label(x), b, str(d["n"]), fmt_ms(d["p50"]), fmt_ms(d["p90"]),
                             fmt_ms(d["p99"]), fmt_ms(d["max"]),
                             "-" if b == "none" else fmt_num(d["gbps"])])
        p(table(["path", "bulk", "round trips", "p50", "p90", "p99", "max", "bulk Gbit/s"],
                rows, "llrrrrrr"))

    # ---------------------------------------------------------- fairness
    if fair:
        p("")
        p("Fairness: bulk streams at once through one path (for tcp-forward: one channel),"
          " Gbit/s; Jain's index 1.0 = equal shares")
        rows = []
        for (x, d, n), v in fair.items():
            if v is None:
                rows.append([label(x), d, str(n), "FAILED", "", "", ""])
                continue
            alone = fair.get((x, d, 1))
            rows.append([label(x), d, str(n), fmt_num(v["total"]), "%.3f" % v["jain"],
                         "%s..%s" % (fmt_num(v["min"]), fmt_num(v["max"])),
                         "%.2fx" % (v["total"] / alone["total"]) if alone and n > 1 else "-"])
        p(table(["path", "dir", "streams", "total", "Jain", "min..max", "vs 1 stream"],
                rows, "llrrrrr"))

    # ---------------------------------------------------------- targets
    targets = []   # (description, measured text, status)

    def target(desc, value, ok, why_na=None, fmt=None):
        if value is None:
            targets.append((desc, why_na or "not measured", "n/a"))
        else:
            targets.append((desc, fmt(value) if fmt else fmt_num(value),
                            "met" if ok(value) else "NOT met"))

    def skipped(path, section):
        for (pth, msg), whats in notes.items():
            if pth == path and section in whats and msg.startswith("skipped"):
                return msg
        return None

    def tput_na(path):
        if any(k[0] == path for k in tput):
            return "failed"
        return "skipped" if skipped(path, "iperf3") else "not measured"

    def wrk_na(path, mode):
        if (path, mode) in wrk:
            return "failed"
        return "skipped" if skipped(path, "wrk") else "not measured"

    def one_stream_ratio(subj, anchor):  # iperf3 -P 1 medians
        return ratio(med.get((subj, 1)), med.get((anchor, 1)))

    x = lambda v: "%.2fx" % v  # noqa: E731
    target("iperf3 1 stream: tcp-forward >= 1.0x haproxy",
           one_stream_ratio("tcpf", "haproxy"), lambda v: v >= 1.0,
           tput_na("tcpf"), x)
    target("iperf3 1 stream: tcp-forward >= 2x ssh -R",
           one_stream_ratio("tcpf", "sshR"), lambda v: v >= 2.0,
           tput_na("tcpf"), x)
    target("iperf3 1 stream: tcp-forward TLS >= 1.2x ssh -R (AES-GCM)",
           one_stream_ratio("tcpf_tls", "sshR"), lambda v: v >= 1.2,
           tput_na("tcpf_tls"), x)
    target("wrk keep-alive: req/s >= 0.9x haproxy",
           wrk_ratio("tcpf", "haproxy", "keepalive"),
           lambda v: v >= 0.9, wrk_na("tcpf", "keepalive"), x)
    target("wrk keep-alive: req/s >= 3x ssh -R",
           wrk_ratio("tcpf", "sshR", "keepalive"),
           lambda v: v >= 3.0, wrk_na("tcpf", "keepalive"), x)
    target("wrk keep-alive: p99 <= 1.5x haproxy's",
           wrk_ratio("tcpf", "haproxy", "keepalive", "p99"),
           lambda v: v <= 1.5, wrk_na("tcpf", "keepalive"), x)
    target("wrk new connection: req/s >= 3x ssh -R",
           wrk_ratio("tcpf", "sshR", "close"),
           lambda v: v >= 3.0, wrk_na("tcpf", "close"), x)

    n = nstreams.get("tcpf")
    c = memcheck.get("tcpf", {})
    if n is None:
        target("%s streams through one tunnel, all checks pass" % fmt_int(TARGET_STREAMS),
               None, None, skipped("tcpf", "streams") and "skipped (see Notes)")
    else:
        opened = int(c["opened"][0]) if "opened" in c else 0
        rechecked = int(c["recheck"][0]) if "recheck" in c else 0
        desc = "%s streams through one tunnel, all checks pass" % fmt_int(TARGET_STREAMS)
        val = "%s opened+verified, %s re-verified" % (fmt_int(opened), fmt_int(rechecked))
        if n < TARGET_STREAMS:
            targets.append((desc, val + " (only %s held: BENCH_STREAMS)" % fmt_int(n), "n/a"))
        else:
            targets.append((desc, val, "met" if opened == n and rechecked == n else "NOT met"))
    tf = by_path.get("tcpf", {})
    kib = lambda v: "%.2f KiB" % v  # noqa: E731
    for proc in ("forward-server", "forward-client"):
        target("<= 8 KiB RSS per held stream: %s" % proc,
               per_stream("tcpf", tf.get(proc, {})), lambda v: v <= 8.0,
               "streams failed" if n else None, kib)
    for proc in ("forward-server", "forward-client"):
        idle = tf.get(proc, {}).get("idle")
        target("idle RSS < 4 MiB: %s" % proc, idle, lambda v: v < 4096, None,
               lambda v: "%.2f MiB" % (v / 1024.0))
    for b in [k[1] for k in lat if k[0] == "tcpf" and k[1] != "none"] or ["down"]:
        d = lat.get(("tcpf", b), "missing")
        target("interactive p99 under bulk (%s) < 5 ms" % b,
               None if d in (None, "missing") else d["p99"], lambda v: v < 5000,
               "failed" if d is None else None, lambda v: "%s ms" % fmt_ms(v))

    # Issue 19's targets: each a ratio to an anchor measured in this run.
    for b in [k[1] for k in lat if k[0] == "tcpf" and k[1] != "none"] or ["down"]:
        d, h = lat.get(("tcpf", b)), lat.get(("haproxy", b))
        val = None if not d or not h else (d["p99"], h["p99"])
        target("interactive p99 under bulk (%s): <= 2x haproxy's and <= 1.5 ms (issue 19)" % b,
               val, lambda v: v[0] <= 2 * v[1] and v[0] <= 1500,
               "failed" if (("tcpf", b) in lat and not d) or (("haproxy", b) in lat and not h)
               else None,
               lambda v: "%s ms = %.1fx haproxy's %s" % (fmt_ms(v[0]), v[0] / v[1], fmt_ms(v[1])))
        alone = fair.get(("tcpf", b, 1))
        target("bulk beside it (%s): >= 90%% of one bulk stream alone (issue 19)" % b,
               ratio(d and d["gbps"], alone and alone["total"]), lambda r: r >= 0.9,
               "needs the fairness section's 1-stream run" if alone is None else None,
               lambda r: "%.0f%%" % (100 * r))
    target("wrk new connection: req/s >= 0.9x haproxy (issue 19)",
           wrk_ratio("tcpf", "haproxy", "close"),
           lambda v: v >= 0.9, wrk_na("tcpf", "close"), x)
    target("wrk keep-alive: req/s >= 1.0x haproxy (issue 19)",
           wrk_ratio("tcpf", "haproxy", "keepalive"),
           lambda v: v >= 1.0, wrk_na("tcpf", "keepalive"), x)
    target("iperf3 1 stream: TLS >= 0.7x plain tcp-forward (issue 19)",
           one_stream_ratio("tcpf_tls", "tcpf"), lambda v: v >= 0.7,
           tput_na("tcpf_tls"), x)
    target("wrk keep-alive: TLS req/s >= 0.85x plain tcp-forward (issue 19)",
           wrk_ratio("tcpf_tls", "tcpf", "keepalive"),
           lambda v: v >= 0.85, wrk_na("tcpf_tls", "keepalive"), x)

    for (path, d, n), v in fair.items():
        if path != "tcpf" or n == 1:
            continue
        target("%d bulk streams (%s): Jain's index >= 0.95 (issue 19)" % (n, d),
               v and v["jain"], lambda j: j >= 0.95, "failed" if v is None else None,
               lambda j: "%.3f" % j)
        alone = fair.get((path, d, 1))
        target("%d bulk streams (%s): total >= 1 stream's (issue 19)" % (n, d),
               ratio(v and v["total"], alone and alone["total"]), lambda r: r >= 1.0,
               "failed" if v is None or alone is None else None, x)

    if targets:
        p("")
        measured = [t for t in targets if t[2] != "n/a"]
        met = [t for t in measured if t[2] == "met"]
        p("Targets (issues 7 and 19; ratios within this run): %d of %d measured targets met"
          % (len(met), len(measured)))
        p(table(["target", "this run", "status"],
                [[a, b, c] for a, b, c in targets], "lrl"))

    # ---------------------------------------------------------- notes/problems
    if notes:
        p("")
        p("Notes:")
        for (path, msg), whats in notes.items():
            p("  - %s (%s): %s" % (label(path), ", ".join(dict.fromkeys(whats)), msg))
    p("")
    if problems:
        p("Problems (%d):" % len(problems))
        for path, what, msg in problems:
            p("  - %s / %s: %s" % (label(path), what, msg))
    else:
        p("Problems: none")


if __name__ == "__main__":
    main()
