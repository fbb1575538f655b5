#!/bin/bash
# Configures (once) and builds tcp-forward in the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
  autoreconf -fi >/dev/null
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
  ./configure -q
fi
make -j"$(nproc)" >/dev/null
