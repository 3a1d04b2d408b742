#!/usr/bin/env bash
# The README's test command. On a Debian bookworm machine, as root: installs what is missing, builds inplaced
# three times (RelWithDebInfo in build/, AddressSanitizer + UBSan in build-asan/, ThreadSanitizer in
# build-tsan/: only the suites labelled `tsan` and the binaries they start), then runs
#   - the unit and integration suites under AddressSanitizer + UBSan,
#   - the `tsan` suites (engines, puller, server, store, common/'s executor, tick loop, watch fan-out and
#     readiness slot, the daemon run by the integration suites) under ThreadSanitizer, and
#   - every suite (unit, integration, e2e against a private containerd + registries) in the normal build.
# The e2e environment is started and stopped by ctest fixtures (tests/e2e/env/). Ends with ctest's summary.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=${INPLACED_JOBS:-$(nproc)}
# Paths relative to the checkout in ccache's keys, so that another clone (CI's, a fresh machine's) reuses
# the cache instead of rebuilding everything twice.
export CCACHE_BASEDIR=$(pwd) CCACHE_NOHASHDIR=true
bash scripts/install-deps.sh || exit 1

configure() {  # configure DIR [cmake args...]
  local dir=$1; shift
  mkdir -p "$dir"
  cmake -S . -B "$dir" -G Ninja "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
}
build() {  # build DIR [cmake args...]: every target
  configure "$@" && cmake --build "$1" -j "$jobs"
}

# CI shows only the end of the output: the failed tests of each stage are listed again right before the
# last line. ctest writes them to LastTestsFailed.log; an earlier run's list is removed first.
run_ctest() {  # run_ctest DIR [ctest args...]
  rm -f "$1/Testing/Temporary/LastTestsFailed.log"
  ctest --test-dir "$@"
}
list_failed() {  # list_failed STAGE DIR
  local failed=$2/Testing/Temporary/LastTestsFailed.log
  [ -s "$failed" ] || return 0
  echo "$1: failed tests:"
  sed 's/^/  /' "$failed"
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 1
build build-asan -DCMAKE_BUILD_TYPE=Debug -DINPLACED_SANITIZER=address -DINPLACED_E2E_AND_BENCH=OFF || exit 1
# Only what `ctest -L tsan` runs: the target inplaced_tsan_suites (tests/CMakeLists.txt).
configure build-tsan -DCMAKE_BUILD_TYPE=Debug -DINPLACED_SANITIZER=thread -DINPLACED_E2E_AND_BENCH=OFF &&
  cmake --build build-tsan -j "$jobs" --target inplaced_tsan_suites || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$(pwd)/tests/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== unit + integration under AddressSanitizer + UBSan =="
run_ctest build-asan -L 'unit|integration' -j "$jobs" --output-on-failure --timeout 300
asan_rc=$?

# Reports go to files, one per process (log_path appends the PID): the daemon and the fake runtime the
# integration suites start report there too, and any report fails the run, whether or not it failed
# its test.
tsan_reports=$(pwd)/build-tsan/tsan-reports
rm -rf "$tsan_reports" && mkdir -p "$tsan_reports"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$(pwd)/tests/tsan.supp:log_path=$tsan_reports/report"

echo "== concurrent suites under ThreadSanitizer =="
run_ctest build-tsan -L tsan -j "$jobs" --output-on-failure --timeout 600
tsan_rc=$?
# A test that failed without any ThreadSanitizer report (its timing under TSan's 5-15x slowdown on a
# loaded machine) runs once more, alone; any report fails the stage whatever the rerun says. The tests
# that needed the rerun are listed again before the last line.
if [ $tsan_rc -ne 0 ] && [ -z "$(ls -A "$tsan_reports")" ]; then
  tsan_retried=$(cat build-tsan/Testing/Temporary/LastTestsFailed.log 2>/dev/null)
  echo "== ThreadSanitizer: rerunning alone the tests that failed without a report =="
  ctest --test-dir build-tsan -L tsan --rerun-failed -j 1 --output-on-failure --timeout 600
  tsan_rc=$?
  # ctest leaves the first run's list when the rerun passes.
  [ $tsan_rc -ne 0 ] || rm -f build-tsan/Testing/Temporary/LastTestsFailed.log
fi
if [ -n "$(ls -A "$tsan_reports")" ]; then
  for report in "$tsan_reports"/*; do echo "-- $report"; cat "$report"; done
  echo "ThreadSanitizer reported (see above)"
  tsan_summary=$(grep -h -A4 '^WARNING: ThreadSanitizer' "$tsan_reports"/* | head -40)
  [ $tsan_rc -ne 0 ] || tsan_rc=1
fi

echo "== unit + integration + e2e =="
run_ctest build -j "$jobs" --output-on-failure --timeout 600 | tee build/ctest-output.log
rc=${PIPESTATUS[0]}

failures=$(
  list_failed "AddressSanitizer + UBSan" build-asan
  list_failed "ThreadSanitizer" build-tsan
  [ -z "${tsan_retried:-}" ] || { echo "ThreadSanitizer: failed at first, without a report, then rerun alone:"; echo "$tsan_retried" | sed 's/^/  /'; }
  [ -z "${tsan_summary:-}" ] || { echo "ThreadSanitizer reports (first frames):"; echo "$tsan_summary"; }
  list_failed "unit + integration + e2e" build
)
if [ -n "$failures" ]; then
  echo "$failures"
  # ctest's summary line stays the last line of a run that passed.
  grep -E '^[0-9]+% tests passed' build/ctest-output.log | tail -1
fi
[ $asan_rc -eq 0 ] || { echo "sanitizer suites failed (see above)"; exit $asan_rc; }
[ $tsan_rc -eq 0 ] || { echo "ThreadSanitizer suites failed (see above)"; exit $tsan_rc; }
exit $rc
