#!/bin/bash
# [RULES] for public peers, with 127.0.0.2 as a second source address:
#  - PUB.DENY = 127.0.0.2: from 127.0.0.2 closed without data, from
#    127.0.0.1 served;
#  - 127.0.0.1:PUB.ALLOW = 127.0.0.1/32: 127.0.0.2 refused, 127.0.0.1 served;
#  - ALLOW 127.0.0.0/8 with DENY 127.0.0.2 on the same port: deny wins;
#  - a global DENY (no port) applies to every mapping;
#  - every refusal is logged "denied by [RULES]" with the peer;
#  - PUB.MAX_CONNECTIONS = 2: a third concurrent connection is closed while
#    the two stay open and working; after one closes, a new one is served;
#  - bad rules are configuration errors (exit 78).
. "$(dirname "$0")/lib.sh"

ECHO=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
    fail "cannot bind 127.0.0.2 on this machine (needed as a second source address)"

P_DENY=$(free_port) || fail "free_port"
P_ALLOW=$(free_port) || fail "free_port"
P_BOTH=$(free_port) || fail "free_port"
P_MAX=$(free_port) || fail "free_port"
P_OPEN=$(free_port) || fail "free_port"
write_config "$LOCALHOST:$P_DENY = $LOCALHOST:$ECHO" "$LOCALHOST:$P_ALLOW = $LOCALHOST:$ECHO" \
    "$LOCALHOST:$P_BOTH = $LOCALHOST:$ECHO" "$LOCALHOST:$P_MAX = $LOCALHOST:$ECHO" \
    "$LOCALHOST:$P_OPEN = $LOCALHOST:$ECHO"
cp "$CONFIG" "$TMP/base.cfg"
cat >>"$CONFIG" <<EOF
[RULES]
$LOCALHOST:$P_DENY.DENY = 127.0.0.2
$LOCALHOST:$P_ALLOW.ALLOW = 127.0.0.1/32
$LOCALHOST:$P_BOTH.ALLOW = 127.0.0.0/8
$LOCALHOST:$P_BOTH.DENY = 127.0.0.2
$LOCALHOST:$P_MAX.MAX_CONNECTIONS = 2
EOF
timeout 10 "$FORWARD_SERVER" -n "$CONFIG" >"$TMP/n.out" 2>&1 || fail "-n refuses the rules: $(cat "$TMP/n.out")"

# A rule naming the port alone ("1234.DENY") applies to the mapping on that
# port, whatever address it is bound to (here 127.0.0.1:PORT): checked
# against -n here, and live below.
PORT_ONLY=1
{
    cat "$TMP/base.cfg"
    printf '[RULES]\n%s.DENY = 127.0.0.2\n%s.ALLOW = 127.0.0.1\n' "$P_DENY" "$P_ALLOW"
} >"$TMP/portonly.cfg"
if ! timeout 10 "$FORWARD_SERVER" -n "$TMP/portonly.cfg" >"$TMP/n.out" 2>&1; then
    note_failure "a rule on the port alone ('$P_DENY.DENY') is refused for the mapping $LOCALHOST:$P_DENY: $(head -n 1 "$TMP/n.out")"
    PORT_ONLY=0
fi
start_server
start_client client
wait_channel_up 1

# served SRC PORT WHAT / refused SRC PORT WHAT
served() {
    local out
    out=$(sech peer --src "$1" --port "$2" --expect echo --send 100000 --within 10 2>&1) ||
        note_failure "$3: from $1 to port $2 not served: $out"
}
refused() {
    local out local_port
    out=$(sech peer --src "$1" --port "$2" --expect closed --send 1000 --within 2 2>&1) ||
        note_failure "$3: from $1 to port $2 not closed without data within 2 s: $out"
    local_port=$(sed -n 's/^local=[^:]*:\([0-9]*\) .*/\1/p' <<<"$out")
    wait_log "$SERVER_LOG" "connection from ${1//./\\.}:$local_port denied by \[RULES\]" 1 3 ||
        note_failure "$3: no 'connection from $1:$local_port denied by [RULES]' in the server log"
}

served 127.0.0.1 "$P_DENY" "DENY 127.0.0.2"
refused 127.0.0.2 "$P_DENY" "DENY 127.0.0.2"
served 127.0.0.1 "$P_ALLOW" "ALLOW 127.0.0.1/32"
refused 127.0.0.2 "$P_ALLOW" "ALLOW 127.0.0.1/32"
refused 127.0.0.3 "$P_ALLOW" "ALLOW 127.0.0.1/32"
served 127.0.0.1 "$P_BOTH" "ALLOW 127.0.0.0/8 + DENY 127.0.0.2"
served 127.0.0.3 "$P_BOTH" "ALLOW 127.0.0.0/8 + DENY 127.0.0.2"
refused 127.0.0.2 "$P_BOTH" "ALLOW 127.0.0.0/8 + DENY 127.0.0.2 (deny wins)"
served 127.0.0.2 "$P_OPEN" "no rule"
served 127.0.0.2 "$P_MAX" "MAX_CONNECTIONS only"
# a denied peer never reaches the target: no stream was opened for it
n=$(log_count "$SERVER_LOG" "stream [0-9]+ closed:.*peer 127\.0\.0\.2:")
info "streams from 127.0.0.2: $n (2 expected: the port without rules and the MAX_CONNECTIONS one)"
[ "$n" = 2 ] || note_failure "$n streams from 127.0.0.2, want 2: a denied peer got a stream"
info "denied lines: $(log_count "$SERVER_LOG" "denied by \[RULES\]")"

# MAX_CONNECTIONS = 2
out=$(sech maxconn --port "$P_MAX" --limit 2 --settle 3 2>&1)
rc=$?
info "MAX_CONNECTIONS 2: $out"
[ $rc = 0 ] || note_failure "MAX_CONNECTIONS 2: $out"
grep -q "MAX_CONNECTIONS (2) reached" "$SERVER_LOG" || note_failure "no 'MAX_CONNECTIONS (2) reached' in the server log"
# the limit is per mapping: other ports are not affected meanwhile
out=$("${PYH[@]}" concurrent --port "$P_OPEN" -n 10 --max 65536 --timeout 30 2>&1) ||
    note_failure "10 concurrent connections to a port without MAX_CONNECTIONS: $out"
stop_bg "$SERVER_PID"
stop_bg "$CLIENT_PID"

# ------------------------------------------- rules on the port alone
if [ $PORT_ONLY = 1 ]; then
    PUBLIC_PORTS=("$P_DENY" "$P_ALLOW")
    start_server_as server-portonly "$TMP/portonly.cfg"
    start_client client-portonly
    wait_channel_up 1
    refused 127.0.0.2 "$P_DENY" "port-only DENY 127.0.0.2"
    served 127.0.0.1 "$P_DENY" "port-only DENY 127.0.0.2"
    refused 127.0.0.2 "$P_ALLOW" "port-only ALLOW 127.0.0.1"
    served 127.0.0.1 "$P_ALLOW" "port-only ALLOW 127.0.0.1"
    stop_bg "$SERVER_PID"
    stop_bg "$CLIENT_PID"
fi

# ------------------------------------------------------ a global DENY
P_G1=$(free_port) || fail "free_port"
P_G2=$(free_port) || fail "free_port"
write_config "$LOCALHOST:$P_G1 = $LOCALHOST:$ECHO" "$LOCALHOST:$P_G2 = $LOCALHOST:$ECHO"
printf '[RULES]\nDENY = 127.0.0.2, 127.0.0.3\n' >>"$CONFIG"
start_server_as server-global
start_client client-global
wait_channel_up 1
for p in "$P_G1" "$P_G2"; do
    refused 127.0.0.2 "$p" "global DENY"
    refused 127.0.0.3 "$p" "global DENY"
    served 127.0.0.1 "$p" "global DENY"
done

# ------------------------------------------------------ bad rules
bad_rule() {
    local rule=$1 re=$2
    sed '/^\[RULES\]/,$d' "$CONFIG" >"$TMP/bad.cfg"
    printf '[RULES]\n%s\n' "$rule" >>"$TMP/bad.cfg"
    timeout 10 "$FORWARD_SERVER" -n "$TMP/bad.cfg" >"$TMP/bad.out" 2>&1
    local rc=$?
    [ $rc = 78 ] || { note_failure "rule '$rule': exit status $rc, want 78"; return; }
    grep -qiE -- "$re" "$TMP/bad.out" || note_failure "rule '$rule': message does not match '$re': $(head -c 300 "$TMP/bad.out")"
}
bad_rule "$LOCALHOST:$P_G1.DENY = 300.1.2.3" "300\.1\.2\.3"
bad_rule "$LOCALHOST:$P_G1.ALLOW = 10.0.0.0/33" "prefix"
bad_rule "$LOCALHOST:$P_G1.DENY =" "expected one or more|empty|no value|bad"
bad_rule "$LOCALHOST:$ECHO.DENY = 127.0.0.2" "no mapping"
bad_rule "$LOCALHOST:$P_G1.MAX_CONNECTIONS = many" "MAX_CONNECTIONS"
bad_rule "$LOCALHOST:$P_G1.PERMIT = 127.0.0.1" "unknown rule"
assert_server_alive
finish_test
