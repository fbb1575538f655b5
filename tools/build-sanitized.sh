#!/bin/bash
# Builds the AddressSanitizer + UBSan variant of tcp-forward (./configure
# --enable-sanitizers) in build-sanitized/, from a copy of this checkout's
# files (the source tree itself is configured in place, which rules out a
# VPATH build). Prints nothing on success.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
dst=$top/build-sanitized
mkdir -p "$dst"
# Refresh the copy: tracked files and new ones git does not ignore (cp -u
# keeps what is unchanged, so make rebuilds only what changed).
mkdir -p "$dst/tree"
git ls-files -co --exclude-standard -z | xargs -0 cp -u --parents -t "$dst/tree"
cd "$dst/tree"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  autoreconf -fi >/dev/null
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
  ./configure -q --enable-sanitizers
fi
make -j"$(nproc)" >/dev/null
