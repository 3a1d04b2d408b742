#!/usr/bin/env bash
# Installs every build, test and e2e dependency of inplaced from Debian bookworm (and buf from npm).
# Idempotent: when everything is present it only checks and returns (well under a second).
# Usage: scripts/install-deps.sh            (as root)
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
tools_dir=${INPLACED_TOOLS_DIR:-$repo_root/.tools}

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache git ca-certificates clang libclang-rt-14-dev clang-format
  # libraries
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libcurl4-openssl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  libsystemd-dev libsqlite3-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev libssl-dev
  # metrics: prometheus-cpp (registry, text format) and civetweb (the probe/metrics HTTP port)
  prometheus-cpp-dev libcivetweb-dev
  # e2e: real runtime, images, registries
  containerd runc busybox-static umoci skopeo docker-registry apache2-utils curl procps util-linux
  mount gcc libc6-dev coreutils gzip tar
  # the container image (scripts/build-image.sh): buildah, an mmdebstrap base, objcopy
  buildah mmdebstrap binutils
  # systemd: `systemd-analyze verify` of systemd/inplaced.service (needs no systemd as PID 1)
  systemd
  # the TCP listener's tests: certificates made with the openssl CLI; a Python agent (stubs from
  # Debian's protoc + grpc_python_plugin of protobuf-compiler-grpc, run by Debian's python3)
  openssl python3 python3-grpcio python3-protobuf
)
# buf (the grpcurl stand-in) comes from npm; a machine that already has node and npm (not from Debian)
# keeps them, since Debian's npm conflicts with other nodejs builds.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # npm needs a current CA bundle to reach its registry.
  update-ca-certificates >/dev/null 2>&1 || true
fi

buf="$tools_dir/node_modules/.bin/buf"
if [ ! -x "$buf" ]; then
  echo "install-deps: installing @bufbuild/buf into $tools_dir"
  mkdir -p "$tools_dir"
  (cd "$tools_dir" && { [ -f package.json ] || echo '{"name":"inplaced-tools","private":true}' > package.json; } &&
    npm install --no-audit --no-fund --loglevel=error @bufbuild/buf@1 >/dev/null)
fi
"$buf" --version >/dev/null
echo "install-deps: all dependencies present"
