#pragma once

// A minimal OCI distribution (registry API v2) client: resolves an image reference to its manifest
// for this node's platform, with the registry token flow, so the puller knows the digest and the
// download size of an image before it asks the runtime to pull it (disk-space precheck, progress).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cancellation.h"
#include "imagepull/registry/docker_config.h"
#include "imagepull/registry/http_client.h"
#include "imagepull/registry/image_reference.h"
#include "imagepull/registry/manifest.h"

namespace inplaced::imagepull {

struct RegistryClientOptions {
  // Registries spoken to over plain http, besides the loopback ones (127.0.0.0/8, localhost,
  // [::1]), which always are. Each entry is a host ("reg.local": any port) or host:port
  // ("reg.local:5000"), compared case-insensitively with the reference's domain.
  std::vector<std::string> insecure_registries;
  // The platform an index is narrowed to.
  Platform platform = NodePlatform();
  // Bounds of a manifest body and of a token response body.
  int64_t max_manifest_bytes = 4 << 20;
  int64_t max_token_bytes = 1 << 20;
};

// What a reference resolves to.
struct ResolvedImage {
  // The digest the reference names in the registry: the index's when the tag points at an index
  // (the repo digest a runtime records), else the image manifest's.
  std::string digest;
  std::string media_type;  // of the top-level manifest
  // The image manifest for the platform: equal to digest/media_type without an index.
  std::string manifest_digest;
  std::string manifest_media_type;
  Platform platform;  // of the chosen index entry; empty without an index
  Descriptor config;
  std::vector<Descriptor> layers;
  // config + layers, compressed: the bytes a pull downloads at most.
  int64_t total_size = 0;
};

// The seam the puller uses; RegistryClient is the implementation.
class ImageResolver {
 public:
  virtual ~ImageResolver() = default;
  // See RegistryClient::Resolve.
  virtual absl::StatusOr<ResolvedImage> Resolve(const ImageReference& ref,
                                                const std::vector<RegistryCredential>& credentials,
                                                const Cancellation* cancel = nullptr) = 0;
};

// Resolves references against registries through an HttpClient. Thread-safe (no mutable state;
// each Resolve keeps its tokens to itself). The HttpClient is not owned and must outlive this.
//
// Scheme: http for loopback and configured insecure registries, https (verified) otherwise. Docker
// Hub is reached at registry-1.docker.io.
//
// Authentication, per attempt: GET /v2/<path>/manifests/<tag or digest>; on a 401 the
// WWW-Authenticate challenge decides:
//   Bearer: a token from the realm (GET realm?service=..&scope=repository:<path>:pull, with Basic
//     username/password when the credential has them; with an identity token, the OAuth2 refresh
//     grant as a POST form, and when the server answers that with 404/405, the GET with Basic
//     username/identity token), then the request again with "Authorization: Bearer <token>";
//   Basic: the request again with Basic username/password.
// A credential with a registry token sends it as the bearer token directly. Attempts: every
// credential in order, then anonymous; the next attempt follows only a 401/403.
//
// The digest of every manifest is checked: the Docker-Content-Digest header (when present) and the
// digest asked for (a digest reference, an index entry) must equal the body's hash.
class RegistryClient : public ImageResolver {
 public:
  RegistryClient(HttpClient& http, RegistryClientOptions options = {});

  // Resolves `ref` with the credentials (normally CredentialKeyring::Lookup(ref)), tried in order,
  // then anonymously. Errors name the image (ref.Canonical()) and never contain a credential or a
  // token:
  //   UNAUTHENTICATED: "401 Unauthorized" from the registry or the token server, for every attempt
  //     (the message is the first attempt's, plus how many credentials were tried).
  //   PERMISSION_DENIED: "403 Forbidden" (when the first attempt got it and every other failed).
  //   NOT_FOUND: 404 for the manifest; no index entry for the platform.
  //   UNAVAILABLE: transport errors, 5xx, 429.
  //   DATA_LOSS: a digest mismatch.
  //   RESOURCE_EXHAUSTED: a manifest or token response over its bound.
  //   UNIMPLEMENTED: schema 1 or a non-image manifest; an unsupported auth scheme.
  //   INVALID_ARGUMENT: a malformed manifest, challenge or token response.
  //   CANCELLED: `cancel` was cancelled.
  absl::StatusOr<ResolvedImage> Resolve(const ImageReference& ref,
                                        const std::vector<RegistryCredential>& credentials,
                                        const Cancellation* cancel = nullptr) override;

  // "http" or "https" for `ref`'s registry.
  std::string SchemeFor(const ImageReference& ref) const;

 private:
  HttpClient& http_;
  const RegistryClientOptions options_;
};

// The digest "<algorithm>:<hex>" of `data` with `algorithm` (sha256, sha384, sha512).
// INVALID_ARGUMENT for another algorithm.
absl::StatusOr<std::string> ComputeDigest(absl::string_view algorithm, absl::string_view data);

}  // namespace inplaced::imagepull
