#!/bin/bash
# (g) kill -9 the client mid-transfer: the public connection is closed
# (with an RST, since the stream is truncated) within a few seconds,
# forward-server keeps running, and a newly started client serves new
# connections byte-exact.
. "$(dirname "$0")/lib.sh"
# Closing at once needs the grace hold for absent clients off (issue 4).
EXTRA_DEFAULTS="CLIENT_WAIT = 0"

INF=$(free_port) || fail "free_port"
SRC=$(free_port) || fail "free_port"
ECHO=$(free_port) || fail "free_port"
PUB_INF=$(free_port) || fail "free_port"
PUB_SRC=$(free_port) || fail "free_port"
PUB_ECHO=$(free_port) || fail "free_port"

start_bg inf "${PYH[@]}" source-server --port "$INF" --size -1 --seed 4 --lifetime 300 --io-timeout 60
start_bg src "${PYH[@]}" source-server --port "$SRC" --size 16M --seed 6 --lifetime 300 --io-timeout 60
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
for p in "$INF" "$SRC" "$ECHO"; do
    wait_port $LOCALHOST "$p" 10 || fail "target on port $p did not start"
done

start_tunnel "$LOCALHOST:$PUB_INF = $LOCALHOST:$INF" \
    "$LOCALHOST:$PUB_SRC = $LOCALHOST:$SRC" \
    "$LOCALHOST:$PUB_ECHO = $LOCALHOST:$ECHO"
OLD_CLIENT_PID=$CLIENT_PID

# an endless download, plus an idle echo connection, both in flight
start_bg sink "${PYH[@]}" sink --port "$PUB_INF" --seed 4 --until-close \
    --progress-file "$TMP/progress" --timeout 60
SINK_PID=$BG_PID
start_bg idle "${PYH[@]}" probe --port "$PUB_ECHO" --mode none --within 30 --grace 0
IDLE_PID=$BG_PID

got=0
for ((i = 0; i < 200; i++)); do
    got=$(cat "$TMP/progress" 2>/dev/null || echo 0)
    [ "${got:-0}" -ge $((4 << 20)) ] && break
    is_alive "$SINK_PID" || break
    sleep 0.1
done
[ "${got:-0}" -ge $((4 << 20)) ] || fail "transfer did not get going (got ${got:-0} bytes): $(tail -n 1 "$TMP/sink.log")"
is_alive "$IDLE_PID" || fail "idle echo connection closed early: $(tail -n 1 "$TMP/idle.log")"

kill_bg "$OLD_CLIENT_PID" KILL || fail "could not kill the client"
t_kill=$(now_ms)
wait_bg "$SINK_PID" 5
rc=$?
t_closed=$(($(now_ms) - t_kill))
info "after kill -9: $(tail -n 1 "$TMP/sink.log") (closed ~$t_closed ms after the kill)"
case $rc in
0) ;;
3) fail "public connection ended with a clean EOF (FIN) instead of a reset: a truncated transfer looks complete" ;;
124) fail "public connection still open 5 s after the client was killed" ;;
*) fail "sink failed (status $rc): $(tail -n 1 "$TMP/sink.log")" ;;
esac
wait_bg "$IDLE_PID" 5
rc=$?
[ $rc = 124 ] && fail "idle public connection still open 5 s after the client was killed"
info "idle connection: $(tail -n 1 "$TMP/idle.log")"
wait_bg "$OLD_CLIENT_PID" 5 >/dev/null

assert_server_alive

# no client now: a public connection is closed at once
out=$("${PYH[@]}" probe --port "$PUB_ECHO" --mode none --within 1.0 2>&1)
[ $? = 0 ] || fail "public connection while no client is connected not closed within 1 s: $out"

# a new client takes over
start_client client2
wait_channel_up 2 15

"${PYH[@]}" concurrent --port "$PUB_ECHO" -n 50 --max 262144 --timeout 60 >"$TMP/after.out" 2>&1 ||
    fail "echo through the new client failed: $(tail -n 2 "$TMP/after.out" | tr '\n' ' ')"
info "new client, echo: $(tail -n 1 "$TMP/after.out")"
"${PYH[@]}" sink --port "$PUB_SRC" --size 16M --seed 6 --timeout 60 >"$TMP/after2.out" 2>&1 ||
    fail "16 MiB download through the new client failed: $(tail -n 1 "$TMP/after2.out")"
info "new client, download: $(tail -n 1 "$TMP/after2.out")"

assert_server_alive
pass
