#!/bin/bash
# Reconnection (issue 4), under a curl load on one of three mappings:
#  1. kill -9 the client and start a new one, three times: a request made
#     after each restart succeeds within 2 s of it (time printed).
#  2. kill -9 the server and start it again with the same configuration:
#     the client (--retry-max 2) is back, "channel up" in the new server's
#     log, within 5 s (time printed), and every port serves at once: no
#     port stays stuck.
. "$(dirname "$0")/lib.sh"

WWW=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
PUB1=$(free_port) || fail "free_port"
PUB2=$(free_port) || fail "free_port"
PUB3=$(free_port) || fail "free_port"
L=$LOCALHOST

mkdir -p "$TMP/www"
head -c 2000 /dev/urandom | base64 -w 64 >"$TMP/www/index.html" || fail "cannot write index.html"
start_nginx nginx "$WWW" "$TMP/www"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $L "$ECHO" 10 || fail "echo server did not start"

CLIENT_ARGS="--retry-max 2"
start_tunnel "$L:$PUB1 = $L:$WWW" "$L:$PUB2 = $L:$WWW" "$L:$PUB3 = $L:$ECHO"

# load: sequential GETs on PUB1 for SECS seconds, one "ms code" line each.
# Each curl runs in the background of the loop, which waits for it by PID
# and, when it is stopped (TERM, from stop_bg or kill_started on any exit
# path), TERMs the curl in flight before exiting: none is left behind.
LOAD_SECS=40
start_bg load bash -c '
    cpid=
    trap '\''[ -n "$cpid" ] && kill -TERM "$cpid" 2>/dev/null; exit 0'\'' TERM INT
    end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do
        curl -s --noproxy "*" --max-time 8 -H "Connection: close" -o /dev/null \
            -w "%{http_code}" "$1" >"$3" 2>/dev/null &
        cpid=$!
        wait "$cpid"
        cpid=
        code=$(cat "$3" 2>/dev/null)
        t=${EPOCHREALTIME/[.,]/}
        echo "$((t / 1000)) ${code:-000}"
        sleep 0.02
    done' load "http://$L:$PUB1/index.html" "$LOAD_SECS" "$TMP/load.code"
LOAD_PID=$BG_PID
load_going() { [ -s "$TMP/load.log" ]; }
wait_until 10 load_going || fail "the load loop made no request within 10 s"

# first_ok_ms URL BOUND_MS: retry fresh GETs until one returns 200; print
# the ms it took, or fail after BOUND_MS.
first_ok_ms() {
    local url=$1 bound=$2 t0 code
    t0=$(now_ms)
    while (($(now_ms) - t0 < bound)); do
        code=$(http_get "$url" /dev/null 2) || true
        if [ "$code" = 200 ]; then
            echo $(($(now_ms) - t0))
            return 0
        fi
        sleep 0.05
    done
    echo $(($(now_ms) - t0))
    return 1
}

# --- 1. kill -9 the client, restart it ---------------------------------------
declare -a restart_ms
for cycle in 1 2 3; do
    closed_before=$(log_count "$SERVER_LOG" 'channel closed')
    kill_bg "$CLIENT_PID" KILL || fail "cannot kill the client"
    wait_bg "$CLIENT_PID" 5 >/dev/null
    wait_log "$SERVER_LOG" 'channel closed' $((closed_before + 1)) 5 ||
        fail "cycle $cycle: the server did not notice the killed client within 5 s"
    sleep 0.5
    up_before=$(log_count "$SERVER_LOG" 'channel up')
    start_client "client$cycle"
    if ms=$(first_ok_ms "http://$L:$PUB2/index.html" 5000); then
        restart_ms[cycle]=$ms
        info "client kill -9 #$cycle: first request after the restart succeeded in $ms ms"
        ((ms < 2000)) || note_failure "client restart #$cycle: first success only after $ms ms (want < 2000)"
    else
        fail "client restart #$cycle: no successful request within 5 s of the restart"
    fi
    wait_log "$SERVER_LOG" 'channel up' $((up_before + 1)) 5 || fail "cycle $cycle: no new 'channel up'"
    sleep 0.5
done

# --- 2. kill -9 the server, restart it ---------------------------------------
# t_kill before the kill: requests refused while kill_bg/wait_bg return
# belong to the server's down time, not to the client kills above
t_kill=$(now_ms)
kill_bg "$SERVER_PID" KILL || fail "cannot kill the server"
wait_bg "$SERVER_PID" 5 >/dev/null
# let the client fail at least one attempt, so the back-off is exercised
wait_log "$CLIENT_LOG" 'cannot connect' 1 10 || fail "the client made no (failing) reconnection attempt within 10 s"
sleep 1
t_start=$(now_ms)
start_server_as server2
t_listen=$(($(now_ms) - t_start))
if wait_log_ms "$SERVER_LOG" 'channel up' 1 10000; then
    back_ms=$(($(now_ms) - t_start))
    info "server kill -9: down $((t_start - t_kill)) ms; restarted server listening after $t_listen ms; client back (channel up) $back_ms ms after the restart"
    ((back_ms < 5000)) || note_failure "client back only $back_ms ms after the server restart (want < 5000 with --retry-max 2)"
else
    fail "no 'channel up' in the new server's log within 10 s of its start"
fi
info "client attempts while the server was down: $(log_count "$CLIENT_LOG" 'cannot connect'); waits: $(grep -oE 'reconnecting in [0-9.]+ s' "$CLIENT_LOG" | tail -n 4 | sed 's/reconnecting in //' | tr '\n' ' ')"

# every port serves, promptly, several times
for p in "$PUB1" "$PUB2"; do
    for i in 1 2 3 4 5; do
        t0=$(now_ms)
        code=$(http_get "http://$L:$p/index.html" "$TMP/get.html" 3) || true
        el=$(($(now_ms) - t0))
        [ "$code" = 200 ] && cmp -s "$TMP/get.html" "$TMP/www/index.html" ||
            fail "port $p after the server restart: request $i: HTTP $code"
        ((el < 1000)) || note_failure "port $p after the server restart: request $i took $el ms"
    done
done
"${PYH[@]}" concurrent --port "$PUB3" -n 20 --max 65536 --timeout 20 >"$TMP/echo.out" 2>&1 ||
    fail "echo port $PUB3 after the server restart: $(tail -n 2 "$TMP/echo.out" | tr '\n' ' ')"
t_recovered=$(now_ms)

# the load keeps running a little longer, then every request after the
# recovery must have succeeded
sleep 2
stop_bg "$LOAD_PID"
total=$(wc -l <"$TMP/load.log")
failed=$(awk '$2 != 200' "$TMP/load.log" | wc -l)
late_bad=$(awk -v t="$t_recovered" '$1 > t && $2 != 200' "$TMP/load.log" | wc -l)
late=$(awk -v t="$t_recovered" '$1 > t' "$TMP/load.log" | wc -l)
early_bad=$(awk -v t="$t_kill" '$1 < t && $2 != 200' "$TMP/load.log" | wc -l)
info "load on $PUB1: $total requests, $failed failed: $early_bad around the 3 client kills (in flight), the rest while the server was down; after recovery: $late, $late_bad failed"
# requests made while a client is gone wait for the next one (CLIENT_WAIT):
# only those in flight at a kill may fail
[ "$early_bad" -le 3 ] || note_failure "$early_bad load requests failed around 3 client kills (at most 1 in flight per kill): $(awk -v t="$t_kill" '$1 < t && $2 != 200' "$TMP/load.log" | head -n 5 | tr '\n' ' ')"
[ "$late" -ge 5 ] || note_failure "only $late load requests after the recovery"
[ "$late_bad" = 0 ] || note_failure "$late_bad load requests failed after the recovery: $(awk -v t="$t_recovered" '$1 > t && $2 != 200' "$TMP/load.log" | head -n 3 | tr '\n' ' ')"

assert_server_alive
is_alive "$CLIENT_PID" || note_failure "forward-client died"
info "client restart -> first success: ${restart_ms[*]} ms; server restart -> channel up: $back_ms ms"
finish_test
