#!/bin/bash
# The first hour of a new administrator (issue 15's traps), each checked as
# the newcomer would meet it:
#  1. tools/demo.sh (with the daemons under test) moves its file intact and
#     every port it opens listens on loopback only.
#  2. forward-server -n warns, with file:line, about a mapping whose ALLOW
#     rules name no network of its address family (and not otherwise).
#  3. The shipped port_mapper.cfg describes mappings with the README's words.
#  4. Without a key, forward-client names the default key file it looked
#     for, and its man page names the same path (no literal $(sysconfdir)).
#  5. "22   # ssh" gets a message naming ' ;' inline comments; the shipped
#     files use ';' comments.
#  9. forward-server(8) and README describe the same USR1 status lines.
. "$(dirname "$0")/lib.sh"

check_binaries
SRC=$(cd "$LIB_DIR/../.." && pwd)

# ------------------------------------------------------------- 1. the demo
for port in 1111 8000 10080; do
    port_listening "$LOCALHOST" "$port" && fail "port $port is in use; the demo needs it"
done
run_bounded demo 180 bash "$SRC/tools/demo.sh"
info "demo: exit $RUN_RC, $(grep -m1 '^received' <<<"$RUN_OUT")"
[ "$RUN_RC" = 0 ] || fail "the demo failed (exit $RUN_RC): $(tail -n 15 <<<"$RUN_OUT")"
grep -q "^demo: OK, bytes flowed through the mapped port intact" <<<"$RUN_OUT" ||
    fail "the demo did not report its bytes intact"
grep -qE "listening for clients on 127\.0\.0\.1:1111 " <<<"$RUN_OUT" ||
    note_failure "the demo's server does not listen for clients on 127.0.0.1:1111: $(grep -m1 'listening for clients' <<<"$RUN_OUT")"
listen=$(sed -n '/^== listening sockets/,/^==/p' <<<"$RUN_OUT" | grep -E '^ +[0-9[]' || true)
[ "$(wc -l <<<"$listen")" -ge 3 ] || note_failure "the demo listed $(wc -l <<<"$listen") listening sockets, want 3"
if grep -vqE '^ +127\.' <<<"$listen"; then
    note_failure "the demo listens beyond loopback: $(tr '\n' ' ' <<<"$listen")"
fi
info "demo listens on: $(tr -s ' \n' ' ' <<<"$listen")"

# --------------------------------------------- 2. rules that admit no one
cat >"$TMP/rules.cfg" <<EOF
[DEFAULT]
INNER_PORT = 1111
AUTH = none
[MAPPER]
2222 = 192.168.10.5:22
[::1]:2222 = [fd00::5]:22
[RULES]
2222.ALLOW = 198.51.100.0/24
EOF
run_bounded rules 10 "$FORWARD_SERVER" -n "$TMP/rules.cfg"
[ "$RUN_RC" = 0 ] || note_failure "-n rules.cfg: exit $RUN_RC, want 0 (a warning, not an error)"
grep -qE "^warning: .*rules\.cfg:6: mapping \[::1\]:2222 listens on IPv6 but its ALLOW rules .* name no IPv6 network" <<<"$RUN_OUT" ||
    note_failure "-n does not warn about [::1]:2222's IPv4-only ALLOW with file:line: $RUN_OUT"
grep -q "rules.cfg:5:" <<<"$RUN_OUT" && note_failure "-n warns about the IPv4 mapping, which its rule admits: $RUN_OUT"
info "rules: $(grep -m1 '^warning: .*rules' <<<"$RUN_OUT" | cut -c1-160)"
sed -i 's|^2222.ALLOW = .*|2222.ALLOW = 198.51.100.0/24, 2001:db8:100::/48|' "$TMP/rules.cfg"
run_bounded rules-ok 10 "$FORWARD_SERVER" -n "$TMP/rules.cfg"
grep -q "listens on IPv6" <<<"$RUN_OUT" && note_failure "-n still warns once the rule names an IPv6 network: $RUN_OUT"
# The running server says it too (the log is where a reload's news goes).
INNER=$(free_port) || fail "free_port"
PUB6=$(free_port) || fail "free_port"
cat >"$TMP/rules-run.cfg" <<EOF
[DEFAULT]
INNER_PORT = $INNER
INNER_ADDR = $LOCALHOST
AUTH = none
[MAPPER]
[::1]:$PUB6 = 127.0.0.1:9
[RULES]
ALLOW = 127.0.0.0/8
EOF
start_bg rules-server "$FORWARD_SERVER" "$TMP/rules-run.cfg"
wait_log "$TMP/rules-server.log" "started" 1 10 || fail "the server with rules-run.cfg did not start: $(cat "$TMP/rules-server.log")"
grep -qE "rules-run\.cfg:6: mapping \[::1\]:$PUB6 listens on IPv6" "$TMP/rules-server.log" ||
    note_failure "the server does not log the unusable rule at start: $(head -c 600 "$TMP/rules-server.log")"
stop_bg "$BG_PID" 5

# --------------------------------------------------- 3. the mapping's words
grep -qE '^; +\[PUBLIC_ADDR:\]PUBLIC_PORT(\[/udp\])? = TARGET_HOST:TARGET_PORT$' "$SRC/etc/port_mapper.cfg" ||
    note_failure "etc/port_mapper.cfg does not describe mappings as PUBLIC_PORT = TARGET_HOST:TARGET_PORT"
grep -n 'INNER_HOST' "$SRC/etc/port_mapper.cfg" "$SRC/README.md" &&
    note_failure "INNER_HOST (a word README does not use) is still in the shipped files"

# ------------------------------------------- 4. the default client key path
run_bounded nokey 10 "$FORWARD_CLIENT" $LOCALHOST 1
path=$(grep -oE "the default [^ ]+/tcp-forward/client\.key does not exist" <<<"$RUN_OUT" | awk '{print $3}')
[ "$RUN_RC" = "$EX_CONFIG" ] || note_failure "forward-client without a key: exit $RUN_RC, want $EX_CONFIG"
if [ -z "$path" ]; then
    note_failure "the missing-key error does not name the default key file: $RUN_OUT"
else
    info "default key file: $path"
    man_page=$TOP_BUILDDIR/man/forward-client.8
    grep -qF ".Pa $path" "$man_page" || note_failure "forward-client(8) does not name $path"
fi
for page in forward-client.8 forward-server.8 forward_server.cfg.5; do
    f=$TOP_BUILDDIR/man/$page
    [ -f "$f" ] || { note_failure "no built man page $page"; continue; }
    if grep -nE '\$\((sysconfdir|prefix)\)|\$\{prefix\}|@[A-Z_]+@' "$f"; then
        note_failure "man page $page holds an unsubstituted variable"
    fi
done

# ---------------------------------------------------- 5. inline comments
cat >"$TMP/hash.cfg" <<EOF
[DEFAULT]
INNER_PORT = 1111
AUTH = none
[MAPPER]
2222 = 192.168.10.5:22   # ssh
EOF
run_bounded hash 10 "$FORWARD_SERVER" -n "$TMP/hash.cfg"
[ "$RUN_RC" = "$EX_CONFIG" ] || note_failure "-n hash.cfg: exit $RUN_RC, want $EX_CONFIG"
grep -qE "hash\.cfg:5: .*inline comments start with ' ;'" <<<"$RUN_OUT" ||
    note_failure "'# ssh' after a value is not explained: $RUN_OUT"
for f in etc/forward_server.cfg etc/port_mapper.cfg; do
    if grep -nE '^[[:space:]]*#' "$SRC/$f"; then
        note_failure "$f still uses '#' comments (the shipped examples use ';')"
    fi
done

# --------------------------------------------- 9. one truth about USR1
server_man=$TOP_BUILDDIR/man/forward-server.8
for words in "drop counters" "sessions" "MAX_BUFFERED_BYTES"; do
    grep -q "$words" <(sed -n '/SIGUSR1/,/^\.El/p' "$server_man") ||
        note_failure "forward-server(8) USR1 does not mention $words"
    grep -q "$words" <(grep -A4 '^- `USR1`' "$SRC/README.md") ||
        note_failure "README's USR1 does not mention $words"
done

finish_test
