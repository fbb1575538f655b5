#!/usr/bin/env python3
"""Format bench/run.sh's results file as fixed-width tables on stdout.

usage: report.py RESULTS.tsv

Input: one record per line, tab-separated, first field the kind:
  meta     KEY VALUE
  tput     PATH STREAMS ROUND GBIT/S|FAIL
  cpu      PATH STREAMS ROUND PERCENT      (path processes, % of one core)
  mem      PATH PROCESS STATE KIB          (STATE: idle, held, after)
  memcheck PATH opened N SECONDS | PATH recheck OK LINE
  problem  PATH WHAT MESSAGE
To add a measure: have run.sh record a new kind and add a section here.
"""
import statistics
import sys
from collections import OrderedDict, defaultdict

LABEL = OrderedDict([
    ("direct", "direct"),
    ("haproxy", "haproxy"),
    ("sshR", "ssh -R"),
    ("tcpf", "tcp-forward"),
])
SUBJECT = "tcpf"
# memory comparisons: (tcp-forward process, anchor path, anchor process)
MEM_PAIRS = [
    ("forward-server", "sshR", "sshd-session"),
    ("forward-client", "sshR", "ssh-client"),
    ("total", "sshR", "total"),
    ("forward-server", "haproxy", "haproxy"),
]


def label(pid):
    return LABEL.get(pid, pid)


def fmt_num(v, nd=2):
    return "n/a" if v is None else "%.*f" % (nd, v)


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


def main():
    meta = OrderedDict()
    tput = defaultdict(list)          # (path, P) -> [gbps or None]
    cpu = defaultdict(list)           # (path, P) -> [percent of one core]
    mem = OrderedDict()               # (path, proc) -> {state: kib}
    memcheck = defaultdict(dict)      # path -> {kind: (a, b)}
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
            elif kind == "mem":
                mem.setdefault((r[1], r[2]), {})[r[3]] = int(r[4])
            elif kind == "memcheck":
                memcheck[r[1]][r[2]] = (r[3], r[4] if len(r) > 4 else "")
            elif kind == "problem":
                problems.append((r[1], r[2], r[3]))

    p = print
    p("tcp-forward benchmark (loopback only)  %s" % meta.get("date", ""))
    p("  host:      %s" % meta.get("host", ""))
    p("  load avg:  start %s / end %s (1, 5, 15 min; >0.3 means the box was busy)"
      % (meta.get("loadavg_start", "?"), meta.get("loadavg_end", "?")))
    p("  tools:     %s | %s | %s" % (meta.get("iperf3", ""), meta.get("haproxy", ""),
                                     meta.get("openssh", "")))
    if "ssh_cipher" in meta:
        p("  ssh -R:    negotiated cipher %s" % meta["ssh_cipher"])
    p("  daemons:   %s" % meta.get("forward_server", ""))
    p("  settings:  %s" % meta.get("settings", ""))

    # ---------------------------------------------------------- throughput
    if tput:
        ps = sorted({k[1] for k in tput})
        paths = [x for x in LABEL if any((x, q) in tput for q in ps)]
        paths += sorted({k[0] for k in tput} - set(paths))
        rounds = max(len(v) for v in tput.values())
        med = {}
        for k, v in tput.items():
            ok = [x for x in v if x is not None]
            med[k] = statistics.median(ok) if ok else None
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
        if any(k[0] == SUBJECT for k in tput):
            p("")
            p("Ratios (same run; >1 means tcp-forward is faster)")
            rows = []
            for anchor in ("haproxy", "sshR", "direct"):
                if not any(k[0] == anchor for k in tput):
                    continue
                row = ["%s / %s" % (label(SUBJECT), label(anchor))]
                for q in ps:
                    a, b = med.get((SUBJECT, q)), med.get((anchor, q))
                    row.append(fmt_num(a / b) if a is not None and b else "n/a")
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

    # ---------------------------------------------------------- memory
    if mem:
        n = int(meta.get("streams", "1000"))
        # add per-path totals when a path has several processes
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

        def per_stream(st):
            if "idle" in st and "held" in st:
                return (st["held"] - st["idle"]) / n
            return None

        p("")
        p("Memory: VmRSS in KiB; %d idle streams held through one instance to an echo server" % n)
        p("  (each stream echo-verified before the reading and re-verified after it)")
        rows = []
        # tcp-forward first, then the anchors in the order they were measured
        order = ([SUBJECT] if SUBJECT in by_path else []) + \
            [x for x in by_path if x != SUBJECT]
        for path in order:
            for proc, st in by_path[path].items():
                rows.append([label(path), proc,
                             str(st.get("idle", "n/a")), str(st.get("held", "n/a")),
                             fmt_num(per_stream(st)), str(st.get("after", "n/a"))])
        p(table(["path", "process", "idle", "%d streams" % n, "KiB/stream", "after close"],
                rows, "llrrrr"))
        checks = []
        for path in order:
            c = memcheck.get(path, {})
            if "opened" in c:
                s = "%s: %s opened+verified in %ss" % (label(path), c["opened"][0], c["opened"][1])
                if "recheck" in c:
                    s += ", %s re-verified" % c["recheck"][0]
                checks.append(s)
        if checks:
            p("  streams: " + "; ".join(checks))

        rows = []
        for proc, anchor, aproc in MEM_PAIRS:
            a = per_stream(by_path.get(SUBJECT, {}).get(proc, {}))
            b = per_stream(by_path.get(anchor, {}).get(aproc, {}))
            if a is None and b is None:
                continue
            ratio = fmt_num(a / b) if a is not None and b else "n/a"
            rows.append(["%s %s / %s %s" % (label(SUBJECT), proc, label(anchor), aproc),
                         fmt_num(a), fmt_num(b), ratio])
        if rows:
            p("")
            p("Memory per stream (KiB; ratio <1 means tcp-forward uses less)")
            p(table(["comparison", "tcp-forward", "anchor", "ratio"], rows, "lrrr"))

    # ---------------------------------------------------------- problems
    p("")
    if problems:
        p("Problems (%d):" % len(problems))
        for path, what, msg in problems:
            p("  - %s / %s: %s" % (label(path), what, msg))
    else:
        p("Problems: none")


if __name__ == "__main__":
    main()
