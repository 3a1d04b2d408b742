#!/usr/bin/env bash
# Every tracked C++ file (.h, .cc) against .clang-format (Google, 100 columns). Prints the files that
# differ and exits 1; `scripts/check-format.sh --fix` rewrites them instead.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed"; exit 2; }
mapfile -t files < <(git ls-files '*.h' '*.cc' 2>/dev/null || find . -name '*.h' -o -name '*.cc')
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
echo "check-format: ${#files[@]} files, ${#bad[@]} not formatted"
[ ${#bad[@]} -eq 0 ] && exit 0
printf '  %s\n' "${bad[@]}"
echo "check-format: run scripts/check-format.sh --fix"
exit 1
