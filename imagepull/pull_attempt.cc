#include "imagepull/pull_attempt.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"

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

namespace {

// One pull operation, as a chain of steps: each blocking step (ImageStatus, the precheck, a Version
// probe) runs as a job of `steps`, and between them the runtime pulls (PullImageAsync) with no
// thread held. Owned by its own pending step or call (shared_from_this); it ends by running `done`.
class PullOperation : public std::enable_shared_from_this<PullOperation> {
 public:
  PullOperation(cri::Runtime& runtime, PullJob job, PullPrecheck* precheck, Cancellation* cancel,
                std::function<void()> before_pull, Executor& steps,
                std::function<void(PullOutcome)> done)
      : runtime_(runtime),
        job_(std::move(job)),
        precheck_(precheck),
        cancel_(cancel),
        before_pull_(std::move(before_pull)),
        steps_(steps),
        done_(std::move(done)) {}

  void Start() {
    RunStep([](PullOperation& op) { op.Prepare(); });
  }

 private:
  // Runs `step` on `steps_`; a refused step (the executor shut down) ends the operation here.
  void RunStep(std::function<void(PullOperation&)> step) {
    std::shared_ptr<PullOperation> self = shared_from_this();
    if (!steps_.Submit([self, step = std::move(step)] { step(*self); })) {
      Fail(absl::CancelledError("pull cancelled: the puller is shutting down"));
    }
  }

  // The presence check (IF_NOT_PRESENT), the precheck, then the first PullImage.
  void Prepare() {
    if (IsCancelled(cancel_)) return Fail(Cancelled());
    if (!job_.always) {
      absl::StatusOr<std::optional<criv1::Image>> present = LookUp(runtime_, job_.reference);
      if (!present.ok()) {
        outcome_.runtime_unreachable = RuntimeUnreachable(runtime_, present.status());
        return Fail(present.status());
      }
      if (present->has_value()) {
        outcome_.already_present = true;
        outcome_.image_id = ImageIdOf(**present, job_.reference);
        return Finish();
      }
    }
    if (precheck_ != nullptr) {
      if (absl::Status s = precheck_->Check(job_.reference, job_.credentials); !s.ok()) {
        return Fail(s);
      }
    }
    if (before_pull_) before_pull_();
    request_.mutable_image()->set_image(job_.reference.PullReference());
    *request_.mutable_sandbox_config() = job_.sandbox_config;
    Pull(0);
  }

  // kubelet and Kruise stop at the first credential that works; unlike Kruise we forward every
  // AuthConfig field and end with an anonymous pull (a public image under a stale secret still
  // pulls). `attempt` indexes job_.credentials; the last attempt is anonymous.
  void Pull(size_t attempt) {
    if (IsCancelled(cancel_)) return Fail(Cancelled());
    if (attempt == job_.credentials.size()) {
      request_.clear_auth();
    } else {
      *request_.mutable_auth() = ToAuthConfig(job_.credentials[attempt]);
    }
    std::shared_ptr<PullOperation> self = shared_from_this();
    runtime_.PullImageAsync(
        request_, cancel_, [self, attempt](absl::StatusOr<criv1::PullImageResponse> pulled) {
          // On the runtime's thread: the next blocking call goes back to `steps_`.
          self->RunStep([attempt, pulled = std::move(pulled)](PullOperation& op) {
            op.Pulled(attempt, pulled);
          });
        });
  }

  void Pulled(size_t attempt, const absl::StatusOr<criv1::PullImageResponse>& pulled) {
    if (pulled.ok()) {
      absl::StatusOr<std::optional<criv1::Image>> image = LookUp(runtime_, job_.reference);
      if (image.ok() && image->has_value()) {
        outcome_.image_id = ImageIdOf(**image, job_.reference);
      } else {
        // Should not happen (the runtime just pulled it); fall back on what PullImage answered.
        const std::string& ref = pulled->image_ref();
        outcome_.image_id = ref.find('@') != std::string::npos
                                ? ref
                                : absl::StrCat(job_.reference.Name(), "@", ref);
      }
      return Finish();
    }
    if (IsCancelled(cancel_) || absl::IsCancelled(pulled.status())) {
      return Fail(
          absl::CancelledError(absl::StrCat("pull cancelled: ", pulled.status().message())));
    }
    const absl::Status& last = pulled.status();
    if (RuntimeUnreachable(runtime_, last)) {
      // The next credential would meet the same closed door.
      outcome_.runtime_unreachable = true;
      return Fail(last);
    }
    if (job_.credentials.empty()) return Fail(last);
    const bool anonymous = attempt == job_.credentials.size();
    errors_.push_back(anonymous ? absl::StrCat("anonymous pull: ", last.message())
                                : absl::StrCat("credential ", attempt + 1, " of ",
                                               job_.credentials.size(), " (registry \"",
                                               job_.credentials[attempt].server_address,
                                               "\"): ", last.message()));
    if (!anonymous) return Pull(attempt + 1);
    Fail(absl::Status(last.code(), absl::StrJoin(errors_, "; ")));
  }

  void Fail(const absl::Status& status) {
    outcome_.status =
        absl::Status(status.code(), ScrubSecrets(std::string(status.message()), job_.credentials));
    Finish();
  }

  void Finish() { done_(std::move(outcome_)); }

  cri::Runtime& runtime_;
  const PullJob job_;
  PullPrecheck* const precheck_;
  Cancellation* const cancel_;
  const std::function<void()> before_pull_;
  Executor& steps_;
  const std::function<void(PullOutcome)> done_;
  // Touched by one step at a time: each step starts the next one last.
  criv1::PullImageRequest request_;
  std::vector<std::string> errors_;
  PullOutcome outcome_;
};

}  // namespace

void StartPull(cri::Runtime& runtime, PullJob job, PullPrecheck* precheck, Cancellation* cancel,
               std::function<void()> before_pull, Executor& steps,
               std::function<void(PullOutcome)> done) {
  std::make_shared<PullOperation>(runtime, std::move(job), precheck, cancel, std::move(before_pull),
                                  steps, std::move(done))
      ->Start();
}

PullOutcome RunPull(cri::Runtime& runtime, const PullJob& job, PullPrecheck* precheck,
                    Cancellation* cancel, const std::function<void()>& before_pull) {
  ThreadPoolExecutor steps(1);
  absl::Notification finished;
  PullOutcome outcome;
  StartPull(runtime, job, precheck, cancel, before_pull, steps, [&](PullOutcome result) {
    outcome = std::move(result);
    finished.Notify();
  });
  finished.WaitForNotification();
  return outcome;
}

}  // namespace inplaced::imagepull
