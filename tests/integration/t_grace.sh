#!/bin/bash
# Grace hold (issue 4), CLIENT_WAIT = 5:
#  1. stop the client (TERM), make 5 requests on the public port, start a
#     client 1.5 s later: every request succeeds (they were held, not
#     refused);
#  2. the same after kill -9 of the client;
#  3. with no client at all, a public connection is closed after about
#     CLIENT_WAIT (5 s), not at once and not never.
. "$(dirname "$0")/lib.sh"

WWW=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
L=$LOCALHOST
mkdir -p "$TMP/www"
head -c 100000 /dev/urandom >"$TMP/www/data.bin" || fail "cannot write data.bin"
start_nginx nginx "$WWW" "$TMP/www"

EXTRA_DEFAULTS="CLIENT_WAIT = 5"
start_tunnel "$L:$PUB = $L:$WWW"
code=$(http_get "http://$L:$PUB/data.bin" "$TMP/first.bin") || true
[ "$code" = 200 ] || fail "GET through the tunnel: HTTP $code"

# held_requests NAME HOW: stop the client with HOW (TERM or KILL), start 5
# requests, start a new client 1.5 s later; all must succeed.
held_requests() {
    local name=$1 how=$2 i pids=() closed t0 el rc code
    closed=$(log_count "$SERVER_LOG" 'channel closed')
    if [ "$how" = TERM ]; then stop_bg "$CLIENT_PID" 15; else kill_bg "$CLIENT_PID" KILL; wait_bg "$CLIENT_PID" 5; fi
    wait_log "$SERVER_LOG" 'channel closed' $((closed + 1)) 10 || fail "$name: the server did not notice the client leave"
    t0=$(now_ms)
    for i in 1 2 3 4 5; do
        start_bg "$name-get$i" curl -sS --noproxy '*' --max-time 20 -o "$TMP/$name-$i.bin" \
            -w '%{http_code} %{time_total}\n' "http://$L:$PUB/data.bin"
        pids[i]=$BG_PID
    done
    sleep 1.5
    start_client "$name-client"
    for i in 1 2 3 4 5; do
        wait_bg "${pids[i]}" 25
        rc=$?
        code=$(tail -n 1 "$TMP/$name-get$i.log")
        if [ $rc != 0 ] || [ "${code%% *}" != 200 ] || ! cmp -s "$TMP/$name-$i.bin" "$TMP/www/data.bin"; then
            note_failure "$name: request $i made while the client was away failed (curl $rc, $code)"
        fi
    done
    el=$(($(now_ms) - t0))
    info "$name: 5 requests made while the client was away ($how) all done $el ms later; curl times: $(for i in 1 2 3 4 5; do tail -n 1 "$TMP/$name-get$i.log" | cut -d' ' -f2; done | tr '\n' ' ')"
    ((el >= 1400)) || note_failure "$name: the requests finished after $el ms, before the client was back?"
    wait_log "$CLIENT_LOG" 'channel up' 1 5 || fail "$name: the new client has no channel up"
}
held_requests term TERM
n=$(log_count "$SERVER_LOG" 'holding connection from')
[ "$n" -ge 5 ] || note_failure "the server logged $n 'holding connection' lines for 5 held requests"
held_requests kill KILL

# --- 3. no client at all -------------------------------------------------------
stop_bg "$CLIENT_PID" 15
wait_log "$SERVER_LOG" 'channel closed' 3 10 || fail "the server did not notice the last client leave"
out=$("${PYH[@]}" probe --port "$PUB" --mode none --within 8 --grace 0 2>&1)
rc=$?
el=$(sed -n 's/.*elapsed=\([0-9.]*\).*/\1/p' <<<"$out")
info "no client: $out"
[ $rc = 0 ] || note_failure "with no client, the public connection was not closed within 8 s: $out"
awk -v e="${el:-0}" 'BEGIN { exit !(e >= 4.8 && e <= 6.5) }' ||
    note_failure "with no client, the public connection was closed after ${el:-?} s (want about CLIENT_WAIT = 5 s)"
wait_log "$SERVER_LOG" 'no client of tag default within CLIENT_WAIT \(5 s\)' 1 3 ||
    note_failure "no 'no client of tag default within CLIENT_WAIT (5 s)' line"
t0=$(now_ms)
code=$(http_get "http://$L:$PUB/data.bin" /dev/null 10) || true
el=$(($(now_ms) - t0))
info "no client: HTTP request ended after $el ms with status '$code'"
[ "$code" = 000 ] || note_failure "with no client, an HTTP request got status $code"
((el >= 4800 && el <= 6500)) || note_failure "with no client, the HTTP request ended after $el ms (want about 5000)"

assert_server_alive
finish_test
