#pragma once

// One pull operation over the CRI: the presence check (IF_NOT_PRESENT), the precheck hook,
// PullImage with each matching credential in turn and then anonymously, and the image identity
// from ImageStatus afterwards.
//
// Secrets: credentials go only into the CRI AuthConfig. Every message this file produces is
// scrubbed of every credential field value (a runtime may echo what it was sent), so outcomes are
// safe to log and to put in a status. Stateless; thread-safe as far as the runtime and precheck
// are.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/cri/runtime_v1.pb.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "common/cancellation.h"
#include "common/executor.h"
#include "cri/runtime.h"
#include "imagepull/pull_precheck.h"
#include "imagepull/registry/docker_config.h"
#include "imagepull/registry/image_reference.h"

namespace inplaced::imagepull {

// The annotation added to the sandbox config of every pull (Kruise adds
// apps.kruise.io/pulling-image-by).
inline constexpr char kPullingImageByAnnotation[] = "inplaced.io/pulling-image-by";

// What one pull operation needs. Copyable.
struct PullJob {
  ImageReference reference;
  // Tried in order, then an anonymous pull.
  std::vector<RegistryCredential> credentials;
  // True (ALWAYS): pull even if present. False (IF_NOT_PRESENT): ImageStatus first.
  bool always = false;
  ::runtime::v1::PodSandboxConfig sandbox_config;
};

// The result of RunPull.
struct PullOutcome {
  // OK, or the error of the last attempt with the messages of all of them (scrubbed). CANCELLED
  // when `cancel` fired.
  absl::Status status;
  // When OK: "<repository>@<digest>" (see ImageIdOf).
  std::string image_id;
  // When OK: the image was present and nothing was pulled.
  bool already_present = false;
  // When not OK: the runtime itself did not answer (down or restarting: the CRI call and a Version
  // probe both UNAVAILABLE), so the attempt says nothing about the image. A registry failure the
  // runtime reports as UNAVAILABLE (its Version still answers) is the image's failure.
  bool runtime_unreachable = false;
};

// Starts `job` and returns at once; `done` runs once with the outcome. The blocking steps (the
// presence check, the precheck, ImageStatus after the pull, a Version probe after an UNAVAILABLE)
// run as jobs of `steps`; while the runtime pulls (PullImageAsync), for as long as that takes, no
// thread is held. `done` runs on a thread of `steps`, or on the caller's or the runtime's thread
// when `steps` refuses a job (after its Shutdown: the outcome is then CANCELLED). `precheck` and
// `cancel` may be null; both, the runtime and `steps` must outlive the operation (until `done`
// returned). `before_pull` (may be empty) runs once, after the precheck and right before the first
// CRI PullImage (the puller starts its byte progress there).
void StartPull(cri::Runtime& runtime, PullJob job, PullPrecheck* precheck, Cancellation* cancel,
               std::function<void()> before_pull, Executor& steps,
               std::function<void(PullOutcome)> done);

// StartPull for a caller that waits (the CLI, tests): blocks until the outcome, running the steps
// on a thread of its own.
PullOutcome RunPull(cri::Runtime& runtime, const PullJob& job, PullPrecheck* precheck,
                    Cancellation* cancel, const std::function<void()>& before_pull = {});

// The image identity reported in status: the image's repo digest for the reference's repository
// (normalised: "docker.io/library/nginx@sha256:..."), else its first repo digest, else
// "<repository>@<image id>".
std::string ImageIdOf(const ::runtime::v1::Image& image, const ImageReference& reference);

// The CRI AuthConfig of a credential: username, password, auth, identity and registry tokens. The
// server address is left empty (see the .cc: containerd drops credentials whose address does not
// parse as a URL of the registry host).
::runtime::v1::AuthConfig ToAuthConfig(const RegistryCredential& credential);

// `message` with every non-empty password, auth, identity token and registry token of `credentials`
// replaced by "<redacted>" (usernames are kept: not secret, and useful in a 401 message).
std::string ScrubSecrets(std::string message, const std::vector<RegistryCredential>& credentials);

// The CRI sandbox config for a NodeImage sandbox config, with kPullingImageByAnnotation added.
::runtime::v1::PodSandboxConfig ToCriSandboxConfig(const ::inplaced::v1::SandboxConfig& config);

}  // namespace inplaced::imagepull
