#!/usr/bin/env bash
# The README's test command. On a Debian bookworm machine, as root: installs what is missing, builds inplaced
# twice (RelWithDebInfo in build/, AddressSanitizer + UBSan in build-asan/), then runs
#   - the unit and integration suites under the sanitizers, and
#   - every suite (unit, integration, e2e against a private containerd + registries) in the normal build.
# The e2e environment is started and stopped by ctest fixtures (tests/e2e/env/). Ends with ctest's summary.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=${INPLACED_JOBS:-$(nproc)}
# Paths relative to the checkout in ccache's keys, so that another clone (CI's, a fresh machine's) reuses
# the cache instead of rebuilding everything twice.
export CCACHE_BASEDIR=$(pwd) CCACHE_NOHASHDIR=true
bash scripts/install-deps.sh || exit 1

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  mkdir -p "$dir"
  cmake -S . -B "$dir" -G Ninja "$@" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs"
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 1
build build-asan -DCMAKE_BUILD_TYPE=Debug -DINPLACED_SANITIZE=ON -DINPLACED_E2E_AND_BENCH=OFF || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== unit + integration under AddressSanitizer + UBSan =="
ctest --test-dir build-asan -L 'unit|integration' -j "$jobs" --output-on-failure --timeout 300
asan_rc=$?

echo "== unit + integration + e2e =="
ctest --test-dir build -j "$jobs" --output-on-failure --timeout 600
rc=$?

[ $asan_rc -eq 0 ] || { echo "sanitizer suites failed (see above)"; exit $asan_rc; }
exit $rc
