#!/bin/bash
# forward-server --init end to end (issue 15), in temp folders:
#  - on a copy of the shipped etc/forward_server.cfg (moved to test ports on
#    127.0.0.1, OUTER_PORTS_FILE replaced by a [MAPPER] line): it makes
#    secret.key, server.key and server.crt with the documented modes and
#    group, adds only TLS_CERT and TLS_KEY to [DEFAULT] (every other byte
#    and the file's mode kept), -n accepts the result, the certificate is
#    ECDSA P-256 for the host's name and 127.0.0.1, and the fingerprint it
#    prints is the certificate's;
#  - the server starts on it and logs that same fingerprint; the printed
#    client command, run as printed (only "forward-client" replaced by the
#    built binary's path, in a folder holding client.key), brings a TLS
#    channel up and bytes flow both ways through a mapping;
#  - a second --init (by folder, and by config file) refuses with status
#    73 naming the file, and changes nothing (checksums, file list);
#  - without a config file it prints the lines to add, with absolute paths,
#    and a command naming the host by its name and port 1111;
#  - a shared key already there is kept (checksum), one other users may
#    read is refused (status 78) and nothing is made;
#  - with the certificate moved away, --init makes a new one and leaves the
#    config alone, and after HUP the server logs the new fingerprint.
. "$(dirname "$0")/lib.sh"

check_binaries
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SHIPPED=$SRC/etc/forward_server.cfg
[ -f "$SHIPPED" ] || fail "$SHIPPED not found"
command -v openssl >/dev/null || fail "openssl not installed"
# What --init gives the secret files: group tcp-forward where it exists
# (and we may give it), else root's as root, else mode 0600.
if getent group tcp-forward >/dev/null && { [ "$(id -u)" = 0 ] || id -Gn | grep -qw tcp-forward; }; then
    WANT_SECRET="640 $(id -un):tcp-forward"
elif [ "$(id -u)" = 0 ]; then
    WANT_SECRET="640 root:root"
else
    WANT_SECRET="600 $(id -un):$(id -gn)"
fi

# sums DIR: name and SHA-256 of every file in DIR, one a line.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
# file_mode FILE: "640 root:tcp-forward".
file_mode() { stat -c '%a %U:%G' "$1"; }

ECHO=$(free_port) || fail "free_port"
PUB=$(free_port) || fail "free_port"
INNER_PORT=$(free_port) || fail "free_port"
PUBLIC_PORTS=("$PUB")
start_bg echo "${PYH[@]}" echo-server --port "$ECHO" --lifetime 300 --io-timeout 60
wait_port $LOCALHOST "$ECHO" 10 || fail "echo server did not start"

# ------------------------------------------------------ --init on a config
ETC=$TMP/etc
mkdir -p "$ETC"
sed -e "s/^INNER_PORT = .*/INNER_PORT = $INNER_PORT/" \
    -e "s/^INNER_ADDR = .*/INNER_ADDR = $LOCALHOST/" \
    -e '/^OUTER_PORTS_FILE/d' "$SHIPPED" >"$ETC/forward_server.cfg"
printf '\n[MAPPER]\n%s:%s = %s:%s\n' $LOCALHOST "$PUB" $LOCALHOST "$ECHO" >>"$ETC/forward_server.cfg"
chmod 640 "$ETC/forward_server.cfg"
cp -p "$ETC/forward_server.cfg" "$TMP/before.cfg"
grep -q "^AUTH_KEY_FILE = secret.key" "$ETC/forward_server.cfg" || fail "the shipped config no longer names secret.key"

t0=$(now_ms)
run_bounded init 30 "$FORWARD_SERVER" --init "$ETC"
info "--init took $(($(now_ms) - t0)) ms"
[ "$RUN_RC" = 0 ] || fail "--init exited $RUN_RC: $RUN_OUT"
INIT_OUT=$RUN_OUT
printf '%s\n' "$INIT_OUT" | sed 's/^/INFO: t_init: | /' >&2

for f in secret.key server.key server.crt; do
    [ -f "$ETC/$f" ] || note_failure "--init did not make $f"
done
for f in secret.key server.key; do
    m=$(file_mode "$ETC/$f")
    [ "$m" = "$WANT_SECRET" ] || note_failure "$f: mode and owner '$m', want '$WANT_SECRET'"
done
m=$(file_mode "$ETC/server.crt")
[ "${m%% *}" = 644 ] || note_failure "server.crt: mode ${m%% *}, want 644"
grep -qxE '[0-9a-f]{64}' "$ETC/secret.key" && [ "$(wc -l <"$ETC/secret.key")" = 1 ] ||
    note_failure "secret.key is not 64 hex digits on one line (the format of openssl rand -hex 32)"
grep -q "made $ETC/secret.key" <<<"$INIT_OUT" || note_failure "--init does not report making secret.key"

# The config: the two TLS lines (and their comment) in [DEFAULT], nothing else changed.
added=$(diff "$TMP/before.cfg" "$ETC/forward_server.cfg" | grep '^>' | sed 's/^> //')
want_added=$'; added by forward-server --init:\nTLS_CERT = server.crt\nTLS_KEY = server.key'
[ "$added" = "$want_added" ] || note_failure "config: added lines are '$added', want '$want_added'"
grep -vxF -e '; added by forward-server --init:' -e 'TLS_CERT = server.crt' -e 'TLS_KEY = server.key' \
    "$ETC/forward_server.cfg" | cmp -s - "$TMP/before.cfg" ||
    note_failure "config: bytes other than the added lines changed"
l_tls=$(grep -n '^TLS_CERT = ' "$ETC/forward_server.cfg" | cut -d: -f1)
l_def=$(grep -n '^\[DEFAULT\]' "$ETC/forward_server.cfg" | cut -d: -f1)
l_map=$(grep -n '^\[MAPPER\]' "$ETC/forward_server.cfg" | cut -d: -f1)
[ -n "$l_tls" ] && [ "$l_def" -lt "$l_tls" ] && [ "$l_tls" -lt "$l_map" ] ||
    note_failure "config: TLS_CERT is not in [DEFAULT] (line ${l_tls:-none}, [DEFAULT] $l_def, [MAPPER] $l_map)"
[ "$(file_mode "$ETC/forward_server.cfg")" = "$(file_mode "$TMP/before.cfg")" ] ||
    note_failure "config: mode/owner changed to $(file_mode "$ETC/forward_server.cfg")"
out=$("$FORWARD_SERVER" -n "$ETC/forward_server.cfg" 2>&1) || note_failure "-n refuses the config --init made: $out"

# The certificate.
PRINTED_FP=$(sed -n 's/^TLS certificate fingerprint: //p' <<<"$INIT_OUT")
CERT_FP=$(cert_pin "$ETC/server.crt") || fail "openssl cannot read server.crt"
[ -n "$PRINTED_FP" ] && [ "$PRINTED_FP" = "$CERT_FP" ] ||
    note_failure "printed fingerprint '$PRINTED_FP' is not the certificate's '$CERT_FP'"
san=$(openssl x509 -in "$ETC/server.crt" -noout -ext subjectAltName 2>&1)
grep -q "IP Address:127.0.0.1" <<<"$san" || note_failure "certificate SAN lacks 127.0.0.1: $san"
HOSTNAME_NOW=$(hostname)
grep -q "DNS:$HOSTNAME_NOW\(,\|$\)" <<<"$san" || note_failure "certificate SAN lacks DNS:$HOSTNAME_NOW: $san"
info "certificate: $(tr -s ' \n' ' ' <<<"$san")"
openssl pkey -in "$ETC/server.key" -noout -text 2>/dev/null | grep -q "prime256v1" ||
    note_failure "server.key is not an EC P-256 key"

# ------------------------------------------- the server, then the client as printed
start_server_as server "$ETC/forward_server.cfg"
wait_log "$SERVER_LOG" "TLS certificate fingerprint" 1 10 || note_failure "the server does not log its fingerprint"
LOGGED_FP=$(sed -n 's/.*TLS certificate fingerprint \(SHA256:[0-9A-F:]*\).*/\1/p' "$SERVER_LOG" | head -n 1)
[ "$(log_count "$SERVER_LOG" "TLS certificate fingerprint")" = 1 ] ||
    note_failure "the fingerprint is not logged exactly once at start"
[ "$LOGGED_FP" = "$PRINTED_FP" ] || note_failure "server logs '$LOGGED_FP', --init printed '$PRINTED_FP'"
info "server log: $(grep -m1 "TLS certificate fingerprint" "$SERVER_LOG")"

CMD=$(sed -n 's/^  \(forward-client .*\)$/\1/p' <<<"$INIT_OUT")
[ "$(wc -l <<<"$CMD")" = 1 ] || fail "--init printed no single client command: $INIT_OUT"
re="^forward-client --key-file client\.key --fingerprint (SHA256:([0-9A-F]{2}:){31}[0-9A-F]{2}) ([^ ]+) ([0-9]+)$"
[[ $CMD =~ $re ]] || fail "client command '$CMD' is not of the form 'forward-client --key-file client.key --fingerprint SHA256:... HOST PORT'"
CMD_FP=${BASH_REMATCH[1]} CMD_HOST=${BASH_REMATCH[3]} CMD_PORT=${BASH_REMATCH[4]}
[ "$CMD_FP" = "$PRINTED_FP" ] || note_failure "command pins $CMD_FP, the certificate is $PRINTED_FP"
[ "$CMD_PORT" = "$INNER_PORT" ] || note_failure "command port $CMD_PORT, INNER_PORT is $INNER_PORT"
# INNER_ADDR names one address here, so that is the host clients must dial.
[ "$CMD_HOST" = "$LOCALHOST" ] || note_failure "command host $CMD_HOST, INNER_ADDR is $LOCALHOST"
info "client command: $CMD"

mkdir -p "$TMP/clienthost"
install -m 600 "$ETC/secret.key" "$TMP/clienthost/client.key"
read -r -a words <<<"$CMD"
t0=$(now_ms)
cd "$TMP/clienthost" || fail "cd"
start_bg client "$FORWARD_CLIENT" "${words[@]:1}"
cd - >/dev/null || fail "cd"
CLIENT_PID=$BG_PID
CLIENT_LOG=$TMP/client.log
wait_log "$CLIENT_LOG" "channel up" 1 20 || fail "the printed client command brought no channel up within 20 s"
info "channel up $(($(now_ms) - t0)) ms after the client started: $(grep -m1 "channel up" "$CLIENT_LOG" | sed 's/.*\]: //')"
grep -q "channel up.*TLS" "$CLIENT_LOG" || note_failure "the channel is not TLS"
wait_log "$SERVER_LOG" "channel up" 1 10 || note_failure "the server logged no channel up"
out=$(sech peer --port "$PUB" --expect echo --send 1000000 --within 30 2>&1) ||
    note_failure "1 MB echo through the mapping over the --init channel failed: $out"
info "echo through the mapping: $out"

# ----------------------------------------- a second --init changes nothing
sums "$ETC" >"$TMP/sums.before"
for target in "$ETC" "$ETC/forward_server.cfg"; do
    WANT_RC=73 expect_refused_start "second --init $target" "server\.(crt|key) exists already" \
        "$FORWARD_SERVER" --init "$target"
done
sums "$ETC" >"$TMP/sums.after"
cmp -s "$TMP/sums.before" "$TMP/sums.after" ||
    note_failure "a refused --init changed files: $(diff "$TMP/sums.before" "$TMP/sums.after" | head -n 5)"
info "after the refused --init: $(wc -l <"$TMP/sums.after") files, checksums unchanged"

# ---------------------------------------------- no config: lines to add
BARE=$TMP/bare
mkdir -p "$BARE"
run_bounded init-bare 30 "$FORWARD_SERVER" --init "$BARE"
[ "$RUN_RC" = 0 ] || note_failure "--init without a config exited $RUN_RC: $RUN_OUT"
for l in "TLS_CERT = $BARE/server.crt" "TLS_KEY = $BARE/server.key" "AUTH_KEY_FILE = $BARE/secret.key"; do
    grep -qxF "  $l" <<<"$RUN_OUT" || note_failure "--init without a config does not print '$l'"
done
[ ! -e "$BARE/forward_server.cfg" ] || note_failure "--init without a config made one"
bare_fp=$(cert_pin "$BARE/server.crt")
grep -qxF "  forward-client --key-file client.key --fingerprint $bare_fp $HOSTNAME_NOW 1111" <<<"$RUN_OUT" ||
    note_failure "without INNER_ADDR the command does not name host $HOSTNAME_NOW and port 1111: $(grep '^  forward-client' <<<"$RUN_OUT")"
[ "$bare_fp" != "$PRINTED_FP" ] || note_failure "two --init runs made the same certificate"

# ------------------------------------- a shared key already there: kept / refused
KEPT=$TMP/kept
mkdir -p "$KEPT"
cp "$TMP/before.cfg" "$KEPT/forward_server.cfg"
make_key "$KEPT/secret.key" 32 600
key_sum=$(sha256sum <"$KEPT/secret.key")
run_bounded init-kept 30 "$FORWARD_SERVER" --init "$KEPT"
[ "$RUN_RC" = 0 ] || note_failure "--init with a key there exited $RUN_RC: $RUN_OUT"
[ "$(sha256sum <"$KEPT/secret.key")" = "$key_sum" ] || note_failure "--init replaced an existing shared key"
grep -q "kept $KEPT/secret.key" <<<"$RUN_OUT" || note_failure "--init does not say it kept the key: $RUN_OUT"
[ -f "$KEPT/server.crt" ] || note_failure "--init with a key there made no certificate"

BADKEY=$TMP/badkey
mkdir -p "$BADKEY"
cp "$TMP/before.cfg" "$BADKEY/forward_server.cfg"
make_key "$BADKEY/secret.key" 32 644
sums "$BADKEY" >"$TMP/sums.bad.before"
WANT_RC=78 expect_refused_start "--init with a world-readable key" "secret\.key.*other users" \
    "$FORWARD_SERVER" --init "$BADKEY"
sums "$BADKEY" >"$TMP/sums.bad.after"
cmp -s "$TMP/sums.bad.before" "$TMP/sums.bad.after" || note_failure "--init refusing a bad key changed files"

# ------------------ a new certificate: old one moved away, --init, HUP
mkdir -p "$TMP/old"
mv "$ETC/server.crt" "$ETC/server.key" "$TMP/old/" || fail "mv"
cp -p "$ETC/forward_server.cfg" "$TMP/cfg.before-renew"
run_bounded init-renew 30 "$FORWARD_SERVER" --init "$ETC"
[ "$RUN_RC" = 0 ] || note_failure "--init after moving the certificate away exited $RUN_RC: $RUN_OUT"
cmp -s "$TMP/cfg.before-renew" "$ETC/forward_server.cfg" ||
    note_failure "--init changed a config that names its files already"
grep -q "kept $ETC/secret.key" <<<"$RUN_OUT" || note_failure "--init did not keep secret.key: $RUN_OUT"
NEW_FP=$(sed -n 's/^TLS certificate fingerprint: //p' <<<"$RUN_OUT")
kill_bg "$SERVER_PID" HUP
if wait_log "$SERVER_LOG" "TLS certificate fingerprint" 2 10; then
    got=$(sed -n 's/.*TLS certificate fingerprint \(SHA256:[0-9A-F:]*\).*/\1/p' "$SERVER_LOG" | tail -n 1)
    [ "$got" = "$NEW_FP" ] || note_failure "after HUP the server logs '$got', the new certificate is '$NEW_FP'"
else
    note_failure "the server did not log the new fingerprint after HUP"
fi
wait_log "$SERVER_LOG" "configuration reloaded" 1 10 || note_failure "no 'configuration reloaded' after HUP"

assert_server_alive
finish_test
