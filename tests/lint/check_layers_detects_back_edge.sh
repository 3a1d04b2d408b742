#!/usr/bin/env bash
# scripts/check-layers.sh must fail on a back-edge (imagepull/ including daemon/) and on a folder it
# has no rule for, and pass on a tree that keeps the layers: a check that cannot fail checks nothing.
set -uo pipefail
checker=$1
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/imagepull" "$tree/daemon/recreate"
printf '#pragma once\n' >"$tree/daemon/recreate/engine.h"
printf '#include "absl/status/status.h"\n#include "imagepull/puller.h"\n' >"$tree/imagepull/puller.h"
bash "$checker" "$tree" || { echo "FAIL: a layered tree was refused"; exit 1; }
printf '#include "daemon/recreate/engine.h"\n' >>"$tree/imagepull/puller.h"
out=$(bash "$checker" "$tree") && { echo "FAIL: imagepull -> daemon was accepted"; exit 1; }
grep -q 'imagepull/puller.h:3 includes "daemon/recreate/engine.h"' <<<"$out" ||
  { echo "FAIL: the violation is not named: $out"; exit 1; }
sed -i '$d' "$tree/imagepull/puller.h"
mkdir -p "$tree/imagepull/cache" && printf "\n" >"$tree/imagepull/cache/x.cc"
bash "$checker" "$tree"; [ $? -eq 2 ] || { echo "FAIL: a folder without a rule was accepted"; exit 1; }
echo "PASS"
