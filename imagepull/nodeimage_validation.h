#pragma once

// Validation and defaulting of the NodeImageService inputs (api/inplaced/v1/nodeimage.proto).
//
// Every Validate* function returns OK or INVALID_ARGUMENT whose message starts with the path of the
// first offending field, in proto field names with list indexes, then says what is wrong:
//   spec.images[0].tags[1].tag: duplicate tag "1.2"
//   spec.images[2].pull_secrets[0]: invalid docker config: pull secret 0: ...
// A pull secret is named by its index only; its content never appears in a message.
// Validation is purely syntactic (no store, no runtime). Stateless and thread-safe.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "imagepull/registry/image_reference.h"

namespace inplaced::imagepull {

// Defaults of PullPolicy (Kruise's webhook defaults).
inline constexpr int64_t kDefaultPullTimeoutSeconds = 600;
inline constexpr int32_t kDefaultBackoffLimit = 3;
// ttl_seconds_after_finished of an ad hoc pull when the request leaves it unset.
inline constexpr int64_t kDefaultAdHocTtlSeconds = 3600;

// Bounds on inputs. The defaults are the documented API limits.
struct NodeImageLimits {
  int max_images = 256;  // Kruise's defaultMaxImagesPerNode
  int max_tags_per_image = 256;
  int max_pull_secrets = 16;  // per image or per PullImage request
  size_t max_pull_secret_bytes = 64 * 1024;
  int max_backoff_limit = 100;
  int64_t max_duration_seconds = int64_t{365} * 24 * 60 * 60;
  int max_sandbox_map_entries = 64;
  // An image name (spec.images[i].name) or an ad hoc reference (PullImageRequest.image): Docker's
  // references are at most 255 characters of name plus a tag and a digest.
  size_t max_reference_bytes = 512;
  // A spec tag (tag, tag@digest or digest).
  size_t max_tag_bytes = 256;
  // The whole encoded NodeImage spec (secrets included): it is stored as one record and returned
  // in every GetNodeImage / WatchNodeImage message, which must stay below gRPC's 4 MiB.
  size_t max_spec_bytes = 1024 * 1024;
};

// SetNodeImage: the spec (see ValidateNodeImageSpec); paths start with "spec.".
absl::Status ValidateSetNodeImage(const ::inplaced::v1::SetNodeImageRequest& request,
                                  const NodeImageLimits& limits);

// The whole spec: image count, each image name (a reference name without tag or digest, unique),
// its pull secrets (docker config JSON), its tags (present, parseable with the name, unique),
// versions, created_at, pull policy ranges, the image pull policy enum and the sandbox config.
absl::Status ValidateNodeImageSpec(const ::inplaced::v1::NodeImageSpec& spec,
                                   const NodeImageLimits& limits);

// PullImage: image (a full reference), pull secrets, pull policy, enum, sandbox config.
absl::Status ValidatePullImage(const ::inplaced::v1::PullImageRequest& request,
                               const NodeImageLimits& limits);

// The reference pulled for `tag` of image `name` (see ImageTagSpec.tag): name:tag, name@digest or
// name:tag@digest. INVALID_ARGUMENT (without a field path) when it does not parse.
absl::StatusOr<ImageReference> TagReference(absl::string_view name, absl::string_view tag);

// Fills the documented defaults into a validated spec so the stored spec is explicit: created_at =
// `now` where absent, pull_policy.timeout_seconds = 600 and backoff_limit = 3 where absent,
// image_pull_policy UNSPECIFIED -> IF_NOT_PRESENT. pull_secret_count is cleared (output only).
void ApplyNodeImageDefaults(::inplaced::v1::NodeImageSpec* spec, absl::Time now);

// The same defaults for an ad hoc pull request, plus ttl_seconds_after_finished = 3600 when absent.
void ApplyPullImageDefaults(::inplaced::v1::PullImageRequest* request);

// A copy of `spec` fit to return to a client: pull_secrets removed, pull_secret_count set.
::inplaced::v1::NodeImageSpec RedactSpec(const ::inplaced::v1::NodeImageSpec& spec);

}  // namespace inplaced::imagepull
