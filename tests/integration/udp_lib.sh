# udp_lib.sh - shared code of the UDP mapping tests (t_udp_*.sh).
#
# Sourced after lib.sh:
#     . "$(dirname "$0")/lib.sh"
#     . "$(dirname "$0")/udp_lib.sh"
#
# Adds ports free for both TCP and UDP, waiting for a bound UDP socket
# (from /proc/net/udp, never by sending), a server start that understands
# "PORT/udp" mappings, the UDP echo server, and the server's SIGUSR1 status.

UDPH=(python3 -u "$LIB_DIR/udp_helpers.py")

# free_udp_port: a port free for TCP and UDP on 127.0.0.1, never the same
# twice within one test (shares lib.sh's record of handed-out ports).
free_udp_port() {
    unique_port "${UDPH[@]}" free-port
}

# udp_bound HOST PORT: a UDP socket is bound to HOST:PORT (or the wildcard).
udp_bound() {
    local a b c d hexport hexhost
    IFS=. read -r a b c d <<<"$1"
    hexhost=$(printf '%02X%02X%02X%02X' "$d" "$c" "$b" "$a")
    hexport=$(printf '%04X' "$2")
    grep -qE "^ *[0-9]+: ($hexhost|00000000):$hexport " /proc/net/udp 2>/dev/null
}

# wait_udp HOST PORT [TIMEOUT]: poll (bounded) until HOST:PORT is bound.
wait_udp() {
    wait_until "${3:-10}" udp_bound "$1" "$2"
}

# split_public_ports: after write_config, keep the TCP ports in PUBLIC_PORTS
# (what start_server waits for) and move the "/udp" ones to UDP_PORTS.
split_public_ports() {
    local p tcp=()
    UDP_PORTS=()
    for p in "${PUBLIC_PORTS[@]}"; do
        case ${p,,} in
        */udp) UDP_PORTS+=("${p%/*}") ;;
        */tcp) tcp+=("${p%/*}") ;;
        *) tcp+=("$p") ;;
        esac
    done
    PUBLIC_PORTS=(${tcp[@]+"${tcp[@]}"})
}

# start_udp_server [NAME]: forward-server on $CONFIG (log $TMP/NAME.log,
# default "server"); waits for INNER_PORT, the TCP public ports and the UDP
# public ports.  Sets SERVER_PID, SERVER_LOG.
start_udp_server() {
    local name=${1:-server} p
    split_public_ports
    if [ "$name" = server ]; then start_server; else start_server_as "$name"; fi
    for p in "${UDP_PORTS[@]}"; do
        wait_udp $LOCALHOST "$p" 10 || fail "forward-server did not bind UDP port $p within 10 s"
    done
}

# start_udp_echo NAME PORT: the UDP echo server of udp_helpers.py on
# 127.0.0.1:PORT, waits until bound.  Sets BG_PID.
start_udp_echo() {
    start_bg "$1" "${UDPH[@]}" echo-server --port "$2" --lifetime 300
    wait_udp $LOCALHOST "$2" 10 || fail "UDP echo server ($1) did not bind port $2"
}

# server_status: SIGUSR1 to $SERVER_PID, wait for the new status lines, put
# them in $TMP/status.N (N counts the calls) and STATUS_FILE.
_STATUS_CALLS=0
# _status_complete N: the N-th "status: M mappings" line of $SERVER_LOG is
# followed by at least M "status: mapping" lines.
_status_complete() {
    local at want
    at=$(grep -nE "status: [0-9]+ mappings" "$SERVER_LOG" | sed -n "$1p")
    [ -n "$at" ] || return 1
    want=$(sed -nE 's/.*status: ([0-9]+) mappings.*/\1/p' <<<"$at")
    [ "$(tail -n +"${at%%:*}" "$SERVER_LOG" | grep -c "status: mapping ")" -ge "${want:-1}" ]
}
server_status() {
    local before n i
    before=$(log_count "$SERVER_LOG" "status: [0-9]+ mappings")
    kill_bg "$SERVER_PID" USR1 || fail "cannot signal forward-server"
    wait_log "$SERVER_LOG" "status: [0-9]+ mappings" $((before + 1)) 5 ||
        fail "no status line after SIGUSR1"
    # the per-mapping lines follow the first one: as many as it announces
    wait_until 5 _status_complete "$((before + 1))" ||
        fail "SIGUSR1: fewer 'status: mapping' lines than the status line announces within 5 s"
    _STATUS_CALLS=$((_STATUS_CALLS + 1))
    STATUS_FILE=$TMP/status.$_STATUS_CALLS
    n=0
    : >"$STATUS_FILE"
    while IFS= read -r i; do
        case $i in
        *"status: "[0-9]*" mappings"*) n=$((n + 1)) ;;
        esac
        [ $n -gt "$before" ] && [[ $i == *"status: "* ]] && echo "$i" >>"$STATUS_FILE"
    done <"$SERVER_LOG"
}

# status_of PUBLIC: the last status line of mapping PUBLIC (e.g.
# "127.0.0.1:5353/udp") in $STATUS_FILE.
status_of() {
    grep -F "status: mapping $1 " "$STATUS_FILE" | tail -n 1
}

# kv KEY LINE: the value of KEY=value in LINE.
kv() {
    sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2" | head -n 1
}
