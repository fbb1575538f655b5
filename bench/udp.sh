#!/usr/bin/env bash
# bench/udp.sh -- UDP datagrams/s and round trips through a tcp-forward
# /udp mapping vs direct to the same UDP echo server, in one run, on
# 127.0.0.1 only. Standalone (bench/run.sh does not call it yet; see the end
# of this comment for the hook).
#
# Per round, for each path (direct, then tcp-forward; the order alternates
# between rounds):
#   rate : BENCH_UDP_N datagrams of random sizes BENCH_UDP_MIN..MAX bytes,
#          BENCH_UDP_WINDOW in flight; every reply must equal a datagram in
#          flight -> datagrams/s, Mbit/s of payload, lost, bad
#   lat  : BENCH_UDP_LAT_N ping-pongs of BENCH_UDP_LAT_SIZE bytes, one in
#          flight -> p50 / p99 round trip (microseconds)
# The table shows the median over BENCH_UDP_ROUNDS rounds of each number.
#
# Output: progress on stderr; on stdout the table and one machine-readable
# line per path:
#   UDP_RESULT path=direct|tcpf dps=.. mbps=.. rate_p99_us=.. p50_us=.. p99_us=.. lost=.. bad=..
# With BENCH_UDP_TSV=FILE the same numbers are also appended to FILE as
# tab-separated "udp PATH DPS MBPS P50_US P99_US LOST BAD" lines (the
# record format of bench/run.sh's results file).
#
# Exit status: 0 when every measurement worked, 1 when one failed (bad
# replies, more than 0.1 % lost, a daemon died), 2 on a setup error.
#
# Hook into bench/run.sh (for its owner): add "udp" to SECTIONS and
#   measure_udp() {
#       log "== udp: datagrams/s and round trips, tcp-forward vs direct"
#       run_bounded 600 "$WORK/udp.txt" "$WORK/udp.err" env BENCH_UDP_TSV="$RESULTS" \
#           FORWARD_SERVER="$FORWARD_SERVER" FORWARD_CLIENT="$FORWARD_CLIENT" \
#           bash "$BENCH_DIR/udp.sh"
#       [[ $RB_RC == 0 ]] || fail tcpf udp "bench/udp.sh failed (rc $RB_RC)" "$WORK/udp.err"
#   }
# and in report.py a section printing the "udp" records (or cat udp.txt).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
FORWARD_SERVER=${FORWARD_SERVER:-$TOP/src/forward-server}
FORWARD_CLIENT=${FORWARD_CLIENT:-$TOP/src/forward-client}
BENCH_UDP_N=${BENCH_UDP_N:-20000}
BENCH_UDP_MIN=${BENCH_UDP_MIN:-1}
BENCH_UDP_MAX=${BENCH_UDP_MAX:-1400}
BENCH_UDP_WINDOW=${BENCH_UDP_WINDOW:-32}
BENCH_UDP_LAT_N=${BENCH_UDP_LAT_N:-5000}
BENCH_UDP_LAT_SIZE=${BENCH_UDP_LAT_SIZE:-64}
BENCH_UDP_ROUNDS=${BENCH_UDP_ROUNDS:-3}
BENCH_UDP_TSV=${BENCH_UDP_TSV:-}
BENCH_TCPF_LOG_LEVEL=${BENCH_TCPF_LOG_LEVEL:-notice}
BENCH_KEEP_TMP=${BENCH_KEEP_TMP:-0}
PY=${PY:-python3}
HELPER=$BENCH_DIR/udp_bench.py

log()  { printf '[udp %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 2; }

PIDS=()
WORK=""
cleanup() {
    local rc=$? pid i
    set +e
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $BENCH_KEEP_TMP == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn LOG CMD... : background process, recorded by PID (only those are stopped).
spawn() {
    local logfile=$1
    shift
    "$@" </dev/null >"$logfile" 2>&1 &
    SPAWNED=$!
    PIDS+=("$SPAWNED")
}

# wait_grep FILE REGEX SECONDS PID
wait_grep() {
    local i
    for ((i = 0; i < $3 * 20; i++)); do
        grep -qE -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# free_ports N : ports free for TCP and UDP on 127.0.0.1 (held together).
free_ports() {
    "$PY" - "$1" <<'EOF'
import socket, sys
held, ports = [], []
while len(ports) < int(sys.argv[1]):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        u.close(); t.close(); continue
    held += [u, t]; ports.append(p)
print(" ".join(map(str, ports)))
EOF
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "NA" }'; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
count() { local v; v=$(field "$1" "$2"); echo "${v:-0}"; }

[[ -x $FORWARD_SERVER && -x $FORWARD_CLIENT ]] || die "daemons not built: $FORWARD_SERVER, $FORWARD_CLIENT"
command -v "$PY" >/dev/null || die "python3 missing"
WORK=$(mktemp -d /tmp/tcpf-bench-udp.XXXXXX)
read -r ECHO INNER PUB < <(free_ports 3)

spawn "$WORK/echo.log" "$PY" "$HELPER" echo-server "$ECHO" --max-seconds 1800
ECHO_PID=$SPAWNED
wait_grep "$WORK/echo.log" '^LISTENING' 10 "$ECHO_PID" || die "UDP echo server did not start"

AUTH_CONF="" AUTH_ARGS=()
if "$FORWARD_CLIENT" --help 2>&1 | grep -q -- '--key-file'; then
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$WORK/key")
    AUTH_CONF="AUTH_KEY_FILE = $WORK/key"
    AUTH_ARGS=(--key-file "$WORK/key")
fi
cat >"$WORK/forward.ini" <<EOF
[DEFAULT]
INNER_PORT = $INNER
INNER_ADDR = 127.0.0.1
LOG_LEVEL = $BENCH_TCPF_LOG_LEVEL
$AUTH_CONF
[MAPPER]
127.0.0.1:$PUB/udp = 127.0.0.1:$ECHO
EOF
spawn "$WORK/server.log" "$FORWARD_SERVER" "$WORK/forward.ini"
SERVER_PID=$SPAWNED
spawn "$WORK/client.log" "$FORWARD_CLIENT" "${AUTH_ARGS[@]}" 127.0.0.1 "$INNER"
CLIENT_PID=$SPAWNED
wait_grep "$WORK/client.log" 'channel up' 15 "$CLIENT_PID" || { tail "$WORK/server.log" "$WORK/client.log" >&2; die "channel not up"; }
wait_grep "$WORK/server.log" 'channel up' 15 "$SERVER_PID" || die "channel not up (server)"
log "echo 127.0.0.1:$ECHO, tcp-forward 127.0.0.1:$PUB/udp -> 127.0.0.1:$ECHO; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

FAILED=0
LINES=""
declare -A R=()
measure() { # PATH PORT ROUND
    local path=$1 port=$2 round=$3 out
    if out=$(timeout 300 "$PY" "$HELPER" rate "$port" --n "$BENCH_UDP_N" --min "$BENCH_UDP_MIN" \
        --max "$BENCH_UDP_MAX" --window "$BENCH_UDP_WINDOW" --seed "$round" 2>&1); then :; else
        log "FAILED: $path rate: $out"
        FAILED=1
    fi
    out=$(grep '^RESULT' <<<"$out" || true)
    log "$path rate  round $round: ${out#RESULT }"
    R[$path.dps]+=" $(field dps "$out")"
    R[$path.mbps]+=" $(field mbps "$out")"
    R[$path.rate_p99]+=" $(field p99_us "$out")"
    R[$path.lost]=$(( ${R[$path.lost]:-0} + $(count lost "$out") ))
    R[$path.bad]=$(( ${R[$path.bad]:-0} + $(count bad "$out") ))
    if out=$(timeout 300 "$PY" "$HELPER" lat "$port" --n "$BENCH_UDP_LAT_N" \
        --size "$BENCH_UDP_LAT_SIZE" --seed "$round" 2>&1); then :; else
        log "FAILED: $path lat: $out"
        FAILED=1
    fi
    out=$(grep '^RESULT' <<<"$out" || true)
    log "$path lat   round $round: ${out#RESULT }"
    R[$path.p50]+=" $(field p50_us "$out")"
    R[$path.p99]+=" $(field p99_us "$out")"
    R[$path.lost]=$(( ${R[$path.lost]:-0} + $(count lost "$out") ))
    R[$path.bad]=$(( ${R[$path.bad]:-0} + $(count bad "$out") ))
}

# warm-up (opens the tunnel's session; not recorded)
"$PY" "$HELPER" lat "$PUB" --n 200 >/dev/null 2>&1 || true
for ((r = 1; r <= BENCH_UDP_ROUNDS; r++)); do
    if ((r % 2)); then order="direct tcpf"; else order="tcpf direct"; fi
    for p in $order; do
        if [[ $p == direct ]]; then measure direct "$ECHO" "$r"; else measure tcpf "$PUB" "$r"; fi
    done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -0 "$CLIENT_PID" 2>/dev/null || {
        log "FAILED: a daemon died"; tail -n 20 "$WORK/server.log" "$WORK/client.log" >&2; FAILED=1; break; }
done

printf '\nUDP echo on 127.0.0.1, %s, medians of %d rounds (load %s)\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$BENCH_UDP_ROUNDS" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'rate: %d datagrams of %d..%d B, %d in flight; round trip: %d x %d B, one in flight\n\n' \
    "$BENCH_UDP_N" "$BENCH_UDP_MIN" "$BENCH_UDP_MAX" "$BENCH_UDP_WINDOW" "$BENCH_UDP_LAT_N" "$BENCH_UDP_LAT_SIZE"
printf '%-12s %12s %10s %14s %12s %12s %6s %5s\n' path datagrams/s Mbit/s "p99 @window" "p50 RTT us" "p99 RTT us" lost bad
for p in direct tcpf; do
    dps=$(median <<<"${R[$p.dps]:-}")
    mbps=$(median <<<"${R[$p.mbps]:-}")
    rp99=$(median <<<"${R[$p.rate_p99]:-}")
    p50=$(median <<<"${R[$p.p50]:-}")
    p99=$(median <<<"${R[$p.p99]:-}")
    label=$p
    [[ $p == tcpf ]] && label=tcp-forward
    printf '%-12s %12s %10s %14s %12s %12s %6s %5s\n' "$label" "$dps" "$mbps" "$rp99" "$p50" "$p99" \
        "${R[$p.lost]:-0}" "${R[$p.bad]:-0}"
    LINES+="UDP_RESULT path=$p dps=$dps mbps=$mbps rate_p99_us=$rp99 p50_us=$p50 p99_us=$p99 lost=${R[$p.lost]:-0} bad=${R[$p.bad]:-0}"$'\n'
    if [[ -n $BENCH_UDP_TSV ]]; then
        printf 'udp\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$dps" "$mbps" "$p50" "$p99" \
            "${R[$p.lost]:-0}" "${R[$p.bad]:-0}" >>"$BENCH_UDP_TSV"
    fi
done
echo
printf '%s' "$LINES"
exit "$FAILED"
