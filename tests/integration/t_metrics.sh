#!/bin/bash
# Metrics (METRICS_LISTEN, forward-client --metrics-listen), real daemons:
#  1. GET /metrics of both daemons passes Debian's `promtool check metrics`;
#     /ready is 200 while serving, any other path 404, a peer outside
#     METRICS_ALLOW (curl bound to 127.0.0.2) 403 with a log line;
#  2. exact counts: a 3 MiB download (source -> sink) and a 1 MiB echo
#     move exactly those bytes, and the server's and client's counters say
#     so; a refused target shows as rejected{reason="target_refused"};
#  3. a real Prometheus server (its own config and data folder, loopback
#     port) scrapes the server every second; its HTTP API returns the same
#     tcpforward_mapping_bytes_total;
#  4. the byte counters advance during a slow download (two scrapes
#     mid-transfer differ), not only when the stream ends;
#  5. scrape time with 1,000 live streams (info line; bound 2 s);
#  6. /ready is 503 while the server drains after TERM;
#  7. a bad METRICS_LISTEN is a config error with file:line.
. "$(dirname "$0")/lib.sh"

check_binaries
for tool in curl promtool prometheus nginx; do
    command -v "$tool" >/dev/null || fail "$tool not installed (tools/deps.sh test)"
done
HOLD=$(cd "$(dirname "$0")/../../bench" && pwd)/hold_streams.py
[ -f "$HOLD" ] || fail "bench/hold_streams.py not found"
L=$LOCALHOST
WWW=$(free_port) || fail "free_port"
SRC=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
PUB_W=$(free_port) || fail "free_port"
PUB_S=$(free_port) || fail "free_port"
PUB_E=$(free_port) || fail "free_port"
PUB_X=$(free_port) || fail "free_port"
MP=$(free_port) || fail "free_port"
CMP=$(free_port) || fail "free_port"
PROM=$(free_port) || fail "free_port"
CLOSED=$(free_port) || fail "free_port"   # nothing listens there: target refused

mkdir -p "$TMP/www"
head -c $((64 << 20)) /dev/urandom >"$TMP/www/big.bin"
start_nginx nginx "$WWW" "$TMP/www"
SIZE=$((3 << 20))
start_bg source "${PYH[@]}" source-server --port "$SRC" --size "$SIZE" --lifetime 300 --io-timeout 60
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 120
wait_port $L "$SRC" 10 || fail "source server did not start"
wait_port $L "$ECHO" 10 || fail "echo server did not start"

CTL=$FORWARD_CTL
[ -x "$CTL" ] || fail "forward-ctl not built: $CTL"
EXTRA_DEFAULTS="CONTROL_SOCKET = $TMP/control.sock
METRICS_LISTEN = $L:$MP
METRICS_ALLOW = 127.0.0.1/32
DRAIN_TIMEOUT = 8"
write_config "$L:$PUB_W = $L:$WWW" "$L:$PUB_S = $L:$SRC" "$L:$PUB_E = $L:$ECHO" \
    "$L:$PUB_X = $L:$CLOSED"
start_server
wait_port $L "$MP" 10 || fail "metrics endpoint did not listen on $MP"
CLIENT_ARGS="--metrics-listen $L:$CMP"
start_client client
wait_channel_up 1
wait_port $L "$CMP" 10 || fail "client metrics endpoint did not listen on $CMP"

# scrape NAME [PORT]: GET /metrics into $TMP/NAME.prom; fails the test on error
scrape() {
    curl -sS --noproxy '*' --max-time 10 -o "$TMP/$1.prom" "http://$L:${2:-$MP}/metrics" ||
        fail "scrape of port ${2:-$MP} failed"
}
# series FILE SERIES: the value of SERIES (name{labels} as exported) in FILE, or "none"
series() {
    awk -v s="$2" 'index($0, s " ") == 1 { print $2; found = 1 } END { if (!found) print "none" }' "$1"
}
# status PATH [CURL-ARGS...]: the HTTP status of GET PATH on the server's endpoint
status() {
    local path=$1
    shift
    curl -sS --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' "$@" "http://$L:$MP$path"
}

# ------------------------------------------------------- 1. format and paths
scrape first
promtool check metrics <"$TMP/first.prom" >"$TMP/promtool.out" 2>&1 ||
    note_failure "promtool check metrics (server): $(cat "$TMP/promtool.out")"
scrape client_first "$CMP"
promtool check metrics <"$TMP/client_first.prom" >"$TMP/promtool.out" 2>&1 ||
    note_failure "promtool check metrics (client): $(cat "$TMP/promtool.out")"
for s in 'tcpforward_clients_connected' 'tcpforward_client_sessions_total{result="accepted"}' \
    "tcpforward_mapping_streams_active{mapping=\"$L:$PUB_W\",proto=\"tcp\"}"; do
    [ "$(series "$TMP/first.prom" "$s")" != none ] || note_failure "no $s in the scrape"
done
[ "$(series "$TMP/first.prom" tcpforward_clients_connected)" = 1 ] ||
    note_failure "clients_connected is not 1: $(grep clients_connected "$TMP/first.prom")"
for s in process_open_fds process_max_fds process_resident_memory_bytes process_cpu_seconds_total \
    process_start_time_seconds tcpforward_start_time_seconds; do
    grep -qE "^$s [0-9]" "$TMP/first.prom" || note_failure "no $s in the scrape"
done
[ "$(series "$TMP/client_first.prom" tcpforward_client_channel_up)" = 1 ] ||
    note_failure "client: channel_up is not 1"
[ "$(status /ready)" = 200 ] || note_failure "/ready is not 200 while serving"
[ "$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://$L:$CMP/ready")" = 200 ] ||
    note_failure "client /ready is not 200 with the channel up"
[ "$(status /)" = 404 ] || note_failure "/ is not 404"
[ "$(status /metricsx)" = 404 ] || note_failure "/metricsx is not 404"
code=$(status /metrics --interface 127.0.0.2)
[ "$code" = 403 ] || note_failure "a scrape from 127.0.0.2 (not in METRICS_ALLOW) got $code, want 403"
wait_log "$SERVER_LOG" "metrics: request from 127\.0\.0\.2:[0-9]+ refused \(not in METRICS_ALLOW\)" 1 5 ||
    note_failure "no log line for the refused scrape"
for i in 1 2 3 4 5; do status /metrics --interface 127.0.0.2 >/dev/null; done
[ "$(log_count "$SERVER_LOG" "metrics: request from 127\.0\.0\.2")" = 1 ] ||
    note_failure "refused scrapes are not throttled: $(log_count "$SERVER_LOG" "metrics: request from") lines"

# ------------------------------------------------------------ 2. exact bytes
"${PYH[@]}" sink --port "$PUB_S" --size "$SIZE" --timeout 60 >"$TMP/sink.out" 2>&1 ||
    fail "download through $PUB_S failed: $(cat "$TMP/sink.out")"
ECHO_BYTES=$((1 << 20))
python3 - "$PUB_E" "$ECHO_BYTES" >"$TMP/echo.out" 2>&1 <<'PY' || fail "echo through $PUB_E failed: $(cat "$TMP/echo.out")"
import os, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
data = os.urandom(n)
s = socket.create_connection(("127.0.0.1", port), timeout=30)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(262144)
    if not b:
        break
    got += b
sys.exit(0 if got == data else 1)
PY
# the streams end just after the peers see EOF: wait until none is live
for ((i = 0; i < 50; i++)); do
    scrape exact
    [ "$(series "$TMP/exact.prom" "tcpforward_mapping_streams_active{mapping=\"$L:$PUB_E\",proto=\"tcp\"}")" = 0 ] &&
        [ "$(series "$TMP/exact.prom" "tcpforward_mapping_streams_active{mapping=\"$L:$PUB_S\",proto=\"tcp\"}")" = 0 ] && break
    sleep 0.1
done
check() {  # check FILE SERIES WANT
    local got
    got=$(series "$1" "$2")
    [ "$got" = "$3" ] || note_failure "$2 = $got, want $3"
}
check "$TMP/exact.prom" "tcpforward_mapping_bytes_total{mapping=\"$L:$PUB_S\",direction=\"out\"}" "$SIZE"
check "$TMP/exact.prom" "tcpforward_mapping_bytes_total{mapping=\"$L:$PUB_S\",direction=\"in\"}" 0
check "$TMP/exact.prom" "tcpforward_mapping_bytes_total{mapping=\"$L:$PUB_E\",direction=\"in\"}" "$ECHO_BYTES"
check "$TMP/exact.prom" "tcpforward_mapping_bytes_total{mapping=\"$L:$PUB_E\",direction=\"out\"}" "$ECHO_BYTES"
check "$TMP/exact.prom" "tcpforward_mapping_connections_total{mapping=\"$L:$PUB_S\",proto=\"tcp\"}" 1
scrape client_exact "$CMP"
check "$TMP/client_exact.prom" 'tcpforward_client_bytes_total{direction="from_target"}' $((SIZE + ECHO_BYTES))
check "$TMP/client_exact.prom" 'tcpforward_client_bytes_total{direction="to_target"}' "$ECHO_BYTES"
check "$TMP/client_exact.prom" 'tcpforward_target_connect_seconds_count' 2
# ... and the server exports what the client reported in its OPEN_OKs
check "$TMP/exact.prom" "tcpforward_target_connect_seconds_count{mapping=\"$L:$PUB_S\"}" 1
check "$TMP/exact.prom" "tcpforward_target_connect_seconds_count{mapping=\"$L:$PUB_E\"}" 1
# a target that refuses: counted on both sides (its request's early data
# was relayed, so it comes after the exact byte checks)
curl -sS --max-time 10 -o /dev/null "http://$L:$PUB_X/" 2>/dev/null
wait_log "$SERVER_LOG" "target failed: connection refused" 1 10 || note_failure "no refused target logged"
scrape exact
check "$TMP/exact.prom" "tcpforward_mapping_rejected_total{mapping=\"$L:$PUB_X\",reason=\"target_refused\"}" 1
scrape client_exact "$CMP"
check "$TMP/client_exact.prom" 'tcpforward_client_target_failures_total{reason="target_refused"}' 1
# forward-ctl mappings reads the same counters
timeout 30 "$CTL" -s "$TMP/control.sock" --json mappings >"$TMP/ctl.json" 2>"$TMP/ctl.err" ||
    note_failure "forward-ctl --json mappings failed: $(cat "$TMP/ctl.err")"
got=$(python3 -c "import json; m = {r['mapping']: r for r in json.load(open('$TMP/ctl.json'))}
s, e, x = m['$L:$PUB_S'], m['$L:$PUB_E'], m['$L:$PUB_X']
print(s['bytes_out'], s['bytes_in'], s['connections'], e['bytes_in'], x['rejected'].get('target_refused'))" 2>&1)
[ "$got" = "$SIZE 0 1 $ECHO_BYTES 1" ] ||
    note_failure "forward-ctl mappings totals: '$got', want '$SIZE 0 1 $ECHO_BYTES 1'"
timeout 30 "$CTL" -s "$TMP/control.sock" mappings >"$TMP/ctl.txt" 2>&1
grep -qE "^$L:$PUB_S +$L:$SRC +tcp +default +listening +0 +1 +0 B +3\.0 MiB +.*forward\.cfg:[0-9]+$" "$TMP/ctl.txt" ||
    note_failure "forward-ctl mappings table: $(cat "$TMP/ctl.txt")"
info "server scrape: $(grep -E "^tcpforward_mapping_(bytes|connections|rejected)_total" "$TMP/exact.prom" | tr '\n' ';')"

# ------------------------------------------------------------- 3. Prometheus
mkdir -p "$TMP/prom/data"
cat >"$TMP/prom/prometheus.yml" <<YML || fail "cannot write prometheus.yml"
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tcpforward
    static_configs:
      - targets: ['$L:$MP']
YML
start_bg prometheus prometheus --config.file="$TMP/prom/prometheus.yml" \
    --storage.tsdb.path="$TMP/prom/data" --web.listen-address="$L:$PROM" \
    --log.level=warn
PROM_PID=$BG_PID
wait_port $L "$PROM" 30 || fail "prometheus did not listen on $PROM within 30 s"
wait_until 30 curl -sf --max-time 2 -o /dev/null "http://$L:$PROM/-/ready" ||
    fail "prometheus not ready within 30 s"
query() {  # query PROMQL: the value of the first result, or "none"
    curl -sS --max-time 10 --get --data-urlencode "query=$1" "http://$L:$PROM/api/v1/query" |
        python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "none")' 2>/dev/null || echo none
}
want_out="tcpforward_mapping_bytes_total{mapping=\"$L:$PUB_S\",direction=\"out\"}"
want_in="tcpforward_mapping_bytes_total{mapping=\"$L:$PUB_E\",direction=\"in\"}"
got=none
for ((i = 0; i < 30; i++)); do
    got=$(query "$want_out")
    [ "$got" != none ] && break
    sleep 1
done
sleep 3  # a few more scrapes
[ "$(query "$want_out")" = "$SIZE" ] || note_failure "Prometheus: $want_out = $(query "$want_out"), want $SIZE"
[ "$(query "$want_in")" = "$ECHO_BYTES" ] || note_failure "Prometheus: $want_in = $(query "$want_in"), want $ECHO_BYTES"
[ "$(query 'up{job="tcpforward"}')" = 1 ] || note_failure "Prometheus: up is not 1"
scrapes=$(query 'count_over_time(up{job="tcpforward"}[1m])')
info "Prometheus scraped the server $scrapes times; $want_out = $(query "$want_out")"
stop_bg "$PROM_PID"

# ----------------------------------------------- 4. counters move mid-stream
# 64 MiB at 1 MiB/s. The kernel's loopback buffers take several MiB and
# wake the writer only once a good part has drained, so the counter moves
# in steps: scrape every 0.5 s (for up to 20 s) until it has moved, and
# require the download to be still running then.
start_bg slow curl -sS --limit-rate 1M -o "$TMP/slow.bin" "http://$L:$PUB_W/big.bin"
SLOW=$BG_PID
W_OUT="tcpforward_mapping_bytes_total{mapping=\"$L:$PUB_W\",direction=\"out\"}"
a=none
for ((i = 0; i < 100; i++)); do
    scrape mid1
    a=$(series "$TMP/mid1.prom" "$W_OUT")
    [ "$a" != none ] && [ "$a" -gt 0 ] && break
    sleep 0.1
done
[ "$a" != none ] && [ "$a" -gt 0 ] || note_failure "the slow download's bytes do not show in $W_OUT"
b=$a
t0=$(now_ms)
for ((i = 0; i < 40; i++)); do
    sleep 0.5
    scrape mid2
    b=$(series "$TMP/mid2.prom" "$W_OUT")
    [ "$b" != "$a" ] && break
done
t1=$(now_ms)
is_alive "$SLOW" || note_failure "the slow download ended before the counter was seen moving"
[ "$a" != none ] && [ "$b" != none ] && [ "$b" -gt "$a" ] && [ "$b" -lt $((64 << 20)) ] ||
    note_failure "byte counter did not advance mid-transfer: $a then $b"
info "mid-transfer: $W_OUT $a, then $b $(ms_to_s $((t1 - t0))) s later"
[ "$(series "$TMP/mid2.prom" "tcpforward_mapping_streams_active{mapping=\"$L:$PUB_W\",proto=\"tcp\"}")" = 1 ] ||
    note_failure "streams_active of $PUB_W is not 1 during the download"
stop_bg "$SLOW"

# ---------------------------------------------------- 5. 1,000 live streams
N=1000
start_bg hold python3 -u "$HOLD" "$PUB_E" "$N" --batch 100 --timeout 60 --max-hold 300
HOLD_PID=$BG_PID
HOLD_LOG=$TMP/hold.log
if wait_log "$HOLD_LOG" "^READY $N " 1 120; then
    best=
    for i in 1 2 3; do
        t=$(curl -sS --max-time 10 -o "$TMP/big.prom" -w '%{time_total}' "http://$L:$MP/metrics") ||
            note_failure "scrape with $N streams failed"
        [ -z "$best" ] && best=$t
        best=$(python3 -c "print(min($best, $t))")
    done
    live=$(series "$TMP/big.prom" "tcpforward_mapping_streams_active{mapping=\"$L:$PUB_E\",proto=\"tcp\"}")
    [ "$live" = "$N" ] || note_failure "streams_active with $N held streams: $live"
    info "scrape with $N live streams: best of 3 ${best} s, $(wc -c <"$TMP/big.prom") bytes"
    python3 -c "import sys; sys.exit(0 if $best < 2 else 1)" ||
        note_failure "scrape with $N live streams took $best s (bound 2 s)"
    promtool check metrics <"$TMP/big.prom" >"$TMP/promtool.out" 2>&1 ||
        note_failure "promtool check metrics with $N streams: $(cat "$TMP/promtool.out")"
else
    note_failure "hold_streams did not hold $N streams: $(tail -n 3 "$HOLD_LOG")"
fi
stop_bg "$HOLD_PID"

# ------------------------------------------------- 6. /ready while draining
start_bg slow2 curl -sS --limit-rate 200k -o "$TMP/slow2.bin" "http://$L:$PUB_W/big.bin"
SLOW=$BG_PID
for ((i = 0; i < 100; i++)); do
    scrape drain
    [ "$(series "$TMP/drain.prom" "tcpforward_mapping_streams_active{mapping=\"$L:$PUB_W\",proto=\"tcp\"}")" = 1 ] && break
    sleep 0.1
done
[ "$(status /ready)" = 200 ] || note_failure "/ready is not 200 before TERM"
kill_bg "$SERVER_PID" TERM
wait_log "$SERVER_LOG" "shutting down" 1 5 || note_failure "no 'shutting down' after TERM"
code=$(status /ready)
[ "$code" = 503 ] || note_failure "/ready while draining: $code, want 503"
info "/ready while draining: $code"
wait_bg "$SERVER_PID" 20 >/dev/null 2>&1 || note_failure "server did not exit after its drain"
stop_bg "$SLOW"

# ------------------------------------------------------ 7. a bad METRICS_LISTEN
cat >"$TMP/bad.cfg" <<CFG
[DEFAULT]
AUTH = none
INNER_PORT = $INNER_PORT
METRICS_LISTEN = localhost:9712
[MAPPER]
$L:$PUB_W = $L:$WWW
CFG
"$FORWARD_SERVER" -n "$TMP/bad.cfg" >"$TMP/bad.out" 2>&1
rc=$?
[ "$rc" != 0 ] || note_failure "forward-server -n accepted METRICS_LISTEN = localhost:9712"
grep -qE "bad\.cfg:4: METRICS_LISTEN: bad value: 'localhost:9712'" "$TMP/bad.out" ||
    note_failure "no file:line error for a bad METRICS_LISTEN: $(cat "$TMP/bad.out")"

finish_test
