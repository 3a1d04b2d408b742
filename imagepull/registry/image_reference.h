#pragma once

// Image references ("busybox", "reg.example.com:5000/team/app:1.2@sha256:...") parsed and
// normalised the way the Docker/containerd reference grammar does, so that the puller, the keyring
// and the registry client all agree on one name for an image.

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::imagepull {

// Docker Hub's canonical registry name, the default when a reference names no registry.
inline constexpr absl::string_view kDockerHubDomain = "docker.io";
// The host that actually serves Docker Hub's registry API (/v2/).
inline constexpr absl::string_view kDockerHubApiHost = "registry-1.docker.io";
// The tag used when a reference names neither a tag nor a digest.
inline constexpr absl::string_view kDefaultTag = "latest";
// Longest accepted repository name (domain + "/" + path), as in the distribution grammar.
inline constexpr size_t kMaxNameLength = 255;
// Longest accepted tag.
inline constexpr size_t kMaxTagLength = 128;

// True for the names of Docker Hub: "docker.io", "index.docker.io", "registry-1.docker.io"
// (case-insensitive).
bool IsDockerHubAlias(absl::string_view host);

// A parsed, normalised image reference. Immutable value type; copyable; thread-compatible.
//
// Normalisation (the reference grammar of docker/distribution, as containerd and kubelet use it):
//   - The first path component is the registry host when it contains '.' or ':', is "localhost",
//     or contains an uppercase letter; otherwise the registry is docker.io.
//   - "index.docker.io" and "registry-1.docker.io" become "docker.io".
//   - On docker.io a single-component repository gets the "library/" prefix.
//   - With neither tag nor digest the tag is "latest". With a digest and no tag, there is no tag.
//
// Examples:
//   "busybox"                       -> domain docker.io, path library/busybox, tag latest
//   "localhost:5000/a/b@sha256:<h>" -> domain localhost:5000, path a/b, no tag, digest sha256:<h>
class ImageReference {
 public:
  // Parses `text`. Errors are INVALID_ARGUMENT with the reason and the offending reference: empty
  // reference; empty path component ("a//b", trailing '/'); repository name must be lowercase;
  // invalid path component (characters or separators); invalid registry host or port; tag too long
  // or with invalid characters; invalid digest (unknown algorithm, wrong length, non-hex or
  // uppercase hex); name longer than 255 characters; a bare 64-hex string (an image ID, not a
  // reference).
  static absl::StatusOr<ImageReference> Parse(absl::string_view text);

  // The registry host, with ":port" when one was given: "docker.io", "reg.example.com:5000",
  // "[::1]:5000". This is the key for credential lookup. Lowercase unless the input host used
  // uppercase letters (hosts are compared case-insensitively by the keyring).
  const std::string& domain() const { return domain_; }
  // The host without the port ("reg.example.com", "[::1]").
  std::string host() const;
  // The port ("5000"), or empty.
  std::string port() const;
  // The host to send registry API requests to: registry-1.docker.io for docker.io, else domain().
  std::string ApiHost() const;

  // The repository path inside the registry: "library/busybox", "team/app".
  const std::string& path() const { return path_; }
  // The tag ("latest" when defaulted), or empty when the reference has only a digest.
  const std::string& tag() const { return tag_; }
  // The digest "sha256:<hex>", or empty.
  const std::string& digest() const { return digest_; }
  // True when the text named a tag (false when "latest" was filled in).
  bool tag_was_explicit() const { return tag_was_explicit_; }

  // domain/path: "docker.io/library/busybox".
  std::string Name() const;
  // Name() in the short familiar form: "busybox", "user/app", "reg.example.com/team/app".
  std::string FamiliarName() const;
  // Full normalised reference: Name() + [":" tag] + ["@" digest]:
  // "docker.io/library/busybox:latest", "docker.io/library/busybox:1.36@sha256:<hex>".
  std::string Canonical() const;
  // Canonical() in familiar form: "busybox:latest", "busybox@sha256:<hex>".
  std::string Familiar() const;
  // What to ask a runtime or registry for: Name()@digest when there is a digest (a tag next to a
  // digest is informational only, as in containerd's ParseDockerRef), else Name():tag.
  std::string PullReference() const;
  // The digest when there is one, else the tag: the manifest reference in
  // /v2/<path>/manifests/<ref>.
  const std::string& ManifestReference() const;

  friend bool operator==(const ImageReference& a, const ImageReference& b) {
    return a.domain_ == b.domain_ && a.path_ == b.path_ && a.tag_ == b.tag_ &&
           a.digest_ == b.digest_;
  }
  friend bool operator!=(const ImageReference& a, const ImageReference& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& os, const ImageReference& ref) {
    return os << ref.Canonical();
  }

 private:
  ImageReference() = default;

  std::string domain_;
  std::string path_;
  std::string tag_;
  std::string digest_;
  bool tag_was_explicit_ = false;
};

// Validates a digest "algorithm:hex" (sha256: 64, sha384: 96, sha512: 128 lowercase hex digits).
// INVALID_ARGUMENT with the reason otherwise. Shared with the manifest parser.
absl::Status ValidateDigest(absl::string_view digest);

}  // namespace inplaced::imagepull
