#!/usr/bin/env bash
# The include graph against the allowed layer edges (ARCHITECTURE.md): every #include "..." of a
# production file (api/ cli/ common/ cri/ daemon/ imagepull/ metrics/ store/ systemd/) must name a
# folder its own folder may reach. Layers, lowest first: common <- api <- cri <- store <-
# imagepull/registry <- imagepull <- daemon/prestop <- daemon/recreate <- daemon/server <- daemon;
# metrics and systemd reach only common, the daemon reaches them; cli reaches api, cri and common
# (never daemon/). tests/ may include anything.
#   scripts/check-layers.sh [ROOT]    exit 0: no violation; 1: violations listed; 2: a folder has no rule
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

declare -A allowed=(
  [common]="common"
  [cri]="common api/cri api/containerd/services/content/v1 cri"
  [store]="common store"
  [imagepull/registry]="common imagepull/registry"
  [imagepull]="common api/cri api/inplaced/v1 api/inplaced/internal cri store imagepull/registry imagepull"
  [systemd]="common systemd"
  [metrics]="common metrics"
  [daemon/prestop]="common api/inplaced/v1 cri daemon/prestop"
  [daemon/recreate]="common api/inplaced/v1 api/inplaced/internal cri store daemon/prestop daemon/recreate"
  [daemon/server]="common api/grpc/health/v1 api/inplaced/v1 cri store imagepull imagepull/registry daemon/recreate daemon/server"
  [daemon]="common api/grpc/health/v1 api/inplaced/v1 api/inplaced/internal cri store imagepull imagepull/registry systemd metrics daemon/prestop daemon/recreate daemon/server daemon"
  [cli]="common api/cri api/inplaced/v1 api/grpc/health/v1 cri imagepull/registry cli"
)
project_dirs="api cli common cri daemon imagepull metrics store systemd tests"

files=0 includes=0 violations=0
while IFS= read -r file; do
  room=$(dirname "$file")
  if [ -z "${allowed[$room]+x}" ]; then
    echo "check-layers: $file: folder '$room' has no rule in scripts/check-layers.sh (add its allowed edges)"
    exit 2
  fi
  files=$((files + 1))
  while IFS=: read -r line target; do
    top=${target%%/*}
    case " $project_dirs " in *" $top "*) ;; *) continue ;; esac  # a third-party header
    includes=$((includes + 1))
    target_room=$(dirname "$target")
    case " ${allowed[$room]} " in
      *" $target_room "*) ;;
      *) echo "check-layers: $file:$line includes \"$target\": $room may reach only ${allowed[$room]}"
         violations=$((violations + 1)) ;;
    esac
  done < <(grep -n '^#include "' "$file" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1:\2/')
done < <(find api cli common cri daemon imagepull metrics store systemd -type f \( -name '*.h' -o -name '*.cc' \) 2>/dev/null | sort)

echo "check-layers: $files files, $includes project includes, $violations violations"
[ "$violations" -eq 0 ]
