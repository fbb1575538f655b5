#!/bin/bash
# DNS through a /udp mapping (issue 5): dnsmasq, started by the test on
# 127.0.0.1 with no upstream servers, answers test.tcpf (and every name
# under it) with 10.9.8.7.
#  - dig @127.0.0.1 -p PUBLIC test.tcpf +short returns 10.9.8.7;
#  - 2,000 queries from 20 parallel peers (distinct source ports, 4 in
#    flight each, names pNN-qNNNNN.test.tcpf): >= 99.9 % answered, every
#    answer carries the ID and name of a query that very peer has in
#    flight (each answer to the peer that asked) and says 10.9.8.7;
#  - the server logs one session per peer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || fail "dnsmasq not installed (tools/deps.sh test: dnsmasq-base)"
command -v dig >/dev/null || fail "dig not installed (tools/deps.sh test: bind9-dnsutils)"

DNS=$(free_udp_port) || fail "free_udp_port"
PUB=$(free_udp_port) || fail "free_udp_port"

# Only the options given here: no /etc/dnsmasq.conf, /etc/hosts or
# resolv.conf, no upstream, no DHCP; foreground, logging to stderr.
start_bg dnsmasq "$DNSMASQ" --conf-file=/dev/null --keep-in-foreground --log-facility=- \
    --no-resolv --no-hosts --no-poll --address=/test.tcpf/10.9.8.7 \
    --listen-address=127.0.0.1 --bind-interfaces --port="$DNS" \
    --pid-file="$TMP/dnsmasq.pid" --user=root --group=root --cache-size=0
DNSMASQ_PID=$BG_PID
wait_udp $LOCALHOST "$DNS" 10 || fail "dnsmasq did not bind 127.0.0.1:$DNS/udp within 10 s"
is_alive "$DNSMASQ_PID" || fail "dnsmasq exited at startup"

# dnsmasq answers directly
got=$(dig @127.0.0.1 -p "$DNS" test.tcpf A +short +time=2 +tries=2 2>&1)
[ "$got" = 10.9.8.7 ] || fail "dnsmasq itself does not answer test.tcpf with 10.9.8.7: '$got'"

write_config "$LOCALHOST:$PUB/udp = $LOCALHOST:$DNS"
start_udp_server
start_client client
wait_channel_up 1

# ------------------------------------------------------------------ dig
got=$(dig @127.0.0.1 -p "$PUB" test.tcpf A +short +time=2 +tries=3 2>&1)
info "dig @127.0.0.1 -p $PUB test.tcpf +short: $got"
[ "$got" = 10.9.8.7 ] || note_failure "dig through the tunnel: '$got', want 10.9.8.7"
got=$(dig @127.0.0.1 -p "$PUB" www.test.tcpf A +short +time=2 +tries=3 2>&1)
[ "$got" = 10.9.8.7 ] || note_failure "dig www.test.tcpf through the tunnel: '$got', want 10.9.8.7"
# over TCP the same port number is not mapped: no TCP listener appeared
port_listening $LOCALHOST "$PUB" && note_failure "a /udp mapping listens on TCP port $PUB"

# ------------------------------------------------------------------ load
out=$("${UDPH[@]}" dns-load --port "$PUB" --peers 20 --queries 2000 --window 4 --timeout 3 \
    --overall 60 --domain test.tcpf --expect 10.9.8.7 --min-answered 0.999 2>"$TMP/load.err")
rc=$?
info "20 peers x 100 queries: $out"
[ -s "$TMP/load.err" ] && info "dns-load: $(head -c 600 "$TMP/load.err" | tr '\n' ' ')"
[ $rc = 0 ] || note_failure "2,000 queries from 20 peers: $out"
[ "$(kv foreign "$out")" = 0 ] || note_failure "$(kv foreign "$out") answers reached a peer that did not ask"

n=$(log_count "$SERVER_LOG" "udp session [0-9]+ started: mapping $LOCALHOST:$PUB/udp")
info "server: $n udp sessions started (2 dig + 20 peers expected)"
[ "$n" -ge 22 ] || note_failure "$n udp sessions started, want at least 22 (one per peer)"

assert_server_alive
is_alive "$CLIENT_PID" || fail "forward-client died"
is_alive "$DNSMASQ_PID" || fail "dnsmasq died"
echo "INFO: $TEST_NAME: answered fraction $(kv answered_frac "$out") ($(kv answered "$out")/$(kv queries "$out")), $(kv qps "$out") queries/s, p99 $(kv p99_ms "$out") ms" >&2
finish_test
