#!/bin/bash
# SIGHUP reload (issue 4).
#  1. 50 reloads, every 100-200 ms, alternating two valid configurations
#     that differ only in unrelated mappings (one changes its target, one
#     comes and goes), while two wrk runs (keep-alive, and a new connection
#     per request) drive a mapping to nginx: 0 failed requests (no non-2xx,
#     no socket error of any kind, resets included).
#  2. A reload that removes a mapping during a throttled 64 MiB download on
#     it and adds another: the removed port stops accepting at once, the
#     download completes byte-exact, the added mapping serves.
#  3. DRAIN_TIMEOUT = 2: a stream left idle on a removed mapping is reset
#     about 2 s after the reload (both when the reload that removes the
#     mapping sets DRAIN_TIMEOUT, and when it was set before).
#  4. A broken configuration is refused with file:line errors and the
#     running one keeps serving unchanged; a good reload afterwards works.
. "$(dirname "$0")/lib.sh"

command -v wrk >/dev/null || fail "wrk not installed (tools/deps.sh test)"

WWW=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
PUB_M=$(free_port) || fail "free_port"     # wrk's mapping: never touched
PUB_D=$(free_port) || fail "free_port"     # long download, then removed
PUB_E1=$(free_port) || fail "free_port"    # idle stream, removed (phase 3a)
PUB_E2=$(free_port) || fail "free_port"    # idle stream, removed (phase 3b)
PUB_U=$(free_port) || fail "free_port"     # unrelated: target changes
PUB_V=$(free_port) || fail "free_port"     # unrelated: comes and goes
PUB_NEW=$(free_port) || fail "free_port"   # added in phase 2
PUB_BAD=$(free_port) || fail "free_port"   # only in the broken config
L=$LOCALHOST

mkdir -p "$TMP/www"
head -c 600 /dev/urandom | base64 -w 64 >"$TMP/www/index.html" || fail "cannot write index.html"
head -c $((64 << 20)) /dev/urandom >"$TMP/www/blob.bin" || fail "cannot create the 64 MiB file"
want_blob=$(sha256sum <"$TMP/www/blob.bin" | cut -d' ' -f1)

start_nginx nginx "$WWW" "$TMP/www"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 120
wait_port $L "$ECHO" 10 || fail "echo server did not start"

M_LINE="$L:$PUB_M = $L:$WWW"
D_LINE="$L:$PUB_D = $L:$WWW"
E1_LINE="$L:$PUB_E1 = $L:$ECHO"
E2_LINE="$L:$PUB_E2 = $L:$ECHO"
NEW_LINE="$L:$PUB_NEW = $L:$WWW"

EXTRA_DEFAULTS="DRAIN_TIMEOUT = 60"
write_config "$M_LINE" "$D_LINE" "$E1_LINE" "$E2_LINE" "$L:$PUB_U = $L:$WWW"
CFG_A=$TMP/a.cfg
CFG_B=$TMP/b.cfg
cp "$CONFIG" "$CFG_A"
write_config_file "$CFG_B" "$M_LINE" "$D_LINE" "$E1_LINE" "$E2_LINE" "$L:$PUB_U = $L:$ECHO" \
    "$L:$PUB_V = $L:$ECHO"
start_server
start_client client
wait_channel_up 1

code=$(http_get "http://$L:$PUB_M/index.html" "$TMP/first.html") || true
[ "$code" = 200 ] && cmp -s "$TMP/first.html" "$TMP/www/index.html" ||
    fail "GET through the tunnel before the reloads: HTTP $code"

RELOADED='configuration reloaded'

# hup_and_wait: SIGHUP the server and wait (bounded) for the outcome line.
hup_and_wait() {
    local re=$1 before
    before=$(log_count "$SERVER_LOG" "$re")
    kill_bg "$SERVER_PID" HUP || fail "cannot signal the server"
    wait_log "$SERVER_LOG" "$re" $((before + 1)) 5 ||
        fail "no new '$re' line within 5 s of SIGHUP"
}

# --- 1. 50 reloads under wrk -------------------------------------------------
# wrk runs until SIGINT (it then prints its totals); -d is only a bound
WRK_SECS=60
start_bg wrk_ka wrk -t1 -c8 -d${WRK_SECS}s --timeout 5s "http://$L:$PUB_M/index.html"
WRK_KA=$BG_PID
start_bg wrk_close wrk -t1 -c2 -d${WRK_SECS}s --timeout 5s -H 'Connection: close' \
    "http://$L:$PUB_M/index.html"
WRK_CLOSE=$BG_PID
sleep 1
t0=$(now_ms)
for ((i = 1; i <= 50; i++)); do
    t_i=$(now_ms)
    if ((i % 2)); then cp "$CFG_B" "$CONFIG.new"; else cp "$CFG_A" "$CONFIG.new"; fi
    mv -f "$CONFIG.new" "$CONFIG"
    hup_and_wait "$RELOADED"
    is_alive "$WRK_KA" && is_alive "$WRK_CLOSE" || fail "wrk ended before reload $i of 50"
    # 100-200 ms between signals
    left=$((100 + RANDOM % 101 - ($(now_ms) - t_i)))
    ((left > 0)) && sleep "$(ms_to_s $left)"
done
t_reloads=$(($(now_ms) - t0))
info "50 reloads in $t_reloads ms"
sleep 1
kill_bg "$WRK_KA" INT
kill_bg "$WRK_CLOSE" INT
wait_bg "$WRK_KA" 15 || fail "wrk (keep-alive) failed: $(tail -n 3 "$TMP/wrk_ka.log")"
wait_bg "$WRK_CLOSE" 15 || fail "wrk (Connection: close) failed: $(tail -n 3 "$TMP/wrk_close.log")"

# wrk_failures LOG: non-2xx/3xx responses plus every socket error.
wrk_failures() {
    awk '/Non-2xx or 3xx responses:/ { n += $NF }
         /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
         END { print n + 0 }' "$1"
}
wrk_requests() {
    awk '/requests in/ { print $1; found = 1 } END { if (!found) print 0 }' "$1"
}
total_req=0
total_fail=0
for w in wrk_ka wrk_close; do
    req=$(wrk_requests "$TMP/$w.log")
    bad=$(wrk_failures "$TMP/$w.log")
    info "$w: $req requests, $bad failed ($(grep -E 'Socket errors|Non-2xx' "$TMP/$w.log" | tr '\n' ' '))"
    [ "$req" -ge 200 ] || fail "$w made only $req requests: $(tr '\n' ' ' <"$TMP/$w.log")"
    total_req=$((total_req + req))
    total_fail=$((total_fail + bad))
done
info "during 50 reloads: $total_req requests, $total_fail failed"
[ "$total_fail" = 0 ] || note_failure "$total_fail of $total_req requests failed during 50 reloads (wrk: $(grep -hE 'Socket errors|Non-2xx' "$TMP/wrk_ka.log" "$TMP/wrk_close.log" | tr '\n' ' '))"

n=$(log_count "$SERVER_LOG" "$RELOADED")
[ "$n" = 50 ] || note_failure "$n '$RELOADED' lines after 50 SIGHUPs"
n=$(log_count "$SERVER_LOG" "mapping $L:$PUB_V -> .* added")
[ "$n" = 25 ] || note_failure "mapping $PUB_V added $n times in 50 reloads (want 25)"
n=$(log_count "$SERVER_LOG" "mapping $L:$PUB_V -> .* removed")
[ "$n" = 25 ] || note_failure "mapping $PUB_V removed $n times in 50 reloads (want 25)"
n=$(log_count "$SERVER_LOG" "mapping $L:$PUB_U changed")
[ "$n" = 50 ] || note_failure "mapping $PUB_U logged as changed $n times in 50 reloads (want 50)"
assert_no_log "$SERVER_LOG" "mapping $L:$PUB_M( |:).*(changed|removed|added)" "the untouched mapping was reported as changed"
port_listening $L "$PUB_V" && note_failure "mapping $PUB_V still listening after the last reload removed it"
code=$(http_get "http://$L:$PUB_U/index.html" "$TMP/u.html") || true
[ "$code" = 200 ] || note_failure "mapping $PUB_U (back to nginx after the last reload) answers HTTP $code"

# --- 2. removed mapping drains a long download; added mapping serves ---------
start_bg download curl -sS --fail --noproxy '*' --max-time 60 --limit-rate 12M \
    -o "$TMP/blob.out" "http://$L:$PUB_D/blob.bin"
DL_PID=$BG_PID
for ((i = 0; i < 100; i++)); do
    [ "$(stat -c %s "$TMP/blob.out" 2>/dev/null || echo 0)" -ge $((4 << 20)) ] && break
    is_alive "$DL_PID" || break
    sleep 0.1
done
got=$(stat -c %s "$TMP/blob.out" 2>/dev/null || echo 0)
[ "$got" -ge $((4 << 20)) ] || fail "the download on $PUB_D did not get going ($got bytes)"

write_config_file "$CONFIG" "$M_LINE" "$E1_LINE" "$E2_LINE" "$NEW_LINE"
t_hup=$(now_ms)
hup_and_wait "$RELOADED"
# the removed port must refuse new connections at once
curl -sS --noproxy '*' --max-time 3 -o /dev/null "http://$L:$PUB_D/index.html" 2>"$TMP/refused.err"
rc=$?
t_refused=$(($(now_ms) - t_hup))
[ $rc = 7 ] || note_failure "a new connection to the removed mapping $PUB_D was not refused (curl status $rc: $(cat "$TMP/refused.err"))"
info "removed mapping refuses new connections ${t_refused} ms after SIGHUP"
grep -qE "mapping $L:$PUB_D -> .* removed: not listening any more, 1 live streams drain" "$SERVER_LOG" ||
    note_failure "no 'removed ... 1 live streams drain' line for $PUB_D: $(grep -E "$PUB_D.*removed" "$SERVER_LOG")"
is_alive "$DL_PID" || note_failure "the download ended before the reload was done (too fast: lower --limit-rate)"
grep -qE "mapping $L:$PUB_NEW -> $L:$WWW added" "$SERVER_LOG" || note_failure "no 'added' line for $PUB_NEW"
wait_port $L "$PUB_NEW" 2 || note_failure "added mapping $PUB_NEW not listening"
code=$(http_get "http://$L:$PUB_NEW/index.html" "$TMP/new.html") || true
[ "$code" = 200 ] && cmp -s "$TMP/new.html" "$TMP/www/index.html" ||
    note_failure "added mapping $PUB_NEW does not serve: HTTP $code"

wait_bg "$DL_PID" 60
rc=$?
t_dl=$(($(now_ms) - t_hup))
got=$(sha256sum <"$TMP/blob.out" | cut -d' ' -f1)
size=$(stat -c %s "$TMP/blob.out")
if [ $rc = 0 ] && [ "$got" = "$want_blob" ]; then
    info "64 MiB download on the removed mapping completed byte-exact, $t_dl ms after the reload"
else
    note_failure "download on the removed mapping: curl status $rc, $size bytes, sha256 $got (want $want_blob)"
fi
code=$(http_get "http://$L:$PUB_M/index.html" "$TMP/m2.html") || true
[ "$code" = 200 ] || note_failure "untouched mapping $PUB_M answers HTTP $code after the removal"

# --- 3. DRAIN_TIMEOUT resets a stream that outlives it -----------------------
start_bg idle1 "${PYH[@]}" probe --port "$PUB_E1" --mode none --within 40 --grace 0
IDLE1=$BG_PID
start_bg idle2 "${PYH[@]}" probe --port "$PUB_E2" --mode none --within 40 --grace 0
IDLE2=$BG_PID
wait_log "$SERVER_LOG" "stream [0-9]+: open \(mapping $L:$PUB_E1 " 1 10 || fail "idle stream on $PUB_E1 not open"
wait_log "$SERVER_LOG" "stream [0-9]+: open \(mapping $L:$PUB_E2 " 1 10 || fail "idle stream on $PUB_E2 not open"

# drain_case NAME PID PUB: after a reload removing PUB, the idle stream PID
# must be reset about DRAIN_TIMEOUT (2 s) later.
drain_case() {
    local name=$1 pid=$2 pub=$3 t1 el rc
    t1=$(now_ms)
    hup_and_wait "$RELOADED"
    grep -qE "mapping $L:$pub -> .* removed: .*1 live streams drain for up to 2 s" "$SERVER_LOG" ||
        note_failure "$name: no 'removed ... 1 live streams drain for up to 2 s' line for $pub"
    wait_bg "$pid" 8
    rc=$?
    el=$(($(now_ms) - t1))
    if [ $rc = 124 ]; then
        note_failure "$name: idle stream on removed mapping $pub still open 8 s after a reload with DRAIN_TIMEOUT = 2"
        return
    fi
    info "$name: idle stream on the removed mapping ended $el ms after SIGHUP: $(tail -n 1 "$TMP/$name.log")"
    grep -q "closed=reset" "$TMP/$name.log" ||
        note_failure "$name: idle stream on $pub ended without a reset: $(tail -n 1 "$TMP/$name.log")"
    ((el >= 1500 && el <= 4500)) || note_failure "$name: idle stream on $pub ended $el ms after SIGHUP (want about 2000)"
    wait_log "$SERVER_LOG" "mapping $L:$pub: 1 streams still open after DRAIN_TIMEOUT, reset" 1 2 ||
        note_failure "$name: no 'still open after DRAIN_TIMEOUT, reset' line for $pub"
}
# 3a: the reload that removes E1 is also the one that lowers DRAIN_TIMEOUT
EXTRA_DEFAULTS="DRAIN_TIMEOUT = 2"
write_config_file "$CONFIG" "$M_LINE" "$E2_LINE" "$NEW_LINE"
drain_case idle1 "$IDLE1" "$PUB_E1"
# 3b: DRAIN_TIMEOUT = 2 already in force
write_config_file "$CONFIG" "$M_LINE" "$NEW_LINE"
drain_case idle2 "$IDLE2" "$PUB_E2"

# --- 4. a broken configuration is refused ------------------------------------
cp "$CONFIG" "$TMP/good.cfg"
{
    echo "[DEFAULT]"
    echo "INNER_PORT = $INNER_PORT"
    echo "INNER_ADDR = $L"
    echo "AUTH_KEY_FILE = $(test_key)"
    echo "HEARTBEAT_INTERVAL = soon"
    echo "[MAPPER]"
    echo "$NEW_LINE"
    echo "$L:$PUB_BAD = no-port-here"
} >"$TMP/broken.cfg"
bad1=$(grep -n 'HEARTBEAT_INTERVAL' "$TMP/broken.cfg" | cut -d: -f1)
bad2=$(grep -n 'no-port-here' "$TMP/broken.cfg" | cut -d: -f1)
mv -f "$TMP/broken.cfg" "$CONFIG"
hup_and_wait 'reload failed'
grep -qF "$CONFIG:$bad1: " "$SERVER_LOG" || note_failure "no '$CONFIG:$bad1:' error for the bad HEARTBEAT_INTERVAL"
grep -qF "$CONFIG:$bad2: " "$SERVER_LOG" || note_failure "no '$CONFIG:$bad2:' error for the bad mapping"
info "broken config: $(grep -E 'forward.cfg:[0-9]+:|reload failed' "$SERVER_LOG" | tail -n 3 | sed 's/.*\]: //' | tr '\n' '|')"
for p in "$PUB_M" "$PUB_NEW"; do
    code=$(http_get "http://$L:$p/index.html" "$TMP/after-bad.html") || true
    [ "$code" = 200 ] || note_failure "mapping $p answers HTTP $code after the broken reload"
done
port_listening $L "$PUB_BAD" && note_failure "the broken config's mapping $PUB_BAD is listening"
n=$(log_count "$SERVER_LOG" "mapping $L:$PUB_M -> .* removed")
[ "$n" = 0 ] || note_failure "the broken config removed mapping $PUB_M"

# --- 5. a port in use: the reload is refused whole --------------------------
# The new file removes PUB_M and adds PUB_NEW2 (free) and PUB_BUSY (held by
# another program): nothing may change, not even the free port.
PUB_NEW2=$(free_port) || fail "free_port"
PUB_BUSY=$(free_port) || fail "free_port"
start_bg squatter "${PYH[@]}" echo-server --port "$PUB_BUSY" --lifetime 120 --io-timeout 60
SQUAT_PID=$BG_PID
wait_port $L "$PUB_BUSY" 10 || fail "the squatter did not start"
write_config_file "$CONFIG" "$NEW_LINE" "$L:$PUB_NEW2 = $L:$WWW" "$L:$PUB_BUSY = $L:$WWW"
hup_and_wait 'reload failed'
grep -qE "reload: cannot listen on $L:$PUB_BUSY .*Address already in use" "$SERVER_LOG" ||
    note_failure "the refused reload does not name the busy port $PUB_BUSY: $(grep 'reload' "$SERVER_LOG" | tail -n 2)"
info "busy port: $(grep -E 'reload: cannot listen|reload failed' "$SERVER_LOG" | tail -n 2 | sed 's/.*\]: //' | tr '\n' '|')"
port_listening $L "$PUB_NEW2" && note_failure "a refused reload left its free port $PUB_NEW2 listening"
code=$(http_get "http://$L:$PUB_M/index.html" "$TMP/after-busy.html") || true
[ "$code" = 200 ] || note_failure "mapping $PUB_M answers HTTP $code after a refused reload that would remove it"
stop_bg "$SQUAT_PID"

mv -f "$TMP/good.cfg" "$CONFIG"
hup_and_wait "$RELOADED"
code=$(http_get "http://$L:$PUB_M/index.html" "$TMP/final.html") || true
[ "$code" = 200 ] || note_failure "mapping $PUB_M answers HTTP $code after the final good reload"

assert_server_alive
is_alive "$CLIENT_PID" || note_failure "forward-client died"
[ "$(log_count "$CLIENT_LOG" 'channel up')" = 1 ] || note_failure "the channel was re-established during the reloads"
finish_test
