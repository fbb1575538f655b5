#!/bin/bash
# The whole test suite: install what is missing, build, run the unit and
# integration tests (make check) and make distcheck, then print one line:
#   tests: N passed, N failed
# Exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

bash tools/deps.sh build test || exit 1
bash tools/build.sh || { echo "tests: 0 passed, 1 failed (build failed)"; exit 1; }

# Integration tests hold hundreds of sockets at once.
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

make -k check >make-check.out 2>&1
check_rc=$?
cat make-check.out | grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):'

passed=0
failed=0
# gtest: count individual test cases from the unit test log.
ulog=tests/unit/unit_tests.log
if [ -f "$ulog" ]; then
  ok=$(grep -c '^\[       OK \]' "$ulog")
  bad=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$ulog")
  passed=$((passed + ok))
  failed=$((failed + bad))
  if grep -q '^:test-result: \(FAIL\|ERROR\)' tests/unit/unit_tests.trs 2>/dev/null && [ "$bad" = 0 ]; then
    echo "unit_tests crashed or failed outside a test case:"; tail -20 "$ulog"
    failed=$((failed + 1))
  fi
else
  echo "no unit test log (gtest missing?)"
  failed=$((failed + 1))
fi
# Integration scripts: one result each. A skip counts as a failure: every
# test's prerequisites are installed above.
for trs in tests/integration/*.trs; do
  [ -f "$trs" ] || continue
  if grep -q '^:test-result: PASS' "$trs"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    log=${trs%.trs}.log
    echo "---- $log (tail) ----"; tail -30 "$log"
    # the reason last, so that a shortened CI excerpt still shows it
    grep -E '^FAIL: |CHECK FAILED' "$log" | tail -5
  fi
done
if [ "$check_rc" != 0 ] && [ "$failed" = 0 ]; then
  echo "make check failed:"; tail -30 make-check.out
  failed=$((failed + 1))
fi

# The release tarball must build and pass its quick tests on its own.
if [ "${SKIP_DISTCHECK:-0}" != 1 ]; then
  if make distcheck TESTS="tests/unit/unit_tests tests/integration/t_configtest.sh" >distcheck.out 2>&1; then
    echo "PASS: make distcheck"
    passed=$((passed + 1))
  else
    echo "FAIL: make distcheck"; tail -40 distcheck.out
    failed=$((failed + 1))
  fi
fi

# ---- fuzz: libFuzzer targets for a bounded time (tools/fuzz.sh), one test
# per target; SKIP_FUZZ=1 skips them, FUZZ_SECONDS sets the total time. ----
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
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
fi
# ---- end fuzz ----

# ---- deb: build the Debian package from a clean copy, lintian, install,
# run the installed daemons, purge (tools/deb-test.sh); one test.
# SKIP_DEB=1 skips it. ----
if [ "${SKIP_DEB:-0}" != 1 ]; then
  if bash tools/deb-test.sh >deb-test.out 2>&1; then
    echo "PASS: deb"
    passed=$((passed + 1))
  else
    grep '^FAIL: deb' deb-test.out || echo "FAIL: deb (tools/deb-test.sh failed)"
    tail -40 deb-test.out
    failed=$((failed + 1))
  fi
fi
# ---- end deb ----

echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
