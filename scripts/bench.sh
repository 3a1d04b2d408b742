#!/usr/bin/env bash
# The README's benchmark command. On a Debian bookworm machine, as root: installs what is missing (like
# scripts/test.sh), builds the daemon, the fake CRI server and the bench driver in build/ (RelWithDebInfo,
# reusing what scripts/test.sh built), then runs tests/bench/daemon_bench: the real inplaced binary against
# fake_cri_server processes, ending with a table "metric | measured | target | met?" of values measured in
# this run. Takes about 4-5 minutes. Never a ctest test: on a shared machine timings are readings.
#   INPLACED_JOBS=N           build parallelism (default: nproc)
#   INPLACED_BENCH_WINDOW_S=S measurement window of the calls/CPU rows (default 10)
#   INPLACED_BENCH_KEEP=1     keep the run's temp dir (daemon and fake server logs, call logs)
#   INPLACED_BENCH_ONLY=dispatch|node  only part a. (dispatch) or parts b.-d. (calls, CPU, RSS, streams)
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=${INPLACED_JOBS:-$(nproc)}
export CCACHE_BASEDIR=$(pwd) CCACHE_NOHASHDIR=true
bash scripts/install-deps.sh || exit 1

mkdir -p build
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >build/configure.log 2>&1 ||
    { cat build/configure.log; exit 1; }
fi
cmake --build build -j "$jobs" --target inplaced fake_cri_server daemon_bench || exit 1

echo "== daemon_bench: inplaced against fake_cri_server ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) =="
exec build/tests/bench/daemon_bench
