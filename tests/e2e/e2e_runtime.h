#pragma once

// The CRI connection every e2e suite starts from.

#include <memory>

#include "absl/status/statusor.h"
#include "cri/connect.h"
#include "tests/e2e/e2e_env.h"
#include "tests/fakes/pod_lifecycle.h"

namespace inplaced::e2e {

// The environment's containerd twice over: as inplaced sees it (the cri::Connection: `runtime`,
// `endpoint`, `version`) and as kubelet drives it (`lifecycle`, a GrpcPodLifecycle on its own
// channel to the same endpoint: sandbox and container creation, image listing and removal).
struct E2eConnection : cri::Connection {
  std::unique_ptr<fakes::PodLifecycle> lifecycle;
};

// Connects to the environment's containerd (waiting up to 30 s for it), prints the RuntimeBanner
// line and records the test property "runtime" (e.g. "containerd 1.7.24~ds1"), so that every test's
// output names the runtime and version it ran against, as the runtime answered CRI Version. Call it
// from a test or its fixture's SetUp. Errors: cri::Connect's.
absl::StatusOr<E2eConnection> ConnectToE2eRuntime(const E2eEnv& env);

}  // namespace inplaced::e2e
