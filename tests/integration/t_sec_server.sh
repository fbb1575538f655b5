#!/bin/bash
# What an authenticated (or any) peer may do to the server after the
# handshake (issue 12), each attack from a Python peer speaking the
# documented protocol (sec_helpers.py client) against a real forward-server:
#  - tag hijack: client alice, with only her own [CLIENTS] key, announces
#    bob's tag site-b: refused in the handshake with the reason on both
#    sides, and every public connection of site-b still reaches bob; a
#    shared-key client is refused a reserved tag, allowed an unreserved one;
#  - MAX_CHANNELS_PER_CLIENT: bob's third channel is refused;
#  - OPEN_TIMEOUT: a client that never answers OPEN: the public connection
#    is closed after OPEN_TIMEOUT (2 s), logged;
#  - PING flood without reading: the server's VmRSS stays bounded and the
#    channel is closed;
#  - MAX_BUFFERED_BYTES: 24 public peers that stop reading an endless
#    download pin at most about the cap, and every stream resumes after;
#  - MAX_HANDSHAKES_PER_SOURCE: a flood of silent connections from
#    127.0.0.2 cannot push out a slow handshake from 127.0.0.1;
#  - revocation: removing alice's key and sending HUP closes her live
#    channel within a second, with "key revoked" on both sides.
. "$(dirname "$0")/lib.sh"

check_binaries
ECHO=$(free_port) || fail "free_port"
INF=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
start_bg inf "${PYH[@]}" source-server --port "$INF" --size -1 --seed 9 --lifetime 300 --io-timeout 120
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
wait_port $LOCALHOST "$INF" 10 || fail "source server did not start"

for k in alice bob carol; do make_key "$TMP/$k.key"; done
INNER_PORT=$(free_port) || fail "free_port"
PUB_B=$(free_port) || fail "free_port"
PUB_S=$(free_port) || fail "free_port"
PUB_D=$(free_port) || fail "free_port"
PUB_INF=$(free_port) || fail "free_port"
PUBLIC_PORTS=("$PUB_B" "$PUB_S" "$PUB_D" "$PUB_INF")
CONFIG=$TMP/forward.cfg
# write_server_config [WITH_ALICE]: alice's key line only when 1.
write_server_config() {
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $INNER_PORT"
        echo "INNER_ADDR = $LOCALHOST"
        echo "LOG_LEVEL = debug"
        echo "AUTH_KEY_FILE = $(test_key)"
        echo "OPEN_TIMEOUT = 2"
        echo "HEARTBEAT_INTERVAL = 1"
        echo "MAX_CHANNELS_PER_CLIENT = 2"
        echo "MAX_BUFFERED_BYTES = 4M"
        echo "MAX_HANDSHAKES = 8"
        echo "MAX_HANDSHAKES_PER_SOURCE = 4"
        echo "[CLIENTS]"
        [ "$1" = 1 ] && echo "alice = $TMP/alice.key"
        echo "bob = $TMP/bob.key"
        echo "bob.TAGS = site-b"
        echo "carol = $TMP/carol.key"
        echo "carol.TAGS = silent"
        echo "[MAPPER]"
        echo "$LOCALHOST:$PUB_B = $LOCALHOST:$ECHO"
        echo "$LOCALHOST:$PUB_S = $LOCALHOST:$ECHO"
        echo "$LOCALHOST:$PUB_D = $LOCALHOST:$ECHO"
        echo "$LOCALHOST:$PUB_INF = $LOCALHOST:$INF"
        echo "[TAG]"
        echo "$LOCALHOST:$PUB_B = site-b"
        echo "$LOCALHOST:$PUB_S = silent"
    } >"$CONFIG"
}
write_server_config 1
start_server
start_client_with bob --key-file "$TMP/bob.key" --name bob --tag site-b
BOB_PID=$CLIENT_PID
BOB_LOG=$CLIENT_LOG
wait_channel_up 1

# --- tag hijack by another named client --------------------------------
start_sech alice_hijack client --port "$INNER_PORT" --key-file "$TMP/alice.key" --name alice \
    --tag site-b --mode serve --hold 3
HIJACK_PID=$BG_PID
sleep 0.5
echoed=0
for i in $(seq 1 10); do
    sech peer --port "$PUB_B" --expect echo --send 200 --within 5 >/dev/null 2>&1 && echoed=$((echoed + 1))
done
wait_bg "$HIJACK_PID" 10
out=$(tail -n 1 "$TMP/alice_hijack.log")
info "alice announcing site-b: $out; $echoed/10 public connections echoed"
grep -q "refused='client alice may not serve tag site-b" <<<"$out" ||
    note_failure "alice was not refused tag site-b with the reason: $out"
[ "$echoed" = 10 ] || note_failure "only $echoed/10 public connections of site-b were served"
grep -q "opens=[1-9]" <<<"$out" && note_failure "alice received OPENs for bob's tag: $out"
wait_log "$SERVER_LOG" "refused: client alice may not serve tag site-b" 1 5 ||
    note_failure "server did not log the refusal of alice"
# the real client names the reason too
start_client_with alice_real --key-file "$TMP/alice.key" --name alice --tag site-b
ALICE_REAL=$CLIENT_PID
wait_log "$TMP/alice_real.log" "the server refused the channel: client alice may not serve tag site-b" 1 10 ||
    note_failure "forward-client did not log the server's reason: $(grep -i refus "$TMP/alice_real.log" | tail -n 2)"
stop_bg "$ALICE_REAL"

# --- a shared-key client and reserved / unreserved tags ----------------
out=$(sech client --port "$INNER_PORT" --key-file "$(test_key)" --tag site-b --hold 1 2>/dev/null)
info "shared key announcing site-b: $out"
grep -q "auth=refused.*reserved" <<<"$out" || note_failure "shared-key client was not refused the reserved tag: $out"
out=$(sech client --port "$INNER_PORT" --key-file "$(test_key)" --tag free --hold 1 2>/dev/null)
info "shared key announcing free: $out"
grep -q "auth=ok" <<<"$out" || note_failure "shared-key client was refused an unreserved tag: $out"

# --- MAX_CHANNELS_PER_CLIENT = 2: bob's real client plus one more ---------
n0=$(log_count "$SERVER_LOG" "channel up")
start_sech bob2 client --port "$INNER_PORT" --key-file "$TMP/bob.key" --name bob --tag site-b --hold 4
BOB2=$BG_PID
wait_log "$SERVER_LOG" "channel up" $((n0 + 1)) 5 || note_failure "bob's second channel did not come up"
out=$(sech client --port "$INNER_PORT" --key-file "$TMP/bob.key" --name bob --tag site-b --hold 1 2>/dev/null)
info "bob's third channel: $out"
grep -q "auth=refused.*MAX_CHANNELS_PER_CLIENT" <<<"$out" || note_failure "bob's third channel was not refused: $out"
stop_bg "$BOB2"

# --- OPEN_TIMEOUT -------------------------------------------------------
start_sech carol client --port "$INNER_PORT" --key-file "$TMP/carol.key" --name carol --tag silent \
    --mode silent --hold 8
CAROL=$BG_PID
wait_log "$SERVER_LOG" "as carol, tag silent" 1 5 || note_failure "carol's channel did not come up"
out=$(sech peer --port "$PUB_S" --expect closed --send 10 --within 6 2>&1)
rc=$?
el=$(sed -n 's/.*elapsed=\([0-9.]*\).*/\1/p' <<<"$out")
info "public connection to a client that never answers OPEN: $out"
[ $rc = 0 ] || note_failure "the public connection was not closed within 6 s (OPEN_TIMEOUT 2): $out"
awk -v e="${el:-0}" 'BEGIN { exit !(e >= 1.5) }' || note_failure "closed after ${el} s, before OPEN_TIMEOUT"
wait_log "$SERVER_LOG" "OPEN_TIMEOUT" 1 3 || note_failure "the server did not log OPEN_TIMEOUT"
stop_bg "$CAROL"

# --- PING flood from a client that does not read --------------------------
rss0=$(rss_kb "$SERVER_PID")
start_sech sample sample --pid "$SERVER_PID" --port "$INNER_PORT" --interval 0.1 --duration 25 \
    --out "$TMP/sample.txt"
SAMPLE=$BG_PID
start_sech flood client --port "$INNER_PORT" --key-file "$TMP/alice.key" --name alice \
    --mode ping-flood --pings 100000000 --hold 15
wait_bg "$BG_PID" 25
out=$(tail -n 1 "$TMP/flood.log")
stop_bg "$SAMPLE"
max_rss=$(sed -n 's/.*max_rss_kb=\([0-9]*\).*/\1/p' "$TMP/sample.txt")
info "PING flood: $out; server VmRSS $rss0 KiB before, at most ${max_rss} KiB during"
grep -q "how=closed-by-server" <<<"$out" || note_failure "the server did not close the flooding channel: $out"
[ -n "$max_rss" ] && [ "$max_rss" -lt $((rss0 + $(rss_allowance $((24 * 1024))))) ] ||
    note_failure "server VmRSS grew from $rss0 to $max_rss KiB under the PING flood"
grep -E "presumed stuck|does not read" "$SERVER_LOG" | tail -n 1 | while read -r l; do info "server: $l"; done
assert_server_alive

# --- MAX_BUFFERED_BYTES = 4M: readers that stop reading -----------------
start_client_with alice_d --key-file "$TMP/alice.key" --name alice
ALICE_D=$CLIENT_PID
ALICE_D_LOG=$CLIENT_LOG
wait_log "$SERVER_LOG" "as alice, tag default" 1 10 || fail "alice's channel (tag default) did not come up"
rss0=$(rss_kb "$SERVER_PID")
readers=()
for i in $(seq 1 24); do
    start_bg "slow$i" "${PYH[@]}" slow-reader --port "$PUB_INF" --hold 60 \
        --release-file "$TMP/release" --then-read 2M --seed 9 --io-timeout 60
    readers+=("$BG_PID")
done
sleep 4
rss1=$(rss_kb "$SERVER_PID")
kill -USR1 "$SERVER_PID"
wait_log "$SERVER_LOG" "bytes buffered \(MAX_BUFFERED_BYTES\)" 1 5
status=$(grep "bytes buffered (MAX_BUFFERED_BYTES)" "$SERVER_LOG" | tail -n 1)
info "24 stalled readers: server VmRSS $rss0 -> $rss1 KiB; $status"
[ "$rss1" -lt $((rss0 + $(rss_allowance $((24 * 1024))))) ] ||
    note_failure "24 stalled readers grew the server by $((rss1 - rss0)) KiB with MAX_BUFFERED_BYTES 4M"
touch "$TMP/release"
ok=0
for pid in "${readers[@]}"; do wait_bg "$pid" 60 && ok=$((ok + 1)); done
info "after release: $ok/24 readers got 2 MiB intact"
[ "$ok" = 24 ] || note_failure "only $ok/24 stalled streams resumed after the budget had room"

# --- MAX_HANDSHAKES_PER_SOURCE: a slow handshake survives a flood --------
start_sech slow_hs client --port "$INNER_PORT" --key-file "$TMP/alice.key" --name alice \
    --tag default --auth-delay 2 --hold 1
SLOW_HS=$BG_PID
sleep 0.3
start_sech hs_flood hold --port "$INNER_PORT" --src 127.0.0.2 -n 30 --hold 4
wait_bg "$SLOW_HS" 15
out=$(tail -n 1 "$TMP/slow_hs.log")
info "slow handshake during a flood from 127.0.0.2: $out"
grep -q "auth=ok" <<<"$out" || note_failure "a slow handshake from 127.0.0.1 was pushed out by a flood from 127.0.0.2: $out"
n=$(log_count "$SERVER_LOG" "MAX_HANDSHAKES_PER_SOURCE \(4\) connections from 127.0.0.2")
info "server dropped $n handshakes from 127.0.0.2"
[ "$n" -ge 10 ] || note_failure "only $n connections from 127.0.0.2 dropped by MAX_HANDSHAKES_PER_SOURCE"

# --- revocation: alice's key removed, HUP --------------------------------
write_server_config 0
t0=$(now_ms)
kill -HUP "$SERVER_PID"
if wait_log_ms "$SERVER_LOG" "closing the channel of client alice .*key revoked" 1 3000; then
    info "alice's channel closed $(ms_to_s $(($(now_ms) - t0))) s after HUP"
    [ $(($(now_ms) - t0)) -le 1500 ] || note_failure "revocation took more than a second"
else
    note_failure "alice's channel was not closed after her key was removed"
fi
wait_log "$ALICE_D_LOG" "the server closed the channel: key revoked" 1 5 ||
    note_failure "alice's client did not log 'key revoked': $(grep -i "channel closed" "$ALICE_D_LOG" | tail -n 1)"
wait_log "$SERVER_LOG" "authentication failed: (no key for client name 'alice'|wrong key for client 'alice')" 1 10 ||
    note_failure "alice's reconnect was not refused"
is_alive "$BOB_PID" || note_failure "bob's client died"
assert_no_log "$BOB_LOG" "channel closed" "the reload closed bob's channel"
sech peer --port "$PUB_B" --expect echo --send 200 --within 5 >/dev/null 2>&1 ||
    note_failure "bob's mapping does not work after the reload"
stop_bg "$ALICE_D"
assert_server_alive
finish_test
