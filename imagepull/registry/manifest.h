#pragma once

// Registry manifests (JSON): an OCI image index or Docker manifest list is narrowed to the node's
// platform; an OCI image manifest or Docker v2 schema 2 manifest gives the config and layer
// descriptors and the image's total compressed size, for the disk-space precheck.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::imagepull {

inline constexpr absl::string_view kMediaTypeOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr absl::string_view kMediaTypeDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr absl::string_view kMediaTypeOciManifest =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr absl::string_view kMediaTypeDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr absl::string_view kMediaTypeDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr absl::string_view kMediaTypeDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

// The Accept header value for GET /v2/<name>/manifests/<ref>: the four supported media types.
std::string ManifestAcceptHeader();

// An OCI platform. Use NormalizePlatform before comparing platforms.
struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;

  // "linux/arm64/v8", or "linux/amd64" without a variant.
  std::string ToString() const;
  friend bool operator==(const Platform& a, const Platform& b) {
    return a.os == b.os && a.architecture == b.architecture && a.variant == b.variant;
  }
};

// Lowercases and maps aliases as containerd does: x86_64/x86-64 -> amd64, aarch64 -> arm64,
// i386/i686 -> 386, armhf -> arm/v7, armel -> arm/v6; variants "7" -> "v7"; arm defaults to v7,
// arm64 to v8; an empty OS means linux.
Platform NormalizePlatform(Platform platform);

// The platform of a machine named like uname(2)'s `machine` field, on linux: x86_64 -> linux/amd64,
// aarch64 -> linux/arm64/v8, armv7l -> linux/arm/v7, armv6l -> linux/arm/v6. Unknown names pass
// through as the architecture.
Platform PlatformFromMachine(absl::string_view machine);

// This node's platform, from uname(2). Thread-safe.
Platform NodePlatform();

// A content descriptor: what a manifest says about a blob or another manifest.
struct Descriptor {
  std::string media_type;            // may be empty when the manifest omits it
  std::string digest;                // validated "sha256:<hex>" (or sha384/sha512)
  int64_t size = 0;                  // bytes, >= 0
  std::optional<Platform> platform;  // index entries only; normalised
};

// An OCI image index or Docker manifest list.
struct ManifestIndex {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

// An OCI image manifest or Docker v2 schema 2 manifest.
struct ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  // config.size + the layer sizes: the bytes a pull downloads (compressed; unpacking needs more).
  int64_t total_size = 0;
};

// A parsed manifest: exactly one of `index` and `image` is set.
struct Manifest {
  std::string media_type;
  std::optional<ManifestIndex> index;
  std::optional<ImageManifest> image;

  bool is_index() const { return index.has_value(); }
};

// Parses a manifest body. The media type is the body's "mediaType" when present, else
// `content_type` (the response's Content-Type, parameters ignored) when it is a manifest type,
// else inferred from the members ("manifests" -> OCI index, "config"/"layers" -> OCI manifest).
//
// Errors:
//   UNIMPLEMENTED: Docker schema 1 (by media type or "schemaVersion": 1); any other media type
//     (OCI artifacts, Helm charts, ...), named in the message.
//   INVALID_ARGUMENT: not JSON or not an object; schemaVersion other than 2; a missing or malformed
//     member (descriptor without a valid digest, negative or non-integer size, ...), named by its
//     JSON path ("layers[2].digest"); a total size that overflows int64.
absl::StatusOr<Manifest> ParseManifest(absl::string_view body, absl::string_view content_type = "");

// Picks the descriptor for `platform` from an index, as containerd's default platform matcher:
// same OS and architecture; the exact variant is preferred, then older compatible variants
// (arm/v7 runs v6 and v5, arm64/v8 runs an arm64 entry without a variant); entries without a
// platform are skipped; ties go to the first entry. NOT_FOUND naming the wanted platform and the
// available ones when nothing fits.
absl::StatusOr<Descriptor> SelectPlatform(const ManifestIndex& index, const Platform& platform);

}  // namespace inplaced::imagepull
