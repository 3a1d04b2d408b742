#pragma once

// A FakeRuntime with one running pod (container "c0") on a FakeClock, and a CriPreStopRunner over
// them, for the preStop runner tests.

#include <memory>
#include <string>
#include <thread>

#include "daemon/prestop/cri_prestop_runner.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"

namespace inplaced::daemon {

struct PreStopTestEnv {
  explicit PreStopTestEnv(fakes::RuntimeProfile profile = fakes::RuntimeProfile::Containerd16(),
                          bool host_network = false)
      : runtime(clock, std::move(profile)), runner(runtime, clock) {
    fakes::BulkPodOptions options;
    options.host_network = host_network;
    target.pod_sandbox_id = runtime.AddPods(1, 1, options).at(0);
    cri::criv1::ListContainersRequest request;
    request.mutable_filter()->set_pod_sandbox_id(target.pod_sandbox_id);
    target.container_id = runtime.ListContainers(request).value().containers(0).id();
  }

  absl::Time DeadlineIn(absl::Duration d) { return clock.Now() + d; }

  fakes::FakeClock clock;
  fakes::FakeRuntime runtime;
  CriPreStopRunner runner;
  PreStopTarget target;
};

// Runs `fn` on its own thread; Join() waits for it. For hooks that block on the FakeClock.
class BackgroundRun {
 public:
  template <typename Fn>
  explicit BackgroundRun(Fn fn)
      : thread_([this, fn = std::move(fn)]() mutable { result_ = fn(); }) {}
  ~BackgroundRun() {
    if (thread_.joinable()) thread_.join();
  }
  PreStopResult Join() {
    thread_.join();
    return result_;
  }

 private:
  PreStopResult result_;
  std::thread thread_;
};

}  // namespace inplaced::daemon
