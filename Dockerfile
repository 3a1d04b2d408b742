# inplaced's container image: the daemon (`inplaced`) and its CLI (`inplacectl`) on a slim Debian bookworm.
#
# Full multi-stage build (compiles inplaced in the `build` stage; ccache kept in a build cache mount):
#   docker build -t inplaced:0.1.0 .             # or: podman build -t inplaced:0.1.0 .
#   buildah bud --isolation chroot --storage-driver vfs -t inplaced:0.1.0 .
# From binaries already built on a bookworm machine (what the e2e does: no second compile on CI's 2 cores):
#   scripts/build-image.sh --prebuilt build      (stages the binaries, builds --target runtime-prebuilt)
# BASE is the Debian bookworm image both stages start from; the e2e passes a local one made by mmdebstrap.
ARG BASE=debian:bookworm

# The runtime libraries of both binaries, nothing else (no compiler, no shell tools beyond bookworm's base).
FROM ${BASE} AS runtime-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libabsl20220623 libcurl4 libfmt9 libgrpc++1.51 libgrpc29 libprotobuf32 \
      libspdlog1.10 libsqlite3-0 libssl3 libsystemd0 libyaml-cpp0.7 libprometheus-cpp-core1.0 \
      libcivetweb1 \
 && rm -rf /var/lib/apt/lists/*
# The daemon runs as root: containerd's CRI socket is root:root 0660 and the daemon stops containers.
# A controller's sidecar reaches the control socket as non-root through `socket_group` (README).
ENTRYPOINT ["/usr/local/bin/inplaced"]
CMD ["--config", "/etc/inplaced/config.yaml"]

# Binaries built outside the image: the build context holds bin/inplaced and bin/inplacectl.
FROM runtime-base AS runtime-prebuilt
COPY bin/inplaced bin/inplacectl /usr/local/bin/
COPY deploy/config.yaml /etc/inplaced/config.yaml

FROM ${BASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ccache binutils \
      libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev \
      libcurl4-openssl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libsystemd-dev libsqlite3-dev \
      libcli11-dev nlohmann-json3-dev libssl-dev prometheus-cpp-dev libcivetweb-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINPLACED_BUILD_TESTS=OFF \
 && cmake --build /build --target inplaced inplacectl \
 && mkdir -p /out/bin \
 && objcopy --strip-debug /build/daemon/inplaced /out/bin/inplaced \
 && objcopy --strip-debug /build/cli/inplacectl /out/bin/inplacectl

# The default target: the runtime stage with the binaries of the build stage.
FROM runtime-base AS runtime
COPY --from=build /out/bin/ /usr/local/bin/
COPY deploy/config.yaml /etc/inplaced/config.yaml
