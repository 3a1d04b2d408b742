#!/usr/bin/env bash
# Builds a multi-layer image of random (incompressible) data for the pull-progress e2e test and pushes
# it to a registry: layers of 12, 10 and 8 MiB (gzip), a fresh image on every run, so containerd has
# none of its layers and downloads them all.
#
# Usage: build-progress-image.sh WORKDIR REGISTRY/REPOSITORY:TAG
# Prints "<layer digest> <layer size>" per layer on stdout.
set -euo pipefail

work=${1:?usage: build-progress-image.sh WORKDIR DEST}
dest=${2:?usage: build-progress-image.sh WORKDIR DEST}
layout="$work/layout"
blobs="$layout/blobs/sha256"
rm -rf "$layout"
mkdir -p "$blobs" "$work/rootfs"

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

layers_json="" diff_ids=""
for mib in 12 10 8; do
  rm -rf "$work/rootfs"/*
  head -c "${mib}M" /dev/urandom > "$work/rootfs/data-$mib"
  tar --owner=0 --group=0 --numeric-owner --format=gnu -C "$work/rootfs" -cf "$work/layer.tar" .
  gzip -1 -n -c "$work/layer.tar" > "$work/layer.tar.gz"
  diff_id=$(sha "$work/layer.tar")
  digest=$(sha "$work/layer.tar.gz")
  bytes=$(size "$work/layer.tar.gz")
  mv "$work/layer.tar.gz" "$blobs/$digest"
  layers_json="$layers_json${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$bytes}"
  diff_ids="$diff_ids${diff_ids:+,}\"sha256:$diff_id\""
  echo "sha256:$digest $bytes"
done
rm -f "$work/layer.tar"

printf '{"architecture":"%s","os":"linux","config":{"Cmd":["/data-8"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
  "$arch" "$diff_ids" > "$work/config.json"
config_digest=$(sha "$work/config.json")
config_size=$(size "$work/config.json")
mv "$work/config.json" "$blobs/$config_digest"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$config_digest" "$config_size" "$layers_json" > "$work/manifest.json"
manifest_digest=$(sha "$work/manifest.json")
manifest_size=$(size "$work/manifest.json")
mv "$work/manifest.json" "$blobs/$manifest_digest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"progress"}}]}' \
  "$manifest_digest" "$manifest_size" > "$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$layout:progress" "docker://$dest" >&2
rm -rf "$layout" "$work/rootfs"
