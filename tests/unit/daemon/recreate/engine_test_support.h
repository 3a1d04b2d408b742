#pragma once

// Shared fixtures of the RecreateEngine tests: a scripted PreStopRunner and an environment of a
// FakeClock, a FakeRuntime (any profile), a kubelet stand-in, a store and a watch hub.

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cri/kubelet_labels.h"
#include "daemon/prestop/prestop_runner.h"
#include "daemon/recreate/recreate_engine.h"
#include "daemon/recreate/watch_hub.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/flaky_store.h"
#include "tests/fakes/kubelet_standin.h"
#include "tests/fakes/memory_store.h"
#include "tests/support/status_matchers.h"

namespace inplaced::daemon::testing {

// Records every hook run; answers `result`; with Block(), each run waits until Release() or the
// engine's cancellation. Start runs each hook on a thread of its own (fine in a test), joined by the
// destructor.
class FakePreStopRunner final : public PreStopRunner {
 public:
  ~FakePreStopRunner() override {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
  }

  void Start(const ::inplaced::v1::LifecycleHandler& handler, const PreStopTarget& target,
             absl::Time deadline, Cancellation* cancel, Done done) override {
    absl::MutexLock lock(&mu_);
    // Recorded and counted running before Start returns, as a hook that started.
    calls_.push_back(target.container_id);
    ++running_;
    threads_.emplace_back([this, cancel, done = std::move(done)] { done(Wait(cancel)); });
  }

  void Block() {
    absl::MutexLock lock(&mu_);
    blocked_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    blocked_ = false;
  }
  void SetResult(PreStopResult result) {
    absl::MutexLock lock(&mu_);
    result_ = std::move(result);
  }
  // Blocks until `n` hooks are running.
  void WaitRunning(int n) {
    absl::MutexLock lock(&mu_);
    wait_target_ = n;
    mu_.Await(absl::Condition(this, &FakePreStopRunner::RunningReached));
  }
  std::vector<std::string> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  bool RunningReached() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ >= wait_target_; }

  // One started hook: waits while blocked (until Release() or `cancel`), then answers.
  PreStopResult Wait(Cancellation* cancel) {
    // Per run: a token cancelled by an engine that shut down does not touch the next engine's runs.
    bool cancelled = false;
    const int id = cancel == nullptr ? -1 : cancel->Register([this, &cancelled] {
      absl::MutexLock lock(&mu_);
      cancelled = true;
    });
    {
      absl::MutexLock lock(&mu_);
      const auto released = [this, &cancelled]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !blocked_ || cancelled;
      };
      mu_.Await(absl::Condition(&released));
      --running_;
    }
    if (cancel != nullptr) cancel->Unregister(id);
    absl::MutexLock lock(&mu_);
    if (cancelled) return {::inplaced::v1::PRE_STOP_OUTCOME_FAILED, "cancelled"};
    return result_;
  }

  absl::Mutex mu_;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int wait_target_ ABSL_GUARDED_BY(mu_) = 0;
  PreStopResult result_ ABSL_GUARDED_BY(mu_){::inplaced::v1::PRE_STOP_OUTCOME_SUCCEEDED,
                                             "exit code 0"};
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

struct PodOptions {
  std::string pod_namespace = "default";
  std::string name = "web-0";
  std::vector<std::string> containers = {"a"};
  std::optional<int64_t> termination_grace_period_seconds;
  // kubelet preStopHandler annotation JSON for every container.
  std::optional<std::string> pre_stop_json;
  // Containers of `containers` that kubelet runs as init containers (io.kubernetes.container.type).
  std::set<std::string> init_containers;
};

// FakeClock + FakeRuntime + kubelet stand-in + MemoryStore + WatchHub + FakePreStopRunner, and an
// engine over them (no loop thread: tests call TickOnce).
class EngineEnv {
 public:
  explicit EngineEnv(fakes::RuntimeProfile profile = fakes::RuntimeProfile::Containerd16(),
                     RecreateEngineOptions options = DefaultOptions())
      : runtime_(clock_, std::move(profile)),
        kubelet_(runtime_, runtime_, clock_),
        options_(options) {
    store_ = std::make_unique<fakes::MemoryStore>();
  }
  ~EngineEnv() {
    if (engine_ != nullptr) engine_->Shutdown();
  }

  static RecreateEngineOptions DefaultOptions() {
    RecreateEngineOptions options;
    options.max_concurrent_kills = 4;
    options.use_event_stream = false;
    // Shutdown cancels running hooks at once unless a test gives them a bound.
    options.shutdown_hook_timeout = absl::ZeroDuration();
    return options;
  }

  // Replaces the store with a FlakyStore (before StartEngine) and returns it.
  fakes::FlakyStore& UseFlakyStore() {
    auto flaky = std::make_unique<fakes::FlakyStore>();
    fakes::FlakyStore& store = *flaky;
    store_ = std::move(flaky);
    return store;
  }

  // Builds (or rebuilds, as a restarted daemon would) the engine over the same store and runtime.
  void StartEngine() {
    if (engine_ != nullptr) engine_->Shutdown();
    engine_.reset();
    absl::StatusOr<std::unique_ptr<RecreateEngine>> engine =
        RecreateEngine::Create(runtime_, clock_, *store_, prestop_, hub_, options_);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  std::string RunPod(const PodOptions& options) {
    fakes::PodSpec spec;
    spec.namespace_ = options.pod_namespace;
    spec.name = options.name;
    spec.uid = absl::StrCat("uid-", options.pod_namespace, "-", options.name);
    spec.termination_grace_period_seconds = options.termination_grace_period_seconds;
    for (const std::string& container : options.containers) {
      fakes::ContainerSpec c;
      c.name = container;
      c.image = "registry.local/app:1";
      c.pre_stop_handler_json = options.pre_stop_json;
      if (options.init_containers.count(container) > 0) {
        c.annotations[std::string(cri::kubelet::kContainerType)] =
            std::string(cri::kubelet::kContainerTypeInit);
      }
      spec.containers.push_back(c);
    }
    absl::StatusOr<std::string> sandbox = kubelet_.RunPod(spec);
    EXPECT_TRUE(sandbox.ok()) << sandbox.status();
    return spec.uid;
  }

  // The current (newest) instance id of a container, "" if none.
  std::string CurrentId(const std::string& pod_namespace, const std::string& pod,
                        const std::string& name) {
    absl::StatusOr<cri::NodeSnapshot> snapshot = cri::TakeSnapshot(runtime_);
    if (!snapshot.ok()) return "";
    const cri::PodInfo* info = snapshot->FindPod(pod_namespace, pod);
    if (info == nullptr) return "";
    const cri::ContainerInfo* current = info->CurrentContainer(name);
    return current == nullptr ? "" : current->id;
  }

  // `request` with the status contexts a controller passes (the pod's UID, each container's current
  // ID and restart count, read from the runtime now): Create then reads nothing from the runtime
  // and leaves the request's first step to the next tick (with the pod read, Create decides it).
  ::inplaced::v1::CreateRecreateRequestRequest WithStatusContexts(
      ::inplaced::v1::CreateRecreateRequestRequest request) {
    absl::StatusOr<cri::NodeSnapshot> snapshot = cri::TakeSnapshot(runtime_);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    if (!snapshot.ok()) return request;
    const cri::PodInfo* pod = snapshot->FindPod(request.namespace_(), request.spec().pod_name());
    EXPECT_NE(pod, nullptr) << request.spec().pod_name();
    if (pod == nullptr) return request;
    request.mutable_spec()->set_pod_uid(pod->uid);
    for (::inplaced::v1::RecreateContainer& container :
         *request.mutable_spec()->mutable_containers()) {
      const cri::ContainerInfo* current = pod->CurrentContainer(container.name());
      EXPECT_NE(current, nullptr) << container.name();
      if (current == nullptr) continue;
      container.mutable_status_context()->set_container_id(current->id);
      container.mutable_status_context()->set_restart_count(
          static_cast<int32_t>(current->restart_count));
    }
    return request;
  }

  // Lets kubelet restart what exited: a second passes, then one sync.
  void KubeletRestarts() {
    clock_.Advance(absl::Seconds(1));
    ASSERT_OK(kubelet_.SyncOnce());
  }

  // One engine tick, then waits for the kills it started.
  void Tick() {
    ASSERT_OK(engine_->TickOnce());
    engine_->WaitForKills();
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_;
  fakes::KubeletStandIn kubelet_;
  std::unique_ptr<store::Store> store_;
  WatchHub hub_;
  FakePreStopRunner prestop_;
  RecreateEngineOptions options_;
  std::unique_ptr<RecreateEngine> engine_;
};

// The request namespace/name as the engine answers Get (an empty request, and a test failure, if
// none).
inline ::inplaced::v1::RecreateRequest Get(RecreateEngine& engine, const std::string& name,
                                           const std::string& pod_namespace = "default") {
  ::inplaced::v1::GetRecreateRequestRequest request;
  request.set_namespace_(pod_namespace);
  request.set_name(name);
  absl::StatusOr<::inplaced::v1::RecreateRequest> got = engine.Get(request);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : ::inplaced::v1::RecreateRequest();
}

inline ::inplaced::v1::CreateRecreateRequestRequest NewCreate(
    const std::string& name, std::vector<std::string> containers, const std::string& pod = "web-0",
    const std::string& pod_namespace = "default") {
  ::inplaced::v1::CreateRecreateRequestRequest request;
  request.set_namespace_(pod_namespace);
  request.set_name(name);
  request.mutable_spec()->set_pod_name(pod);
  for (const std::string& container : containers)
    request.mutable_spec()->add_containers()->set_name(container);
  return request;
}

}  // namespace inplaced::daemon::testing
