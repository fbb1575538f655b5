#!/bin/bash
# The client's limits against a malicious server (or an on-path attacker on
# a plain channel, who can inject frames after the handshake). A fake
# server (evil_server.py) speaks the protocol to a --no-auth client:
#  a. early-data flood: more than 65,536 bytes of DATA before OPEN_OK on a
#     stream whose target never connects is a protocol error that names the
#     server and closes the channel; the client's peak RSS stays small;
#  b. 200 OPENs to such targets with 64 KiB each: beyond --max-streams the
#     OPENs get OPEN_FAIL resource_limit, beyond --max-pending-bytes the
#     streams get RESET resource_limit, the channel stays up, the warning is
#     logged once and then as a count; peak RSS stays small;
#  c. UDP_OPEN flood beyond --max-udp-sessions: OPEN_FAIL resource_limit;
#  d. --allow with a name rule (localhost) that resolves to 127.0.0.1:
#     refused with not_allowed (TCP and UDP) unless an address rule also
#     allows 127.0.0.1 and the port;
#  e. bad values for the new options exit 64.
. "$(dirname "$0")/lib.sh"

EVIL=(python3 -u "$LIB_DIR/evil_server.py")

# peak_kb PID: the process's peak resident set (VmHWM) in KiB.
peak_kb() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# attack NAME 'EVIL ARGS' CLIENT_ARGS...: a fake server running EVIL ARGS
# and one client; waits for the fake server's report.  Sets RESULT (its
# key=value line), TEXTS (its text= lines), PEAK (client VmHWM, KiB),
# CLIENT_PID, CLIENT_LOG and EVIL_PORT.
attack() {
    local name=$1 evil_args=$2 pid
    shift 2
    EVIL_PORT=$(free_port) || fail "free_port"
    # shellcheck disable=SC2086
    start_bg "$name-server" "${EVIL[@]}" $evil_args --port "$EVIL_PORT"
    pid=$BG_PID
    wait_port $LOCALHOST "$EVIL_PORT" 10 || fail "$name: fake server did not listen"
    start_client_to "$name-client" "$EVIL_PORT" --no-auth --connect-timeout 60 "$@"
    wait_bg "$pid" 60 || note_failure "$name: fake server failed or did not finish: $(tail -n 3 "$TMP/$name-server.log")"
    RESULT=$(grep -m1 '^how=' "$TMP/$name-server.log")
    TEXTS=$(grep '^text=' "$TMP/$name-server.log")
    PEAK=$(peak_kb "$CLIENT_PID")
    is_alive "$CLIENT_PID" || note_failure "$name: the client died"
    info "$name: $RESULT; client peak RSS ${PEAK:-?} KiB"
}

# field KEY: value of KEY in RESULT (0 if absent).
field() {
    local v
    v=$(sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$RESULT")
    echo "${v:-0}"
}

expect_field() {
    [ "$(field "$2")" = "$3" ] || note_failure "$1: $2=$(field "$2"), want $3 ($RESULT)"
}

expect_peak_below() {
    local limit
    limit=$(rss_allowance "$2")
    [ -n "$PEAK" ] && [ "$PEAK" -lt "$limit" ] ||
        note_failure "$1: client peak RSS ${PEAK:-?} KiB, want < $limit KiB"
}

# a. early-data flood: 60 streams, 1 MiB each, before any OPEN_OK
attack early "early --streams 60 --bytes 1048576 --hold 5"
expect_field early how closed
expect_field early open_ok 0
wait_log "$CLIENT_LOG" "server 127\\.0\\.0\\.1:$EVIL_PORT: channel closed: protocol error: stream 1: early data beyond the 65536-byte window" 1 5 ||
    note_failure "early: no protocol error naming the server and the early window in the client log: $(grep -m1 'channel closed' "$CLIENT_LOG")"
expect_peak_below early 40960
stop_bg "$CLIENT_PID"

# a'. exactly the early window is fine: the channel stays up
attack early-ok "early --streams 3 --bytes 65536 --hold 2"
expect_field early-ok how open
assert_no_log "$CLIENT_LOG" "protocol error" "early-ok: 65,536 bytes of early data were refused"
stop_bg "$CLIENT_PID"

# b. OPEN flood: 200 streams with 64 KiB each, --max-streams 50, 1 MiB pending
attack opens "opens --streams 200 --bytes 65536 --hold 7" --max-streams 50 --max-pending-bytes 1M
expect_field opens how open
expect_field opens open_fail_resource_limit 150
expect_field opens reset_resource_limit 34   # 16 x 64 KiB = 1 MiB held, the other 34 reset
grep -q "max-streams" <<<"$TEXTS" || note_failure "opens: OPEN_FAIL text does not name --max-streams: $TEXTS"
grep -q "max-pending-bytes" <<<"$TEXTS" || note_failure "opens: RESET text does not name --max-pending-bytes: $TEXTS"
n=$(log_count "$CLIENT_LOG" "server 127\\.0\\.0\\.1:$EVIL_PORT asked for .*refused, 50 streams open, the --max-streams limit")
[ "$n" = 1 ] || note_failure "opens: $n full --max-streams warnings, want 1 (then a count)"
wait_log "$CLIENT_LOG" "server 127\\.0\\.0\\.1:$EVIL_PORT: 149 more OPENs refused by --max-streams" 1 3 ||
    note_failure "opens: no count line '149 more OPENs refused by --max-streams'"
n=$(log_count "$CLIENT_LOG" "server 127\\.0\\.0\\.1:$EVIL_PORT: stream [0-9]+ .*reset: early data .*--max-pending-bytes")
[ "$n" = 1 ] || note_failure "opens: $n full --max-pending-bytes warnings, want 1"
wait_log "$CLIENT_LOG" "33 more streams reset by --max-pending-bytes" 1 3 ||
    note_failure "opens: no count line '33 more streams reset by --max-pending-bytes'"
expect_peak_below opens 40960
stop_bg "$CLIENT_PID"

# c. UDP_OPEN flood
attack udp "udp --streams 300 --hold 2" --max-udp-sessions 100
expect_field udp how open
expect_field udp open_fail_resource_limit 200
n=$(log_count "$CLIENT_LOG" "asked for .*\\(udp, id [0-9]+\\): refused, 100 UDP sessions open, the --max-udp-sessions limit")
[ "$n" = 1 ] || note_failure "udp: $n full --max-udp-sessions warnings, want 1"
stop_bg "$CLIENT_PID"

# d. a name rule does not admit the loopback address the name resolves to
ECHO=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 120 --io-timeout 30
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
attack name "one --host localhost --target-port $ECHO --hold 2" --allow "localhost:$ECHO"
expect_field name open_fail_not_allowed 1
grep -q "resolved to a loopback/link-local/unspecified address not allowed by --allow" <<<"$TEXTS" ||
    note_failure "name: OPEN_FAIL text: $TEXTS"
wait_log "$CLIENT_LOG" "asked for localhost:$ECHO \\(tcp, id 1\\): refused, localhost resolved to 127\\.0\\.0\\.1:$ECHO \\(loopback\\)" 1 3 ||
    note_failure "name: no client log line naming localhost and 127.0.0.1"
stop_bg "$CLIENT_PID"

attack name-udp "one --udp --host localhost --target-port $ECHO --hold 2" --allow "localhost:$ECHO"
expect_field name-udp open_fail_not_allowed 1
wait_log "$CLIENT_LOG" "asked for localhost:$ECHO \\(udp, id 1\\): refused, localhost resolved to 127\\.0\\.0\\.1" 1 3 ||
    note_failure "name-udp: no client log line naming localhost and 127.0.0.1"
stop_bg "$CLIENT_PID"

attack name-ip "one --host localhost --target-port $ECHO --hold 2" --allow "localhost:$ECHO" --allow "127.0.0.1:$ECHO"
expect_field name-ip open_ok 1
expect_field name-ip open_fail_not_allowed 0
stop_bg "$CLIENT_PID"

# e. bad values
for bad in "--max-streams 0" "--max-streams x" "--max-udp-sessions -1" "--max-pending-bytes 16Q" \
    "--max-pending-bytes M" "--max-pending-bytes 2T"; do
    # shellcheck disable=SC2086
    run_bounded bad 5 "$FORWARD_CLIENT" --no-auth $bad $LOCALHOST 9
    [ "$RUN_RC" = 64 ] || note_failure "'$bad': exit status $RUN_RC, want 64"
done
finish_test
