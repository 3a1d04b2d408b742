// FakeRuntime: construction, test hooks, Version/Status, sandboxes and events. Containers live in
// fake_runtime_containers.cc, images in fake_runtime_images.cc, bulk pods in fake_runtime_bulk.cc.
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/label_selector.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tests/fakes/fake_clock.h"

namespace inplaced::fakes {
namespace {

// containerd 1.7 buffers 1000 events in its single channel; 2.x holds them per subscriber.
constexpr size_t kSharedChannelCapacity = 1000;
constexpr size_t kBroadcastCapacity = 100000;

}  // namespace

FakeRuntime::FakeRuntime(Clock& clock, RuntimeProfile profile, uint64_t seed)
    : clock_(clock), profile_(std::move(profile)), random_(seed) {
  absl::MutexLock lock(&mu_);
  if (profile_.events == EventsMode::kSharedChannel) {
    shared_queue_ = std::make_shared<EventQueue>(kSharedChannelCapacity);
  }
}

FakeRuntime::~FakeRuntime() {
  std::map<uint64_t, std::thread> threads;
  {
    absl::MutexLock lock(&async_mu_);
    threads.swap(async_threads_);
  }
  for (auto& [serial, thread] : threads) thread.join();
  absl::MutexLock lock(&mu_);
  for (auto& weak : subscribers_) {
    if (auto queue = weak.lock()) queue->Close();
  }
  if (shared_queue_) shared_queue_->Close();
}

void FakeRuntime::SpawnAsync(std::function<void()> work) {
  std::vector<std::thread> finished;
  {
    absl::MutexLock lock(&async_mu_);
    for (const uint64_t serial : async_finished_) {
      auto it = async_threads_.find(serial);
      if (it == async_threads_.end()) continue;
      finished.push_back(std::move(it->second));
      async_threads_.erase(it);
    }
    async_finished_.clear();
    const uint64_t serial = next_async_++;
    ++async_in_flight_;
    // Inserted before the thread can take async_mu_ to report its end.
    async_threads_.emplace(serial, std::thread([this, serial, work = std::move(work)] {
                             work();
                             absl::MutexLock lock(&async_mu_);
                             async_finished_.push_back(serial);
                             --async_in_flight_;
                           }));
  }
  for (std::thread& thread : finished) thread.join();
}

int FakeRuntime::AsyncCallsInFlight() const {
  absl::MutexLock lock(&async_mu_);
  return async_in_flight_;
}

void FakeRuntime::StopContainerAsync(const criv1::StopContainerRequest& request,
                                     Cancellation* cancel, std::function<void(absl::Status)> done) {
  SpawnAsync([this, request, cancel, done = std::move(done)] {
    done(StopContainerCancellable(request, cancel));
  });
}

void FakeRuntime::ExecSyncAsync(const criv1::ExecSyncRequest& request, Cancellation* cancel,
                                std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) {
  SpawnAsync([this, request, cancel, done = std::move(done)] { done(ExecSync(request, cancel)); });
}

void FakeRuntime::PullImageAsync(
    const criv1::PullImageRequest& request, Cancellation* cancel,
    std::function<void(absl::StatusOr<criv1::PullImageResponse>)> done) {
  SpawnAsync([this, request, cancel, done = std::move(done)] { done(PullImage(request, cancel)); });
}

absl::Status FakeRuntime::BeginCall(absl::string_view method) {
  absl::Duration latency;
  {
    absl::MutexLock lock(&mu_);
    calls_.emplace_back(method);
    auto it = latencies_.find(method);
    latency = it == latencies_.end() ? absl::ZeroDuration() : it->second;
  }
  if (latency > absl::ZeroDuration()) clock_.SleepUntil(clock_.Now() + latency);
  absl::MutexLock lock(&mu_);
  auto it = injected_errors_.find(method);
  if (it == injected_errors_.end() || it->second.empty()) return absl::OkStatus();
  absl::Status error = it->second.front();
  it->second.erase(it->second.begin());
  return error;
}

std::string FakeRuntime::NewIdLocked() {
  // containerd ids are 32 random bytes in hex.
  std::string id;
  id.reserve(64);
  for (int i = 0; i < 4; ++i) absl::StrAppend(&id, absl::StrFormat("%016x", random_()));
  return id;
}

std::string FakeRuntime::NewSandboxIpLocked() {
  // containerd's default CNI bridge range is 10.88.0.0/16.
  const uint32_t n = next_ip_++;
  return absl::StrFormat("10.88.%d.%d", (n >> 8) & 0xff, n & 0xff);
}

// ---- Test hooks ----

void FakeRuntime::InjectError(absl::string_view method, absl::Status error) {
  absl::MutexLock lock(&mu_);
  injected_errors_[std::string(method)].push_back(std::move(error));
}

void FakeRuntime::SetLatency(absl::string_view method, absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  latencies_[std::string(method)] = latency;
}

std::vector<std::string> FakeRuntime::Calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int FakeRuntime::CallCount(absl::string_view method) const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(std::count(calls_.begin(), calls_.end(), method));
}

void FakeRuntime::ClearCalls() {
  absl::MutexLock lock(&mu_);
  calls_.clear();
}

// ---- Version and Status ----

absl::StatusOr<criv1::VersionResponse> FakeRuntime::Version(const criv1::VersionRequest& request) {
  if (absl::Status s = BeginCall("Version"); !s.ok()) return s;
  criv1::VersionResponse response;
  response.set_version("0.1.0");
  response.set_runtime_name(profile_.runtime_name);
  response.set_runtime_version(profile_.runtime_version);
  response.set_runtime_api_version("v1");
  return response;
}

absl::StatusOr<criv1::StatusResponse> FakeRuntime::Status(const criv1::StatusRequest& request) {
  if (absl::Status s = BeginCall("Status"); !s.ok()) return s;
  criv1::StatusResponse response;
  for (const char* type : {"RuntimeReady", "NetworkReady"}) {
    criv1::RuntimeCondition* condition = response.mutable_status()->add_conditions();
    condition->set_type(type);
    condition->set_status(true);
  }
  response.add_runtime_handlers();  // The default handler "".
  return response;
}

// ---- Sandboxes ----

std::string FakeRuntime::CreateSandboxLocked(const criv1::PodSandboxConfig& config,
                                             const std::string& handler) {
  std::string id = NewIdLocked();
  while (sandboxes_.count(id) != 0) id = NewIdLocked();
  Sandbox& sandbox = sandboxes_[id];
  criv1::PodSandboxStatus& status = sandbox.status;
  status.set_id(id);
  *status.mutable_metadata() = config.metadata();
  status.set_state(criv1::SANDBOX_READY);
  status.set_created_at(NowNanos());
  *status.mutable_labels() = config.labels();
  *status.mutable_annotations() = config.annotations();
  status.set_runtime_handler(handler);
  const criv1::NamespaceOption& namespaces = config.linux().security_context().namespace_options();
  *status.mutable_linux()->mutable_namespaces()->mutable_options() = namespaces;
  // The runtime is not responsible for the IP of host-network pods: it reports none.
  if (namespaces.network() != criv1::NODE)
    status.mutable_network()->set_ip(NewSandboxIpLocked());
  else
    status.mutable_network();
  return id;
}

absl::StatusOr<criv1::RunPodSandboxResponse> FakeRuntime::RunPodSandbox(
    const criv1::RunPodSandboxRequest& request) {
  if (absl::Status s = BeginCall("RunPodSandbox"); !s.ok()) return s;
  const criv1::PodSandboxMetadata& metadata = request.config().metadata();
  if (metadata.name().empty() || metadata.namespace_().empty() || metadata.uid().empty()) {
    return absl::InvalidArgumentError(
        "sandbox config must include metadata name, namespace and uid");
  }
  absl::MutexLock lock(&mu_);
  std::string id = CreateSandboxLocked(request.config(), request.runtime_handler());
  // containerd emits container events for the sandbox itself.
  EmitLocked(id, id, criv1::CONTAINER_CREATED_EVENT);
  EmitLocked(id, id, criv1::CONTAINER_STARTED_EVENT);
  criv1::RunPodSandboxResponse response;
  response.set_pod_sandbox_id(id);
  return response;
}

absl::Status FakeRuntime::StopPodSandbox(const criv1::StopPodSandboxRequest& request) {
  if (absl::Status s = BeginCall("StopPodSandbox"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = sandboxes_.find(request.pod_sandbox_id());
  if (it == sandboxes_.end()) return absl::OkStatus();
  // The runtime force-stops the sandbox's containers (kubelet stopped them gracefully before).
  for (auto& [id, container] : containers_) {
    if (container->sandbox_id != it->first) continue;
    if (container->status.state() == criv1::CONTAINER_RUNNING) {
      RecordSignalLocked(id, "SIGKILL");
      ExitLocked(*container, 137);
    }
  }
  if (it->second.status.state() == criv1::SANDBOX_READY) {
    it->second.status.set_state(criv1::SANDBOX_NOTREADY);
    // The network namespace is closed: no IP any more.
    it->second.status.mutable_network()->clear_ip();
    EmitLocked(it->first, it->first, criv1::CONTAINER_STOPPED_EVENT);
  }
  return absl::OkStatus();
}

absl::Status FakeRuntime::RemovePodSandbox(const criv1::RemovePodSandboxRequest& request) {
  if (absl::Status s = BeginCall("RemovePodSandbox"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = sandboxes_.find(request.pod_sandbox_id());
  if (it == sandboxes_.end()) return absl::OkStatus();
  std::vector<std::string> ids;
  for (const auto& [id, container] : containers_) {
    if (container->sandbox_id == it->first) ids.push_back(id);
  }
  for (const std::string& id : ids) RemoveContainerLocked(id);
  EmitLocked(it->first, it->first, criv1::CONTAINER_DELETED_EVENT);
  sandboxes_.erase(request.pod_sandbox_id());
  return absl::OkStatus();
}

absl::StatusOr<criv1::PodSandboxStatusResponse> FakeRuntime::PodSandboxStatus(
    const criv1::PodSandboxStatusRequest& request) {
  if (absl::Status s = BeginCall("PodSandboxStatus"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto it = sandboxes_.find(request.pod_sandbox_id());
  if (it == sandboxes_.end()) {
    return absl::NotFoundError(absl::StrCat("an error occurred when try to find sandbox \"",
                                            request.pod_sandbox_id(), "\": not found"));
  }
  criv1::PodSandboxStatusResponse response;
  *response.mutable_status() = it->second.status;
  return response;
}

absl::StatusOr<criv1::ListPodSandboxResponse> FakeRuntime::ListPodSandbox(
    const criv1::ListPodSandboxRequest& request) {
  if (absl::Status s = BeginCall("ListPodSandbox"); !s.ok()) return s;
  const criv1::PodSandboxFilter& filter = request.filter();
  absl::MutexLock lock(&mu_);
  criv1::ListPodSandboxResponse response;
  for (const auto& [id, sandbox] : sandboxes_) {
    const criv1::PodSandboxStatus& status = sandbox.status;
    if (!filter.id().empty() && !absl::StartsWith(id, filter.id())) continue;
    if (filter.has_state() && status.state() != filter.state().state()) continue;
    if (!LabelsMatch(status.labels(), filter.label_selector())) continue;
    criv1::PodSandbox* item = response.add_items();
    item->set_id(id);
    *item->mutable_metadata() = status.metadata();
    item->set_state(status.state());
    item->set_created_at(status.created_at());
    *item->mutable_labels() = status.labels();
    *item->mutable_annotations() = status.annotations();
    item->set_runtime_handler(status.runtime_handler());
  }
  return response;
}

// ---- Events ----

bool FakeRuntime::HasSubscribersLocked() const {
  if (profile_.events == EventsMode::kSharedChannel) return true;  // The channel buffers anyway.
  for (const auto& weak : subscribers_) {
    if (!weak.expired()) return true;
  }
  return false;
}

void FakeRuntime::EmitLocked(const std::string& container_id, const std::string& sandbox_id,
                             criv1::ContainerEventType type) {
  if (profile_.events == EventsMode::kUnimplemented ||
      profile_.events == EventsMode::kEndsImmediately || profile_.events == EventsMode::kSilent ||
      !HasSubscribersLocked()) {
    return;
  }
  criv1::ContainerEventResponse event;
  event.set_container_id(container_id);
  event.set_container_event_type(type);
  event.set_created_at(NowNanos());
  auto sandbox = sandboxes_.find(sandbox_id);
  if (sandbox != sandboxes_.end()) *event.mutable_pod_sandbox_status() = sandbox->second.status;
  for (const auto& [id, container] : containers_) {
    if (container->sandbox_id == sandbox_id) *event.add_containers_statuses() = container->status;
  }
  if (profile_.events == EventsMode::kSharedChannel) {
    shared_queue_->Push(event);
    return;
  }
  subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                    [](const std::weak_ptr<EventQueue>& w) { return w.expired(); }),
                     subscribers_.end());
  for (const auto& weak : subscribers_) {
    if (auto queue = weak.lock()) queue->Push(event);
  }
}

absl::StatusOr<std::unique_ptr<cri::ContainerEventStream>> FakeRuntime::GetContainerEvents() {
  if (absl::Status s = BeginCall("GetContainerEvents"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  switch (profile_.events) {
    case EventsMode::kUnimplemented:
      return absl::UnimplementedError("method GetContainerEvents not implemented");
    case EventsMode::kEndsImmediately: {
      auto queue = std::make_shared<EventQueue>(0);
      queue->Close();
      return std::make_unique<FakeEventStream>(std::move(queue));
    }
    case EventsMode::kSharedChannel:
      return std::make_unique<FakeEventStream>(shared_queue_);
    case EventsMode::kBroadcast:
    case EventsMode::kSilent: {
      auto queue = std::make_shared<EventQueue>(kBroadcastCapacity);
      subscribers_.push_back(queue);
      return std::make_unique<FakeEventStream>(std::move(queue));
    }
  }
  return absl::InternalError("unknown events mode");
}

void FakeRuntime::BreakEventStreams(absl::Status status) {
  absl::MutexLock lock(&mu_);
  for (auto& weak : subscribers_) {
    if (auto queue = weak.lock()) queue->Close(status);
  }
  subscribers_.clear();
  if (shared_queue_) {
    shared_queue_->Close(status);
    shared_queue_ = std::make_shared<EventQueue>(kSharedChannelCapacity);
  }
}

int FakeRuntime::EventSubscribers() const {
  absl::MutexLock lock(&mu_);
  if (profile_.events == EventsMode::kSharedChannel) {
    return static_cast<int>(shared_queue_.use_count()) - 1;
  }
  int count = 0;
  for (const auto& weak : subscribers_) count += weak.expired() ? 0 : 1;
  return count;
}

}  // namespace inplaced::fakes
