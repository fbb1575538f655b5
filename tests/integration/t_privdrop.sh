#!/bin/bash
# Least privilege (issue 3), as root: the server binds a privileged INNER_PORT
# and a privileged public port, reads its root-only key, then drops to USER
# (and GROUP); the client reads its root-only key, then drops to --user.
# Checked in /proc/PID/status: all four Uid and Gid fields, the
# supplementary groups and the capability sets; data flows through the
# privileged port; the unprivileged client reconnects after a server
# restart; unknown users are refused.  A system user tcpf-test is created
# for the test if missing (and removed at the end only if created here).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: $TEST_NAME: needs root"; exit 77; }
check_binaries
TUSER=tcpf-test
CREATED_USER=
if ! getent passwd "$TUSER" >/dev/null; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$TUSER" >"$TMP/useradd.log" 2>&1 ||
        fail "cannot create user $TUSER: $(cat "$TMP/useradd.log")"
    CREATED_USER=1
fi
# Remove the user at exit (after our processes are gone), then the usual
# cleanup of lib.sh.
trap 'rc=$?; kill_started; [ -n "$CREATED_USER" ] && userdel "$TUSER" >/dev/null 2>&1; (exit $rc); _cleanup' EXIT
TUID=$(id -u "$TUSER")
TGID=$(id -g "$TUSER")
NOGROUP_GID=$(getent group nogroup | cut -d: -f3)
[ "$TUID" != 0 ] || fail "$TUSER has uid 0"

# two free privileged ports from 900-999
priv_ports() {
    python3 - <<'PY'
import random, socket
ports = list(range(900, 1000))
random.shuffle(ports)
got = []
for p in ports:
    try:
        s = socket.socket()
        s.bind(("127.0.0.1", p))
        s.close()
        got.append(p)
    except OSError:
        pass
    if len(got) == 2:
        break
print(*got)
PY
}
read -r PRIV_INNER PRIV_PUB <<<"$(priv_ports)"
[ -n "${PRIV_PUB:-}" ] || fail "no two free ports in 900-999"
for p in "$PRIV_INNER" "$PRIV_PUB"; do
    port_listening $LOCALHOST "$p" && fail "port $p is in use"
done
info "privileged ports: INNER_PORT $PRIV_INNER, public $PRIV_PUB; user $TUSER uid $TUID gid $TGID"

ECHO=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"

KEY=$(test_key)
chown root:root "$KEY" && chmod 600 "$KEY"
[ "$(stat -c '%U:%G %a' "$KEY")" = "root:root 600" ] || fail "key is not root:root 600"
if setpriv --reuid="$TUID" --regid="$TGID" --clear-groups cat "$KEY" >/dev/null 2>&1; then
    fail "$TUSER can read the root-only key (the test would prove nothing)"
fi

write_server_config() {
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $PRIV_INNER"
        echo "INNER_ADDR = $LOCALHOST"
        echo "LOG_LEVEL = debug"
        echo "AUTH_KEY_FILE = $KEY"
        echo "USER = $TUSER"
        [ -n "${1:-}" ] && echo "GROUP = $1"
        echo "[MAPPER]"
        echo "$LOCALHOST:$PRIV_PUB = $LOCALHOST:$ECHO"
    } >"$TMP/priv.cfg"
    chmod 600 "$TMP/priv.cfg"
}

# check_ids PID WHAT UID GID: Uid/Gid lines (real, effective, saved, fs),
# Groups (only GID) and no capabilities.
check_ids() {
    local pid=$1 what=$2 uid=$3 gid=$4 st
    st=$(cat "/proc/$pid/status" 2>/dev/null) || { note_failure "$what: no /proc/$pid/status"; return; }
    local u g grp capeff capprm
    u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' <<<"$st")
    g=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' <<<"$st")
    grp=$(awk '/^Groups:/ { $1 = ""; print }' <<<"$st" | xargs)
    capeff=$(awk '/^CapEff:/ { print $2 }' <<<"$st")
    capprm=$(awk '/^CapPrm:/ { print $2 }' <<<"$st")
    info "$what: Uid: $u; Gid: $g; Groups: $grp; CapPrm $capprm; CapEff $capeff"
    [ "$u" = "$uid $uid $uid $uid" ] || note_failure "$what: Uid: $u, want $uid in all four fields"
    [ "$g" = "$gid $gid $gid $gid" ] || note_failure "$what: Gid: $g, want $gid in all four fields"
    [ "$grp" = "$gid" ] || note_failure "$what: Groups: '$grp', want only $gid"
    [ "$capeff" = 0000000000000000 ] || note_failure "$what: CapEff $capeff, want none"
    [ "$capprm" = 0000000000000000 ] || note_failure "$what: CapPrm $capprm, want none"
}

echo_ok() {
    local out
    out=$(sech peer --port "$PRIV_PUB" --expect echo --send 300000 --within 10 2>&1) ||
        note_failure "$1: no byte-exact echo through the privileged port $PRIV_PUB: $out"
}

# ----------------------------------------------------------- server USER
write_server_config
INNER_PORT=$PRIV_INNER
PUBLIC_PORTS=("$PRIV_PUB")
CONFIG=$TMP/priv.cfg
start_server
wait_log "$SERVER_LOG" "running as uid $TUID gid $TGID" 1 5 ||
    note_failure "server did not log 'running as uid $TUID gid $TGID'"
check_ids "$SERVER_PID" "server (USER = $TUSER)" "$TUID" "$TGID"
port_listening $LOCALHOST "$PRIV_INNER" || note_failure "INNER_PORT $PRIV_INNER not listening after the drop"

# ------------------------------------------------------- client --user
CKEY=$TMP/client.key
cp "$KEY" "$CKEY" && chown root:root "$CKEY" && chmod 600 "$CKEY"
start_client_with client --key-file "$CKEY" --user "$TUSER"
wait_channel_up 1
sleep 0.3
check_ids "$CLIENT_PID" "client (--user $TUSER)" "$TUID" "$TGID"
echo_ok "server and client unprivileged"
"${PYH[@]}" concurrent --port "$PRIV_PUB" -n 20 --max 65536 --timeout 30 >"$TMP/conc.out" 2>&1 ||
    note_failure "20 concurrent echoes through the privileged port: $(tail -n 1 "$TMP/conc.out")"

# the unprivileged client reconnects to a restarted server (same key: read once, kept)
stop_bg "$SERVER_PID"
write_server_config nogroup
start_server_as server-group
wait_log "$CLIENT_LOG" "channel up" 2 15 || note_failure "the unprivileged client did not reconnect to the restarted server"
wait_log "$SERVER_LOG" "channel up" 1 5 || note_failure "restarted server: no channel"
if [ -n "$NOGROUP_GID" ]; then
    check_ids "$SERVER_PID" "server (USER = $TUSER, GROUP = nogroup)" "$TUID" "$NOGROUP_GID"
fi
check_ids "$CLIENT_PID" "client after reconnecting" "$TUID" "$TGID"
echo_ok "after the server restart"
stop_bg "$CLIENT_PID"
stop_bg "$SERVER_PID"

# ------------------------------------ pid files and STATE_FILE after the drop
# The pid file is written as root and handed to USER, so the unprivileged
# daemon clears it at exit: removed where its folder is USER's (a
# RuntimeDirectory=), emptied (and said so) where the folder is root's.
# forward-ctl add writes STATE_FILE as USER: it works where the folder is
# USER's (the unit's StateDirectory=), and where it is root's the add is
# refused with the reason and its port closed again.
CTL=$(dirname "$FORWARD_SERVER")/forward-ctl
chmod o+x "$TMP"  # USER may pass through to the folders below, nothing more
mkdir -p "$TMP/run-root" "$TMP/run-user"
chmod 755 "$TMP/run-root" "$TMP/run-user"
chown "$TUSER" "$TMP/run-user"
for where in run-root run-user; do
    pidf=$TMP/$where/server.pid
    write_server_config
    state=$TMP/$where/runtime.cfg
    sed -i "/^PID_FILE/d; /^\[MAPPER\]/i PID_FILE = $pidf\nSTATE_FILE = $state\nCONTROL_SOCKET = $TMP/$where/control.sock" "$TMP/priv.cfg"
    start_server_as "server-$where"
    wait_log "$SERVER_LOG" "running as uid $TUID" 1 5 || note_failure "$where: the server did not drop to $TUSER"
    rt_port=$(free_port) || fail "free_port"
    "$CTL" -s "$TMP/$where/control.sock" add "$LOCALHOST:$rt_port = $LOCALHOST:$ECHO" >"$TMP/ctl-$where.out" 2>&1
    rc=$?
    if [ "$where" = run-user ]; then
        [ $rc = 0 ] || note_failure "$where: forward-ctl add as $TUSER: exit $rc: $(cat "$TMP/ctl-$where.out")"
        [ "$(stat -c %U "$state" 2>/dev/null)" = "$TUSER" ] || note_failure "$where: state file owned by '$(stat -c %U "$state" 2>/dev/null)', want $TUSER"
        port_listening $LOCALHOST "$rt_port" || note_failure "$where: the added mapping does not listen"
        grep -qx "$LOCALHOST:$rt_port = $LOCALHOST:$ECHO" "$state" || note_failure "$where: the state file lacks the mapping"
    else
        [ $rc = 1 ] && grep -q "cannot write the state file: .*Permission denied" "$TMP/ctl-$where.out" ||
            note_failure "$where: forward-ctl add with a root folder: exit $rc: $(cat "$TMP/ctl-$where.out")"
        port_listening $LOCALHOST "$rt_port" && note_failure "$where: the refused add still listens"
    fi
    info "$where: forward-ctl add as $TUSER: exit $rc: $(head -c 200 "$TMP/ctl-$where.out")"
    [ "$(cat "$pidf" 2>/dev/null)" = "$SERVER_PID" ] || note_failure "$where: pid file holds '$(cat "$pidf" 2>/dev/null)', want $SERVER_PID"
    [ "$(stat -c %U "$pidf" 2>/dev/null)" = "$TUSER" ] || note_failure "$where: pid file owned by $(stat -c %U "$pidf" 2>/dev/null), want $TUSER"
    stop_bg "$SERVER_PID"
    if [ "$where" = run-user ]; then
        [ ! -e "$pidf" ] || note_failure "server as $TUSER left its pid file in a folder it owns"
    else
        [ -e "$pidf" ] && [ ! -s "$pidf" ] || note_failure "server as $TUSER: pid file in root's folder is neither emptied nor removed (size $(stat -c %s "$pidf" 2>/dev/null))"
        grep -q "pid file: .*emptied, not removed" "$SERVER_LOG" || note_failure "server as $TUSER did not say it emptied the pid file"
    fi
    info "$where: pid file after stop: $( [ -e "$pidf" ] && echo "present, $(stat -c %s "$pidf") bytes" || echo removed)"
done
# the client: --pid-file in a folder its --user owns
cpid=$TMP/run-user/client.pid
start_client_with client-pid --key-file "$CKEY" --user "$TUSER" --pid-file "$cpid"
wait_until 5 test -s "$cpid" || note_failure "the client wrote no pid file"
[ "$(cat "$cpid" 2>/dev/null)" = "$CLIENT_PID" ] || note_failure "client pid file holds '$(cat "$cpid" 2>/dev/null)', want $CLIENT_PID"
stop_bg "$CLIENT_PID"
[ ! -e "$cpid" ] || note_failure "client as $TUSER left its pid file in a folder it owns"

# ----------------------------------------------------------- unknown users
sed -i "s/^USER = .*/USER = tcpf-no-such-user/" "$TMP/priv.cfg"
run_bounded server-nouser 10 "$FORWARD_SERVER" "$TMP/priv.cfg"
[ "$RUN_RC" != 0 ] && [ "$RUN_RC" != 124 ] || note_failure "server with an unknown USER: exit status $RUN_RC, want a failure"
grep -q "tcpf-no-such-user" <<<"$RUN_OUT" || note_failure "server with an unknown USER: no message naming it: $(head -c 300 <<<"$RUN_OUT")"
run_bounded client-nouser 10 "$FORWARD_CLIENT" --key-file "$CKEY" --user tcpf-no-such-user $LOCALHOST "$PRIV_INNER"
[ "$RUN_RC" != 0 ] && [ "$RUN_RC" != 124 ] || note_failure "client with an unknown --user: exit status $RUN_RC, want a failure"
grep -q "tcpf-no-such-user" <<<"$RUN_OUT" || note_failure "client with an unknown --user: no message naming it: $(head -c 300 <<<"$RUN_OUT")"

finish_test
