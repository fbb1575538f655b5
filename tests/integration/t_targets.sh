#!/bin/bash
# Inner targets that cannot be reached, and targets given as host names.
# The whole test runs in a network and mount namespace of its own (unshare
# -n -m), so no packet and no DNS query leaves the machine: its loopback,
# its routes, a dnsmasq on its 127.0.0.1:53 (no upstream) and its own
# /etc/resolv.conf and /etc/hosts (bind mounts seen only inside).
#  - a target whose name does not resolve (nosuch.tcpf-test.invalid: the
#    test's dnsmasq answers NXDOMAIN), one whose SYN is never answered
#    (10.76.0.1, routed into the namespace's loopback, where nothing takes
#    it; client --connect-timeout 2), one with no route (10.78.0.1:
#    ENETUNREACH), one behind an "unreachable" route (10.79.0.1:
#    EHOSTUNREACH) and a refused one: each public connection is closed
#    without data, promptly (DNS, unreachable, refused: < 3 s; connect
#    timeout: < 8 s), the server logs the mapping, the target and the
#    reason, the client the target and the error; the channel stays up and
#    a checked echo stream on it keeps going the whole time;
#  - UDP targets given as host names: localhost and a name from the test's
#    /etc/hosts (evdns reads it) and a name only the test's DNS knows:
#    datagrams flow both ways; a UDP target whose name does not resolve
#    ends its session with "DNS failure" on the server.
if [ -z "${TCPF_TARGETS_NETNS:-}" ]; then
    if ! unshare -n -m --propagation private true 2>/dev/null; then
        echo "FAIL: t_targets: cannot make a network and mount namespace (unshare -n -m needs CAP_SYS_ADMIN; util-linux): the test cannot run"
        exit 1
    fi
    export TCPF_TARGETS_NETNS=1
    exec unshare -n -m --propagation private "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

EH=(python3 -u "$LIB_DIR/edge_helpers.py")
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || fail "dnsmasq not installed (tools/deps.sh test: dnsmasq-base)"
command -v ip >/dev/null || fail "ip not installed (tools/deps.sh test: iproute2)"

# --- the namespace: loopback, routes, resolver -----------------------------
ip link set lo up || fail "cannot bring up lo in the test's network namespace"
ip route add 10.76.0.0/24 dev lo || fail "ip route add 10.76.0.0/24 dev lo"
ip route add unreachable 10.79.0.0/16 || fail "ip route add unreachable 10.79.0.0/16"
ip route get 10.78.0.1 >/dev/null 2>&1 && fail "10.78.0.1 has a route in the test's namespace: $(ip route)"
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n' >"$TMP/resolv.conf"
printf '127.0.0.1 localhost\n127.0.0.1 udp-echo.hosts.tcpf-test\n' >"$TMP/hosts"
mount --bind "$TMP/resolv.conf" /etc/resolv.conf || fail "cannot bind-mount the test's resolv.conf"
mount --bind "$TMP/hosts" /etc/hosts || fail "cannot bind-mount the test's hosts file"
info "namespace routes: $(ip route | tr '\n' ';')"

# dnsmasq: only the options given here; udp-echo.dns.tcpf-test is
# 127.0.0.1, everything else under tcpf-test.invalid does not exist.
start_bg dnsmasq "$DNSMASQ" --conf-file=/dev/null --keep-in-foreground --log-facility=- \
    --no-resolv --no-hosts --no-poll --address=/udp-echo.dns.tcpf-test/127.0.0.1 \
    --address=/tcpf-test.invalid/ --listen-address=127.0.0.1 --bind-interfaces --port=53 \
    --pid-file="$TMP/dnsmasq.pid" --user=root --group=root --cache-size=0 --log-queries
wait_udp $LOCALHOST 53 10 || fail "dnsmasq did not bind 127.0.0.1:53/udp within 10 s"

ECHO=$(free_udp_port) || fail "free_udp_port"   # TCP echo and UDP echo on one port
start_bg echo "${EH[@]}" echo-server --port "$ECHO" --lifetime 600 --io-timeout 120
start_udp_echo uecho "$ECHO"
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
start_bg closed "${PYH[@]}" closed-port --lifetime 600
wait_until 5 test -s "$TMP/closed.log" || fail "closed-port helper did not start"
CLOSED=$(head -n 1 "$TMP/closed.log")

BAD_NAME=nosuch.tcpf-test.invalid
PUB_OK=$(free_udp_port) || fail "free_udp_port"
PUB_DNS=$(free_udp_port) || fail "free_udp_port"
PUB_TMO=$(free_udp_port) || fail "free_udp_port"
PUB_NET=$(free_udp_port) || fail "free_udp_port"
PUB_HOST=$(free_udp_port) || fail "free_udp_port"
PUB_REF=$(free_udp_port) || fail "free_udp_port"
PUB_U1=$(free_udp_port) || fail "free_udp_port"
PUB_U2=$(free_udp_port) || fail "free_udp_port"
PUB_U3=$(free_udp_port) || fail "free_udp_port"
PUB_U4=$(free_udp_port) || fail "free_udp_port"
write_config "$LOCALHOST:$PUB_OK = $LOCALHOST:$ECHO" \
    "$LOCALHOST:$PUB_DNS = $BAD_NAME:$ECHO" \
    "$LOCALHOST:$PUB_TMO = 10.76.0.1:$ECHO" \
    "$LOCALHOST:$PUB_NET = 10.78.0.1:$ECHO" \
    "$LOCALHOST:$PUB_HOST = 10.79.0.1:$ECHO" \
    "$LOCALHOST:$PUB_REF = $LOCALHOST:$CLOSED" \
    "$LOCALHOST:$PUB_U1/udp = localhost:$ECHO" \
    "$LOCALHOST:$PUB_U2/udp = udp-echo.hosts.tcpf-test:$ECHO" \
    "$LOCALHOST:$PUB_U3/udp = udp-echo.dns.tcpf-test:$ECHO" \
    "$LOCALHOST:$PUB_U4/udp = $BAD_NAME:$ECHO"
start_udp_server
CLIENT_ARGS="--connect-timeout 2"
start_client client
wait_channel_up 1

# a checked echo stream on the same channel the whole time
start_bg es "${EH[@]}" echo-stream --port "$PUB_OK" --stop-file "$TMP/es.stop" \
    --progress-file "$TMP/es.progress" --max-time 300 --window 262144
ES_PID=$BG_PID
es_at() { [ "$(cat "$TMP/es.progress" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_until 20 es_at $((1 << 20)) || fail "the echo stream did not get going: $(tail -n 2 "$TMP/es.log")"

# expect_closed CASE PORT TARGET REASON CLIENT_ERROR WITHIN: three public
# connections (at once) are closed without data within WITHIN s, and each
# has its server and client log line.
expect_closed() {
    local what=$1 port=$2 target=$3 reason=$4 cerr=$5 within=$6 i pids=() srv cli el max=0
    local tre=${target//./\\.}
    srv=$(log_count "$SERVER_LOG" "stream [0-9]+ closed: mapping $LOCALHOST:$port -> $tre, .*target failed: $reason")
    cli=$(log_count "$CLIENT_LOG" "stream [0-9]+ closed: target $tre, .*cannot connect target: $cerr")
    for i in 1 2 3; do
        start_sech "$what-$i" peer --port "$port" --expect closed --within "$within"
        pids+=("$BG_PID")
    done
    for i in 1 2 3; do
        wait_bg "${pids[$((i - 1))]}" $((${within%.*} + 10))
        local rc=$? out
        out=$(tail -n 1 "$TMP/$what-$i.log")
        [ $rc = 0 ] || note_failure "$what: public connection $i to $port not closed without data within $within s: $out"
        el=$(kv elapsed "$out")
        max=$(awk -v a="$max" -v b="${el:-0}" 'BEGIN { print (b > a ? b : a) }')
    done
    wait_log "$SERVER_LOG" "stream [0-9]+ closed: mapping $LOCALHOST:$port -> $tre, .*target failed: $reason" $((srv + 3)) 5 ||
        note_failure "$what: the server logged $(($(log_count "$SERVER_LOG" "mapping $LOCALHOST:$port -> $tre, .*target failed: $reason") - srv)) of 3 lines 'stream N closed: mapping $LOCALHOST:$port -> $target, ... target failed: $reason'"
    wait_log "$CLIENT_LOG" "stream [0-9]+ closed: target $tre, .*cannot connect target: $cerr" $((cli + 3)) 5 ||
        note_failure "$what: the client logged $(($(log_count "$CLIENT_LOG" "target $tre, .*cannot connect target: $cerr") - cli)) of 3 lines 'stream N closed: target $target, ... cannot connect target: $cerr'"
    info "$what: 3 public connections closed, slowest after $max s; server: $(grep -E "mapping $LOCALHOST:$port -> " "$SERVER_LOG" | grep -m1 -o 'target failed: .*')"
}

expect_closed dns "$PUB_DNS" "$BAD_NAME:$ECHO" "DNS failure" "" 3
expect_closed timeout "$PUB_TMO" "10.76.0.1:$ECHO" "timed out" "connect timed out" 8
expect_closed no-route "$PUB_NET" "10.78.0.1:$ECHO" "unreachable" "Network is unreachable" 3
expect_closed unreachable "$PUB_HOST" "10.79.0.1:$ECHO" "unreachable" "No route to host" 3
expect_closed refused "$PUB_REF" "$LOCALHOST:$CLOSED" "connection refused" "Connection refused" 3
grep -qi "$BAD_NAME" "$TMP/dnsmasq.log" || note_failure "dnsmasq saw no query for $BAD_NAME: the DNS failure did not come from the test's resolver"

# --- UDP targets given as names --------------------------------------------
for c in "localhost:$PUB_U1" "hosts file:$PUB_U2" "dns:$PUB_U3"; do
    port=${c##*:}
    out=$("${EH[@]}" udp-exchange --port "$port" --count 20 --size 512 --within 3 --tries 3 2>&1) ||
        note_failure "udp target named (${c%:*}): datagrams did not come back through $port: $out"
    info "udp target named (${c%:*}): $out"
done
wait_log "$CLIENT_LOG" "udp session [0-9]+ started: target localhost:$ECHO via 127\\.0\\.0\\.1:$ECHO" 1 5 ||
    note_failure "the client logged no 'udp session N started: target localhost:$ECHO via 127.0.0.1:$ECHO'"
wait_log "$CLIENT_LOG" "udp session [0-9]+ started: target udp-echo\\.dns\\.tcpf-test:$ECHO via 127\\.0\\.0\\.1:$ECHO" 1 5 ||
    note_failure "the client logged no 'udp session N started: target udp-echo.dns.tcpf-test:$ECHO via 127.0.0.1:$ECHO'"
grep -qi "udp-echo\.dns\.tcpf-test" "$TMP/dnsmasq.log" || note_failure "dnsmasq saw no query for udp-echo.dns.tcpf-test"
out=$("${EH[@]}" udp-exchange --port "$PUB_U4" --count 1 --size 64 --within 1 --tries 2 2>&1) &&
    note_failure "a UDP target whose name does not resolve answered: $out"
wait_log "$SERVER_LOG" "udp session [0-9]+ ended: mapping $LOCALHOST:$PUB_U4/udp -> ${BAD_NAME//./\\.}:$ECHO, .*client ended it: DNS failure" 1 5 ||
    note_failure "the server logged no 'udp session N ended: mapping $LOCALHOST:$PUB_U4/udp -> $BAD_NAME:$ECHO ... DNS failure'"

# --- the channel stayed up, the echo stream kept going ---------------------
before=$(cat "$TMP/es.progress" 2>/dev/null || echo 0)
wait_until 20 es_at $((before + (1 << 20))) || note_failure "the echo stream stopped moving: $(tail -n 1 "$TMP/es.log")"
touch "$TMP/es.stop"
wait_bg "$ES_PID" 60 || note_failure "the echo stream on the same channel failed: $(tail -n 1 "$TMP/es.log")"
info "echo stream meanwhile: $(tail -n 1 "$TMP/es.log")"
for f in "$SERVER_LOG" "$CLIENT_LOG"; do
    n=$(log_count "$f" "channel closed|protocol error")
    [ "$n" = 0 ] || note_failure "$(basename "$f"): $(grep -m1 -E 'channel closed|protocol error' "$f")"
    n=$(log_count "$f" "channel up")
    [ "$n" = 1 ] || note_failure "$(basename "$f"): $n 'channel up' lines, want 1"
done
assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
finish_test
