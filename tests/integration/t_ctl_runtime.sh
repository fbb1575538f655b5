#!/bin/bash
# forward-ctl add/remove (runtime mappings kept in STATE_FILE) and
# disable/enable of a UDP mapping, against a running forward-server:
#  1. add 'PUBLIC = TARGET' (and --tag, and --json): the port listens, an
#     HTTP download through it is byte-exact, the state file holds the line,
#     mappings shows it with the state file's file:line as origin;
#  2. it survives a HUP, a forward-ctl reload and a restart of the server;
#  3. refusals (exit 1, with the reason): a clash with a mapping of the
#     file (one address vs the wildcard), a second add of it, a bad target
#     (the parser's message), remove of a file mapping ("defined in
#     FILE:LINE"), an unknown mapping; a state file that cannot be written
#     (a folder in its place): add fails and the port is closed again;
#  4. remove while a 32 MiB download runs: the port closes, the download
#     drains to its end byte-exact, the state file loses the line (--json);
#  5. the file gains a mapping that clashes with a runtime one: the reload
#     says it is not listened on, mappings shows it "shadowed", remove
#     drops it;
#  6. a UDP mapping disabled: a live session's datagrams still echo, a new
#     peer gets nothing; enabled: the new peer is served;
#  7. STATE_FILE = none refuses add and remove; a malformed state file
#     stops the server at start with file:line errors (exit 78), and -n too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/udp_lib.sh"

check_binaries
CTL=$FORWARD_CTL
[ -x "$CTL" ] || fail "forward-ctl not built: $CTL"
L=$LOCALHOST
WWW=$(free_port) || fail "free_port"
PUB_F=$(free_port) || fail "free_port"   # the file's TCP mapping
PUB_R=$(free_port) || fail "free_port"   # added at run time
PUB_T=$(free_port) || fail "free_port"   # added with --tag
PUB_S=$(free_port) || fail "free_port"   # added, then shadowed by the file
PUB_X=$(free_port) || fail "free_port"   # never added
UECHO=$(free_udp_port) || fail "free_udp_port"
PUB_U=$(free_udp_port) || fail "free_udp_port"
mkdir -p "$TMP/www" "$TMP/state"
head -c 700 /dev/urandom | base64 -w 64 >"$TMP/www/index.html"
head -c $((32 << 20)) /dev/urandom >"$TMP/www/big.bin"
start_nginx nginx "$WWW" "$TMP/www"
start_udp_echo uecho "$UECHO"

SOCK=$TMP/control.sock
STATE=$TMP/state/runtime.cfg
# DRAIN_TIMEOUT: the removed mapping's download needs about 16 s
EXTRA_DEFAULTS="CONTROL_SOCKET = $SOCK
STATE_FILE = $STATE
DRAIN_TIMEOUT = 60"
write_config "$L:$PUB_F = $L:$WWW" "$L:$PUB_U/udp = $L:$UECHO"
start_udp_server
wait_until 5 test -S "$SOCK" || fail "no control socket at $SOCK"
start_client a
wait_channel_up 1

# get_exact PORT NAME: GET /index.html through PORT is 200 and byte-exact
get_exact() {
    [ "$(http_get "http://$L:$1/index.html" "$TMP/$2.html")" = 200 ] &&
        cmp -s "$TMP/$2.html" "$TMP/www/index.html"
}

# ------------------------------------------------------------------ 1. add
[ -e "$STATE" ] && note_failure "a state file exists before any add"
ctl add "$L:$PUB_R = $L:$WWW"
[ "$CTL_RC" = 0 ] || note_failure "add: exit $CTL_RC: $CTL_ERR"
grep -q "mapping $L:$PUB_R -> $L:$WWW added at run time" <<<"$CTL_OUT" || note_failure "add printed: $CTL_OUT"
port_listening $L "$PUB_R" || note_failure "the added mapping does not listen"
get_exact "$PUB_R" add || note_failure "GET through the added mapping is not 200 byte-exact"
grep -qx "$L:$PUB_R = $L:$WWW" "$STATE" || note_failure "the state file lacks the mapping: $(cat "$STATE" 2>&1)"
ctl --json add "$L:$PUB_T" = "$L:$WWW" --tag other
[ "$CTL_RC" = 0 ] || note_failure "add --tag --json: exit $CTL_RC: $CTL_ERR"
[ "$(json_get 'j["mapping"], j["target"], j["tag"], j["proto"]')" = "$L:$PUB_T $L:$WWW other tcp" ] ||
    note_failure "add --json: $CTL_OUT"
grep -qx "$L:$PUB_T = other" "$STATE" || note_failure "the state file lacks the [TAG] line: $(cat "$STATE")"
ctl mappings
grep -qE "^$L:$PUB_R +$L:$WWW +tcp +default +listening +0 +.* $STATE:[0-9]+$" <<<"$CTL_OUT" ||
    note_failure "mappings does not show the runtime mapping with its origin: $CTL_OUT"
grep -qE "^$L:$PUB_T +$L:$WWW +tcp +other +listening " <<<"$CTL_OUT" || note_failure "mappings lacks the tagged one: $CTL_OUT"
info "mappings after add: $(tr '\n' '|' <<<"$CTL_OUT")"

# ------------------------------------------- 2. HUP, reload and a restart
hups=$(log_count "$SERVER_LOG" "configuration reloaded")
kill_bg "$SERVER_PID" HUP
wait_log "$SERVER_LOG" "configuration reloaded" $((hups + 1)) 10 || note_failure "no reload after HUP"
port_listening $L "$PUB_R" || note_failure "the runtime mapping stopped listening after HUP"
get_exact "$PUB_R" hup || note_failure "GET through the runtime mapping after HUP failed"
ctl reload
[ "$CTL_RC" = 0 ] && grep -q "configuration reloaded: 4 mappings" <<<"$CTL_OUT" ||
    note_failure "reload: exit $CTL_RC: $CTL_OUT $CTL_ERR"
get_exact "$PUB_R" reload || note_failure "GET through the runtime mapping after forward-ctl reload failed"
stop_bg "$SERVER_PID"
wait_not_listening $L "$PUB_R" 10 || note_failure "the stopped server still listens on $PUB_R"
start_udp_server server2
wait_udp $L "$PUB_U" 10 || note_failure "the restarted server did not bind the UDP mapping"
wait_port $L "$PUB_R" 10 || note_failure "the restarted server does not listen on the runtime mapping"
wait_port $L "$PUB_T" 10 || note_failure "the restarted server does not listen on the tagged runtime mapping"
wait_log "$SERVER_LOG" "channel up" 1 15 || fail "the client did not come back after the restart"
get_exact "$PUB_R" restart || note_failure "GET through the runtime mapping after a restart failed"
ctl --json mappings
[ "$(json_get '[m["tag"] for m in j if m["mapping"] == "'$L:$PUB_T'"][0]')" = other ] ||
    note_failure "the tag of the runtime mapping was lost in the restart: $CTL_OUT"

# --------------------------------------------------------------- 3. refusals
ctl add "$PUB_F = $L:$WWW"
[ "$CTL_RC" = 1 ] && grep -q "clashes with $L:$PUB_F -> $L:$WWW, defined in $CONFIG:[0-9]" <<<"$CTL_ERR" ||
    note_failure "add clashing with the file: exit $CTL_RC: $CTL_ERR"
info "clash: $CTL_ERR"
ctl add "$L:$PUB_R = $L:$WWW"
[ "$CTL_RC" = 1 ] && grep -q "added at run time ($STATE:" <<<"$CTL_ERR" ||
    note_failure "a second add of the same mapping: exit $CTL_RC: $CTL_ERR"
ctl add "$PUB_X = nowhere"
[ "$CTL_RC" = 1 ] && grep -q "bad target 'nowhere' for $PUB_X" <<<"$CTL_ERR" ||
    note_failure "add with a bad target: exit $CTL_RC: $CTL_ERR"
ctl add "$PUB_X"
[ "$CTL_RC" = 1 ] && grep -q "PUBLIC = TARGET" <<<"$CTL_ERR" || note_failure "add without a target: exit $CTL_RC: $CTL_ERR"
ctl add "$PUB_X = $L:$WWW" --json
[ "$CTL_RC" = 1 ] && grep -q "unknown option '--json'.*before the command" <<<"$CTL_ERR" ||
    note_failure "add with --json after the command: exit $CTL_RC: $CTL_ERR"
port_listening $L "$PUB_X" && note_failure "a refused add listens"
ctl remove "$L:$PUB_F"
[ "$CTL_RC" = 1 ] && grep -q "mapping $L:$PUB_F is defined in $CONFIG:[0-9]*; edit the file and reload" <<<"$CTL_ERR" ||
    note_failure "remove of a file mapping: exit $CTL_RC: $CTL_ERR"
port_listening $L "$PUB_F" || note_failure "a refused remove closed the file mapping"
ctl remove "$L:$PUB_X"
[ "$CTL_RC" = 1 ] && grep -q "no mapping" <<<"$CTL_ERR" || note_failure "remove of an unknown mapping: exit $CTL_RC: $CTL_ERR"
# a state file that cannot be replaced: add binds, the write fails, the port closes again
cp "$STATE" "$TMP/state.saved"
rm -f "$STATE" && mkdir "$STATE"
ctl add "$L:$PUB_X = $L:$WWW"
[ "$CTL_RC" = 1 ] && grep -q "cannot write the state file" <<<"$CTL_ERR" ||
    note_failure "add with an unwritable state file: exit $CTL_RC: $CTL_ERR"
port_listening $L "$PUB_X" && note_failure "the add whose write failed still listens"
rmdir "$STATE" && mv "$TMP/state.saved" "$STATE"
ls "$TMP/state" | grep -q new- && note_failure "a temporary file was left: $(ls "$TMP/state")"

# ----------------------------------------- 4. remove drains a live download
start_bg dl curl -sS --limit-rate 2M -o "$TMP/dl.bin" "http://$L:$PUB_R/big.bin"
DL=$BG_PID
wait_until 10 test -s "$TMP/dl.bin" || note_failure "the download through $PUB_R did not start"
ctl --json remove "$L:$PUB_R"
[ "$CTL_RC" = 0 ] || note_failure "remove: exit $CTL_RC: $CTL_ERR"
[ "$(json_get 'j["mapping"]')" = "$L:$PUB_R" ] || note_failure "remove --json: $CTL_OUT"
json_get '"\n".join(j["lines"])' | grep -q "removed: not listening any more, 1 live streams drain" ||
    note_failure "remove did not report the draining stream: $CTL_OUT"
wait_not_listening $L "$PUB_R" 5 || note_failure "the removed mapping still listens"
grep -q ":$PUB_R " "$STATE" && note_failure "the state file still holds the removed mapping: $(cat "$STATE")"
ctl mappings
grep -qE "^$L:$PUB_R .* draining " <<<"$CTL_OUT" || note_failure "mappings does not show the removed mapping draining: $CTL_OUT"
is_alive "$DL" || note_failure "the download ended at the remove (it should drain)"
if ! wait_bg "$DL" 60; then
    note_failure "the download across remove failed: $(cat "$TMP/dl.log")"
elif ! cmp -s "$TMP/dl.bin" "$TMP/www/big.bin"; then
    note_failure "the download across remove is not byte-exact ($(stat -c %s "$TMP/dl.bin") bytes)"
else
    info "remove: a 32 MiB download drained to its end byte-exact"
fi

# ------------------------------------------------------------ 5. shadowed
ctl add "$L:$PUB_S = $L:$WWW"
[ "$CTL_RC" = 0 ] || note_failure "add $PUB_S: exit $CTL_RC: $CTL_ERR"
cp "$CONFIG" "$TMP/config.saved"
sed -i "/^\[MAPPER\]/a $PUB_S = $L:$WWW" "$CONFIG"
ctl reload
[ "$CTL_RC" = 0 ] || note_failure "reload with a clashing file mapping: exit $CTL_RC: $CTL_ERR"
grep -q "$STATE:[0-9]*: runtime mapping $L:$PUB_S -> $L:$WWW is not listened on: the configuration maps 0.0.0.0:$PUB_S at $CONFIG:" <<<"$CTL_OUT" ||
    note_failure "reload does not report the shadowed runtime mapping: $CTL_OUT"
info "shadowed: $(grep 'not listened on' <<<"$CTL_OUT" | head -n 1)"
get_exact "$PUB_S" shadow || note_failure "the file's mapping on $PUB_S does not serve"
ctl mappings
grep -qE "^$L:$PUB_S +$L:$WWW +tcp +default +shadowed +0 +.* $STATE:[0-9]+$" <<<"$CTL_OUT" ||
    note_failure "mappings does not show the shadowed entry: $CTL_OUT"
ctl --json status
[ "$(json_get 'j["mappings"]')" = 4 ] || note_failure "status counts $(json_get 'j["mappings"]') mappings, want 4 (the shadowed entry is not served)"
ctl remove "$L:$PUB_S"
[ "$CTL_RC" = 0 ] && grep -q "it was not listened on" <<<"$CTL_OUT" || note_failure "remove of the shadowed entry: exit $CTL_RC: $CTL_OUT $CTL_ERR"
grep -q ":$PUB_S " "$STATE" && note_failure "the state file still holds the shadowed entry"
port_listening $L "$PUB_S" || note_failure "removing the shadowed entry closed the file's mapping"
mv -f "$TMP/config.saved" "$CONFIG"
ctl reload
[ "$CTL_RC" = 0 ] || note_failure "reload back: exit $CTL_RC: $CTL_ERR"

# ------------------------------------------------- 6. UDP disable / enable
S1=$(free_udp_port) || fail "free_udp_port"
S2=$(free_udp_port) || fail "free_udp_port"
xchg() { "${UDPH[@]}" exchange --port "$PUB_U" --sport "$1" --expect "$2" --within "${3:-2}" --tries 3 >"$TMP/x.out" 2>&1; }
xchg "$S1" echo || note_failure "no UDP echo before disable: $(cat "$TMP/x.out")"
ctl disable "$L:$PUB_U/udp"
[ "$CTL_RC" = 0 ] && [ "$CTL_OUT" = "mapping $L:$PUB_U/udp: disabled" ] || note_failure "UDP disable: exit $CTL_RC: $CTL_OUT $CTL_ERR"
xchg "$S1" echo || note_failure "the live UDP session stopped at disable: $(cat "$TMP/x.out")"
xchg "$S2" none 1 || note_failure "a new UDP peer was served while disabled: $(cat "$TMP/x.out")"
ctl mappings
grep -qE "^$L:$PUB_U/udp .* disabled +1 " <<<"$CTL_OUT" || note_failure "mappings does not show the UDP mapping disabled with 1 session: $CTL_OUT"
server_status
grep -q "1 new peers while disabled" <<<"$(status_of "$L:$PUB_U/udp")" ||
    note_failure "status does not count the new peer's datagram: $(status_of "$L:$PUB_U/udp")"
ctl enable "$L:$PUB_U/udp"
[ "$CTL_RC" = 0 ] || note_failure "UDP enable: exit $CTL_RC: $CTL_ERR"
xchg "$S2" echo || note_failure "the new UDP peer is not served after enable: $(cat "$TMP/x.out")"
info "UDP disable: the live session echoed, a new peer got nothing; enable served it"

# remove names a mapping as the line does: "/tcp" is the default protocol
ctl add "$L:$PUB_X/tcp = $L:$WWW"
[ "$CTL_RC" = 0 ] || note_failure "add $PUB_X/tcp: exit $CTL_RC: $CTL_ERR"
ctl --json remove "$L:$PUB_X/tcp"
[ "$CTL_RC" = 0 ] && [ "$(json_get 'j["mapping"]')" = "$L:$PUB_X" ] || note_failure "remove $PUB_X/tcp: exit $CTL_RC: $CTL_OUT $CTL_ERR"
wait_not_listening $L "$PUB_X" 5 || note_failure "remove $PUB_X/tcp: still listening"

# ------------------------------------------- 7. STATE_FILE = none, malformed
ctl add "$L:$PUB_R = $L:$WWW"
[ "$CTL_RC" = 0 ] || note_failure "add again: exit $CTL_RC: $CTL_ERR"
sed -i "s|^STATE_FILE = .*|STATE_FILE = none|" "$CONFIG"
ctl reload
[ "$CTL_RC" = 0 ] || note_failure "reload with STATE_FILE = none: exit $CTL_RC: $CTL_ERR"
wait_not_listening $L "$PUB_R" 5 || note_failure "STATE_FILE = none: the runtime mapping still listens"
ctl add "$L:$PUB_X = $L:$WWW"
[ "$CTL_RC" = 1 ] && grep -q "runtime mappings are off (STATE_FILE = none" <<<"$CTL_ERR" ||
    note_failure "add with STATE_FILE = none: exit $CTL_RC: $CTL_ERR"
ctl remove "$L:$PUB_T"
[ "$CTL_RC" = 1 ] && grep -q "STATE_FILE = none" <<<"$CTL_ERR" || note_failure "remove with STATE_FILE = none: exit $CTL_RC: $CTL_ERR"
grep -qx "$L:$PUB_T = $L:$WWW" "$STATE" || note_failure "STATE_FILE = none changed the state file"

BAD=$TMP/bad-state.cfg
printf '[MAPPER]\n%s = %s\n%s = nowhere\n[RULES]\nALLOW = 10.0.0.0/8\n' "$PUB_X" "$L:$WWW" "$PUB_S" >"$BAD"
sed -e "s|^STATE_FILE = .*|STATE_FILE = $BAD|" -e "s|^CONTROL_SOCKET = .*|CONTROL_SOCKET = none|" "$CONFIG" >"$TMP/bad.cfg"
expect_refused_start "malformed state file" "$BAD:3: bad target 'nowhere'" "$FORWARD_SERVER" -n "$TMP/bad.cfg"
grep -q "$BAD:4: \[RULES\] in a state file" <<<"$RUN_OUT" || note_failure "-n does not name $BAD:4: $RUN_OUT"
expect_refused_start "start with a malformed state file" "$BAD:3: bad target 'nowhere'" \
    "$FORWARD_SERVER" "$TMP/bad.cfg"
grep -q "2 errors in configuration, not started" <<<"$RUN_OUT" || note_failure "start with a malformed state file: $RUN_OUT"
assert_server_alive
finish_test
