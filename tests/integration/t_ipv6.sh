#!/bin/bash
# IPv6 public addresses, IPv6 targets and an IPv6 channel, on ::1 only:
#  - the server listens for clients on INNER_ADDR = ::1 and the client
#    dials [::1]; the channel comes up and both name the peer in brackets;
#  - TCP: [::1] public -> [::1] target, [::1] public -> 127.0.0.1 target,
#    127.0.0.1 public -> [::1] target: 16 MiB each way through each,
#    checked byte for byte (two at once on one channel);
#  - UDP: the same three pairings: 50 datagrams of 1,200 bytes each way,
#    every reply from the public address that was asked;
#  - the server's stream and session lines name [::1] peers and targets.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

EH=(python3 -u "$LIB_DIR/edge_helpers.py")
V6=::1
[ -n "$(ip -6 addr show dev lo 2>/dev/null | grep 'inet6 ::1')" ] ||
    fail "no ::1 on lo: IPv6 is off on this machine (net.ipv6.conf.lo.disable_ipv6?), the test cannot run"

free6() { unique_port "${EH[@]}" free-port --host "$V6" --udp; }
# listening6 PORT / bound6 PORT: a TCP listener / UDP socket on [::1]:PORT
listening6() {
    grep -qE "^ *[0-9]+: 00000000000000000000000001000000:$(printf '%04X' "$1") [0-9A-F]+:0000 0A " /proc/net/tcp6
}
bound6() {
    grep -qE "^ *[0-9]+: 00000000000000000000000001000000:$(printf '%04X' "$1") " /proc/net/udp6
}

ECHO6=$(free6) || fail "free port on ::1"
ECHO4=$(free_udp_port) || fail "free_udp_port"
start_bg echo6 "${EH[@]}" echo-server --host "$V6" --port "$ECHO6" --lifetime 600
start_bg uecho6 "${EH[@]}" echo-server --udp --host "$V6" --port "$ECHO6" --lifetime 600
start_bg echo4 "${EH[@]}" echo-server --port "$ECHO4" --lifetime 600
start_udp_echo uecho4 "$ECHO4"
wait_until 10 listening6 "$ECHO6" || fail "the echo server did not listen on [::1]:$ECHO6"
wait_until 10 bound6 "$ECHO6" || fail "the UDP echo server did not bind [::1]:$ECHO6"
wait_port $LOCALHOST "$ECHO4" 10 || fail "the echo server did not listen on 127.0.0.1:$ECHO4"

INNER_PORT=$(free6) || fail "free port on ::1"
P66=$(free6) || fail "free port on ::1"         # [::1] -> [::1]
P64=$(free6) || fail "free port on ::1"         # [::1] -> 127.0.0.1
P46=$(free_udp_port) || fail "free_udp_port"    # 127.0.0.1 -> [::1]
CONFIG=$TMP/forward.cfg
cat >"$CONFIG" <<EOF || fail "cannot write $CONFIG"
[DEFAULT]
INNER_PORT = $INNER_PORT
INNER_ADDR = $V6
LOG_LEVEL = debug
AUTH_KEY_FILE = $(test_key)
[MAPPER]
[$V6]:$P66 = [$V6]:$ECHO6
[$V6]:$P64 = $LOCALHOST:$ECHO4
$LOCALHOST:$P46 = [$V6]:$ECHO6
[$V6]:$P66/udp = [$V6]:$ECHO6
[$V6]:$P64/udp = $LOCALHOST:$ECHO4
$LOCALHOST:$P46/udp = [$V6]:$ECHO6
EOF
"$FORWARD_SERVER" -n "$CONFIG" >"$TMP/configtest.out" 2>&1 ||
    fail "forward-server -n refuses the IPv6 configuration: $(cat "$TMP/configtest.out")"

check_binaries
start_bg server "$FORWARD_SERVER" "$CONFIG"
SERVER_PID=$BG_PID
SERVER_LOG=$TMP/server.log
wait_until 10 listening6 "$INNER_PORT" || fail "forward-server did not listen on INNER_ADDR [::1]:$INNER_PORT"
for p in "$P66" "$P64"; do
    wait_until 10 listening6 "$p" || fail "forward-server did not listen on public [::1]:$p"
    wait_until 10 bound6 "$p" || fail "forward-server did not bind public [::1]:$p/udp"
done
wait_port $LOCALHOST "$P46" 10 || fail "forward-server did not listen on public 127.0.0.1:$P46"
wait_udp $LOCALHOST "$P46" 10 || fail "forward-server did not bind public 127.0.0.1:$P46/udp"
# an IPv6 address binds IPv6 only (forward_server.cfg(5))
port_listening $LOCALHOST "$P66" && note_failure "[::1]:$P66 also listens on 127.0.0.1"

start_bg client "$FORWARD_CLIENT" -v --retry-delay 1 --key-file "$(test_key)" "[$V6]" "$INNER_PORT"
CLIENT_PID=$BG_PID
CLIENT_LOG=$TMP/client.log
wait_channel_up 1
grep -qE "channel up" "$SERVER_LOG" && grep -E "channel up" "$SERVER_LOG" | grep -q '\[::1\]:' ||
    note_failure "the server's 'channel up' line does not name the client as [::1]:PORT: $(grep -m1 'channel up' "$SERVER_LOG")"
grep -E "channel up" "$CLIENT_LOG" | grep -q "\\[::1\\]:$INNER_PORT" ||
    note_failure "the client's 'channel up' line does not name the server [::1]:$INNER_PORT: $(grep -m1 'channel up' "$CLIENT_LOG")"

# --- TCP, 16 MiB each way, two at a time -----------------------------------
BYTES=$((16 << 20))
tcp_case() { # NAME HOST PORT SEED
    start_bg "$1" "${EH[@]}" echo-stream --host "$2" --port "$3" --seed "$4" --bytes "$BYTES" --io-timeout 60
}
tcp_case v6-v6 "$V6" "$P66" 61
A=$BG_PID
tcp_case v6-v4 "$V6" "$P64" 62
B=$BG_PID
wait_bg "$A" 120 || note_failure "TCP [::1]:$P66 -> [::1]:$ECHO6: $(tail -n 1 "$TMP/v6-v6.log")"
wait_bg "$B" 120 || note_failure "TCP [::1]:$P64 -> 127.0.0.1:$ECHO4: $(tail -n 1 "$TMP/v6-v4.log")"
tcp_case v4-v6 "$LOCALHOST" "$P46" 63
wait_bg "$BG_PID" 120 || note_failure "TCP 127.0.0.1:$P46 -> [::1]:$ECHO6: $(tail -n 1 "$TMP/v4-v6.log")"
for c in v6-v6 v6-v4 v4-v6; do info "TCP $c: $(tail -n 1 "$TMP/$c.log")"; done

# --- UDP --------------------------------------------------------------------
udp_case() { # NAME HOST PORT
    local out
    out=$("${EH[@]}" udp-exchange --host "$2" --port "$3" --count 50 --size 1200 --within 3 --tries 3 2>&1) ||
        note_failure "UDP $1 through $2 port $3: $out"
    info "UDP $1: $out"
}
udp_case v6-v6 "$V6" "$P66"
udp_case v6-v4 "$V6" "$P64"
udp_case v4-v6 "$LOCALHOST" "$P46"

# --- what the server says ----------------------------------------------------
wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping \\[::1\\]:$P66 -> \\[::1\\]:$ECHO6, peer \\[::1\\]:[0-9]+, .* s: closed" 1 5 ||
    note_failure "no server line 'stream N closed: mapping [::1]:$P66 -> [::1]:$ECHO6, peer [::1]:PORT, ... closed'"
wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping $LOCALHOST:$P46 -> \\[::1\\]:$ECHO6, peer 127\\.0\\.0\\.1:[0-9]+, .* s: closed" 1 5 ||
    note_failure "no server line 'stream N closed: mapping $LOCALHOST:$P46 -> [::1]:$ECHO6, peer 127.0.0.1:PORT, ... closed'"
wait_log "$SERVER_LOG" "udp session [0-9]+ started: mapping \\[::1\\]:$P66/udp -> \\[::1\\]:$ECHO6, peer \\[::1\\]:[0-9]+" 1 5 ||
    note_failure "no server line 'udp session N started: mapping [::1]:$P66/udp -> [::1]:$ECHO6, peer [::1]:PORT'"
wait_log "$CLIENT_LOG" "udp session [0-9]+ started: target \\[::1\\]:$ECHO6 via \\[::1\\]:$ECHO6" 1 5 ||
    note_failure "no client line 'udp session N started: target [::1]:$ECHO6 via [::1]:$ECHO6'"
for f in "$SERVER_LOG" "$CLIENT_LOG"; do
    n=$(log_count "$f" "channel closed|protocol error")
    [ "$n" = 0 ] || note_failure "$(basename "$f"): $(grep -m1 -E 'channel closed|protocol error' "$f")"
done
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
finish_test
