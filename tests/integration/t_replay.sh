#!/bin/bash
# Replay and man-in-the-middle attacks on the authenticated handshake
# (plain TCP, shared key):
#  - a successful handshake is recorded by a relay between client and
#    server; its client->server bytes replayed verbatim on a new connection
#    to INNER_PORT (all at once, and frame by frame after the server's
#    HELLO) are refused with "authentication failed" (fresh server nonce),
#    never get a channel, and do not disturb the real client's channel;
#  - HELLO followed by something other than AUTH is refused;
#  - the recorded server->client bytes replayed by a fake server to a fresh
#    client: the client refuses ("could not prove") and never connects the
#    target of the OPEN the fake server sends; same for a fake server that
#    reflects the client's own HELLO and AUTH back at it;
#  - a relay that flips one bit of either nonce, of the client's session id
#    (HELLOs are covered by the proofs), of the client's proof, or
#    clears the AUTH flag of either HELLO (downgrade) makes the handshake
#    fail, with no channel on either side.
. "$(dirname "$0")/lib.sh"

ECHO=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
CANARY=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
start_sech canary canary --port "$CANARY" --lifetime 300
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
wait_port $LOCALHOST "$CANARY" 10 || fail "canary did not start"

write_config "$LOCALHOST:$PUB = $LOCALHOST:$ECHO"
start_server
KEY=$(test_key)

# ------------------------------------------- record a successful handshake
RELAY=$(free_port) || fail "free_port"
start_sech relay relay --listen "$RELAY" --target "$INNER_PORT" --record "$TMP/rec" --lifetime 200
wait_port $LOCALHOST "$RELAY" 10 || fail "relay did not start"
start_client_to client "$RELAY" --key-file "$KEY"
wait_channel_up 1
out=$(sech peer --port "$PUB" --expect echo --send 50000 2>&1) || fail "no echo through the recorded channel: $out"
sleep 0.3
[ -s "$TMP/rec.0.c2s" ] && [ -s "$TMP/rec.0.s2c" ] || fail "the relay recorded nothing"
cp "$TMP/rec.0.c2s" "$TMP/client-bytes"
cp "$TMP/rec.0.s2c" "$TMP/server-bytes"
OFF_C=$(sech offsets --file "$TMP/client-bytes") || fail "recorded client bytes lack HELLO/AUTH: $OFF_C"
OFF_S=$(sech offsets --file "$TMP/server-bytes") || fail "recorded server bytes lack HELLO/AUTH: $OFF_S"
info "recorded $(stat -c %s "$TMP/client-bytes") bytes client->server ($OFF_C), $(stat -c %s "$TMP/server-bytes") server->client ($OFF_S)"
off() { sed -n "s/.*$2=\([0-9]*\).*/\1/p" <<<"$1"; }

# log_mark FILE: its line count now; lines after it belong to what follows.
log_mark() {
    local n
    n=$(wc -l <"$1" 2>/dev/null) || n=0
    echo "${n:-0}"
}
# wait_log_after FILE MARK EXTENDED-REGEX TIMEOUT: a line after line MARK
# of FILE matches, within TIMEOUT seconds.
_after_matches() { tail -n +"$(($2 + 1))" "$1" 2>/dev/null | grep -qE -- "$3"; }
wait_log_after() {
    wait_until "$4" _after_matches "$1" "$2" "$3"
}

# replayer_refused OUT WHAT: the server logged "authentication failed" for
# the replayer's local address and no channel for it.
replayer_refused() {
    local out=$1 what=$2 port
    port=$(sed -n 's/^local=[^:]*:\([0-9]*\) .*/\1/p' <<<"$out")
    [ -n "$port" ] || { note_failure "$what: no local address in: $out"; return; }
    wait_log "$SERVER_LOG" "127\.0\.0\.1:$port[: ].*authentication failed" 1 5 ||
        note_failure "$what: server did not log 'authentication failed' for 127.0.0.1:$port: $(grep -m2 ":$port[: ]" "$SERVER_LOG" | tr '\n' ' ')"
    assert_no_log "$SERVER_LOG" "127\.0\.0\.1:$port[: ].*channel up" "$what: the replayer got a channel"
}

# ----------------------------------------- replay the client's bytes to the server
for mode in burst interactive; do
    out=$(sech replay --port "$INNER_PORT" --file "$TMP/client-bytes" --mode "$mode" 2>&1)
    rc=$?
    info "replay ($mode): $out"
    [ $rc = 0 ] || note_failure "replay ($mode): the server sent more than its HELLO, or kept the connection: $out"
    replayer_refused "$out" "replay ($mode)"
done
# several replays at once
pids=()
for i in 1 2 3 4 5; do
    start_sech "replay$i" replay --port "$INNER_PORT" --file "$TMP/client-bytes" --mode burst
    pids+=("$BG_PID")
done
for i in 1 2 3 4 5; do
    wait_bg "${pids[i - 1]}" 15 || note_failure "parallel replay $i: $(tail -n 1 "$TMP/replay$i.log")"
    replayer_refused "$(tail -n 1 "$TMP/replay$i.log")" "parallel replay $i"
done
# HELLO, then no AUTH
out=$(sech skip-auth --port "$INNER_PORT" --file "$TMP/client-bytes" 2>&1) ||
    note_failure "HELLO then PING instead of AUTH: not closed, or the server sent more than HELLO: $out"
info "skip AUTH: $out"
grep -q "expected AUTH" "$SERVER_LOG" || note_failure "server did not log 'expected AUTH' for HELLO+PING"

# the real client (same process, same session) was never disturbed
n=$(log_count "$SERVER_LOG" "channel up")
[ "$n" = 1 ] || note_failure "server logged 'channel up' $n times, want 1 (a replay got in, or kicked the real client)"
assert_no_log "$CLIENT_LOG" "channel closed|reconnecting" "the replays disturbed the real client's channel"
out=$(sech peer --port "$PUB" --expect echo --send 50000 2>&1) || note_failure "no echo after the replays: $out"
stop_bg "$CLIENT_PID"

# ------------------------------- replay the server's bytes to a fresh client
FAKE=$(free_port) || fail "free_port"
start_sech fake-replay fake-server --port "$FAKE" --mode replay --file "$TMP/server-bytes" \
    --open-port "$CANARY" --record "$TMP/fake" --count 2 --lifetime 60
wait_port $LOCALHOST "$FAKE" 10 || fail "fake server did not start"
start_client_to client-vs-fake "$FAKE" --key-file "$KEY"
wait_log "$CLIENT_LOG" "could not prove" 2 10 ||
    note_failure "client did not refuse the replaying fake server with 'could not prove' (twice)"
stop_bg "$CLIENT_PID"
assert_no_log "$CLIENT_LOG" "channel up" "the client accepted a fake server replaying a recorded handshake"
assert_no_log "$CLIENT_LOG" "stream 1[^0-9]|$LOCALHOST:$CANARY" "the client acted on the fake server's OPEN"
info "fake server (replay): $(tr '\n' ' ' <"$TMP/fake-replay.log" | cut -c1-300)"

FAKE2=$(free_port) || fail "free_port"
start_sech fake-reflect fake-server --port "$FAKE2" --mode reflect \
    --open-port "$CANARY" --record "$TMP/refl" --count 2 --lifetime 60
wait_port $LOCALHOST "$FAKE2" 10 || fail "reflecting fake server did not start"
start_client_to client-vs-reflect "$FAKE2" --key-file "$KEY"
wait_log "$CLIENT_LOG" "authentication failed|could not prove|wrong role" 2 10 ||
    note_failure "client did not refuse a fake server reflecting its own HELLO/AUTH"
stop_bg "$CLIENT_PID"
assert_no_log "$CLIENT_LOG" "channel up" "the client accepted a fake server reflecting its own proof"
info "fake server (reflect): $(tr '\n' ' ' <"$TMP/fake-reflect.log" | cut -c1-300)"

# ------------------------------------------------------- man in the middle
# mitm NAME DIRECTION OFFSET MASK SERVER_RE CLIENT_RE: a relay flipping
# MASK into byte OFFSET of DIRECTION; the handshake must fail with the
# server logging SERVER_RE and the client logging CLIENT_RE; no channel.
mitm() {
    local name=$1 dir=$2 offset=$3 mask=$4 sre=$5 cre=$6 port before mark
    [ -n "$offset" ] || { note_failure "mitm $name: no offset"; return; }
    port=$(free_port) || fail "free_port"
    before=$(log_count "$SERVER_LOG" "channel up")
    # earlier cases wrote the same refusals: only what this one adds counts
    mark=$(log_mark "$SERVER_LOG")
    start_sech "relay-$name" relay --listen "$port" --target "$INNER_PORT" --record "$TMP/$name" \
        "--tamper-$dir" "$offset" "--mask-$dir" "$mask" --lifetime 60
    local rpid=$BG_PID
    wait_port $LOCALHOST "$port" 10 || fail "relay $name did not start"
    start_client_to "client-$name" "$port" --key-file "$KEY"
    wait_log_after "$SERVER_LOG" "$mark" "$sre" 8 ||
        note_failure "mitm $name: server did not log '$sre' (after line $mark of server.log)"
    wait_log "$CLIENT_LOG" "$cre" 1 8 || note_failure "mitm $name: client did not log '$cre'"
    stop_bg "$CLIENT_PID"
    stop_bg "$rpid"
    assert_no_log "$CLIENT_LOG" "channel up" "mitm $name: the client got a channel"
    [ "$(log_count "$SERVER_LOG" "channel up")" = "$before" ] ||
        note_failure "mitm $name: the server brought a channel up"
    info "mitm $name: server: $(tail -n +"$((mark + 1))" "$SERVER_LOG" | grep -E "$sre" | tail -n 1 | sed 's/.*\]: //' | cut -c1-110)"
    info "mitm $name: client: $(grep -E "$cre" "$CLIENT_LOG" | tail -n 1 | sed 's/.*\]: //' | cut -c1-110)"
}
mitm nonce-s2c s2c "$(off "$OFF_S" hello_nonce)" 0x01 "authentication failed" "wrong key"
mitm nonce-c2s c2s "$(off "$OFF_C" hello_nonce)" 0x80 "authentication failed" "wrong key"
mitm session-c2s c2s "$(( $(off "$OFF_C" hello_nonce) + 32 ))" 0x01 "authentication failed" "wrong key"
mitm proof-c2s c2s "$(off "$OFF_C" auth_proof)" 0x01 "authentication failed: wrong key" "wrong key"
mitm strip-auth-c2s c2s "$(off "$OFF_C" hello_flags)" 0x01 "client has no key" "\[warning\]"
mitm strip-auth-s2c s2c "$(off "$OFF_S" hello_flags)" 0x01 "closed during|authentication" "does not authenticate"

[ ! -s "$TMP/canary.log" ] || ! grep -q "connection from" "$TMP/canary.log" ||
    note_failure "the canary target was connected: $(head -n 3 "$TMP/canary.log" | tr '\n' ' ')"
assert_server_alive
finish_test
