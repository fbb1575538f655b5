#!/bin/bash
# (j) forward-server -n: "configuration OK" + exit 0 for a good config
# (also the two-file layout, OUTER_PORTS_FILE relative to the config's
# folder); exit 78 and "FILE:LINE: message" for every error of a bad one.
. "$(dirname "$0")/lib.sh"

check_binaries

# run_n CONFIG: run forward-server -n (bounded); sets RC, OUT (stdout+stderr)
run_n() {
    timeout 10 "$FORWARD_SERVER" -n "$1" >"$TMP/n.out" 2>"$TMP/n.err" </dev/null
    RC=$?
    OUT=$(cat "$TMP/n.out" "$TMP/n.err")
}

# expect_ok CONFIG
expect_ok() {
    run_n "$1"
    [ $RC = 0 ] || fail "-n $1: exit status $RC, want 0: $(head -c 600 "$TMP/n.err")"
    grep -q "configuration OK" <<<"$OUT" || fail "-n $1: no 'configuration OK' in: $OUT"
}

# expect_errors CONFIG FILE:LINE... : exit 78 and stderr holds every
# "FILE:LINE:" (FILE as a suffix of the path printed)
expect_errors() {
    local cfg=$1 loc
    shift
    run_n "$cfg"
    [ $RC = $EX_CONFIG ] || fail "-n $(basename "$cfg"): exit status $RC, want $EX_CONFIG: $(head -c 600 "$TMP/n.err")"
    grep -q "configuration OK" <<<"$OUT" && fail "-n $(basename "$cfg") printed 'configuration OK'"
    for loc in "$@"; do
        grep -qE "(^|/)$loc:" "$TMP/n.err" ||
            fail "-n $(basename "$cfg"): stderr lacks '$loc:': $(head -c 800 "$TMP/n.err")"
    done
}

# expect_error_any CONFIG FILE:LINE... : exit 78 and at least one of them
expect_error_any() {
    local cfg=$1 loc
    shift
    run_n "$cfg"
    [ $RC = $EX_CONFIG ] || fail "-n $(basename "$cfg"): exit status $RC, want $EX_CONFIG: $(head -c 600 "$TMP/n.err")"
    for loc in "$@"; do
        grep -qE "(^|/)$loc:" "$TMP/n.err" && return 0
    done
    fail "-n $(basename "$cfg"): stderr names none of '$*': $(head -c 800 "$TMP/n.err")"
}

mkdir -p "$TMP/conf" "$TMP/bad" "$TMP/elsewhere"

# ---------------------------------------------------------------- good
cat >"$TMP/conf/good.cfg" <<'CFG'
; a good configuration, two files
[DEFAULT]
INNER_PORT = 21111
INNER_ADDR = 127.0.0.1
LOG_LEVEL = info
OUTER_PORTS_FILE = ports.cfg
[MAPPER]
127.0.0.1:28080 = 127.0.0.1:28000    ; comment
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
cat >"$TMP/conf/ports.cfg" <<'CFG'
[MAPPER]
127.0.0.1:28081 = 127.0.0.1:22
127.0.0.1:28082 = localhost:8080
CFG
cat >"$TMP/conf/single.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
INNER_ADDR = 127.0.0.1
LOG_LEVEL = debug
[MAPPER]
127.0.0.1:28080 = 127.0.0.1:28000
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG

# absolute path, run from an unrelated folder: ports.cfg is found next to
# good.cfg, not in the working directory
(cd "$TMP/elsewhere" && expect_ok "$TMP/conf/good.cfg") || exit 1
# relative path to the config
(cd "$TMP" && expect_ok conf/good.cfg) || exit 1
expect_ok "$TMP/conf/single.cfg"
# a ports.cfg only in the working directory must not be picked up
cp "$TMP/conf/ports.cfg" "$TMP/elsewhere/ports.cfg"
cp "$TMP/conf/good.cfg" "$TMP/bad/noports.cfg"
(cd "$TMP/elsewhere" && run_n "$TMP/bad/noports.cfg" && exit $RC)
rc=$?
[ $rc = $EX_CONFIG ] || fail "-n: OUTER_PORTS_FILE was not resolved relative to the config's folder (exit status $rc, want $EX_CONFIG)"

# ---------------------------------------------------------------- bad, one error each
cat >"$TMP/bad/unknown.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
INNER_ADDR = 127.0.0.1
NO_SUCH_KEY = 1
[MAPPER]
127.0.0.1:28080 = 127.0.0.1:28000
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
expect_errors "$TMP/bad/unknown.cfg" "unknown.cfg:4"

cat >"$TMP/bad/port70000.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
INNER_ADDR = 127.0.0.1

[MAPPER]
127.0.0.1:70000 = 127.0.0.1:28000
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
expect_errors "$TMP/bad/port70000.cfg" "port70000.cfg:6"

cat >"$TMP/bad/portabc.cfg" <<'CFG'
[DEFAULT]
INNER_ADDR = 127.0.0.1
INNER_PORT = abc
[MAPPER]
127.0.0.1:28080 = 127.0.0.1:28000
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
expect_errors "$TMP/bad/portabc.cfg" "portabc.cfg:3"

cat >"$TMP/bad/targetport.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
[MAPPER]
127.0.0.1:28080 = 127.0.0.1:28000
127.0.0.1:28081 = 127.0.0.1:abc
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
expect_errors "$TMP/bad/targetport.cfg" "targetport.cfg:5"

cat >"$TMP/bad/target.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
[MAPPER]
127.0.0.1:28080 = 300.1.1.1:22
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
expect_errors "$TMP/bad/target.cfg" "target.cfg:4"

cat >"$TMP/bad/target2.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
[MAPPER]
127.0.0.1:28080 = 127.0.0.1:28000

127.0.0.1:28081 = bad!host:22
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
expect_errors "$TMP/bad/target2.cfg" "target2.cfg:6"

# duplicate public port: [MAPPER] line 6 and dup_ports.cfg line 3
cat >"$TMP/bad/dup.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
OUTER_PORTS_FILE = dup_ports.cfg
[MAPPER]
127.0.0.1:28079 = 127.0.0.1:1
127.0.0.1:28080 = 127.0.0.1:2
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
cat >"$TMP/bad/dup_ports.cfg" <<'CFG'
[MAPPER]
; the same public port again
127.0.0.1:28080 = 127.0.0.1:3
CFG
expect_error_any "$TMP/bad/dup.cfg" "dup_ports.cfg:3" "dup.cfg:6"

# OUTER_PORTS_FILE that does not exist
cat >"$TMP/bad/missports.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
INNER_ADDR = 127.0.0.1
; next line names a file that is not there
OUTER_PORTS_FILE = no_such_ports.cfg
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
run_n "$TMP/bad/missports.cfg"
[ $RC = $EX_CONFIG ] || fail "-n missports.cfg: exit status $RC, want $EX_CONFIG"
grep -q "no_such_ports.cfg" "$TMP/n.err" || fail "-n missports.cfg: stderr does not name no_such_ports.cfg: $(cat "$TMP/n.err")"

# missing configuration file
run_n "$TMP/bad/does_not_exist.cfg"
[ $RC = $EX_CONFIG ] || fail "-n on a missing file: exit status $RC, want $EX_CONFIG"
grep -q "does_not_exist.cfg" "$TMP/n.err" || fail "-n on a missing file: stderr does not name it: $(cat "$TMP/n.err")"

# ---------------------------------------------------------------- several errors at once
cat >"$TMP/bad/multi.cfg" <<'CFG'
[DEFAULT]
INNER_PORT = 21111
INNER_ADDR = 127.0.0.1
LOG_LEVEL = chatty
BOGUS = 1
OUTER_PORTS_FILE = multi_ports.cfg
[MAPPER]
127.0.0.1:99999 = 127.0.0.1:22
127.0.0.1:28080 = 300.1.1.1:22
127.0.0.1:28081 = 127.0.0.1:28000
[DEFAULT]
AUTH = none   ; keys are exercised by t_auth.sh
CFG
cat >"$TMP/bad/multi_ports.cfg" <<'CFG'
[MAPPER]
127.0.0.1:28082 = 127.0.0.1:0
CFG
expect_errors "$TMP/bad/multi.cfg" "multi.cfg:4" "multi.cfg:5" "multi.cfg:8" "multi.cfg:9" "multi_ports.cfg:2"
n=$(grep -cE '(^|/)multi(_ports)?\.cfg:[0-9]+:' "$TMP/n.err")
[ "$n" -ge 5 ] || fail "-n multi.cfg: only $n error lines for 5 errors"

# ------------------------------------------- TLS files: file:line and a reason
# (not OpenSSL's error stack), at the line of the key that names the file.
mkdir -p "$TMP/tls"
make_cert "$TMP/tls" a self serverAuth
make_cert "$TMP/tls" b self serverAuth
chmod 600 "$TMP/tls/a.key" "$TMP/tls/b.key"
echo "not a certificate" >"$TMP/tls/junk.crt"
# tls_case CERT KEY LINE REGEX
tls_case() {
    cat >"$TMP/tls/t.cfg" <<CFG
[DEFAULT]
INNER_PORT = 1111
AUTH = none
TLS_CERT = $1
TLS_KEY = $2
CFG
    expect_errors "$TMP/tls/t.cfg" "t.cfg:$3"
    grep -qE -- "t\.cfg:$3: $4" "$TMP/n.err" || fail "-n TLS case $1/$2: want '$4' at line $3: $(cat "$TMP/n.err")"
    grep -q "error:[0-9A-F]*:" "$TMP/n.err" && fail "-n TLS case $1/$2 prints an OpenSSL error stack: $(cat "$TMP/n.err")"
    info "TLS $1/$2: $(head -n 1 "$TMP/n.err" | sed 's|.*/t.cfg|t.cfg|')"
}
tls_case missing.crt a.key 4 "TLS_CERT '[^']*missing.crt': No such file or directory"
tls_case junk.crt a.key 4 "TLS_CERT '[^']*junk.crt': not a PEM certificate: no start line"
tls_case a.crt missing.key 5 "TLS_KEY '[^']*missing.key': No such file or directory"
tls_case a.crt b.key 5 "TLS_KEY '[^']*b.key': does not match TLS_CERT '[^']*a.crt'"

# ---------------------------------------------------------------- -h, --version
for opt in -h --help --version; do
    timeout 10 "$FORWARD_SERVER" $opt >"$TMP/opt.out" 2>&1 </dev/null
    rc=$?
    [ $rc = 0 ] || fail "forward-server $opt: exit status $rc"
    [ -s "$TMP/opt.out" ] || fail "forward-server $opt printed nothing"
done
for opt in -h --help --version; do
    timeout 10 "$FORWARD_CLIENT" $opt >"$TMP/opt.out" 2>&1 </dev/null
    rc=$?
    [ $rc = 0 ] || fail "forward-client $opt: exit status $rc"
    [ -s "$TMP/opt.out" ] || fail "forward-client $opt printed nothing"
done
pass
