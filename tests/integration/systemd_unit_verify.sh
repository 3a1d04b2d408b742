#!/usr/bin/env bash
# `systemd-analyze verify` on systemd/inplaced.service, with ExecStart's /usr/local/bin/inplaced
# replaced by the built binary (verify checks that it is executable). Any output fails too: verify
# only warns (exit 0) about unknown keys and bad values. Works without systemd as PID 1.
# Usage: systemd_unit_verify.sh UNIT_FILE INPLACED_BINARY
set -euo pipefail

unit=$1
binary=$2
installed=/usr/local/bin/inplaced

grep -q "^ExecStart=$installed " "$unit" || { echo "FAIL: ExecStart does not run $installed"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#$installed#$binary#" "$unit" >"$dir/inplaced.service"
if ! output=$(systemd-analyze verify "$dir/inplaced.service" 2>&1); then
  echo "FAIL: systemd-analyze verify:"
  echo "$output"
  exit 1
fi
if [ -n "$output" ]; then
  echo "FAIL: systemd-analyze verify warned:"
  echo "$output"
  exit 1
fi
echo "PASS: systemd-analyze verify $unit"
