#pragma once

// The CRI connection every e2e suite starts from.

#include "absl/status/statusor.h"
#include "cri/connect.h"
#include "tests/e2e/e2e_env.h"

namespace inplaced::e2e {

// Connects to the environment's containerd (waiting up to 30 s for it), prints the RuntimeBanner line and
// records the test property "runtime" (e.g. "containerd 1.7.24~ds1"), so that every test's output names
// the runtime and version it ran against, as the runtime answered CRI Version. Call it from a test or
// its fixture's SetUp. Errors: cri::Connect's.
absl::StatusOr<cri::Connection> ConnectToE2eRuntime(const E2eEnv& env);

}  // namespace inplaced::e2e
