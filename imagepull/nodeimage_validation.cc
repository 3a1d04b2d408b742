#include "imagepull/nodeimage_validation.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/field_checks.h"
#include "common/status_macros.h"
#include "imagepull/registry/docker_config.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr size_t kMaxPodNameLength = 253;
constexpr size_t kMaxPodNamespaceLength = 63;
constexpr size_t kMaxPodUidLength = 128;
constexpr size_t kMaxSandboxKeyLength = 317;  // Kubernetes: 253 prefix + '/' + 63 name
constexpr size_t kMaxSandboxValueBytes = 64 * 1024;

// Quotes user input for a message: escaped and cut, so a message stays one readable line.
std::string Quote(absl::string_view value) {
  constexpr size_t kMaxQuoted = 80;
  std::string out = absl::CHexEscape(value.substr(0, kMaxQuoted));
  if (value.size() > kMaxQuoted) absl::StrAppend(&out, "...");
  return absl::StrCat("\"", out, "\"");
}

absl::Status CheckSeconds(absl::string_view path, int64_t value, int64_t min,
                          const NodeImageLimits& limits) {
  return CheckSecondsInRange(path, value, min, limits.max_duration_seconds);
}

absl::Status CheckPullPolicy(const std::string& path, const api::PullPolicy& policy,
                             const NodeImageLimits& limits) {
  if (policy.has_timeout_seconds()) {
    RETURN_IF_ERROR(CheckSeconds(path + ".timeout_seconds", policy.timeout_seconds(), 1, limits));
  }
  if (policy.has_backoff_limit() &&
      (policy.backoff_limit() < 0 || policy.backoff_limit() > limits.max_backoff_limit)) {
    return InvalidField(
        path + ".backoff_limit",
        absl::StrCat("must be in 0-", limits.max_backoff_limit, ", got ", policy.backoff_limit()));
  }
  if (policy.has_ttl_seconds_after_finished()) {
    RETURN_IF_ERROR(CheckSeconds(path + ".ttl_seconds_after_finished",
                                 policy.ttl_seconds_after_finished(), 0, limits));
  }
  if (policy.has_active_deadline_seconds()) {
    RETURN_IF_ERROR(CheckSeconds(path + ".active_deadline_seconds",
                                 policy.active_deadline_seconds(), 1, limits));
  }
  return absl::OkStatus();
}

absl::Status CheckImagePullPolicy(absl::string_view path, int value) {
  if (!api::ImagePullPolicy_IsValid(value)) {
    return InvalidField(
        path, absl::StrCat("unknown value ", value,
                           " (want IMAGE_PULL_POLICY_ALWAYS or IMAGE_PULL_POLICY_IF_NOT_PRESENT)"));
  }
  return absl::OkStatus();
}

absl::Status CheckPullSecrets(const std::string& path,
                              const google::protobuf::RepeatedPtrField<std::string>& secrets,
                              const NodeImageLimits& limits) {
  if (secrets.size() > limits.max_pull_secrets) {
    return InvalidField(path, absl::StrCat("at most ", limits.max_pull_secrets,
                                           " pull secrets, got ", secrets.size()));
  }
  for (int i = 0; i < secrets.size(); ++i) {
    const std::string secret_path = absl::StrCat(path, "[", i, "]");
    if (secrets[i].size() > limits.max_pull_secret_bytes) {
      return InvalidField(secret_path,
                          absl::StrCat("larger than ", limits.max_pull_secret_bytes, " bytes"));
    }
    // ParseDockerConfig's messages name keys and problems, never values (docker_config.h).
    absl::StatusOr<std::vector<RegistryCredential>> parsed = ParseDockerConfig(secrets[i]);
    if (!parsed.ok()) {
      return InvalidField(secret_path,
                          absl::StrCat("invalid docker config JSON: ", parsed.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSandboxMap(const std::string& path,
                             const google::protobuf::Map<std::string, std::string>& entries,
                             const NodeImageLimits& limits) {
  if (static_cast<int>(entries.size()) > limits.max_sandbox_map_entries) {
    return InvalidField(path, absl::StrCat("at most ", limits.max_sandbox_map_entries,
                                           " entries, got ", entries.size()));
  }
  for (const auto& [key, value] : entries) {
    if (key.empty()) return InvalidField(path, "keys must not be empty");
    if (key.size() > kMaxSandboxKeyLength) {
      return InvalidField(path,
                          absl::StrCat("key ", Quote(key), " longer than ", kMaxSandboxKeyLength));
    }
    if (value.size() > kMaxSandboxValueBytes) {
      return InvalidField(absl::StrCat(path, "[", Quote(key), "]"),
                          absl::StrCat("value larger than ", kMaxSandboxValueBytes, " bytes"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSandboxConfig(const std::string& path, const api::SandboxConfig& config,
                                const NodeImageLimits& limits) {
  if (config.pod_name().size() > kMaxPodNameLength) {
    return InvalidField(path + ".pod_name", absl::StrCat("longer than ", kMaxPodNameLength));
  }
  if (config.pod_namespace().size() > kMaxPodNamespaceLength) {
    return InvalidField(path + ".pod_namespace",
                        absl::StrCat("longer than ", kMaxPodNamespaceLength));
  }
  if (config.pod_uid().size() > kMaxPodUidLength) {
    return InvalidField(path + ".pod_uid", absl::StrCat("longer than ", kMaxPodUidLength));
  }
  RETURN_IF_ERROR(CheckSandboxMap(path + ".labels", config.labels(), limits));
  return CheckSandboxMap(path + ".annotations", config.annotations(), limits);
}

absl::Status CheckTimestamp(absl::string_view path, const google::protobuf::Timestamp& time) {
  if (time.seconds() < kMinTimestampSeconds || time.seconds() > kMaxTimestampSeconds ||
      time.nanos() < 0 || time.nanos() > 999999999) {
    return InvalidField(path, "not a valid timestamp");
  }
  return absl::OkStatus();
}

absl::Status CheckTag(const std::string& path, absl::string_view name, const api::ImageTagSpec& tag,
                      const NodeImageLimits& limits) {
  if (tag.tag().empty()) return InvalidField(path + ".tag", "required");
  RETURN_IF_ERROR(CheckMaxBytes(path + ".tag", tag.tag().size(), limits.max_tag_bytes));
  absl::StatusOr<ImageReference> ref = TagReference(name, tag.tag());
  if (!ref.ok()) return InvalidField(path + ".tag", ref.status().message());
  RETURN_IF_ERROR(CheckNonNegative(path + ".version", tag.version()));
  if (tag.has_created_at()) RETURN_IF_ERROR(CheckTimestamp(path + ".created_at", tag.created_at()));
  RETURN_IF_ERROR(CheckPullPolicy(path + ".pull_policy", tag.pull_policy(), limits));
  return CheckImagePullPolicy(path + ".image_pull_policy", tag.image_pull_policy());
}

absl::Status CheckImage(const std::string& path, const api::ImageSpec& image,
                        const NodeImageLimits& limits) {
  if (image.name().empty()) return InvalidField(path + ".name", "required");
  RETURN_IF_ERROR(CheckMaxBytes(path + ".name", image.name().size(), limits.max_reference_bytes));
  absl::StatusOr<ImageReference> ref = ImageReference::Parse(image.name());
  if (!ref.ok()) return InvalidField(path + ".name", ref.status().message());
  if (ref->tag_was_explicit() || !ref->digest().empty()) {
    return InvalidField(path + ".name",
                        absl::StrCat("must be a repository without tag or digest (put them "
                                     "in tags), got ",
                                     Quote(image.name())));
  }
  RETURN_IF_ERROR(CheckPullSecrets(path + ".pull_secrets", image.pull_secrets(), limits));
  if (image.tags().empty()) return InvalidField(path + ".tags", "at least one tag is required");
  if (image.tags_size() > limits.max_tags_per_image) {
    return InvalidField(path + ".tags", absl::StrCat("at most ", limits.max_tags_per_image,
                                                     " tags, got ", image.tags_size()));
  }
  absl::flat_hash_set<absl::string_view> seen;
  for (int j = 0; j < image.tags_size(); ++j) {
    const std::string tag_path = absl::StrCat(path, ".tags[", j, "]");
    RETURN_IF_ERROR(CheckTag(tag_path, image.name(), image.tags(j), limits));
    if (!seen.insert(image.tags(j).tag()).second) {
      return InvalidField(tag_path + ".tag",
                          absl::StrCat("duplicate tag ", Quote(image.tags(j).tag())));
    }
  }
  return CheckSandboxConfig(path + ".sandbox_config", image.sandbox_config(), limits);
}

bool IsDigestAlgorithmPrefix(absl::string_view tag) {
  return absl::StartsWith(tag, "sha256:") || absl::StartsWith(tag, "sha384:") ||
         absl::StartsWith(tag, "sha512:");
}

// The tag grammar of the reference spec: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
absl::Status CheckPlainTag(absl::string_view tag) {
  if (tag.empty()) return absl::InvalidArgumentError("empty tag");
  if (tag.size() > kMaxTagLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag longer than ", kMaxTagLength, " characters"));
  }
  for (size_t i = 0; i < tag.size(); ++i) {
    const char c = tag[i];
    const bool word = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (!(word || (i > 0 && (c == '.' || c == '-')))) {
      return absl::InvalidArgumentError(absl::StrCat("invalid tag ", Quote(tag)));
    }
  }
  return absl::OkStatus();
}

void DefaultPullPolicy(api::PullPolicy* policy) {
  if (!policy->has_timeout_seconds()) policy->set_timeout_seconds(kDefaultPullTimeoutSeconds);
  if (!policy->has_backoff_limit()) policy->set_backoff_limit(kDefaultBackoffLimit);
}

}  // namespace

absl::StatusOr<ImageReference> TagReference(absl::string_view name, absl::string_view tag) {
  std::string text;
  const size_t at = tag.find('@');
  if (at != absl::string_view::npos) {
    RETURN_IF_ERROR(CheckPlainTag(tag.substr(0, at)));
    RETURN_IF_ERROR(ValidateDigest(tag.substr(at + 1)));
    text = absl::StrCat(name, ":", tag);
  } else if (IsDigestAlgorithmPrefix(tag)) {
    RETURN_IF_ERROR(ValidateDigest(tag));
    text = absl::StrCat(name, "@", tag);
  } else {
    RETURN_IF_ERROR(CheckPlainTag(tag));
    text = absl::StrCat(name, ":", tag);
  }
  return ImageReference::Parse(text);
}

absl::Status ValidateNodeImageSpec(const api::NodeImageSpec& spec, const NodeImageLimits& limits) {
  if (spec.images_size() > limits.max_images) {
    return InvalidField("spec.images", absl::StrCat("at most ", limits.max_images, " images, got ",
                                                    spec.images_size()));
  }
  absl::flat_hash_set<absl::string_view> names;
  for (int i = 0; i < spec.images_size(); ++i) {
    const std::string path = absl::StrCat("spec.images[", i, "]");
    RETURN_IF_ERROR(CheckImage(path, spec.images(i), limits));
    if (!names.insert(spec.images(i).name()).second) {
      return InvalidField(path + ".name",
                          absl::StrCat("duplicate image ", Quote(spec.images(i).name())));
    }
  }
  // Last: the fields above name the offending one when it alone is too big.
  return CheckMaxBytes("spec", spec.ByteSizeLong(), limits.max_spec_bytes);
}

absl::Status ValidateSetNodeImage(const api::SetNodeImageRequest& request,
                                  const NodeImageLimits& limits) {
  RETURN_IF_ERROR(CheckNonNegative("expected_generation", request.expected_generation()));
  return ValidateNodeImageSpec(request.spec(), limits);
}

absl::Status ValidatePullImage(const api::PullImageRequest& request,
                               const NodeImageLimits& limits) {
  if (request.image().empty()) return InvalidField("image", "required");
  RETURN_IF_ERROR(CheckMaxBytes("image", request.image().size(), limits.max_reference_bytes));
  absl::StatusOr<ImageReference> ref = ImageReference::Parse(request.image());
  if (!ref.ok()) return InvalidField("image", ref.status().message());
  RETURN_IF_ERROR(CheckPullSecrets("pull_secrets", request.pull_secrets(), limits));
  RETURN_IF_ERROR(CheckPullPolicy("pull_policy", request.pull_policy(), limits));
  RETURN_IF_ERROR(CheckImagePullPolicy("image_pull_policy", request.image_pull_policy()));
  return CheckSandboxConfig("sandbox_config", request.sandbox_config(), limits);
}

void ApplyNodeImageDefaults(api::NodeImageSpec* spec, absl::Time now) {
  for (api::ImageSpec& image : *spec->mutable_images()) {
    image.clear_pull_secret_count();
    for (api::ImageTagSpec& tag : *image.mutable_tags()) {
      if (!tag.has_created_at()) {
        tag.mutable_created_at()->set_seconds(absl::ToUnixSeconds(now));
        tag.mutable_created_at()->set_nanos(0);
      }
      DefaultPullPolicy(tag.mutable_pull_policy());
      if (tag.image_pull_policy() == api::IMAGE_PULL_POLICY_UNSPECIFIED) {
        tag.set_image_pull_policy(api::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
      }
    }
  }
}

void ApplyPullImageDefaults(api::PullImageRequest* request) {
  DefaultPullPolicy(request->mutable_pull_policy());
  if (!request->pull_policy().has_ttl_seconds_after_finished()) {
    request->mutable_pull_policy()->set_ttl_seconds_after_finished(kDefaultAdHocTtlSeconds);
  }
  if (request->image_pull_policy() == api::IMAGE_PULL_POLICY_UNSPECIFIED) {
    request->set_image_pull_policy(api::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
  }
}

api::NodeImageSpec RedactSpec(const api::NodeImageSpec& spec) {
  api::NodeImageSpec out = spec;
  for (api::ImageSpec& image : *out.mutable_images()) {
    image.set_pull_secret_count(image.pull_secrets_size());
    image.clear_pull_secrets();
  }
  return out;
}

}  // namespace inplaced::imagepull
