#!/bin/bash
# The man pages match the code: every option of forward-server --help and
# forward-client --help has an ".It Fl" entry in its page and every "Fl" in
# a page is a real option; forward_server.cfg(5) documents exactly the
# sections and keys src/config.cc accepts; groff -ww prints no warnings;
# the version in the man pages and in debian/changelog is --version's.
. "$(dirname "$0")/lib.sh"

check_binaries
SRC=$(cd "$(dirname "$0")/../.." && pwd)
# Generated pages (configure substitutes the version) are in the build
# tree, next to src/: FORWARD_SERVER is $(abs_top_builddir)/src/... under
# make check. MAN_DIR overrides.
MAN_DIR=${MAN_DIR:-$(cd "$(dirname "$FORWARD_SERVER")/.." && pwd)/man}
command -v groff >/dev/null || fail "groff not installed (apt-get install groff-base)"

for page in forward-server.8 forward-client.8 forward_server.cfg.5; do
    [ -f "$MAN_DIR/$page" ] || fail "$MAN_DIR/$page missing (run configure)"
done

# help_options PROGRAM: the options in PROGRAM --help, one a line
# ("-n", "--check"), from the option column of lines starting with "  -".
help_options() {
    "$1" --help </dev/null | grep -E '^ +-' | sed -E 's/^ +//; s/  .*//' |
        grep -oE '(^|[ ,])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed -E 's/^[ ,]//' | sort -u
}

# man_flags PAGE [It]: the flags named by Fl macros in PAGE ("Fl n" -> -n,
# "Fl -check" -> --check, "Fl nv" -> -n -v); with "It", only those on .It
# lines (the option list).
man_flags() {
    awk -v only_it="${2:-}" '
        /^\.\\"/ { next }
        /^\./ {
            if (only_it != "" && $1 != ".It") next
            for (i = 1; i <= NF; i++) {
                if ($i != "Fl") continue
                for (j = i + 1; j <= NF; j++) {
                    w = $j
                    gsub(/\\/, "", w)
                    if (w ~ /^[A-Z][a-z][a-z]?$/ || w !~ /^-?[A-Za-z0-9]/) break
                    if (w ~ /^-/) print "-" w
                    else for (k = 1; k <= length(w); k++) print "-" substr(w, k, 1)
                }
            }
        }' "$1" | sort -u
}

# compare_options PROGRAM PAGE
compare_options() {
    local prog=$1 page=$2 name
    name=$(basename "$prog")
    help_options "$prog" >"$TMP/help.$name"
    [ -s "$TMP/help.$name" ] || fail "$name --help: no options parsed"
    man_flags "$page" It >"$TMP/items.$name"
    man_flags "$page" >"$TMP/all.$name"
    local missing extra
    missing=$(comm -23 "$TMP/help.$name" "$TMP/items.$name" | tr '\n' ' ')
    [ -z "$missing" ] || fail "$(basename "$page"): no .It Fl entry for $name option(s): $missing"
    extra=$(comm -13 "$TMP/help.$name" "$TMP/all.$name" | tr '\n' ' ')
    [ -z "$extra" ] || fail "$(basename "$page") names option(s) $name --help does not have: $extra"
    info "$name: $(wc -l <"$TMP/help.$name") options, all documented"
}
compare_options "$FORWARD_SERVER" "$MAN_DIR/forward-server.8"
compare_options "$FORWARD_CLIENT" "$MAN_DIR/forward-client.8"
# forward_server.cfg(5) mentions options of both programs.
man_flags "$MAN_DIR/forward_server.cfg.5" >"$TMP/all.cfg5"
sort -u "$TMP/help.forward-server" "$TMP/help.forward-client" >"$TMP/help.both"
extra=$(comm -13 "$TMP/help.both" "$TMP/all.cfg5" | tr '\n' ' ')
[ -z "$extra" ] || fail "forward_server.cfg.5 names option(s) neither program has: $extra"

# ---------------------------------------------------------------- config keys
cfg_cc=$SRC/src/config.cc
[ -f "$cfg_cc" ] || fail "$cfg_cc not found"
cfg5=$MAN_DIR/forward_server.cfg.5
# code_list FILE ERE: the quoted upper-case names in the matches of ERE.
code_list() {
    grep -oE "$2" "$1" | grep -oE '"[A-Z][A-Z0-9_]*"' | tr -d '"' | sort -u
}
# man_items SECTION: the ".It Cm NAME" entries under ".Sh SECTION".
man_items() {
    awk -v want="$1" '
        /^\.Sh / { sh = substr($0, 5); next }
        sh == want && $1 == ".It" && $2 == "Cm" && $3 ~ /^[A-Z][A-Z0-9_]*$/ { print $3 }' "$cfg5" | sort -u
}
# same_set WHAT CODE_FILE MAN_FILE
same_set() {
    local missing extra
    missing=$(comm -23 "$2" "$3" | tr '\n' ' ')
    [ -z "$missing" ] || fail "forward_server.cfg.5: $1 accepted by src/config.cc but not documented: $missing"
    extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
    [ -z "$extra" ] || fail "forward_server.cfg.5 documents $1 src/config.cc does not accept: $extra"
}
# Sections: strcasecmp(name.c_str(), "NAME"); each has ".Sh NAME SECTION".
code_list "$cfg_cc" 'strcasecmp\(name\.c_str\(\), *"[A-Z][A-Z0-9_]*"' >"$TMP/sections.code"
sed -nE 's/^\.Sh ([A-Z][A-Z0-9_]*) SECTION$/\1/p' "$cfg5" | sort -u >"$TMP/sections.man"
[ "$(wc -l <"$TMP/sections.code")" -ge 2 ] ||
    fail "found only $(wc -l <"$TMP/sections.code") sections in src/config.cc: the parser changed shape, update $TEST_NAME"
same_set "section(s)" "$TMP/sections.code" "$TMP/sections.man"
# [DEFAULT] keys: strcasecmp(key.c_str(), "KEY") or is("KEY").
code_list "$cfg_cc" '(strcasecmp\(key\.c_str\(\), *|[^A-Za-z0-9_]is\()"[A-Z][A-Z0-9_]*"' >"$TMP/keys.code"
[ "$(wc -l <"$TMP/keys.code")" -ge 4 ] ||
    fail "found only $(wc -l <"$TMP/keys.code") keys in src/config.cc: the parser changed shape, update $TEST_NAME"
man_items "DEFAULT SECTION" >"$TMP/keys.man"
same_set "[DEFAULT] key(s)" "$TMP/keys.code" "$TMP/keys.man"
# [RULES] kinds: the kRuleKinds list in config.cc.
if grep -qx RULES "$TMP/sections.code"; then
    sed -n '/kRuleKinds\[\] = {/,/};/p' "$cfg_cc" | grep -oE '"[A-Z][A-Z0-9_]*"' | tr -d '"' | sort -u >"$TMP/rules.code"
    [ "$(wc -l <"$TMP/rules.code")" -ge 3 ] || fail "no rule kinds (kRuleKinds) in src/config.cc: update $TEST_NAME"
    man_items "RULES SECTION" >"$TMP/rules.man"
    same_set "[RULES] rule(s)" "$TMP/rules.code" "$TMP/rules.man"
fi
info "forward_server.cfg.5: sections $(tr '\n' ' ' <"$TMP/sections.code"); keys $(tr '\n' ' ' <"$TMP/keys.code")"

# ---------------------------------------------------------------- groff
for page in forward-server.8 forward-client.8 forward_server.cfg.5; do
    groff -mandoc -ww -z "$MAN_DIR/$page" >"$TMP/groff.out" 2>&1
    [ ! -s "$TMP/groff.out" ] || fail "groff -mandoc -ww -z $page: $(head -c 600 "$TMP/groff.out")"
    # As lintian and man(1) format it: UTF-8, 80 columns.
    groff -mandoc -ww -z -Tutf8 -rLL=78n "$MAN_DIR/$page" >"$TMP/groff.out" 2>&1
    [ ! -s "$TMP/groff.out" ] || fail "groff -Tutf8 $page: $(head -c 600 "$TMP/groff.out")"
done

# ---------------------------------------------------------------- versions
version=$("$FORWARD_SERVER" --version </dev/null | awk '{ print $NF }')
[ -n "$version" ] || fail "forward-server --version printed no version"
cversion=$("$FORWARD_CLIENT" --version </dev/null | awk '{ print $NF }')
[ "$cversion" = "$version" ] || fail "forward-client --version says $cversion, forward-server $version"
acinit=$(sed -nE 's/^AC_INIT\(\[[^]]*\], *\[([^]]*)\].*/\1/p' "$SRC/configure.ac")
[ "$acinit" = "$version" ] || fail "configure.ac AC_INIT has '$acinit', --version says $version (re-run configure?)"
for page in forward-server.8 forward-client.8 forward_server.cfg.5; do
    os=$(sed -nE 's/^\.Os tcp-forward (.*)$/\1/p' "$MAN_DIR/$page")
    [ "$os" = "$version" ] || fail "$page: '.Os tcp-forward $os', want $version"
    # The version lives in configure.ac only.
    grep -q '^\.Os tcp-forward @PACKAGE_VERSION@$' "$SRC/man/$page.in" ||
        fail "man/$page.in: expected '.Os tcp-forward @PACKAGE_VERSION@'"
done
# debian/changelog: a native package, so its version is the release's.
[ -f "$SRC/debian/changelog" ] || fail "debian/changelog not found"
debver=$(sed -nE '1s/^tcp-forward \(([^)]*)\) .*/\1/p' "$SRC/debian/changelog")
[ "$debver" = "$version" ] ||
    fail "debian/changelog version is '$debver', --version and configure.ac say $version: add a changelog entry"
info "version $version in --version, configure.ac, man pages and debian/changelog"
pass
