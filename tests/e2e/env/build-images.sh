#!/usr/bin/env bash
# Builds the e2e test images as OCI image layouts, by hand and reproducibly (same inputs → same digests):
#   busybox-1  localhost/busybox:1   /bin/busybox from Debian's busybox-static + a symlink per applet,
#                                    /etc/passwd, /etc/group, /etc/version = "1", Cmd ["sh"]
#   busybox-2  localhost/busybox:2   the same with /etc/version = "2" (a different image for pull tests)
#   busybox-3  localhost/busybox:3   the same with /etc/version = "3" (another one, for the auth registry)
#   pause-1    localhost/pause:1     tests/e2e/env/pause.c built with `gcc -static`, Cmd ["/pause"]
# For each NAME it leaves OUTDIR/NAME/ (an OCI layout whose tag is the image's tag, for skopeo `oci:DIR:TAG`)
# and OUTDIR/NAME.tar (the same layout as a tar, for `ctr images import`; index.json names the image).
# Skips the work when OUTDIR/stamp matches the inputs (busybox, pause.c, this script).
#
# Usage: build-images.sh OUTDIR
set -euo pipefail

out=${1:?usage: build-images.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
busybox_bin=${INPLACED_E2E_BUSYBOX_BIN:-/bin/busybox}

[ -x "$busybox_bin" ] || { echo "build-images: $busybox_bin missing (apt-get install busybox-static)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "build-images: gcc missing" >&2; exit 1; }

stamp=$( (sha256sum "$busybox_bin" "$here/pause.c" "$0" | cut -d' ' -f1; gcc -dumpfullversion) | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
  exit 0
fi
rm -rf "$out"
mkdir -p "$out"
work="$out/work"
mkdir -p "$work"

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# make_layout NAME IMAGE_NAME TAG ROOTFS CMD_JSON: writes OUTDIR/NAME/ and OUTDIR/NAME.tar.
make_layout() {
  local name=$1 image=$2 tag=$3 rootfs=$4 cmd=$5
  local layout="$out/$name" blobs="$out/$name/blobs/sha256"
  mkdir -p "$blobs"
  # Reproducible layer: sorted names, fixed times and owners, no PAX headers with atimes.
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$rootfs" -cf "$work/$name-layer.tar" .
  gzip -n -9 -c "$work/$name-layer.tar" > "$work/$name-layer.tar.gz"
  local diff_id layer_digest layer_size
  diff_id=$(sha "$work/$name-layer.tar")
  layer_digest=$(sha "$work/$name-layer.tar.gz")
  layer_size=$(size "$work/$name-layer.tar.gz")
  mv "$work/$name-layer.tar.gz" "$blobs/$layer_digest"

  printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"inplaced tests/e2e/env/build-images.sh"}]}' \
    "$arch" "$cmd" "$diff_id" > "$work/$name-config.json"
  local config_digest config_size
  config_digest=$(sha "$work/$name-config.json")
  config_size=$(size "$work/$name-config.json")
  mv "$work/$name-config.json" "$blobs/$config_digest"

  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" > "$work/$name-manifest.json"
  local manifest_digest manifest_size
  manifest_digest=$(sha "$work/$name-manifest.json")
  manifest_size=$(size "$work/$name-manifest.json")
  mv "$work/$name-manifest.json" "$blobs/$manifest_digest"

  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$image" "$tag" > "$layout/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
    -C "$layout" -cf "$out/$name.tar" .
  echo "$image sha256:$manifest_digest" >> "$out/digests"
}

# busybox_rootfs DIR VERSION
busybox_rootfs() {
  local root=$1 version=$2
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev" \
    "$root/usr/bin" "$root/usr/sbin" "$root/sbin" "$root/var/log"
  install -m 0755 "$busybox_bin" "$root/bin/busybox"
  local applet
  while read -r applet; do
    applet=${applet#/}
    case "$applet" in
      ""|bin/busybox) continue ;;
      */*) [ -d "$root/${applet%/*}" ] || mkdir -p "$root/${applet%/*}" ;;
    esac
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done < <("$busybox_bin" --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  printf '%s\n' "$version" > "$root/etc/version"
  chmod 0755 "$root" "$root/bin" "$root/etc" "$root/root" "$root/proc" "$root/sys" "$root/dev" \
    "$root/usr" "$root/usr/bin" "$root/usr/sbin" "$root/sbin" "$root/var" "$root/var/log"
  chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/version"
  chmod 1777 "$root/tmp"
}

: > "$out/digests"
for v in 1 2 3; do
  busybox_rootfs "$work/busybox-$v-rootfs" "$v"
  make_layout "busybox-$v" "localhost/busybox:$v" "$v" "$work/busybox-$v-rootfs" '["sh"]'
done

mkdir -p "$work/pause-rootfs"
gcc -static -O2 -Wall -Wextra -Werror -o "$work/pause-rootfs/pause" "$here/pause.c"
strip "$work/pause-rootfs/pause" 2>/dev/null || true
chmod 0755 "$work/pause-rootfs" "$work/pause-rootfs/pause"
make_layout pause-1 localhost/pause:1 1 "$work/pause-rootfs" '["/pause"]'

rm -rf "$work"
echo "$stamp" > "$out/stamp"
