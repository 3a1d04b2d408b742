#!/usr/bin/env bash
# Builds inplaced's container image with Debian's buildah (as root: chroot isolation, vfs storage), from a
# Debian bookworm base that mmdebstrap makes from this machine's apt sources (no registry needed).
#   scripts/build-image.sh [--prebuilt BUILD_DIR] [--tag TAG] [--out ARCHIVE] [--work DIR]
#     --prebuilt BUILD_DIR  package the binaries of BUILD_DIR (Dockerfile target runtime-prebuilt);
#                           without it, the full multi-stage build compiles inplaced in the image
#     --tag TAG             image name (default ghcr.io/inplaced/inplaced:0.1.0, the DaemonSet's)
#     --out ARCHIVE         also write the image as an OCI archive (for `ctr -n k8s.io images import`)
#     --work DIR            where the base tarball, staged context and buildah storage live
#                           (default /var/tmp/inplaced-image; the base is made once and reused)
# With docker or podman instead: `docker build -t TAG .` (the Dockerfile's default target).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
prebuilt="" tag="ghcr.io/inplaced/inplaced:0.1.0" out="" work=/var/tmp/inplaced-image
while [ $# -gt 0 ]; do
  case $1 in
    --prebuilt) prebuilt=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { echo "build-image: $*" >&2; }
mkdir -p "$work"
# One build at a time per work directory (the base is made once; buildah's storage is shared).
exec 9>"$work/lock"
flock 9
# Private storage so that the build neither needs nor touches the machine's container setup.
bah=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)

# The base: Debian bookworm minbase from this machine's apt sources, as the local image the Dockerfile's
# BASE names. mmdebstrap needs no daemon and no registry.
base=localhost/inplaced-base:bookworm
if ! "${bah[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  log "making the bookworm base with mmdebstrap"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$work/base.tar" \
    >"$work/mmdebstrap.log" 2>&1 || { cat "$work/mmdebstrap.log" >&2; exit 1; }
  ctr=$("${bah[@]}" from scratch)
  "${bah[@]}" add "$ctr" "$work/base.tar" / >/dev/null
  "${bah[@]}" commit --quiet "$ctr" "$base" >/dev/null
  "${bah[@]}" rm "$ctr" >/dev/null
  rm -f "$work/base.tar"
fi

build_args=(--isolation chroot --layers --build-arg "BASE=$base" -t "$tag" -f "$repo/Dockerfile")
if [ -n "$prebuilt" ]; then
  # A context of just what the runtime-prebuilt stage copies: the binaries without debug info.
  ctx=$(mktemp -d "$work/context.XXXXXX")
  trap 'rm -rf "$ctx"' EXIT
  mkdir -p "$ctx/bin" "$ctx/deploy"
  objcopy --strip-debug "$prebuilt/daemon/inplaced" "$ctx/bin/inplaced"
  objcopy --strip-debug "$prebuilt/cli/inplacectl" "$ctx/bin/inplacectl"
  cp "$repo/deploy/config.yaml" "$ctx/deploy/"
  log "building $tag (target runtime-prebuilt, binaries of $prebuilt)"
  "${bah[@]}" bud "${build_args[@]}" --target runtime-prebuilt "$ctx" >"$work/bud.log" 2>&1 ||
    { cat "$work/bud.log" >&2; exit 1; }
else
  log "building $tag (full multi-stage build)"
  "${bah[@]}" bud "${build_args[@]}" "$repo"
fi

if [ -n "$out" ]; then
  rm -f "$out"
  mkdir -p "$(dirname "$out")"
  "${bah[@]}" push --quiet "$tag" "oci-archive:$out:$tag" >/dev/null
  log "wrote $out"
fi
log "built $tag"
