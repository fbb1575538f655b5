#!/bin/bash
# Packet loss on the channel (issue 14).  The kernel has no netem, so loss
# comes from nftables: `numgen random mod 100 < N counter drop` on the
# channel's port, in two network namespaces this test creates and deletes
# (the root namespace, its addresses and its ruleset are never touched):
#
#   ns S: forward-server, INNER_ADDR 10.231.0.1 (veth), public port and the
#         public-side helper on its own 127.0.0.1; input: tcp dport INNER
#         dropped at random (client -> server)
#   ns C: forward-client to 10.231.0.1, target helper on its own 127.0.0.1;
#         input: tcp sport INNER dropped at random (server -> client)
#
# Only the channel crosses the veth, so only the channel loses packets.
# One channel serves every step of $LOSS_PLAN ("N:UP:DOWN ..."): at N%
# loss, one stream through the mapping carries UP bytes public side ->
# target and DOWN bytes target -> public side at the same time.  Each
# direction must arrive byte-exact (sha256, and EOF at both ends), the drop
# counters of both directions must be > 0 when N > 0 (the rule did drop),
# and the channel must stay up throughout (one "channel up" per daemon).
# Times, rates, drops and TCP retransmissions are printed with info.
#
# 64 MiB each way at every step. At 10% TCP mostly sits at cwnd 1 between
# 200 ms+ RTOs on this 0.1 ms link, so the time varies a lot: 25 runs took
# 44-97 s under load (one older run passed 146 s), hence LOSS_TIME 300.
# The sanitized pass (TCPF_SANITIZER_LOGS), about twice as slow, carries
# 32 MiB each way at 10% unless LOSS_PLAN is set.  LOSS_TIME bounds each
# step (seconds).
#
# Needs root (namespaces, nftables), ip and nft (tools/deps.sh test).
. "$(dirname "$0")/lib.sh"

if [ -n "${TCPF_SANITIZER_LOGS:-}" ]; then
    LOSS_PLAN=${LOSS_PLAN:-"0:64M:64M 2:64M:64M 10:32M:32M"}
else
    LOSS_PLAN=${LOSS_PLAN:-"0:64M:64M 2:64M:64M 10:64M:64M"}
fi
LOSS_TIME=${LOSS_TIME:-300}

[ "$(id -u)" = 0 ] || fail "needs root to create network namespaces and nftables rules"
command -v ip >/dev/null || fail "ip not installed (tools/deps.sh test: iproute2)"
command -v nft >/dev/null || fail "nft not installed (tools/deps.sh test: nftables)"

NS_S=tcpf-loss-s-$$
NS_C=tcpf-loss-c-$$
VETH_S=tfl$$s
VETH_C=tfl$$c
ADDR_S=10.231.0.1
ADDR_C=10.231.0.2
# the namespaces are fresh and ours alone: fixed ports cannot collide
INNER=7000
PUB=8000
TGT=9000
NS_MADE=()

# The namespaces go after every process in them has been killed (lib.sh's
# kill_started), then lib.sh's own cleanup runs with the exit status.
_loss_cleanup() {
    local rc=$? ns
    kill_started
    for ns in ${NS_MADE[@]+"${NS_MADE[@]}"}; do
        ip netns del "$ns" 2>/dev/null || echo "INFO: $TEST_NAME: could not delete netns $ns" >&2
    done
    (exit $rc)
    _cleanup
}
trap _loss_cleanup EXIT

ip netns add "$NS_S" || fail "ip netns add $NS_S failed"
NS_MADE+=("$NS_S")
ip netns add "$NS_C" || fail "ip netns add $NS_C failed"
NS_MADE+=("$NS_C")
ip link add "$VETH_S" netns "$NS_S" type veth peer name "$VETH_C" netns "$NS_C" ||
    fail "cannot create the veth pair $VETH_S/$VETH_C"
ip -n "$NS_S" addr add $ADDR_S/30 dev "$VETH_S" &&
    ip -n "$NS_C" addr add $ADDR_C/30 dev "$VETH_C" &&
    ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
    ip -n "$NS_S" link set "$VETH_S" up && ip -n "$NS_C" link set "$VETH_C" up ||
    fail "cannot configure the veth pair"
# A veth passes whole GSO packets (up to 64 KiB): one drop there would be
# the loss of up to 45 wire segments.  One segment per packet, as on a wire.
ip -n "$NS_S" link set "$VETH_S" gso_max_segs 1 && ip -n "$NS_C" link set "$VETH_C" gso_max_segs 1 ||
    fail "cannot set gso_max_segs 1 on the veth pair"

# set_loss NS MATCH N: NS's ruleset becomes one input chain that counts
# the packets with tcp MATCH (dport or sport) $INNER and drops N% of them
# at random; the counters start at 0.
set_loss() {
    ip netns exec "$1" nft -f - <<EOF
flush ruleset
table inet tcpf_loss {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp $2 $INNER counter
        tcp $2 $INNER numgen random mod 100 < $3 counter drop
    }
}
EOF
}

# set_loss_both N: N% loss each way (client -> server dropped in ns S,
# server -> client in ns C).
set_loss_both() {
    set_loss "$NS_S" dport "$1" && set_loss "$NS_C" sport "$1"
}

# counters NS: "SEEN DROPPED": channel packets that reached NS's input
# hook, and how many of them the rule dropped, since set_loss.
counters() {
    local seen dropped
    ip netns exec "$1" nft list chain inet tcpf_loss input >"$TMP/nft.$1" || return 1
    seen=$(sed -n '/drop/!s/.*counter packets \([0-9]*\) bytes.*/\1/p' "$TMP/nft.$1")
    dropped=$(sed -n '/drop/s/.*counter packets \([0-9]*\) bytes.*/\1/p' "$TMP/nft.$1")
    echo "${seen:-none} ${dropped:-none}"
}

# loss_pct SEEN DROPPED: "1.98%"
loss_pct() {
    awk -v s="$1" -v d="$2" 'BEGIN { printf "%.2f%%", (s > 0) ? 100 * d / s : 0 }'
}

# retrans PID: TCP RetransSegs of the network namespace PID is in.
retrans() {
    awk '/^Tcp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RetransSegs") c = i; h = 1 } else print $c }' \
        "/proc/$1/net/snmp"
}

# listening_in PID IP PORT: a socket of PID's network namespace listens on
# IP:PORT (/proc/PID/net/tcp, as lib.sh's port_listening).
listening_in() {
    local a b c d hexhost hexport
    IFS=. read -r a b c d <<<"$2"
    hexhost=$(printf '%02X%02X%02X%02X' "$d" "$c" "$b" "$a")
    hexport=$(printf '%04X' "$3")
    grep -qE "^ *[0-9]+: ($hexhost|00000000):$hexport [0-9A-F]+:0000 0A " "/proc/$1/net/tcp" 2>/dev/null
}

set_loss_both 0 || fail "cannot load the nftables rules"

CONFIG=$TMP/forward.cfg
cat >"$CONFIG" <<EOF || fail "cannot write $CONFIG"
[DEFAULT]
INNER_PORT = $INNER
INNER_ADDR = $ADDR_S
LOG_LEVEL = debug
AUTH_KEY_FILE = $(test_key)
[MAPPER]
$LOCALHOST:$PUB = $LOCALHOST:$TGT
EOF
check_binaries
start_bg server ip netns exec "$NS_S" "$FORWARD_SERVER" "$CONFIG"
SERVER_PID=$BG_PID
SERVER_LOG=$TMP/server.log
wait_until 10 listening_in "$SERVER_PID" $ADDR_S $INNER || fail "forward-server did not listen on $ADDR_S:$INNER within 10 s"
wait_until 10 listening_in "$SERVER_PID" $LOCALHOST $PUB || fail "forward-server did not listen on $LOCALHOST:$PUB within 10 s"
start_bg client ip netns exec "$NS_C" "$FORWARD_CLIENT" -v --retry-delay 1 --key-file "$(test_key)" $ADDR_S $INNER
CLIENT_PID=$BG_PID
CLIENT_LOG=$TMP/client.log
wait_channel_up 1

# bytes TEXT: "64M", "256K" or a number of bytes -> bytes.
bytes() {
    case $1 in
    *K) echo $((${1%K} << 10)) ;;
    *M) echo $((${1%M} << 20)) ;;
    *) echo $(($1)) ;;
    esac
}

# mib_s BYTES MS: "12.3 MiB/s"
mib_s() {
    awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.2f MiB/s", b / 1048576 / ((ms > 0) ? ms : 1) * 1000 }'
}

info "plan (loss%:up:down): $LOSS_PLAN; at most $LOSS_TIME s per transfer; channel $ADDR_C -> $ADDR_S:$INNER over veth"

# transfer N UP DOWN: one stream through the mapping at N% loss on the
# channel, UP bytes public side -> target and DOWN bytes target -> public
# side at the same time (0 bytes: that direction only half-closes).
K=0
transfer() {
    local n=$1 up=$2 down=$3 what tpid cpid rc t0 ms ss ds sc dc rs0 rc0 rs1 rc1 up_b up_s down_b down_s
    local c_sent c_sent_sha c_recv c_recv_sha c_how t_sent t_sent_sha t_recv t_recv_sha t_how
    K=$((K + 1))
    what="$n% loss, up $((up >> 20)) MiB + down $((down >> 20)) MiB"
    set_loss_both "$n" || fail "cannot set $n% loss"
    start_bg "target-$K" ip netns exec "$NS_C" "${PYH[@]}" bidir-server --port $TGT --size "$down" \
        --result "$TMP/target-$K.result" --lifetime $((LOSS_TIME + 30)) --io-timeout "$LOSS_TIME"
    tpid=$BG_PID
    wait_until 10 listening_in "$CLIENT_PID" $LOCALHOST $TGT || fail "$what: the target did not listen within 10 s"
    rs0=$(retrans "$SERVER_PID")
    rc0=$(retrans "$CLIENT_PID")
    t0=$(now_ms)
    start_bg "public-$K" ip netns exec "$NS_S" "${PYH[@]}" bidir-client --port $PUB --size "$up" \
        --io-timeout "$LOSS_TIME"
    cpid=$BG_PID
    # a status every 10 s: a stream that stops leaves its flow state logged
    wait_bg_flow "$cpid" $((LOSS_TIME + 15)) 10
    rc=$?
    # the public side is done when it has sent and received all; the target
    # when it has received all (bytes sent may still be in the daemons)
    if [ $rc = 0 ]; then
        wait_bg "$tpid" 60 || fail "$what: the target did not finish within 60 s of the public side"
    else
        stop_bg "$tpid" 5
    fi
    ms=$(($(now_ms) - t0))
    rs1=$(retrans "$SERVER_PID")
    rc1=$(retrans "$CLIENT_PID")
    read -r ss ds < <(counters "$NS_S")
    read -r sc dc < <(counters "$NS_C")
    # the time each side took to receive everything (helpers.py's log lines)
    read -r up_b up_s < <(sed -n 's/^bidir server: received \([0-9]*\) bytes in \([0-9.]*\) s$/\1 \2/p' "$TMP/target-$K.log")
    read -r down_b down_s < <(sed -n 's/^bidir client: .*received \([0-9]*\) bytes in \([0-9.]*\) s$/\1 \2/p' "$TMP/public-$K.log")
    info "$what: $(ms_to_s $ms) s wall time (helpers started and reaped included);" \
        "up $(mib_s "${up_b:-0}" "$(awk -v s="${up_s:-0}" 'BEGIN { print int(s * 1000) }')") (${up_b:-?} bytes in ${up_s:-?} s)," \
        "down $(mib_s "${down_b:-0}" "$(awk -v s="${down_s:-0}" 'BEGIN { print int(s * 1000) }')") (${down_b:-?} bytes in ${down_s:-?} s);" \
        "dropped client->server $ds of $ss packets ($(loss_pct "$ss" "$ds")), server->client $dc of $sc ($(loss_pct "$sc" "$dc"));" \
        "TCP retransmissions: server $((rs1 - rs0)), client $((rc1 - rc0))"
    [ $rc = 0 ] || fail "$what: the transfer failed (status $rc${rc/#124/: still running after $((LOSS_TIME + 15)) s}): $(tail -n 3 "$TMP/public-$K.log" | tr '\n' ' ')" \
        "('channel up' lines: server $(log_count "$SERVER_LOG" ': channel up \('), client $(log_count "$CLIENT_LOG" ': channel up \('));" \
        "the last flow state: server: $(flow_lines "$SERVER_LOG") client: $(flow_lines "$CLIENT_LOG")"
    read -r c_sent c_sent_sha c_recv c_recv_sha c_how < <(grep -E '^[0-9]+ ' "$TMP/public-$K.log")
    read -r t_sent t_sent_sha t_recv t_recv_sha t_how <"$TMP/target-$K.result" ||
        fail "$what: no result from the target"
    [ "$c_sent" = "$up" ] || note_failure "$what: the public side sent $c_sent bytes, not $up"
    [ "$t_sent" = "$down" ] || note_failure "$what: the target sent $t_sent bytes, not $down"
    [ "$t_recv" = "$c_sent" ] && [ "$t_recv_sha" = "$c_sent_sha" ] ||
        note_failure "$what: public -> target: $t_recv of $c_sent bytes arrived, sha256 $([ "$t_recv_sha" = "$c_sent_sha" ] && echo equal || echo differs)"
    [ "$c_recv" = "$t_sent" ] && [ "$c_recv_sha" = "$t_sent_sha" ] ||
        note_failure "$what: target -> public: $c_recv of $t_sent bytes arrived, sha256 $([ "$c_recv_sha" = "$t_sent_sha" ] && echo equal || echo differs)"
    [ "$t_how" = eof ] || note_failure "$what: the target saw '$t_how' instead of EOF"
    [ "$c_how" = eof ] || note_failure "$what: the public side saw '$c_how' instead of EOF"
    if [ "$n" -gt 0 ]; then
        [ "$ds" -gt 0 ] 2>/dev/null || note_failure "$what: the rule in $NS_S dropped no packet (counter '$ds')"
        [ "$dc" -gt 0 ] 2>/dev/null || note_failure "$what: the rule in $NS_C dropped no packet (counter '$dc')"
    fi
    is_alive "$SERVER_PID" || fail "$what: forward-server is not running any more"
    is_alive "$CLIENT_PID" || fail "$what: forward-client is not running any more"
}

for step in $LOSS_PLAN; do
    IFS=: read -r n up down <<<"$step"
    transfer "$n" "$(bytes "$up")" "$(bytes "$down")"
done

# the channel stayed up: no reconnect, no peer declared dead or stuck
ups_s=$(log_count "$SERVER_LOG" ': channel up \(')
ups_c=$(log_count "$CLIENT_LOG" ': channel up \(')
if [ "$ups_s" != 1 ] || [ "$ups_c" != 1 ]; then
    note_failure "the channel went down under loss: $ups_s 'channel up' in server.log, $ups_c in client.log; client.log: $(grep -m3 -E 'channel closed|presumed|reconnecting' "$CLIENT_LOG" | tr '\n' ' '); server.log: $(grep -m3 -E 'channel closed|presumed' "$SERVER_LOG" | tr '\n' ' ')"
fi
finish_test
