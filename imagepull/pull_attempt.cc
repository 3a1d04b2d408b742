#include "imagepull/pull_attempt.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace inplaced::imagepull {
namespace {

namespace criv1 = ::runtime::v1;

absl::Status Cancelled() { return absl::CancelledError("pull cancelled"); }

bool IsCancelled(const Cancellation* cancel) { return cancel != nullptr && cancel->IsCancelled(); }

// ImageStatus of the reference: the image, or nullopt when absent.
absl::StatusOr<std::optional<criv1::Image>> LookUp(cri::Runtime& runtime,
                                                   const ImageReference& ref) {
  criv1::ImageStatusRequest request;
  request.mutable_image()->set_image(ref.PullReference());
  absl::StatusOr<criv1::ImageStatusResponse> response = runtime.ImageStatus(request);
  if (!response.ok()) return response.status();
  if (!response->has_image()) return std::optional<criv1::Image>();
  return std::optional<criv1::Image>(response->image());
}

// See PullOutcome::runtime_unreachable.
bool RuntimeUnreachable(cri::Runtime& runtime, const absl::Status& status) {
  if (!absl::IsUnavailable(status)) return false;
  return absl::IsUnavailable(runtime.Version(criv1::VersionRequest()).status());
}

}  // namespace

criv1::AuthConfig ToAuthConfig(const RegistryCredential& credential) {
  criv1::AuthConfig auth;
  auth.set_username(credential.username);
  auth.set_password(credential.password);
  auth.set_auth(credential.auth);
  auth.set_identity_token(credential.identity_token);
  auth.set_registry_token(credential.registry_token);
  // server_address stays empty, as Kruise sends it: containerd compares it, parsed as a URL, with
  // the registry host it connects to and silently drops the credential on a mismatch, and a docker
  // config key is rarely in URL form ("127.0.0.1:5001" does not even parse). The keyring has
  // already matched the credential to this image's registry.
  return auth;
}

std::string ScrubSecrets(std::string message, const std::vector<RegistryCredential>& credentials) {
  std::vector<std::pair<std::string, std::string>> replacements;
  for (const RegistryCredential& c : credentials) {
    // The username is not a secret (and a short one would mangle every message).
    for (const std::string* value : {&c.password, &c.auth, &c.identity_token, &c.registry_token}) {
      if (!value->empty()) replacements.emplace_back(*value, "<redacted>");
    }
  }
  // Longest first, so that a secret containing another (auth contains neither, but a password may
  // contain the username) is replaced whole.
  std::sort(replacements.begin(), replacements.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [from, to] : replacements) {
    absl::StrReplaceAll({{from, to}}, &message);
  }
  return message;
}

criv1::PodSandboxConfig ToCriSandboxConfig(const ::inplaced::v1::SandboxConfig& config) {
  criv1::PodSandboxConfig out;
  out.mutable_metadata()->set_name(config.pod_name());
  out.mutable_metadata()->set_namespace_(config.pod_namespace());
  out.mutable_metadata()->set_uid(config.pod_uid());
  for (const auto& [key, value] : config.labels()) (*out.mutable_labels())[key] = value;
  for (const auto& [key, value] : config.annotations()) (*out.mutable_annotations())[key] = value;
  (*out.mutable_annotations())[kPullingImageByAnnotation] = "inplaced";
  return out;
}

std::string ImageIdOf(const criv1::Image& image, const ImageReference& reference) {
  for (const std::string& repo_digest : image.repo_digests()) {
    absl::StatusOr<ImageReference> parsed = ImageReference::Parse(repo_digest);
    if (parsed.ok() && parsed->Name() == reference.Name() && !parsed->digest().empty()) {
      return absl::StrCat(parsed->Name(), "@", parsed->digest());
    }
  }
  if (image.repo_digests_size() > 0) return image.repo_digests(0);
  return absl::StrCat(reference.Name(), "@", image.id());
}

PullOutcome RunPull(cri::Runtime& runtime, const PullJob& job, PullPrecheck* precheck,
                    Cancellation* cancel, const std::function<void()>& before_pull) {
  PullOutcome outcome;
  auto fail = [&](const absl::Status& status) {
    outcome.status =
        absl::Status(status.code(), ScrubSecrets(std::string(status.message()), job.credentials));
    return outcome;
  };
  if (IsCancelled(cancel)) return fail(Cancelled());

  if (!job.always) {
    absl::StatusOr<std::optional<criv1::Image>> present = LookUp(runtime, job.reference);
    if (!present.ok()) {
      outcome.runtime_unreachable = RuntimeUnreachable(runtime, present.status());
      return fail(present.status());
    }
    if (present->has_value()) {
      outcome.already_present = true;
      outcome.image_id = ImageIdOf(**present, job.reference);
      return outcome;
    }
  }
  if (precheck != nullptr) {
    if (absl::Status s = precheck->Check(job.reference, job.credentials); !s.ok()) return fail(s);
  }

  if (before_pull) before_pull();
  criv1::PullImageRequest request;
  request.mutable_image()->set_image(job.reference.PullReference());
  *request.mutable_sandbox_config() = job.sandbox_config;

  // kubelet and Kruise stop at the first credential that works; unlike Kruise we forward every
  // AuthConfig field and end with an anonymous pull (a public image under a stale secret still
  // pulls).
  std::vector<std::string> errors;
  absl::Status last;
  const size_t attempts = job.credentials.size() + 1;
  for (size_t i = 0; i < attempts; ++i) {
    if (IsCancelled(cancel)) return fail(Cancelled());
    const bool anonymous = i == job.credentials.size();
    if (anonymous) {
      request.clear_auth();
    } else {
      *request.mutable_auth() = ToAuthConfig(job.credentials[i]);
    }
    absl::StatusOr<criv1::PullImageResponse> pulled = runtime.PullImage(request, cancel);
    if (pulled.ok()) {
      absl::StatusOr<std::optional<criv1::Image>> image = LookUp(runtime, job.reference);
      if (image.ok() && image->has_value()) {
        outcome.image_id = ImageIdOf(**image, job.reference);
      } else {
        // Should not happen (the runtime just pulled it); fall back on what PullImage answered.
        const std::string& ref = pulled->image_ref();
        outcome.image_id =
            ref.find('@') != std::string::npos ? ref : absl::StrCat(job.reference.Name(), "@", ref);
      }
      outcome.status = absl::OkStatus();
      return outcome;
    }
    if (IsCancelled(cancel) || absl::IsCancelled(pulled.status())) {
      return fail(
          absl::CancelledError(absl::StrCat("pull cancelled: ", pulled.status().message())));
    }
    last = pulled.status();
    if (RuntimeUnreachable(runtime, last)) {
      // The next credential would meet the same closed door.
      outcome.runtime_unreachable = true;
      return fail(last);
    }
    if (job.credentials.empty()) break;
    errors.push_back(anonymous ? absl::StrCat("anonymous pull: ", last.message())
                               : absl::StrCat("credential ", i + 1, " of ", job.credentials.size(),
                                              " (registry \"", job.credentials[i].server_address,
                                              "\"): ", last.message()));
  }
  if (errors.empty()) return fail(last);
  return fail(absl::Status(last.code(), absl::StrJoin(errors, "; ")));
}

}  // namespace inplaced::imagepull
