#!/bin/bash
# High availability past one public host (issue 20), with real processes on
# loopback and real haproxy in front:
#  - two forward-servers, A on 127.0.0.2 and B on 127.0.0.3, with the same
#    configuration apart from their addresses; one forward-client connected
#    to both (--server twice); nginx behind the tunnel; haproxy in front of
#    both servers' public port, health-checking /ready?mapping=PORT of each
#    server's METRICS_LISTEN;
#  - a server that is down when the client starts delays nothing: B's
#    channel is up and serving while A is still down;
#  - rolling restart while wrk runs through haproxy: TERM A (/ready 503 at
#    once), wait for the exit, start it again, then the same for B: 0 failed
#    requests;
#  - crash: kill -9 A while wrk runs: the failed requests are at most those
#    in flight on A (reported), traffic goes on through B, and when A comes
#    back the client reconnects to it and haproxy sends to it again;
#  - forward-ctl drain: /ready (and ?mapping=) 503 at once, the server still
#    serves a request made to it directly, and haproxy sends it nothing more.
. "$(dirname "$0")/lib.sh"

command -v haproxy >/dev/null || fail "haproxy not installed (tools/deps.sh test)"
command -v wrk >/dev/null || fail "wrk not installed (tools/deps.sh test)"
command -v nginx >/dev/null || fail "nginx not installed (tools/deps.sh test)"
A=127.0.0.2
B=127.0.0.3
for a in $A $B; do
    python3 -c "import socket; s = socket.socket(); s.bind(('$a', 0))" 2>/dev/null ||
        fail "cannot bind $a on this machine"
done

WEB=$(free_port) || fail "free_port"
mkdir -p "$TMP/www"
head -c 16384 /dev/urandom >"$TMP/www/page.bin"
start_nginx web "$WEB" "$TMP/www"
INNER=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
METRICS=$(free_port) || fail "free_port"
FRONT=$(free_port) || fail "free_port"
key=$(test_key)

# server_config NAME ADDR: the same INI for both but the addresses.
server_config() {
    cat >"$TMP/$1.cfg" <<EOF
[DEFAULT]
INNER_PORT = $INNER
INNER_ADDR = $2
AUTH_KEY_FILE = $key
LOG_LEVEL = info
CONTROL_SOCKET = $TMP/$1.sock
METRICS_LISTEN = $2:$METRICS
METRICS_ALLOW = 127.0.0.0/8
DRAIN_TIMEOUT = 10
CLIENT_WAIT = 5
[MAPPER]
$2:$PUB = $LOCALHOST:$WEB
EOF
}
server_config a $A
server_config b $B

# start_srv NAME ADDR: a server; sets PID_NAME.
start_srv() {
    start_bg "$1" "$FORWARD_SERVER" "$TMP/$1.cfg"
    eval "PID_$1=\$BG_PID"
    wait_port "$2" "$INNER" 10 || fail "server $1 did not listen on $2:$INNER"
}
# ready ADDR: the HTTP status of ADDR's /ready?mapping=PUB.
ready() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1:$METRICS/ready?mapping=$PUB" 2>/dev/null
}
wait_ready() {
    local i
    for i in $(seq 1 100); do
        [ "$(ready "$1")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------ a server down at the start
start_srv b $B
[ "$(ready $B)" = 503 ] || note_failure "B answered $(ready $B) to /ready with no client up, want 503"
t0=$(now_ms)
start_bg client "$FORWARD_CLIENT" --retry-delay 1 --retry-max 2 --key-file "$key" \
    --server "$A:$INNER" --server "$B:$INNER"
CLIENT_PID=$BG_PID
wait_ready $B || fail "B never became ready (client channel to B) while A was down"
info "B ready $(($(now_ms) - t0)) ms after the client started, with A down"
http_ok=$(curl -s --max-time 5 "http://$B:$PUB/page.bin" | cmp -s - "$TMP/www/page.bin" && echo yes)
[ "$http_ok" = yes ] || note_failure "a request through B failed while A was down"
start_srv a $A
wait_ready $A || fail "A never became ready after it started"
info "the client reached A $(($(now_ms) - t0)) ms after it started (A came up late)"

# ------------------------------------------------ haproxy in front of both
cat >"$TMP/haproxy.cfg" <<EOF
global
    maxconn 1000  # haproxy raises its descriptor limit to about 2 x maxconn: stay under 8192
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on all-retryable-errors
    option http-server-close
frontend web
    bind $LOCALHOST:$FRONT
    default_backend tunnel
backend tunnel
    balance roundrobin
    option httpchk GET /ready?mapping=$PUB
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2 port $METRICS
    server a $A:$PUB check
    server b $B:$PUB check
EOF
haproxy -c -f "$TMP/haproxy.cfg" >"$TMP/haproxy-check.out" 2>&1 || fail "haproxy -c: $(cat "$TMP/haproxy-check.out")"
start_bg haproxy haproxy -db -f "$TMP/haproxy.cfg"
HAPROXY=$BG_PID
wait_port $LOCALHOST "$FRONT" 10 || fail "haproxy did not listen"
sleep 1  # both servers pass two checks

# served_by NAME: connections the server NAME has served (its metrics).
served_by() {
    local addr=$A
    [ "$1" = b ] && addr=$B
    curl -s --max-time 2 "http://$addr:$METRICS/metrics" |
        awk -v p=":$PUB\"" '/^tcpforward_mapping_connections_total\{/ && index($0, p) { n += $NF } END { print n + 0 }'
}

# restart NAME ADDR: TERM, wait for the exit, start again, ready.
restart() {
    local pid
    eval "pid=\$PID_$1"
    kill_bg "$pid" TERM
    wait_bg "$pid" 20 >/dev/null 2>&1 || note_failure "server $1 did not exit within 20 s of TERM"
    start_srv "$1" "$2"
    wait_ready "$2" || note_failure "server $1 not ready after its restart"
    sleep 1  # rise 2: haproxy takes it back
}

# ------------------------------------------------ rolling restart
start_bg wrk wrk -t2 -c16 -d14s --timeout 5s "http://$LOCALHOST:$FRONT/page.bin"
WRK=$BG_PID
sleep 2
restart a $A
restart b $B
wait_bg "$WRK" 30 || note_failure "wrk (rolling restart) failed: $(tail -n 3 "$TMP/wrk.log")"
roll_failed=$(wrk_failed "$TMP/wrk.log")
roll_req=$(wrk_requests "$TMP/wrk.log")
info "rolling restart of both servers under wrk: ${roll_req:-0} requests, $roll_failed failed"
[ "$roll_failed" = 0 ] || note_failure "$roll_failed requests failed during the rolling restart"
[ "${roll_req:-0}" -gt 100 ] || note_failure "wrk made only ${roll_req:-0} requests during the rolling restart"

# ------------------------------------------------ crash
start_bg wrk2 wrk -t2 -c16 -d14s --timeout 5s "http://$LOCALHOST:$FRONT/page.bin"
WRK2=$BG_PID
sleep 2
kill -KILL "$PID_a" 2>/dev/null
wait_bg "$PID_a" 5 >/dev/null 2>&1
t_kill=$(now_ms)
sleep 2
start_srv a $A
wait_ready $A || note_failure "A not ready after it came back from kill -9"
info "A ready again $(($(now_ms) - t_kill)) ms after kill -9 (client reconnected)"
wait_bg "$WRK2" 30 || note_failure "wrk (crash) failed: $(tail -n 3 "$TMP/wrk2.log")"
crash_failed=$(wrk_failed "$TMP/wrk2.log")
crash_req=$(wrk_requests "$TMP/wrk2.log")
after_a=$(served_by a)
info "kill -9 of A under wrk: ${crash_req:-0} requests, $crash_failed failed (16 connections: at most 16 in flight); A served $after_a after it came back"
[ "$crash_failed" -le 16 ] || note_failure "$crash_failed requests failed when A crashed: more than were in flight (16)"
[ "${crash_req:-0}" -gt 100 ] || note_failure "traffic did not go on through B after A crashed (${crash_req:-0} requests)"
[ "$after_a" -gt 0 ] || note_failure "haproxy did not send to A again after it came back"

# ------------------------------------------------ forward-ctl drain
"$FORWARD_CTL" -s "$TMP/a.sock" drain >"$TMP/drain.out" 2>&1 || note_failure "forward-ctl drain: $(cat "$TMP/drain.out")"
[ "$(ready $A)" = 503 ] || note_failure "A answered $(ready $A) to /ready?mapping= after drain, want 503 at once"
plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$A:$METRICS/ready")
[ "$plain" = 503 ] || note_failure "A answered $plain to /ready after drain, want 503"
curl -s --max-time 5 "http://$A:$PUB/page.bin" | cmp -s - "$TMP/www/page.bin" ||
    note_failure "a draining server did not serve a request made to it directly"
sleep 1  # haproxy's checks (every 200 ms) take A out
drained_a=$(served_by a)
start_bg wrk3 wrk -t1 -c4 -d2s --timeout 5s "http://$LOCALHOST:$FRONT/page.bin"
wait_bg "$BG_PID" 15 || note_failure "wrk (drain) failed: $(tail -n 3 "$TMP/wrk3.log")"
info "after forward-ctl drain of A: $(wrk_requests "$TMP/wrk3.log") requests through haproxy, $(wrk_failed "$TMP/wrk3.log") failed, $(($(served_by a) - drained_a)) of them (and one direct) served by A"
[ "$(($(served_by a) - drained_a))" = 0 ] || note_failure "haproxy still sent $(($(served_by a) - drained_a)) connections to the draining A"
[ "$(wrk_failed "$TMP/wrk3.log")" = 0 ] || note_failure "requests failed while A was draining"
kill -0 "$CLIENT_PID" 2>/dev/null || note_failure "the client died"
finish_test
