#!/bin/bash
# Key authentication of the channel (issue 3):
#  - a client with the wrong key is refused ("authentication failed"), never
#    gets a channel, and meanwhile the public port serves nothing;
#  - the right key works, and the key (hex text, base64 or raw bytes) never
#    appears in a capture of the channel taken by a relay in the middle;
#  - key files accessible by others, too short (31 bytes) or not a key are
#    refused by both daemons at start (exit 78, a clear message);
#  - no AUTH_KEY_FILE and no AUTH = none: the server does not start;
#  - AUTH = none starts with a warning and serves a --no-auth client, while
#    a client that has a key refuses such a server (downgrade protection);
#  - [CLIENTS]: named clients with their own keys, wrong key for a name
#    refused, unknown name refused; a client cannot take over another
#    client's session (and so its channel) with its own valid key;
#  - a client without a key: exits 78 (no --key-file) or, with --no-auth
#    against a keyed server, is refused with a message about the key.
. "$(dirname "$0")/lib.sh"

check_binaries

ECHO=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"

# config_head FILE INNER_PORT: [DEFAULT] lines every config here shares.
config_head() {
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $2"
        echo "INNER_ADDR = $LOCALHOST"
        echo "LOG_LEVEL = debug"
    } >"$1"
}

# public_closed PORT WHAT [N]: N (default 3) simultaneous public connections
# each get no byte and are closed (the server may hold them up to
# CLIENT_WAIT seconds waiting for a client, so allow 9 s).
public_closed() {
    local port=$1 what=$2 n=${3:-3} i pids=() out
    for ((i = 0; i < n; i++)); do
        start_sech "pc$i" peer --port "$port" --expect closed --send 100 --within 9
        pids+=("$BG_PID")
    done
    for ((i = 0; i < n; i++)); do
        wait_bg "${pids[i]}" 15
        out=$(tail -n 1 "$TMP/pc$i.log")
        grep -q "ok=1" <<<"$out" ||
            note_failure "$what: public port $port did not close connection $i without data: $out"
    done
}

# public_echo PORT WHAT: byte-exact echo through the public port.
public_echo() {
    local out
    out=$(sech peer --port "$1" --expect echo --send "${3:-200000}" --within 10 2>&1) ||
        note_failure "$2: no byte-exact echo through public port $1: $out"
}

# ------------------------------------------------- 1. keyed server, wrong key
PUB=$(free_port) || fail "free_port"
write_config "$LOCALHOST:$PUB = $LOCALHOST:$ECHO"
KEY=$(test_key)
KEYED_CONFIG=$CONFIG
KEYED_INNER=$INNER_PORT
start_server
make_key "$TMP/wrong.key"

start_client_with client-wrong --key-file "$TMP/wrong.key"
WRONG_PID=$CLIENT_PID
WRONG_LOG=$CLIENT_LOG
wait_log "$SERVER_LOG" "authentication failed: wrong key" 2 10 ||
    fail "server did not log 'authentication failed: wrong key' twice for the wrong-keyed client"
wait_log "$WRONG_LOG" "wrong key" 1 5 ||
    note_failure "wrong-keyed client does not say its key may be wrong"
# the wrong-keyed client keeps retrying: the public port must serve nothing
public_closed "$PUB" "wrong key" 5
assert_no_log "$WRONG_LOG" "channel up" "the wrong-keyed client got a channel"
assert_no_log "$SERVER_LOG" "channel up" "the server accepted the wrong-keyed client"
grep -q "no client" "$SERVER_LOG" ||
    note_failure "server did not log 'no client ...' for the public connections"
stop_bg "$WRONG_PID"
info "wrong key: refused $(log_count "$SERVER_LOG" "authentication failed: wrong key") times, public port closed"

# ------------------------------------ 2. right key, through a recording relay
RELAY=$(free_port) || fail "free_port"
start_sech relay relay --listen "$RELAY" --target "$INNER_PORT" --record "$TMP/cap" --lifetime 120
wait_port $LOCALHOST "$RELAY" 10 || fail "relay did not start"
start_client_to client "$RELAY" --key-file "$KEY"
wait_channel_up 1
grep -qE "channel up.*authenticated" "$SERVER_LOG" ||
    note_failure "server 'channel up' line does not say 'authenticated'"
public_echo "$PUB" "right key" 300000
"${PYH[@]}" concurrent --port "$PUB" -n 10 --max 65536 --timeout 30 >"$TMP/conc.out" 2>&1 ||
    note_failure "right key: concurrent echo failed: $(tail -n 1 "$TMP/conc.out")"
closed_before=$(log_count "$SERVER_LOG" "channel closed")
stop_bg "$CLIENT_PID"
# the relay writes what it forwards before forwarding it: once the server
# has seen the channel close, the capture holds all of it
wait_log "$SERVER_LOG" "channel closed" $((closed_before + 1)) 5 ||
    note_failure "the server did not log the recorded channel's close within 5 s"
ls "$TMP"/cap.*.c2s >/dev/null 2>&1 || fail "the relay recorded nothing"
out=$(sech check-capture --key-file "$KEY" --min-bytes 300000 "$TMP"/cap.*.c2s "$TMP"/cap.*.s2c 2>&1) ||
    note_failure "the key appears in the channel capture (or the capture is too small): $out"
info "capture: $out"
grep -q TCPF "$TMP/cap.0.c2s" || note_failure "the capture does not hold the client's HELLO"

# ------------------------------------------ 3. key files refused at start
for mode in 644 604 606 602; do
    make_key "$TMP/k$mode.key" 32 $mode
    sed "s#^AUTH_KEY_FILE = .*#AUTH_KEY_FILE = $TMP/k$mode.key#" "$KEYED_CONFIG" >"$TMP/k$mode.cfg"
    expect_refused_start "server, key file mode $mode" "accessible by other users" \
        "$FORWARD_SERVER" "$TMP/k$mode.cfg"
    expect_refused_start "client, key file mode $mode" "accessible by other users" \
        "$FORWARD_CLIENT" --key-file "$TMP/k$mode.key" $LOCALHOST "$KEYED_INNER"
done
# 640 is allowed (a group may hold the key)
make_key "$TMP/k640.key" 32 640
sed "s#^AUTH_KEY_FILE = .*#AUTH_KEY_FILE = $TMP/k640.key#" "$KEYED_CONFIG" >"$TMP/k640.cfg"
timeout 10 "$FORWARD_SERVER" -n "$TMP/k640.cfg" >"$TMP/n.out" 2>&1 ||
    note_failure "server refuses a key file of mode 640: $(head -c 300 "$TMP/n.out")"

# 31 bytes: hex and base64
make_key "$TMP/short.key" 31
(umask 077 && head -c 31 /dev/urandom | base64 >"$TMP/short64.key")
printf 'not a key, just some words here\n' >"$TMP/words.key"
: >"$TMP/empty.key"
chmod 600 "$TMP/words.key" "$TMP/empty.key"
for k in short short64; do
    sed "s#^AUTH_KEY_FILE = .*#AUTH_KEY_FILE = $TMP/$k.key#" "$KEYED_CONFIG" >"$TMP/$k.cfg"
    expect_refused_start "server, 31-byte key ($k)" "too short.*31 bytes" "$FORWARD_SERVER" "$TMP/$k.cfg"
    expect_refused_start "client, 31-byte key ($k)" "too short.*31 bytes" \
        "$FORWARD_CLIENT" --key-file "$TMP/$k.key" $LOCALHOST "$KEYED_INNER"
done
for k in words empty; do
    sed "s#^AUTH_KEY_FILE = .*#AUTH_KEY_FILE = $TMP/$k.key#" "$KEYED_CONFIG" >"$TMP/$k.cfg"
    expect_refused_start "server, key file '$k'" "not hex or base64" "$FORWARD_SERVER" "$TMP/$k.cfg"
    expect_refused_start "client, key file '$k'" "not hex or base64" \
        "$FORWARD_CLIENT" --key-file "$TMP/$k.key" $LOCALHOST "$KEYED_INNER"
done
sed "s#^AUTH_KEY_FILE = .*#AUTH_KEY_FILE = $TMP/missing.key#" "$KEYED_CONFIG" >"$TMP/missing.cfg"
expect_refused_start "server, missing key file" "missing.key.*No such file" "$FORWARD_SERVER" "$TMP/missing.cfg"
# a 32-byte base64 key is fine
(umask 077 && head -c 32 /dev/urandom | base64 >"$TMP/ok64.key")
sed "s#^AUTH_KEY_FILE = .*#AUTH_KEY_FILE = $TMP/ok64.key#" "$KEYED_CONFIG" >"$TMP/ok64.cfg"
timeout 10 "$FORWARD_SERVER" -n "$TMP/ok64.cfg" >"$TMP/n.out" 2>&1 ||
    note_failure "server refuses a 32-byte base64 key: $(head -c 300 "$TMP/n.out")"

# ----------------------------------- 4. no key configured, no AUTH = none
NOAUTH_INNER=$(free_port) || fail "free_port"
PUB2=$(free_port) || fail "free_port"
config_head "$TMP/nokey.cfg" "$NOAUTH_INNER"
printf '[MAPPER]\n%s:%s = %s:%s\n' $LOCALHOST "$PUB2" $LOCALHOST "$ECHO" >>"$TMP/nokey.cfg"
expect_refused_start "server without AUTH_KEY_FILE" "AUTH = none" "$FORWARD_SERVER" "$TMP/nokey.cfg"
port_listening $LOCALHOST "$NOAUTH_INNER" && note_failure "the refused server left INNER_PORT listening"

# ------------------------------------------------------ 5. AUTH = none
config_head "$TMP/none.cfg" "$NOAUTH_INNER"
printf 'AUTH = none\n[MAPPER]\n%s:%s = %s:%s\n' $LOCALHOST "$PUB2" $LOCALHOST "$ECHO" >>"$TMP/none.cfg"
timeout 10 "$FORWARD_SERVER" -n "$TMP/none.cfg" >"$TMP/n.out" 2>&1 ||
    note_failure "-n refuses AUTH = none: $(head -c 300 "$TMP/n.out")"
grep -qi "warning.*AUTH = none" "$TMP/n.out" || note_failure "-n does not warn about AUTH = none"
KEYED_SERVER_PID=$SERVER_PID
KEYED_SERVER_LOG=$SERVER_LOG
INNER_PORT=$NOAUTH_INNER
PUBLIC_PORTS=("$PUB2")
start_server_as server-none "$TMP/none.cfg"
NONE_PID=$SERVER_PID
NONE_LOG=$SERVER_LOG
grep -qE "\[warning\].*AUTH = none" "$NONE_LOG" ||
    note_failure "AUTH = none: no warning in the server log at start"

# a client with a key refuses the unauthenticated server
start_client_with client-keyed-vs-none --key-file "$KEY"
wait_log "$CLIENT_LOG" "does not authenticate" 1 8 ||
    note_failure "a keyed client did not refuse the AUTH = none server with a clear message"
public_closed "$PUB2" "AUTH = none, only a keyed client"
assert_no_log "$CLIENT_LOG" "channel up" "a client with a key accepted an AUTH = none server (downgrade)"
stop_bg "$CLIENT_PID"

start_client_with client-noauth --no-auth
wait_log "$CLIENT_LOG" "channel up" 1 10 || note_failure "--no-auth client: no channel to the AUTH = none server"
wait_log "$NONE_LOG" "channel up" 1 5 || note_failure "AUTH = none server: no channel up"
grep -q "NO AUTHENTICATION" "$CLIENT_LOG" || note_failure "--no-auth client does not say NO AUTHENTICATION"
public_echo "$PUB2" "AUTH = none + --no-auth"
stop_bg "$CLIENT_PID"
stop_bg "$NONE_PID"

# ------------------------------------------------------------- 6. [CLIENTS]
make_key "$TMP/alice.key"
make_key "$TMP/bob.key"
CL_INNER=$(free_port) || fail "free_port"
PUB3=$(free_port) || fail "free_port"
config_head "$TMP/clients.cfg" "$CL_INNER"
{
    printf '[CLIENTS]\nalice = %s\nbob = %s\n' "$TMP/alice.key" "$TMP/bob.key"
    printf '[MAPPER]\n%s:%s = %s:%s\n' $LOCALHOST "$PUB3" $LOCALHOST "$ECHO"
} >>"$TMP/clients.cfg"
INNER_PORT=$CL_INNER
PUBLIC_PORTS=("$PUB3")
start_server_as server-clients "$TMP/clients.cfg"
CL_PID=$SERVER_PID
CL_LOG=$SERVER_LOG

start_client_with client-mallory --name alice --key-file "$TMP/bob.key"
MAL_PID=$CLIENT_PID
start_client_with client-carol --name carol --key-file "$TMP/alice.key"
CAROL_PID=$CLIENT_PID
start_client_with client-anon --key-file "$TMP/alice.key"
ANON_PID=$CLIENT_PID
wait_log "$CL_LOG" "wrong key for client 'alice'" 1 8 ||
    note_failure "[CLIENTS]: no 'wrong key for client 'alice'' for alice's name with bob's key"
wait_log "$CL_LOG" "no key for client name 'carol'" 1 8 ||
    note_failure "[CLIENTS]: unknown name carol not refused with 'no key for client name'"
wait_log "$CL_LOG" "no key for client name ''" 1 8 ||
    note_failure "[CLIENTS]: a client without --name was not refused (no default key configured)"
public_closed "$PUB3" "[CLIENTS], only impostors connected"
assert_no_log "$CL_LOG" "channel up" "[CLIENTS]: an impostor got a channel"

# alice goes through a relay, to learn her session id from her HELLO
RELAY_A=$(free_port) || fail "free_port"
start_sech relay-alice relay --listen "$RELAY_A" --target "$CL_INNER" --record "$TMP/alice" --lifetime 120
wait_port $LOCALHOST "$RELAY_A" 10 || fail "relay did not start"
start_client_to client-alice "$RELAY_A" --name alice --key-file "$TMP/alice.key"
ALICE_LOG=$CLIENT_LOG
start_client_with client-bob --name bob --key-file "$TMP/bob.key"
BOB_LOG=$CLIENT_LOG
wait_log "$ALICE_LOG" "channel up" 1 10 || note_failure "[CLIENTS]: alice got no channel"
wait_log "$BOB_LOG" "channel up" 1 10 || note_failure "[CLIENTS]: bob got no channel"
wait_log "$CL_LOG" "channel up.* as alice" 1 5 || note_failure "[CLIENTS]: server did not log 'channel up ... as alice'"
wait_log "$CL_LOG" "channel up.* as bob" 1 5 || note_failure "[CLIENTS]: server did not log 'channel up ... as bob'"
public_echo "$PUB3" "[CLIENTS] alice and bob"
n=$(log_count "$CL_LOG" "channel up")
[ "$n" = 2 ] || note_failure "[CLIENTS]: $n channels up, want exactly 2 (alice, bob): an impostor got in?"
# bob, who holds a valid key of his own, claims alice's session id: alice's
# channel must not be replaced by a channel authenticated as someone else.
ASESSION=$(sech session-of --file "$TMP/alice.0.c2s") || fail "no session id in alice's HELLO"
out=$(sech client --port "$CL_INNER" --key-file "$TMP/bob.key" --name bob --session "$ASESSION" --hold 2 2>&1)
info "bob with alice's session $ASESSION: $(tail -n 1 <<<"$out")"
grep -q "auth=ok" <<<"$out" || note_failure "the protocol-level test client could not authenticate as bob: $out"
# its channel has ended on the server (after 2 s up, time enough for any
# replacement of alice's channel to reach her client)
bport=$(sed -nE 's/.*local=127\.0\.0\.1:([0-9]+).*/\1/p' <<<"$out" | tail -n 1)
wait_log "$CL_LOG" "client 127\.0\.0\.1:${bport:-none}: channel closed" 1 5 ||
    note_failure "[CLIENTS]: the server did not log the end of bob's channel (local port ${bport:-unknown}) within 5 s"
n=$(log_count "$ALICE_LOG" "channel up")
if [ "$n" != 1 ] || grep -q "channel closed" "$ALICE_LOG"; then
    note_failure "[CLIENTS]: bob (his own valid key) presenting alice's session id replaced alice's channel: $(grep -m1 "replaced by" "$CL_LOG" | sed 's/.*\]: //' | cut -c1-160)"
fi
for pid in "$MAL_PID" "$CAROL_PID" "$ANON_PID"; do stop_bg "$pid"; done
for f in client-mallory client-carol client-anon; do
    assert_no_log "$TMP/$f.log" "channel up" "[CLIENTS]: $f got a channel"
done
stop_bg "$CL_PID"

# ------------------------------------------------ 7. a client without a key
SERVER_PID=$KEYED_SERVER_PID
SERVER_LOG=$KEYED_SERVER_LOG
INNER_PORT=$KEYED_INNER
assert_server_alive
if [ -e /usr/local/etc/tcp-forward/client.key ] || [ -e /etc/tcp-forward/client.key ]; then
    # A default client.key on this machine would be used: run the client in
    # a private mount namespace where an empty tmpfs hides those folders
    # (never changing the real ones); without one the check cannot run.
    if command -v unshare >/dev/null && mkdir -p "$TMP/probe" &&
        unshare -m --propagation private mount -t tmpfs tcpf-probe "$TMP/probe" 2>/dev/null; then
        info "a default client.key exists on this machine: hiding it in a private mount namespace"
        expect_refused_start "client without --key-file or --no-auth (default key hidden)" "no key.*--key-file" \
            unshare -m --propagation private sh -c '
                for d in /usr/local/etc/tcp-forward /etc/tcp-forward; do
                    if [ -d "$d" ]; then mount -t tmpfs -o size=16k tcpf-hide "$d" || exit 125; fi
                done
                exec "$@"' sh "$FORWARD_CLIENT" $LOCALHOST "$KEYED_INNER"
    else
        note_failure "a default client.key exists on this machine and no private mount namespace can hide it (unshare -m needs CAP_SYS_ADMIN): the 'no --key-file' check cannot run"
    fi
else
    expect_refused_start "client without --key-file or --no-auth" "no key.*--key-file" \
        "$FORWARD_CLIENT" $LOCALHOST "$KEYED_INNER"
fi
WANT_RC=64 expect_refused_start "client with --no-auth and --key-file" "exclude" \
    "$FORWARD_CLIENT" --no-auth --key-file "$KEY" $LOCALHOST "$KEYED_INNER"

start_client_with client-nokey --no-auth
NOKEY_LOG=$CLIENT_LOG
wait_log "$SERVER_LOG" "client has no key" 1 8 ||
    note_failure "keyed server did not log 'client has no key' for a --no-auth client"
wait_log "$NOKEY_LOG" "\[warning\]" 1 8 || note_failure "--no-auth client against a keyed server logged no warning"
public_closed "$PUB" "keyed server, only a --no-auth client"
assert_no_log "$NOKEY_LOG" "channel up" "a --no-auth client got a channel from a keyed server"
# The client must say why: the server wants a key.  (It must not guess at
# TLS or a non-tcp-forward server.)
grep -qiE "requires a key|needs a key|--key-file" "$NOKEY_LOG" ||
    note_failure "--no-auth client against a keyed server: no clear message about the key; it says: $(grep -m1 warning "$NOKEY_LOG" | cut -c1-220)"
stop_bg "$CLIENT_PID"

assert_server_alive
finish_test
