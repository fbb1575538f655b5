#!/bin/bash
# The whole test suite: install what is missing, build, run the unit and
# integration tests (make check), then all of them again against an
# ASan+UBSan build, make distcheck, the fuzz targets and the package test,
# printing each phase's time, then one line:
#   tests: N passed, N failed
# Exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
check_start=$(date +%s)

echo "== phase: install what is missing, build"
bash tools/deps.sh build test || exit 1
bash tools/build.sh || { echo "tests: 0 passed, 1 failed (build failed)"; exit 1; }

# Integration tests hold hundreds of sockets at once.
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

# count_results DIR LABEL: adds DIR's results of this run to passed/failed,
# test by test as Makefile.am lists them (make print-tests): a listed test
# without a result failed to build or to run; results of removed tests are
# never counted. LABEL prefixes every line ("" or "sanitized ").
count_results() {
  local dir=$1 label=$2 t trs log ulog ok bad
  for t in $(make -s -C "$dir" print-tests); do
    trs=$dir/$t.trs
    log=$dir/$t.log
    if [ "$t" = tests/unit/unit_tests ]; then
      # gtest: count individual test cases from the unit test log.
      ulog=$log
      if [ ! -f "$ulog" ] || [ ! -f "$trs" ]; then
        echo "FAIL: ${label}unit_tests: no result (did not build or run)"
        failed=$((failed + 1))
        continue
      fi
      ok=$(grep -c '^\[       OK \]' "$ulog")
      bad=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$ulog")
      passed=$((passed + ok))
      failed=$((failed + bad))
      if grep -q '^:test-result: \(FAIL\|ERROR\)' "$trs" && [ "$bad" = 0 ]; then
        echo "${label}unit_tests crashed or failed outside a test case:"; tail -40 "$ulog"
        failed=$((failed + 1))
      fi
      continue
    fi
    # A skip counts as a failure: every test's prerequisites are installed above.
    if [ -f "$trs" ] && grep -q '^:test-result: PASS' "$trs"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "FAIL: ${label}$t"
      if [ -f "$log" ]; then
        echo "---- ${label}$log (tail) ----"; tail -30 "$log"
        # the reason last, so that a shortened CI excerpt still shows it
        grep -E '^FAIL: |CHECK FAILED|sanitizer report' "$log" | tail -5
      else
        echo "(no result: it did not run)"
      fi
    fi
  done
}

# phase NAME: prints how long the previous phase took.
phase_start=$check_start
phase() {
  local now
  now=$(date +%s)
  echo "time: $1 $((now - phase_start)) s"
  phase_start=$now
}
phase "deps and build"

passed=0
failed=0
# Stale results would be counted as this run's: remove them first.
rm -f tests/unit/*.trs tests/unit/*.log tests/integration/*.trs tests/integration/*.log
# Each test's result is shown as it finishes (the whole output is kept in
# make-check.out), so a long run never looks hung.
echo "== phase: make check (the unit tests, then $(make -s print-tests | wc -w) tests in all; each result as it finishes)"
make -k check 2>&1 | tee make-check.out | grep --line-buffered -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):'
check_rc=${PIPESTATUS[0]}
failed_before=$failed
count_results "$top" ""
if [ "$check_rc" != 0 ] && [ "$failed" = "$failed_before" ]; then
  echo "make check failed:"; tail -30 make-check.out
  failed=$((failed + 1))
fi
phase "make check"

# ---- sanitized: the unit tests and every integration test again, against
# daemons built with AddressSanitizer and UBSan (tools/build-sanitized.sh);
# any report, a leak at a clean exit included, fails its test.
# SKIP_SANITIZED=1 skips this pass (shown as skipped). ----
skipped=""
if [ "${SKIP_SANITIZED:-0}" != 1 ]; then
  echo "== phase: sanitized build (ASan + UBSan), then make check against it"
  if bash tools/build-sanitized.sh >build-sanitized.out 2>&1; then
    sdir=$top/build-sanitized/tree
    rm -rf "$top/build-sanitized/reports"
    rm -f "$sdir"/tests/unit/*.trs "$sdir"/tests/unit/*.log "$sdir"/tests/integration/*.trs "$sdir"/tests/integration/*.log
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      TCPF_SANITIZER_LOGS=$top/build-sanitized/reports \
      make -C "$sdir" -k check 2>&1 | tee make-check-sanitized.out |
      grep --line-buffered -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' | sed -u 's/^\([A-Z]*\): /\1: sanitized /'
    count_results "$sdir" "sanitized "
  else
    echo "FAIL: sanitized build"; tail -30 build-sanitized.out
    failed=$((failed + 1))
  fi
  phase "sanitized build and check"
else
  skipped="$skipped sanitized"
fi

# The release tarball must build and pass its quick tests on its own.
if [ "${SKIP_DISTCHECK:-0}" = 1 ]; then
  skipped="$skipped distcheck"
else
  echo "== phase: make distcheck (the release tarball builds and passes its quick tests)"
  if make distcheck TESTS="tests/unit/unit_tests tests/integration/t_configtest.sh" >distcheck.out 2>&1; then
    echo "PASS: make distcheck"
    passed=$((passed + 1))
  else
    echo "FAIL: make distcheck"; tail -40 distcheck.out
    failed=$((failed + 1))
  fi
  # ... and hold everything README and the docs point to.
  tarball=$(ls -t tcp-forward-*.tar.gz 2>/dev/null | head -n 1)
  if [ -n "$tarball" ] && bash tools/dist-contents.sh "$tarball" >dist-contents.out 2>&1; then
    echo "PASS: dist contents ($(tail -n 1 dist-contents.out | sed 's/^dist-contents: //'))"
    passed=$((passed + 1))
  else
    echo "FAIL: dist contents"; cat dist-contents.out 2>/dev/null || echo "(no tarball)"
    failed=$((failed + 1))
  fi
  phase "distcheck"
fi

# ---- fuzz: libFuzzer targets for a bounded time (tools/fuzz.sh), one test
# per target; SKIP_FUZZ=1 skips them, FUZZ_SECONDS sets the total time. ----
if [ "${SKIP_FUZZ:-0}" = 1 ]; then
  skipped="$skipped fuzz"
else
  echo "== phase: fuzz (libFuzzer targets, bounded time)"
  bash tools/fuzz.sh >fuzz.out 2>&1
  fuzz_rc=$?
  grep -E '^(PASS|FAIL): fuzz ' fuzz.out
  fuzz_pass=$(grep -c '^PASS: fuzz ' fuzz.out)
  fuzz_fail=$(grep -c '^FAIL: fuzz ' fuzz.out)
  passed=$((passed + fuzz_pass))
  failed=$((failed + fuzz_fail))
  if [ "$fuzz_fail" != 0 ]; then
    grep -A 22 '^FAIL: fuzz ' fuzz.out | grep -v '^FAIL: fuzz '
  elif [ "$fuzz_rc" != 0 ] || [ "$fuzz_pass" = 0 ]; then
    echo "FAIL: fuzz (tools/fuzz.sh exited $fuzz_rc)"; tail -30 fuzz.out
    failed=$((failed + 1))
  fi
  phase "fuzz"
fi
# ---- end fuzz ----

# ---- deb: build the Debian package from a clean copy, lintian, install,
# run the installed daemons, purge (tools/deb-test.sh); one test.
# SKIP_DEB=1 skips it. ----
if [ "${SKIP_DEB:-0}" = 1 ]; then
  skipped="$skipped deb"
else
  echo "== phase: package (dpkg-buildpackage, lintian, install, run, purge)"
  if bash tools/deb-test.sh >deb-test.out 2>&1; then
    echo "PASS: deb"
    passed=$((passed + 1))
  else
    grep '^FAIL: deb' deb-test.out || echo "FAIL: deb (tools/deb-test.sh failed)"
    tail -40 deb-test.out
    failed=$((failed + 1))
  fi
  phase "deb"
fi
# ---- end deb ----

echo "time: total $(($(date +%s) - check_start)) s"
[ -z "$skipped" ] || echo "SKIPPED (by SKIP_* settings):$skipped"
n_skipped=$(wc -w <<<"$skipped")
if [ "$n_skipped" != 0 ]; then
  echo "tests: $passed passed, $failed failed, $n_skipped skipped"
else
  echo "tests: $passed passed, $failed failed"
fi
[ "$failed" = 0 ]
