# lib.sh - common code for the tcp-forward integration tests.
#
# Sourced (not executed) by every tests/integration/t_*.sh script:
#     . "$(dirname "$0")/lib.sh"
#
# Provides a private temp dir ($TMP, removed on exit), free-port allocation,
# bounded waits, background processes tracked by PID and killed (only those,
# TERM then KILL) on exit, a helper to bring a server/client tunnel up, and
# fail/pass reporting.  Only 127.0.0.1 is ever used.
#
# Environment:
#   FORWARD_SERVER, FORWARD_CLIENT  absolute paths of the daemons (set by
#                                   make check); default: <repo>/src/...
#   KEEP_TMP=1                      keep the temp dir (for debugging)

set -u
set -o pipefail

TEST_NAME=$(basename "$0" .sh)
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HELPERS=$LIB_DIR/helpers.py
PYH=(python3 -u "$HELPERS")
TOP_BUILDDIR=$(cd "$(dirname "$0")/../.." && pwd)
FORWARD_SERVER=${FORWARD_SERVER:-$TOP_BUILDDIR/src/forward-server}
FORWARD_CLIENT=${FORWARD_CLIENT:-$TOP_BUILDDIR/src/forward-client}
LOCALHOST=127.0.0.1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tcpf-$TEST_NAME.XXXXXX") || {
    echo "FAIL: $TEST_NAME: mktemp failed"
    exit 1
}

# Parallel arrays describing every process started by start_bg.
_BG_PIDS=()
_BG_STARTS=()     # /proc start time, to never signal a recycled PID
_BG_NAMES=()
BG_PID=

info() { echo "INFO: $TEST_NAME: $*" >&2; }

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}

# _proc_field PID INDEX: field of /proc/PID/stat counted after the "(comm)"
# (0 = state, 19 = starttime).  Prints nothing if the process is gone.
_proc_field() {
    local line rest
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${line##*) }
    local -a f
    read -r -a f <<<"$rest"
    echo "${f[$2]}"
}

# is_alive PID: running (not gone, not a zombie).
is_alive() {
    local st
    st=$(_proc_field "$1" 0) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# _is_ours INDEX: the PID at INDEX is still the process we started.
_is_ours() {
    local st
    st=$(_proc_field "${_BG_PIDS[$1]}" 19) || return 1
    [ "$st" = "${_BG_STARTS[$1]}" ]
}

# start_bg NAME CMD ARGS...: run an external command in the background,
# stdin from /dev/null, stdout+stderr to $TMP/NAME.log.  Sets BG_PID.
start_bg() {
    local name=$1
    shift
    "$@" </dev/null >"$TMP/$name.log" 2>&1 &
    BG_PID=$!
    _BG_PIDS+=("$BG_PID")
    _BG_STARTS+=("$(_proc_field "$BG_PID" 19)")
    _BG_NAMES+=("$name")
}

# _untrack PID: forget a process that has been reaped.
_untrack() {
    local i
    for i in "${!_BG_PIDS[@]}"; do
        if [ "${_BG_PIDS[$i]}" = "$1" ]; then
            unset "_BG_PIDS[$i]" "_BG_STARTS[$i]" "_BG_NAMES[$i]"
        fi
    done
}

# wait_bg PID TIMEOUT_SECONDS: wait (bounded) for a start_bg process to
# exit.  Returns its exit status, or 124 if it is still running.
wait_bg() {
    local pid=$1 timeout=${2:-30} i n rc
    n=$((timeout * 10))
    for ((i = 0; i < n; i++)); do
        is_alive "$pid" || break
        sleep 0.1
    done
    if is_alive "$pid"; then
        return 124
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    _untrack "$pid"
    return $rc
}

# kill_bg PID [SIGNAL]: signal one process we started (by PID, checked
# against its start time).
kill_bg() {
    local pid=$1 sig=${2:-TERM} i
    for i in "${!_BG_PIDS[@]}"; do
        if [ "${_BG_PIDS[$i]}" = "$pid" ] && _is_ours "$i"; then
            kill "-$sig" "$pid" 2>/dev/null
            return 0
        fi
    done
    return 1
}

# kill_started: TERM every process we started, KILL what is left after a
# bound, reap them.  Only the recorded PIDs are ever signalled.
kill_started() {
    local i n live
    for i in "${!_BG_PIDS[@]}"; do
        if _is_ours "$i" && is_alive "${_BG_PIDS[$i]}"; then
            kill -TERM "${_BG_PIDS[$i]}" 2>/dev/null
        fi
    done
    for ((n = 0; n < 50; n++)); do
        live=0
        for i in "${!_BG_PIDS[@]}"; do
            if _is_ours "$i" && is_alive "${_BG_PIDS[$i]}"; then
                live=1
                break
            fi
        done
        [ $live = 0 ] && break
        sleep 0.1
    done
    for i in "${!_BG_PIDS[@]}"; do
        if _is_ours "$i" && is_alive "${_BG_PIDS[$i]}"; then
            echo "INFO: $TEST_NAME: ${_BG_NAMES[$i]} (pid ${_BG_PIDS[$i]}) ignored TERM, sending KILL" >&2
            kill -KILL "${_BG_PIDS[$i]}" 2>/dev/null
        fi
    done
    for i in "${!_BG_PIDS[@]}"; do
        wait "${_BG_PIDS[$i]}" 2>/dev/null
    done
    _BG_PIDS=()
    _BG_STARTS=()
    _BG_NAMES=()
}

_cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    kill_started
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "INFO: $TEST_NAME: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit $rc
}
trap _cleanup EXIT
trap 'echo "FAIL: $TEST_NAME: interrupted (SIGINT)"; exit 130' INT
trap 'echo "FAIL: $TEST_NAME: interrupted (SIGTERM)"; exit 143' TERM
trap 'echo "FAIL: $TEST_NAME: interrupted (SIGHUP)"; exit 129' HUP

# dump_logs: tail of every daemon log (and a shorter tail of the others).
dump_logs() {
    local f name
    for f in "$TMP"/*.log; do
        [ -f "$f" ] || continue
        name=$(basename "$f" .log)
        case $name in
        server* | client*)
            echo "----- $name.log (last 40 lines) -----"
            tail -n 40 "$f"
            ;;
        *)
            echo "----- $name.log (last 8 lines) -----"
            tail -n 8 "$f"
            ;;
        esac
    done
}

fail() {
    echo "FAIL: $TEST_NAME: $*"
    dump_logs >&2
    exit 1
}

pass() {
    echo "PASS: $TEST_NAME"
    exit 0
}

# free_port: print a TCP port on 127.0.0.1 that the kernel just handed out
# for bind(port 0); never the same port twice within one test.
free_port() {
    local p i
    for ((i = 0; i < 20; i++)); do
        p=$("${PYH[@]}" free-port) || return 1
        if ! grep -qx "$p" "$TMP/.ports" 2>/dev/null; then
            echo "$p" >>"$TMP/.ports"
            echo "$p"
            return 0
        fi
    done
    return 1
}

# port_listening HOST PORT: a socket is in LISTEN state on HOST:PORT (or on
# the wildcard address).  Reads /proc/net/tcp{,6} so it never connects.
port_listening() {
    local a b c d hexport hexhost
    IFS=. read -r a b c d <<<"$1"
    hexhost=$(printf '%02X%02X%02X%02X' "$d" "$c" "$b" "$a")
    hexport=$(printf '%04X' "$2")
    grep -qE "^ *[0-9]+: ($hexhost|00000000):$hexport [0-9A-F]+:0000 0A " /proc/net/tcp 2>/dev/null && return 0
    grep -qE "^ *[0-9]+: (0{32}|0{16}FFFF0000$hexhost):$hexport [0-9A-F]+:0000 0A " /proc/net/tcp6 2>/dev/null
}

# wait_port HOST PORT [TIMEOUT]: poll (bounded) until HOST:PORT listens.
wait_port() {
    local host=$1 port=$2 timeout=${3:-10} i n
    n=$((timeout * 10))
    for ((i = 0; i < n; i++)); do
        port_listening "$host" "$port" && return 0
        sleep 0.1
    done
    return 1
}

# log_count FILE EXTENDED-REGEX: number of matching lines.
log_count() {
    local c
    c=$(grep -cE -- "$2" "$1" 2>/dev/null) || c=0
    echo "${c:-0}"
}

# wait_log FILE EXTENDED-REGEX [COUNT] [TIMEOUT]: until FILE has COUNT lines
# matching.
wait_log() {
    local file=$1 re=$2 count=${3:-1} timeout=${4:-10} i n
    n=$((timeout * 10))
    for ((i = 0; i < n; i++)); do
        [ "$(log_count "$file" "$re")" -ge "$count" ] && return 0
        sleep 0.1
    done
    return 1
}

# rss_kb PID: VmRSS of a process in KiB (empty if gone).
rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

check_binaries() {
    [ -x "$FORWARD_SERVER" ] || fail "forward-server not found or not executable: $FORWARD_SERVER"
    [ -x "$FORWARD_CLIENT" ] || fail "forward-client not found or not executable: $FORWARD_CLIENT"
}

# write_config MAPPING...: write $CONFIG with a fresh INNER_PORT and one
# [MAPPER] line per argument ("127.0.0.1:PUB = 127.0.0.1:TARGET").  Sets
# CONFIG, INNER_PORT and PUBLIC_PORTS.
write_config() {
    local m pub
    INNER_PORT=$(free_port) || fail "no free port for INNER_PORT"
    CONFIG=$TMP/forward.cfg
    PUBLIC_PORTS=()
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $INNER_PORT"
        echo "INNER_ADDR = $LOCALHOST"
        echo "LOG_LEVEL = debug"
        echo "AUTH_KEY_FILE = $(test_key)"
        [ -n "${EXTRA_DEFAULTS:-}" ] && printf '%s\n' "$EXTRA_DEFAULTS"
        echo "[MAPPER]"
        for m in "$@"; do
            echo "$m"
            pub=${m%%=*}
            pub=${pub// /}
            PUBLIC_PORTS+=("${pub##*:}")
        done
    } >"$CONFIG"
}

# test_key: path of this test's shared key (made on first use, mode 600).
test_key() {
    local key=$TMP/secret.key
    if [ ! -f "$key" ]; then
        (umask 077 && openssl rand -hex 32 >"$key") || fail "cannot make a key with openssl"
    fi
    echo "$key"
}

# start_server: start forward-server on $CONFIG, wait until INNER_PORT and
# every public port listen.  Sets SERVER_PID, SERVER_LOG.
start_server() {
    local p
    check_binaries
    start_bg server "$FORWARD_SERVER" "$CONFIG"
    SERVER_PID=$BG_PID
    SERVER_LOG=$TMP/server.log
    wait_port $LOCALHOST "$INNER_PORT" 10 ||
        fail "forward-server did not listen on INNER_PORT $INNER_PORT within 10 s"
    for p in "${PUBLIC_PORTS[@]}"; do
        wait_port $LOCALHOST "$p" 10 ||
            fail "forward-server did not listen on public port $p within 10 s"
    done
    is_alive "$SERVER_PID" || fail "forward-server exited at startup"
}

# start_client [NAME]: start a forward-client (log $TMP/NAME.log, default
# "client") against INNER_PORT.  Sets CLIENT_PID, CLIENT_LOG.
start_client() {
    local name=${1:-client}
    check_binaries
    start_bg "$name" "$FORWARD_CLIENT" -v --retry-delay 1 --key-file "$(test_key)" \
        ${CLIENT_ARGS:-} $LOCALHOST "$INNER_PORT"
    CLIENT_PID=$BG_PID
    CLIENT_LOG=$TMP/$name.log
}

# wait_channel_up [SERVER_COUNT] [TIMEOUT]: the server log holds
# SERVER_COUNT "channel up" lines and $CLIENT_LOG at least one.
wait_channel_up() {
    local count=${1:-1} timeout=${2:-15}
    wait_log "$CLIENT_LOG" "channel up" 1 "$timeout" ||
        fail "no 'channel up' in $(basename "$CLIENT_LOG") within $timeout s"
    wait_log "$SERVER_LOG" "channel up" "$count" "$timeout" ||
        fail "no 'channel up' (#$count) in server.log within $timeout s"
}

# start_tunnel MAPPING...: config + server + client, channel up.
start_tunnel() {
    write_config "$@"
    start_server
    start_client client
    wait_channel_up 1
}

# assert_daemons_alive: both daemons still running.
assert_server_alive() {
    is_alive "$SERVER_PID" || fail "forward-server (pid $SERVER_PID) is not running any more"
}
