#!/bin/bash
# Client-side target restrictions (--allow), against a server whose
# mappings name targets in and outside the list.  A canary listener stands
# for an inner host the client must never be steered to.
#  - --allow 127.0.0.1:PORT_A serves mapping A; a mapping to 127.0.0.1:PORT_B
#    is refused by the client: the public connection is closed promptly
#    without data, the client logs "not in --allow", the canary gets nothing;
#  - an IP rule does not admit a host name that resolves to that IP
#    (localhost), nor an inet_aton-style spelling (0x7f.0.0.1); an
#    IPv4-mapped IPv6 literal of an allowed IP is the same address;
#  - a name rule (localhost) admits that name (in any case) but
#    not the IP it resolves to, and alone not even the name, since it
#    resolves to loopback (served with an address rule too, case 3);
#  - --allow is repeatable; without it the client connects anything (the
#    canary then sees a connection, showing the refusals above were real);
#  - bad --allow values exit 64 with a message.
. "$(dirname "$0")/lib.sh"

ECHO=$(free_port) || fail "free_port"
CANARY=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
start_sech canary canary --port "$CANARY" --lifetime 300
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
wait_port $LOCALHOST "$CANARY" 10 || fail "canary did not start"

PA=$(free_port) || fail "free_port"      # 127.0.0.1:ECHO
PB=$(free_port) || fail "free_port"      # 127.0.0.1:CANARY
PN=$(free_port) || fail "free_port"      # localhost:ECHO
PNU=$(free_port) || fail "free_port"     # LOCALHOST:ECHO
PX=$(free_port) || fail "free_port"      # 0x7f.0.0.1:ECHO
PM=$(free_port) || fail "free_port"      # [::ffff:127.0.0.1]:ECHO
PNB=$(free_port) || fail "free_port"     # localhost:CANARY
write_config "$LOCALHOST:$PA = 127.0.0.1:$ECHO" "$LOCALHOST:$PB = 127.0.0.1:$CANARY" \
    "$LOCALHOST:$PN = localhost:$ECHO" "$LOCALHOST:$PNU = LOCALHOST:$ECHO" \
    "$LOCALHOST:$PX = 0x7f.0.0.1:$ECHO" "$LOCALHOST:$PM = [::ffff:127.0.0.1]:$ECHO" \
    "$LOCALHOST:$PNB = localhost:$CANARY"
start_server

canary_hits() { log_count "$TMP/canary.log" "^connection from"; }

# served PORT WHAT / refused PORT TARGET WHAT
served() {
    local out
    out=$(sech peer --port "$1" --expect echo --send 100000 --within 10 2>&1) ||
        note_failure "$CLIENT_NAME: $2: public port $1 not served: $out"
}
refused() {
    local out before el
    before=$(log_count "$CLIENT_LOG" "asked for $2 .*refused, not in --allow")
    out=$(sech peer --port "$1" --expect closed --within 2 2>&1) ||
        note_failure "$CLIENT_NAME: $3: public port $1 not closed without data within 2 s: $out"
    el=$(sed -n 's/.*elapsed=\([0-9.]*\).*/\1/p' <<<"$out")
    awk -v e="${el:-9}" 'BEGIN { exit !(e < 1.0) }' ||
        note_failure "$CLIENT_NAME: $3: refusal took ${el} s, want < 1 s"
    wait_log "$CLIENT_LOG" "asked for $2 .*refused, not in --allow" $((before + 1)) 3 ||
        note_failure "$CLIENT_NAME: $3: client did not log 'asked for $2 ... refused, not in --allow'"
}

# refused_resolved PORT TARGET WHAT: admitted by a name rule, refused once
# resolved to a loopback address.
refused_resolved() {
    local out before re="asked for $2 .*refused, .* resolved to 127\\.0\\.0\\.1"
    before=$(log_count "$CLIENT_LOG" "$re")
    out=$(sech peer --port "$1" --expect closed --within 2 2>&1) ||
        note_failure "$CLIENT_NAME: $3: public port $1 not closed without data within 2 s: $out"
    wait_log "$CLIENT_LOG" "$re" $((before + 1)) 3 ||
        note_failure "$CLIENT_NAME: $3: client did not log 'asked for $2 ... resolved to 127.0.0.1'"
}

# run_client NAME ARGS...: a fresh client with ARGS, channel up.
run_client() {
    CLIENT_NAME=$1
    shift
    start_client_with "$CLIENT_NAME" --key-file "$(test_key)" "$@"
    wait_log "$CLIENT_LOG" "channel up" 1 10 || fail "$CLIENT_NAME: no channel"
    wait_log "$SERVER_LOG" "channel up" "$((++UPS))" 10 || fail "$CLIENT_NAME: server saw no channel"
    sleep 0.2
}
UPS=0

# 1. an IP:port rule
run_client client-ip --allow "127.0.0.1:$ECHO"
grep -q "targets allowed: 127.0.0.1:$ECHO" "$CLIENT_LOG" || note_failure "client-ip: start line does not list the allowed targets"
served "$PA" "127.0.0.1:$ECHO allowed"
served "$PM" "[::ffff:127.0.0.1]:$ECHO is 127.0.0.1"
refused "$PB" "127.0.0.1:$CANARY" "another port on the allowed IP"
refused "$PN" "localhost:$ECHO" "a name resolving to the allowed IP"
refused "$PX" "0x7f.0.0.1:$ECHO" "inet_aton spelling of the allowed IP"
refused "$PNB" "localhost:$CANARY" "a name to another port"
grep -q "not allowed" "$SERVER_LOG" || note_failure "server did not log the client's 'not allowed' refusal"
stop_bg "$CLIENT_PID"

# 2. a name rule: it admits the name (in any case), but localhost resolves
# to loopback, which a name rule alone does not admit (case 3 serves it
# with an address rule too; t_sec_client.sh)
run_client client-name --allow "localhost:$ECHO"
refused_resolved "$PN" "localhost:$ECHO" "a name rule alone, resolving to loopback"
refused_resolved "$PNU" "LOCALHOST:$ECHO" "LOCALHOST is localhost, resolving to loopback"
refused "$PA" "127.0.0.1:$ECHO" "the IP a name rule resolves to"
refused "$PM" "\[::ffff:127.0.0.1\]:$ECHO" "the mapped-IPv6 IP of a name rule"
refused "$PNB" "localhost:$CANARY" "the allowed name, another port"
refused "$PB" "127.0.0.1:$CANARY" "an IP target"
stop_bg "$CLIENT_PID"

# 3. repeated --allow, a network with a port range
run_client client-multi --allow 10.0.0.0/8 --allow "127.0.0.0/8:$ECHO-$ECHO" --allow "*.example.invalid" \
    --allow "LocalHost:$ECHO"
served "$PA" "127.0.0.0/8:$ECHO-$ECHO"
served "$PN" "localhost:$ECHO (rule written LocalHost)"
refused "$PB" "127.0.0.1:$CANARY" "port outside the range"
refused "$PNB" "localhost:$CANARY" "name, port outside"
stop_bg "$CLIENT_PID"

n=$(canary_hits)
[ "$n" = 0 ] || note_failure "the canary target was connected $n times while every client refused it"

# 4. control: without --allow, the client trusts the server and connects the canary
run_client client-any
out=$(sech peer --port "$PB" --expect closed --within 3 2>&1)
wait_log "$TMP/canary.log" "^connection from" 1 5 ||
    note_failure "control: without --allow the canary mapping did not connect (so the refusals prove nothing)"
grep -q "targets allowed: any target" "$CLIENT_LOG" || note_failure "client-any: start line does not say 'any target'"
stop_bg "$CLIENT_PID"

# 5. bad --allow values
for bad in "*" "300.1.2.3" "10.0.0.0/33" "host.example:0" "host.example:" "a*.example" "[::1" \
    "10.0.0.5:9000-8000" "" "127.1" "10.0.0.0/8:x"; do
    run_bounded allow-bad 5 "$FORWARD_CLIENT" --key-file "$(test_key)" --allow "$bad" $LOCALHOST "$INNER_PORT"
    if [ "$RUN_RC" != 64 ]; then
        note_failure "--allow '$bad': exit status $RUN_RC, want 64: $(head -c 200 <<<"$RUN_OUT")"
    elif ! grep -q -- "--allow" <<<"$RUN_OUT"; then
        note_failure "--allow '$bad': exit 64 without a message naming --allow: $(head -c 200 <<<"$RUN_OUT")"
    fi
done
info "bad --allow, e.g.: $(head -n 1 <<<"$RUN_OUT")"
assert_server_alive
finish_test
