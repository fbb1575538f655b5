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
FORWARD_CTL=${FORWARD_CTL:-$(dirname "$FORWARD_SERVER")/forward-ctl}
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
    _sanitizer_reports || rc=1
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "INFO: $TEST_NAME: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit $rc
}
# Sanitized builds (tools/check.sh's second pass sets TCPF_SANITIZER_LOGS):
# every daemon writes ASan/UBSan reports to this test's temp dir; one report,
# a leak at a clean exit included, fails the test, with the report shown and
# kept in $TCPF_SANITIZER_LOGS.
if [ -n "${TCPF_SANITIZER_LOGS:-}" ]; then
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:quarantine_size_mb=16:log_path=$TMP/asan${ASAN_EXTRA_OPTIONS:+:$ASAN_EXTRA_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$TMP/ubsan"
fi

# A sanitizer report's first line, where it went to a process's stderr (so
# into its $TMP/NAME.log) instead of a log_path file: a UBSan
# "FILE:LINE:COL: runtime error: ..." or an ASan/LSan "==PID==ERROR: ...".
_SANITIZER_LINE_RE='[^ ]+:[0-9]+(:[0-9]+)?: runtime error: |==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer)'

# _sanitizer_reports: false if a sanitizer wrote a report during this test:
# a log_path file (the sanitized pass), or report lines in a process's log.
# The logs are read in every build: a sanitizer opens its log_path file only
# when it reports, so a process with no descriptor left (t_limits' EMFILE
# part) reports to stderr; and a build made with plain -fsanitize=undefined
# (recoverable by default) only prints its reports and runs on.
_sanitizer_reports() {
    local f found=0
    for f in "$TMP"/*.log; do
        [ -f "$f" ] || continue
        grep -qE -- "$_SANITIZER_LINE_RE" "$f" || continue
        found=1
        echo "FAIL: $TEST_NAME: sanitizer report in $(basename "$f"):"
        grep -E -A 30 -m 3 -- "$_SANITIZER_LINE_RE" "$f" | head -n 60
        if [ -n "${TCPF_SANITIZER_LOGS:-}" ]; then
            mkdir -p "$TCPF_SANITIZER_LOGS" && cp "$f" "$TCPF_SANITIZER_LOGS/$TEST_NAME.$(basename "$f")"
        fi
    done
    for f in "$TMP"/asan.* "$TMP"/ubsan.*; do
        [ -n "${TCPF_SANITIZER_LOGS:-}" ] && [ -f "$f" ] || continue
        found=1
        echo "FAIL: $TEST_NAME: sanitizer report $(basename "$f"):"
        head -n 60 "$f"
        mkdir -p "$TCPF_SANITIZER_LOGS" && cp "$f" "$TCPF_SANITIZER_LOGS/$TEST_NAME.$(basename "$f")"
    done
    [ $found = 0 ]
}

# has_vptr_check BINARY: BINARY was built with UBSan's vptr check
# (-fsanitize=undefined or =vptr), which calls into the runtime on a miss of
# its type cache.
has_vptr_check() {
    grep -q __ubsan_handle_dynamic_type_cache_miss "$1" 2>/dev/null
}

# rss_allowance KIB: a memory bound as written for a plain build, widened
# for sanitized builds, whose shadow memory and quarantine add to VmRSS.
rss_allowance() {
    if [ -n "${TCPF_SANITIZER_LOGS:-}" ]; then echo $(($1 * 4 + 65536)); else echo "$1"; fi
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
    unique_port "${PYH[@]}" free-port
}

# unique_port CMD...: run CMD, which prints a free port, until it prints one
# not handed out before in this test (bounded).
unique_port() {
    local p i
    for ((i = 0; i < 20; i++)); do
        p=$("$@") || return 1
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

# wait_until TIMEOUT CMD...: poll CMD every 0.1 s until it succeeds, for at
# most TIMEOUT seconds.
wait_until() {
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# wait_port HOST PORT [TIMEOUT]: poll (bounded) until HOST:PORT listens.
wait_port() {
    wait_until "${3:-10}" port_listening "$1" "$2"
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
# CONFIG, INNER_PORT and PUBLIC_PORTS.  $EXTRA_DEFAULTS (more [DEFAULT]
# lines) and $EXTRA_SECTIONS (whole sections after [MAPPER], e.g. "[TAG]")
# are written when set.
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
        if [ -n "${EXTRA_SECTIONS:-}" ]; then printf '%s\n' "$EXTRA_SECTIONS"; fi
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

# ---------------------------------------------------------------------------
# Security tests (t_auth, t_replay, t_tls, t_junk, t_rules, t_client_allow,
# t_privdrop).  Additions only: nothing above depends on them.

# sech ARGS...: run tests/integration/sec_helpers.py in the foreground.
sech() {
    python3 -u "$LIB_DIR/sec_helpers.py" "$@"
}

# start_sech NAME ARGS...: sec_helpers.py in the background (start_bg).
start_sech() {
    local name=$1
    shift
    start_bg "$name" python3 -u "$LIB_DIR/sec_helpers.py" "$@"
}

# make_key PATH [BYTES] [MODE]: a hex key of BYTES random bytes (default 32),
# file mode MODE (default 600).
make_key() {
    local path=$1 bytes=${2:-32} mode=${3:-600}
    (umask 077 && openssl rand -hex "$bytes" >"$path") || fail "cannot make a key with openssl"
    chmod "$mode" "$path" || fail "chmod $mode $path"
}

# start_server_as NAME [CONFIG]: like start_server, but the log is
# $TMP/NAME.log and the configuration CONFIG (default $CONFIG).  Sets
# SERVER_PID, SERVER_LOG.
start_server_as() {
    local name=$1 cfg=${2:-$CONFIG} p
    check_binaries
    start_bg "$name" "$FORWARD_SERVER" "$cfg"
    SERVER_PID=$BG_PID
    SERVER_LOG=$TMP/$name.log
    wait_port $LOCALHOST "$INNER_PORT" 10 ||
        fail "forward-server ($name) did not listen on INNER_PORT $INNER_PORT within 10 s"
    for p in "${PUBLIC_PORTS[@]}"; do
        wait_port $LOCALHOST "$p" 10 ||
            fail "forward-server ($name) did not listen on public port $p within 10 s"
    done
    is_alive "$SERVER_PID" || fail "forward-server ($name) exited at startup"
}

# start_client_to NAME PORT ARGS...: a forward-client to 127.0.0.1:PORT with
# exactly ARGS (no default key).  Sets CLIENT_PID, CLIENT_LOG.
start_client_to() {
    local name=$1 port=$2
    shift 2
    check_binaries
    start_bg "$name" "$FORWARD_CLIENT" -v --retry-delay 1 "$@" $LOCALHOST "$port"
    CLIENT_PID=$BG_PID
    CLIENT_LOG=$TMP/$name.log
}

# start_client_with NAME ARGS...: start_client_to NAME $INNER_PORT ARGS...
start_client_with() {
    local name=$1
    shift
    start_client_to "$name" "$INNER_PORT" "$@"
}

# stop_bg PID [TIMEOUT]: TERM one process we started and reap it (bounded).
stop_bg() {
    kill_bg "$1" TERM
    wait_bg "$1" "${2:-10}" >/dev/null 2>&1
    if is_alive "$1"; then
        kill_bg "$1" KILL
        wait_bg "$1" 5 >/dev/null 2>&1
    fi
    return 0
}

# run_bounded NAME SECONDS CMD ARGS...: run CMD (output to $TMP/NAME.log)
# and wait at most SECONDS for it to exit.  Sets RUN_RC (124: it did not
# exit and was killed) and RUN_OUT (its output).
run_bounded() {
    local name=$1 secs=$2
    shift 2
    start_bg "$name" "$@"
    wait_bg "$BG_PID" "$secs"
    RUN_RC=$?
    if [ $RUN_RC = 124 ]; then
        stop_bg "$BG_PID" 5
        RUN_RC=124
    fi
    RUN_OUT=$(cat "$TMP/$name.log" 2>/dev/null)
}

# EX_CONFIG: the daemons' exit status for a configuration they refuse.
EX_CONFIG=78

# expect_refused_start WHAT REGEX CMD...: CMD exits $EX_CONFIG (or $WANT_RC)
# within 10 s and its output matches REGEX (extended, any case); else a
# noted failure naming WHAT.
expect_refused_start() {
    local what=$1 re=$2 want=${WANT_RC:-$EX_CONFIG}
    shift 2
    run_bounded refused 10 "$@"
    if [ "$RUN_RC" != "$want" ]; then
        note_failure "$what: exit status $RUN_RC, want $want: $(head -c 300 <<<"$RUN_OUT")"
    elif ! grep -qiE -- "$re" <<<"$RUN_OUT"; then
        note_failure "$what: exit $want but the message does not match '$re': $(head -c 300 <<<"$RUN_OUT")"
    else
        info "$what: refused: $(head -n 1 <<<"$RUN_OUT" | cut -c1-220)"
    fi
}

# assert_no_log FILE EXTENDED-REGEX WHAT: FILE has no matching line.
assert_no_log() {
    local n
    n=$(log_count "$1" "$2")
    [ "$n" = 0 ] || fail "$3 ($n lines matching '$2' in $(basename "$1"): $(grep -m1 -E -- "$2" "$1"))"
}

# note_failure MESSAGE: record a failed check and keep going, so one
# defect does not hide the others; finish_test reports them all.
note_failure() {
    _NOTED_FAILURES+=("$*")
    echo "INFO: $TEST_NAME: CHECK FAILED: $*" >&2
}

# finish_test: PASS, or FAIL listing every note_failure.
finish_test() {
    local n=0 msg="" f
    for f in ${_NOTED_FAILURES[@]+"${_NOTED_FAILURES[@]}"}; do
        n=$((n + 1))
        msg+=" [$n] $f"
    done
    [ $n = 0 ] || fail "$n check(s) failed:$msg"
    pass
}

# make_ca DIR NAME: a CA (DIR/NAME.key, DIR/NAME.crt), EC P-256, 2 days.
make_ca() {
    local dir=$1 name=$2
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/$name.key" -out "$dir/$name.crt" -days 2 -subj "/CN=tcp-forward test $name" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >"$dir/$name.openssl.log" 2>&1 || fail "openssl: cannot make CA $name: $(tail -n 3 "$dir/$name.openssl.log")"
}

# make_cert DIR NAME CA USAGE [SAN]: DIR/NAME.{key,crt} signed by DIR/CA.*,
# extendedKeyUsage USAGE (serverAuth or clientAuth), optional subjectAltName.
# CA "self" makes a self-signed certificate.
make_cert() {
    local dir=$1 name=$2 ca=$3 usage=$4 san=${5:-} ext
    ext=$dir/$name.ext
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        [ -n "$san" ] && echo "subjectAltName=$san"
    } >"$ext"
    if [ "$ca" = self ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$dir/$name.key" -out "$dir/$name.crt" -days 2 -subj "/CN=tcp-forward test $name" \
            -extensions v3_ext -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3_ext]\n'; cat "$ext") \
            >"$dir/$name.openssl.log" 2>&1 || fail "openssl: cannot make $name: $(tail -n 3 "$dir/$name.openssl.log")"
        return
    fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=tcp-forward test $name" \
        >"$dir/$name.openssl.log" 2>&1 &&
        openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
            -CAcreateserial -out "$dir/$name.crt" -days 2 -extfile "$ext" \
            >>"$dir/$name.openssl.log" 2>&1 ||
        fail "openssl: cannot make $name: $(tail -n 3 "$dir/$name.openssl.log")"
}

# cert_pin CERT: "SHA256:AA:BB:..." from openssl x509 -fingerprint -sha256.
cert_pin() {
    local fp
    fp=$(openssl x509 -noout -fingerprint -sha256 -in "$1") || return 1
    echo "SHA256:${fp#*=}"
}

# ---------------------------------------------------------------------------
# Operations tests (t_reload, t_reconnect, t_heartbeat, t_tags, t_grace,
# t_daemon, t_shutdown).  Additions only: nothing above depends on them.

# write_config_file FILE MAPPING...: like write_config, but into FILE, for
# the INNER_PORT already chosen, and atomically (written aside, then
# renamed, so a SIGHUP never reads half a file).  Honours $EXTRA_DEFAULTS
# and $EXTRA_SECTIONS; leaves CONFIG and PUBLIC_PORTS alone.
write_config_file() {
    local file=$1 m
    shift
    [ -n "${INNER_PORT:-}" ] || fail "write_config_file: INNER_PORT not set"
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $INNER_PORT"
        echo "INNER_ADDR = $LOCALHOST"
        echo "LOG_LEVEL = debug"
        echo "AUTH_KEY_FILE = $(test_key)"
        if [ -n "${EXTRA_DEFAULTS:-}" ]; then printf '%s\n' "$EXTRA_DEFAULTS"; fi
        echo "[MAPPER]"
        for m in "$@"; do
            echo "$m"
        done
        if [ -n "${EXTRA_SECTIONS:-}" ]; then printf '%s\n' "$EXTRA_SECTIONS"; fi
    } >"$file.new" && mv -f "$file.new" "$file" || fail "cannot write $file"
}

# start_nginx NAME PORT ROOT: nginx serving the folder ROOT on
# 127.0.0.1:PORT only, one foreground process (no master, no daemon), with
# its configuration, pid, temp folders and error log under $TMP/NAME (log
# $TMP/NAME.log).  Waits until it listens.  Sets NGINX_PID.
start_nginx() {
    local name=$1 port=$2 root=$3 dir
    dir=$TMP/$name
    mkdir -p "$dir" || fail "mkdir $dir"
    cat >"$dir/nginx.conf" <<NGINX || fail "cannot write $dir/nginx.conf"
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {
        listen $LOCALHOST:$port;
        root $root;
    }
}
NGINX
    command -v nginx >/dev/null || fail "nginx not installed (tools/deps.sh test)"
    start_bg "$name" nginx -e stderr -p "$dir" -c "$dir/nginx.conf"
    NGINX_PID=$BG_PID
    wait_port $LOCALHOST "$port" 10 || fail "nginx ($name) did not listen on $port within 10 s"
}

# adopt_pid NAME PID: track a process this test caused to start but did
# not fork itself (a --daemon), so kill_bg works on it and kill_started
# ends it on exit like the others.
adopt_pid() {
    is_alive "$2" || return 1
    _BG_PIDS+=("$2")
    _BG_STARTS+=("$(_proc_field "$2" 19)")
    _BG_NAMES+=("$1")
}

# wait_log_ms FILE EXTENDED-REGEX COUNT TIMEOUT_MS: like wait_log, polling
# every 20 ms, for measuring how soon something is logged.
wait_log_ms() {
    local file=$1 re=$2 count=$3 deadline
    deadline=$(($(now_ms) + $4))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        [ "$(log_count "$file" "$re")" -ge "$count" ] && return 0
        sleep 0.02
    done
    [ "$(log_count "$file" "$re")" -ge "$count" ]
}

# wait_not_listening HOST PORT [TIMEOUT]: poll (bounded) until nothing
# listens on HOST:PORT any more.
wait_not_listening() {
    local host=$1 port=$2 timeout=${3:-10} i n
    n=$((timeout * 10))
    for ((i = 0; i < n; i++)); do
        port_listening "$host" "$port" || return 0
        sleep 0.1
    done
    return 1
}

# http_get URL OUTFILE [MAX_TIME]: one GET with a fresh connection; prints
# the HTTP status (000 when there was none) and returns curl's status.
http_get() {
    curl -sS --noproxy '*' --max-time "${3:-10}" -H 'Connection: close' \
        -o "$2" -w '%{http_code}' "$1" 2>>"$TMP/http_get.err"
}

# ms_to_s MS: "1.234"
ms_to_s() {
    printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# wait_bg_flow PID TIMEOUT EVERY: wait_bg PID TIMEOUT, and meanwhile ask
# both daemons (SERVER_PID, CLIENT_PID) for their status every EVERY
# seconds. At debug level the status logs each stream's flow-control state
# ("stream N flow: ..."), so a stream that stops moving leaves where it
# waits in the logs (flow_lines).
wait_bg_flow() {
    local pid=$1 left=$2 every=$3 rc
    while ((left > 0)); do
        wait_bg "$pid" $((left < every ? left : every))
        rc=$?
        [ $rc = 124 ] || return $rc
        left=$((left - every))
        kill_bg "$SERVER_PID" USR1
        kill_bg "$CLIENT_PID" USR1
    done
    return 124
}

# flow_lines LOG [ID]: the last flow-control lines LOG has (of stream ID,
# or of the channel and every stream), one line, separated by '|'.
flow_lines() {
    if [ -n "${2:-}" ]; then
        grep -E "stream $2 flow: " "$1" | tail -n 2
    else
        grep -E " flow: " "$1" | tail -n 4
    fi | cut -d' ' -f3- | tr '\n' '|'
}

# ---------------------------------------------------------------------------
# forward-ctl and wrk (t_ctl, t_ctl_runtime, t_ha).

# ctl ARGS...: forward-ctl -s $SOCK ARGS, bounded; sets CTL_RC, CTL_OUT, CTL_ERR.
ctl() {
    timeout 35 "$FORWARD_CTL" -s "$SOCK" "$@" >"$TMP/ctl.out" 2>"$TMP/ctl.err" </dev/null
    CTL_RC=$?
    CTL_OUT=$(cat "$TMP/ctl.out")
    CTL_ERR=$(cat "$TMP/ctl.err")
}

# json_get EXPR: evaluates EXPR on the JSON of the last ctl's output as j (Python).
json_get() { python3 -c "import json,sys; j=json.load(open('$TMP/ctl.out')); print($1)"; }

# wrk_failed LOG: the requests wrk counted as failed (non-2xx responses and
# socket errors); wrk_requests LOG: the requests it made.
wrk_failed() {
    awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$1"
}
wrk_requests() { awk '/requests in/ { print $1 }' "$1"; }
