#!/bin/bash
# Files the daemons trust (issue 12):
#  - pid file: a symbolic link planted at PATH.tmp (to an existing file, or
#    dangling) is never followed, a link at PATH is replaced by the real pid
#    file, the victims stay unchanged (forward-server and forward-client);
#  - key files (AUTH_KEY_FILE, [CLIENTS], --key-file): group-writable,
#    other-readable and symbolic links refused at start (exit 78, a message
#    naming the file, file:line on the server); 0640 accepted and works;
#  - TLS private keys (TLS_KEY, --cert-key, a --cert that holds the key):
#    the same checks; 0640 accepted and a mutual-TLS channel comes up;
#  - GROUP without USER: refused by forward-server -n with file:line.
. "$(dirname "$0")/lib.sh"

check_binaries

# accepted WHAT CMD...: CMD (forward-server -n) exits 0 within 10 s.
accepted() {
    local what=$1
    shift
    run_bounded accepted 10 "$@"
    [ "$RUN_RC" = 0 ] || note_failure "$what: exit status $RUN_RC, want 0: $(head -c 300 <<<"$RUN_OUT")"
}

# line_of FILE REGEX: number of the first line of FILE matching REGEX.
line_of() {
    grep -nE -- "$2" "$1" | head -n 1 | cut -d: -f1
}

ECHO=$(free_port) || fail "free_port"
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"
PUB=$(free_port) || fail "free_port"
write_config "$LOCALHOST:$PUB = $LOCALHOST:$ECHO"
BASE_CONFIG=$CONFIG
BASE_INNER=$INNER_PORT
KEY=$(test_key)

# ------------------------------------------------------ 1. pid file symlinks
RUN=$TMP/run
mkdir -p "$RUN"
VICTIM=$TMP/victim.txt
VICTIM2=$TMP/victim2.txt
printf 'victim one: must not change\n' >"$VICTIM"
printf 'victim two: must not change\n' >"$VICTIM2"
cp "$VICTIM" "$TMP/victim.orig"
cp "$VICTIM2" "$TMP/victim2.orig"

tmp_gone() { [ ! -e "$1" ] && [ ! -L "$1" ]; }

# check_pid_file WHO PIDFILE PID: PIDFILE is a regular file holding PID, no
# PATH.tmp is left, and the victims are unchanged.
check_pid_file() {
    local who=$1 pf=$2 pid=$3
    # Written once the ports are bound: the planted PATH.tmp link goes away
    # (renamed or replaced) when the daemon has written its pid file.
    wait_until 10 tmp_gone "$pf.tmp" || note_failure "$who: $pf.tmp still there after 10 s"
    [ -L "$pf" ] && note_failure "$who: $pf is still a symbolic link (to $(readlink "$pf"))"
    [ -f "$pf" ] && [ ! -L "$pf" ] || note_failure "$who: $pf is not a regular file"
    [ "$(cat "$pf" 2>/dev/null)" = "$pid" ] || note_failure "$who: $pf holds '$(head -c 40 "$pf" 2>/dev/null)', want $pid"
    cmp -s "$VICTIM" "$TMP/victim.orig" ||
        note_failure "$who: the file PATH.tmp linked to was overwritten: now '$(head -c 40 "$VICTIM")'"
    cmp -s "$VICTIM2" "$TMP/victim2.orig" ||
        note_failure "$who: the file PATH linked to was overwritten: now '$(head -c 40 "$VICTIM2")'"
    [ -e "$TMP/created-by-daemon" ] && note_failure "$who: a dangling PATH.tmp link was followed (its target was created)"
    info "$who: pid file $(stat -c '%F %a' "$pf" 2>/dev/null) holding $(cat "$pf" 2>/dev/null); victims unchanged"
}

# server, PID_FILE: PATH.tmp -> victim, PATH -> victim2
ln -s "$VICTIM" "$RUN/server.pid.tmp"
ln -s "$VICTIM2" "$RUN/server.pid"
sed "s#^\[MAPPER\]#PID_FILE = $RUN/server.pid\n[MAPPER]#" "$BASE_CONFIG" >"$TMP/pid.cfg"
start_server_as server-pid "$TMP/pid.cfg"
check_pid_file "forward-server (PATH.tmp -> file, PATH -> file)" "$RUN/server.pid" "$SERVER_PID"
stop_bg "$SERVER_PID"

# server again: a dangling PATH.tmp link (its target does not exist yet)
rm -f "$RUN/server.pid"
ln -s "$TMP/created-by-daemon" "$RUN/server.pid.tmp"
start_server_as server-pid2 "$TMP/pid.cfg"
check_pid_file "forward-server (dangling PATH.tmp)" "$RUN/server.pid" "$SERVER_PID"
stop_bg "$SERVER_PID"

# client, --pid-file: the same plant (it needs no server to write it)
rm -f "$RUN/client.pid"
ln -s "$VICTIM" "$RUN/client.pid.tmp"
ln -s "$VICTIM2" "$RUN/client.pid"
start_client_with client-pid --key-file "$KEY" --pid-file "$RUN/client.pid"
check_pid_file "forward-client (PATH.tmp -> file, PATH -> file)" "$RUN/client.pid" "$CLIENT_PID"
stop_bg "$CLIENT_PID"

# ---------------------------------------------- 2. authentication key files
# key_config NAME KEYFILE: $TMP/NAME.cfg, the base config with AUTH_KEY_FILE = KEYFILE.
key_config() {
    sed "s#^AUTH_KEY_FILE = .*#AUTH_KEY_FILE = $2#" "$BASE_CONFIG" >"$TMP/$1.cfg"
}
make_key "$TMP/k660.key" 32 660
make_key "$TMP/k620.key" 32 620
make_key "$TMP/k644.key" 32 644
make_key "$TMP/k640.key" 32 640
make_key "$TMP/real.key" 32 600
ln -s "$TMP/real.key" "$TMP/link.key"
AKF_LINE=$(line_of "$BASE_CONFIG" '^AUTH_KEY_FILE')

for m in 660 620; do
    key_config k$m "$TMP/k$m.key"
    expect_refused_start "server -n, AUTH_KEY_FILE mode $m (group-writable)" \
        "^$TMP/k$m.cfg:$AKF_LINE: AUTH_KEY_FILE '$TMP/k$m.key': .*writable by its group \(mode 0$m\).*chmod 600 or 640" \
        "$FORWARD_SERVER" -n "$TMP/k$m.cfg"
done
expect_refused_start "server start, AUTH_KEY_FILE mode 660" "writable by its group" "$FORWARD_SERVER" "$TMP/k660.cfg"
port_listening $LOCALHOST "$BASE_INNER" && note_failure "the refused server left INNER_PORT listening"
key_config k644 "$TMP/k644.key"
expect_refused_start "server -n, AUTH_KEY_FILE mode 644 (other-readable)" \
    "^$TMP/k644.cfg:$AKF_LINE: .*accessible by other users \(mode 0644\)" "$FORWARD_SERVER" -n "$TMP/k644.cfg"
key_config klink "$TMP/link.key"
expect_refused_start "server -n, AUTH_KEY_FILE a symbolic link" \
    "^$TMP/klink.cfg:$AKF_LINE: AUTH_KEY_FILE '$TMP/link.key': is a symbolic link; name the file itself" \
    "$FORWARD_SERVER" -n "$TMP/klink.cfg"
key_config k640 "$TMP/k640.key"
accepted "server -n, AUTH_KEY_FILE mode 640" "$FORWARD_SERVER" -n "$TMP/k640.cfg"

# [CLIENTS]
for k in k660 link; do
    { cat "$BASE_CONFIG"; echo "[CLIENTS]"; echo "branch = $TMP/$k.key"; } >"$TMP/clients-$k.cfg"
done
CL_LINE=$(line_of "$TMP/clients-k660.cfg" '^branch =')
expect_refused_start "server -n, [CLIENTS] key mode 660" \
    "^$TMP/clients-k660.cfg:$CL_LINE: client branch: key file '$TMP/k660.key': .*writable by its group" \
    "$FORWARD_SERVER" -n "$TMP/clients-k660.cfg"
expect_refused_start "server -n, [CLIENTS] key a symbolic link" \
    "^$TMP/clients-link.cfg:$CL_LINE: client branch: key file '$TMP/link.key': is a symbolic link" \
    "$FORWARD_SERVER" -n "$TMP/clients-link.cfg"

# client --key-file
expect_refused_start "client --key-file mode 660" "--key-file $TMP/k660.key: .*writable by its group \(mode 0660\)" \
    "$FORWARD_CLIENT" --key-file "$TMP/k660.key" $LOCALHOST "$BASE_INNER"
expect_refused_start "client --key-file mode 644" "--key-file $TMP/k644.key: .*accessible by other users" \
    "$FORWARD_CLIENT" --key-file "$TMP/k644.key" $LOCALHOST "$BASE_INNER"
expect_refused_start "client --key-file a symbolic link" "--key-file $TMP/link.key: is a symbolic link; name the file itself" \
    "$FORWARD_CLIENT" --key-file "$TMP/link.key" $LOCALHOST "$BASE_INNER"

# 0640 on both sides: a working channel
cp "$TMP/k640.key" "$TMP/c640.key" && chmod 640 "$TMP/c640.key"
CONFIG=$TMP/k640.cfg
INNER_PORT=$BASE_INNER
PUBLIC_PORTS=("$PUB")
start_server_as server-640
start_client_with client-640 --key-file "$TMP/c640.key"
wait_channel_up 1
out=$(sech peer --port "$PUB" --expect echo --send 100000 --within 10 2>&1) ||
    note_failure "0640 key files: no echo through the channel: $out"
stop_bg "$CLIENT_PID"
stop_bg "$SERVER_PID"

# --------------------------------------------------------- 3. TLS private keys
PKI=$TMP/pki
mkdir -p "$PKI"
make_ca "$PKI" ca
make_ca "$PKI" cca
make_cert "$PKI" server ca serverAuth "DNS:localhost,IP:127.0.0.1"
make_cert "$PKI" client cca clientAuth
chmod 600 "$PKI"/*.key
for k in server client; do
    cp "$PKI/$k.key" "$PKI/$k-g.key" && chmod 660 "$PKI/$k-g.key"
    cp "$PKI/$k.key" "$PKI/$k-o.key" && chmod 604 "$PKI/$k-o.key"
    ln -s "$PKI/$k.key" "$PKI/$k-link.key"
done
chmod 640 "$PKI/server.key" "$PKI/client.key"
TLS_INNER=$(free_port) || fail "free_port"
PUB_T=$(free_port) || fail "free_port"
# tls_config NAME TLS_KEY
tls_config() {
    {
        echo "[DEFAULT]"
        echo "INNER_PORT = $TLS_INNER"
        echo "INNER_ADDR = $LOCALHOST"
        echo "LOG_LEVEL = debug"
        echo "AUTH_KEY_FILE = $KEY"
        echo "TLS_CERT = $PKI/server.crt"
        echo "TLS_KEY = $2"
        echo "TLS_CLIENT_CA = $PKI/cca.crt"
        echo "[MAPPER]"
        echo "$LOCALHOST:$PUB_T = $LOCALHOST:$ECHO"
    } >"$TMP/$1.cfg"
}
tls_config tls-g "$PKI/server-g.key"
expect_refused_start "server -n, TLS_KEY mode 660" "^$TMP/tls-g.cfg:[0-9]+: TLS_KEY '$PKI/server-g.key': .*writable by its group \(mode 0660\)" \
    "$FORWARD_SERVER" -n "$TMP/tls-g.cfg"
tls_config tls-o "$PKI/server-o.key"
expect_refused_start "server -n, TLS_KEY mode 604" "^$TMP/tls-o.cfg:[0-9]+: TLS_KEY '$PKI/server-o.key': .*accessible by other users" \
    "$FORWARD_SERVER" -n "$TMP/tls-o.cfg"
tls_config tls-link "$PKI/server-link.key"
expect_refused_start "server -n, TLS_KEY a symbolic link" "^$TMP/tls-link.cfg:[0-9]+: TLS_KEY '$PKI/server-link.key': is a symbolic link" \
    "$FORWARD_SERVER" -n "$TMP/tls-link.cfg"
tls_config tls "$PKI/server.key"
accepted "server -n, TLS_KEY mode 640" "$FORWARD_SERVER" -n "$TMP/tls.cfg"

C=("$FORWARD_CLIENT" --key-file "$KEY" --ca-file "$PKI/ca.crt" --cert "$PKI/client.crt")
expect_refused_start "client --cert-key mode 660" "--cert-key '$PKI/client-g.key': .*writable by its group" \
    "${C[@]}" --cert-key "$PKI/client-g.key" $LOCALHOST "$TLS_INNER"
expect_refused_start "client --cert-key mode 604" "--cert-key '$PKI/client-o.key': .*accessible by other users" \
    "${C[@]}" --cert-key "$PKI/client-o.key" $LOCALHOST "$TLS_INNER"
expect_refused_start "client --cert-key a symbolic link" "--cert-key '$PKI/client-link.key': is a symbolic link" \
    "${C[@]}" --cert-key "$PKI/client-link.key" $LOCALHOST "$TLS_INNER"
# a --cert that holds the key is a secret file too
cat "$PKI/client.crt" "$PKI/client.key" >"$PKI/combined.pem"
chmod 664 "$PKI/combined.pem"
expect_refused_start "client --cert holding the key, mode 664" "combined.pem'?: .*(writable by its group|accessible by other users)" \
    "$FORWARD_CLIENT" --key-file "$KEY" --ca-file "$PKI/ca.crt" --cert "$PKI/combined.pem" $LOCALHOST "$TLS_INNER"

# 0640 TLS keys on both sides: a mutual-TLS channel comes up
CONFIG=$TMP/tls.cfg
INNER_PORT=$TLS_INNER
PUBLIC_PORTS=("$PUB_T")
start_server_as server-tls
start_client_with client-tls --key-file "$KEY" --ca-file "$PKI/ca.crt" --cert "$PKI/client.crt" \
    --cert-key "$PKI/client.key"
wait_channel_up 1
grep -q "channel up.*TLS" "$CLIENT_LOG" || note_failure "0640 TLS keys: the channel is not over TLS"
out=$(sech peer --port "$PUB_T" --expect echo --send 100000 --within 10 2>&1) ||
    note_failure "0640 TLS keys: no echo through the channel: $out"
stop_bg "$CLIENT_PID"
stop_bg "$SERVER_PID"

# ------------------------------------------------------ 4. GROUP without USER
sed "s#^\[MAPPER\]#GROUP = nogroup\n[MAPPER]#" "$BASE_CONFIG" >"$TMP/group.cfg"
G_LINE=$(line_of "$TMP/group.cfg" '^GROUP')
expect_refused_start "server -n, GROUP without USER" \
    "^$TMP/group.cfg:$G_LINE: GROUP without USER would keep the daemon running as root; set USER too" \
    "$FORWARD_SERVER" -n "$TMP/group.cfg"

finish_test
