#!/bin/bash
# Builds the libFuzzer targets in tests/fuzz with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (the library they link is instrumented too), and
# runs each for a bounded time from the seed corpus in tests/fuzz/corpus.
#
#   FUZZ_SECONDS  total run time, split evenly across the targets (default 60)
#   FUZZ_TARGETS  targets to run (default: "frame config access")
#
# Prints one line per target, 'PASS: fuzz NAME' or 'FAIL: fuzz NAME' with
# the input that crashed it, and exits non-zero if any target failed.
# Everything it makes lives in build-fuzz/: tree/ (a copy of the sources,
# configured with --enable-fuzzing), corpus/NAME/ (inputs found so far, kept
# between runs), artifacts/NAME/ (crash inputs of the last run), NAME.log.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
out=$top/build-fuzz
targets=${FUZZ_TARGETS:-frame config access}
total=${FUZZ_SECONDS:-60}

die() { echo "fuzz.sh: $*" >&2; exit 1; }

# --- tools: clang and libFuzzer (Debian 12: libclang-rt-14-dev) ----------------
bash tools/deps.sh build || die "could not install the build dependencies"
missing=""
for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root to install them)"
  echo "fuzz.sh: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null || die "could not install$missing"
fi

# One run at a time: a second one (another check.sh in the same tree) waits.
mkdir -p "$out"
exec 9>"$out/.lock"
if ! flock -w 1800 9; then die "another tools/fuzz.sh has held $out/.lock for 30 minutes"; fi

# --- sources: automake refuses a second build dir next to an in-tree build
# (tools/build.sh configures in place), so build-fuzz/tree is a copy of the
# sources, refreshed file by file so make rebuilds only what changed. ------------
mkdir -p "$out/tree"
if [ -e .git ] && command -v git >/dev/null; then
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue
    if ! cmp -s "$f" "$out/tree/$f"; then
      mkdir -p "$out/tree/$(dirname "$f")"
      cp "$f" "$out/tree/$f"
    fi
  done
else
  [ -f config.status ] && die "not a git checkout and the source tree is configured: run 'make distclean' first"
  tar -cf - --exclude=./build-fuzz . | tar -xf - -C "$out/tree"
fi

# --- build ------------------------------------------------------------------
cd "$out/tree" || die "no $out/tree"
flags="-g -O1 -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
if [ ! -x configure ] || [ ! -f Makefile.in ]; then
  autoreconf -fi >"$out/build.log" 2>&1 || { cat "$out/build.log"; die "autoreconf failed"; }
fi
if [ ! -f config.status ] || [ "$(cat .fuzz-flags 2>/dev/null)" != "$flags" ]; then
  ./configure -q --enable-fuzzing --disable-werror CXX=clang++ CXXFLAGS="$flags" \
    >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; die "configure --enable-fuzzing failed"; }
  echo "$flags" >.fuzz-flags
fi
programs=""
for t in $targets; do programs="$programs tests/fuzz/${t}_fuzz"; done
# shellcheck disable=SC2086
if ! make -j"$(nproc)" $programs >"$out/build.log" 2>&1; then
  grep -E 'error|Error' "$out/build.log" | head -30
  for t in $targets; do echo "FAIL: fuzz $t (build failed: build-fuzz/build.log)"; done
  exit 1
fi

# --- run ----------------------------------------------------------------------
cd "$top" || exit 1
ntargets=$(echo $targets | wc -w)
per=$(( total / ntargets ))
[ "$per" -ge 1 ] || per=1
failed=0
for t in $targets; do
  bin=$out/tree/tests/fuzz/${t}_fuzz
  work=$out/corpus/$t
  art=$out/artifacts/$t
  log=$out/$t.log
  rm -rf "$art"
  mkdir -p "$work" "$art"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  # Time out a wedged run: libFuzzer stops itself after -max_total_time.
  timeout $(( per + 120 )) "$bin" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" \
    "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  crash=$(grep -a 'Test unit written to ' "$log" | sed 's/.*Test unit written to //' | tail -1)
  if [ "$rc" = 0 ] && [ -z "$crash" ]; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
    echo "PASS: fuzz $t ($runs runs in ${per}s, $speed exec/s, $cov)"
  else
    failed=$((failed + 1))
    echo "FAIL: fuzz $t (exit $rc; crash input: ${crash:-none written}; log: build-fuzz/$t.log)"
    grep -aE 'ERROR: |SUMMARY: |runtime error|invariant broken|^    #[0-9] ' "$log" | head -20 | sed 's/^/  /'
    [ -n "$crash" ] && echo "  reproduce: $bin $crash"
  fi
done
[ "$failed" = 0 ]
