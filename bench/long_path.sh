#!/bin/bash
# One stream over a long fat path (issue 19, "Windows that fit the path"):
# direct TCP vs the tunnel with window auto-tuning ("after") vs another
# build ("before", e.g. one with the fixed 1 MiB window), over the same
# path, in one run.  Not a pass/fail test: it runs
# tests/integration/t_long_path.sh (the path is fault_proxy.py: a rate
# each way, half the round trip of delay each way) BENCH_ROUNDS times and
# prints the medians of its RESULT lines as a table on stdout, with the
# rounds' min..max.
#
#   bench/long_path.sh
#   BENCH_ROUNDS=3 LONG_PATH_RTTS="50 100 200" bench/long_path.sh
#   BEFORE_SERVER=/tmp/old/forward-server BEFORE_CLIENT=/tmp/old/forward-client bench/long_path.sh
#
# Environment: FORWARD_SERVER / FORWARD_CLIENT ("after"; default this
# tree's src/), BEFORE_SERVER / BEFORE_CLIENT ("before"; default
# /work/main/src/), BENCH_ROUNDS (2), and t_long_path.sh's LONG_PATH_RATE
# (bytes/s, 40000000), LONG_PATH_RTTS ("50 200"), LONG_PATH_SECS (8) and
# LONG_PATH_WARM (3).  About BENCH_ROUNDS x RTTs x 30 s.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${BENCH_ROUNDS:-2}
export FORWARD_SERVER=${FORWARD_SERVER:-$TOP/src/forward-server}
export FORWARD_CLIENT=${FORWARD_CLIENT:-$TOP/src/forward-client}
export LONG_PATH_OLD_SERVER=${BEFORE_SERVER:-/work/main/src/forward-server}
export LONG_PATH_OLD_CLIENT=${BEFORE_CLIENT:-/work/main/src/forward-client}
export LONG_PATH_ATTEMPTS=1
for b in "$FORWARD_SERVER" "$FORWARD_CLIENT" "$LONG_PATH_OLD_SERVER" "$LONG_PATH_OLD_CLIENT"; do
    [ -x "$b" ] || { echo "long_path: not executable: $b" >&2; exit 2; }
done
OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-long-path.XXXXXX") || exit 2
trap 'rm -rf "$OUT"' EXIT

log() { printf '[long_path %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
sha() { sha256sum "$1" | cut -c1-12; }

log "after: $FORWARD_SERVER ($(sha "$FORWARD_SERVER")), before: $LONG_PATH_OLD_SERVER ($(sha "$LONG_PATH_OLD_SERVER")); load $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for r in $(seq 1 "$ROUNDS"); do
    log "round $r of $ROUNDS"
    bash "$TOP/tests/integration/t_long_path.sh" 2>"$OUT/round.$r" >/dev/null || {
        rc=1
        log "round $r: t_long_path failed (its checks or a measurement): $(grep -E '^FAIL' "$OUT/round.$r" | head -c 400)"
    }
    grep -o 'RESULT .*' "$OUT/round.$r" | sed 's/ (attempt.*//' >>"$OUT/results"
done
[ -s "$OUT/results" ] || { echo "long_path: no results" >&2; exit 1; }

echo "## One stream over a long path (rate ${LONG_PATH_RATE:-40000000} B/s each way, medians of $ROUNDS rounds, MiB/s after ${LONG_PATH_WARM:-3} s)"
echo
echo "| RTT ms | direct | tunnel after | after/direct | tunnel before | before/direct | 1 MiB/RTT |"
echo "|-------:|-------:|-------------:|-------------:|--------------:|--------------:|----------:|"
python3 - "$OUT/results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    rows.setdefault(int(kv["rtt_ms"]), []).append(kv)
for rtt in sorted(rows):
    rs = rows[rtt]
    def col(k):
        v = [float(r.get(k, 0)) for r in rs]
        return statistics.median(v), min(v), max(v)
    def cell(k):
        m, lo, hi = col(k)
        return "%.2f (%.2f..%.2f)" % (m, lo, hi) if len(rs) > 1 else "%.2f" % m
    print("| %d | %s | %s | %s | %s | %s | %.2f |" % (
        rtt, cell("direct_mibps"), cell("tunnel_mibps"), cell("ratio"),
        cell("before_mibps"), cell("before_ratio"), col("old_cap_mibps")[0]))
EOF
exit $rc
