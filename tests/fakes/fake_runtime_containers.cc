// FakeRuntime: containers (create/start/stop/remove/list/status) and ExecSync.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/label_selector.h"

namespace inplaced::fakes {
namespace {

constexpr int kSigkillExitCode = 137;

absl::Status ContainerNotFound(absl::string_view id) {
  return absl::NotFoundError(
      absl::StrCat("an error occurred when try to find container \"", id, "\": not found"));
}

}  // namespace

std::shared_ptr<FakeRuntime::Container> FakeRuntime::FindContainerLocked(absl::string_view id) {
  auto it = containers_.find(std::string(id));
  return it == containers_.end() ? nullptr : it->second;
}

void FakeRuntime::RecordSignalLocked(const std::string& id, const std::string& signal) {
  signals_.push_back(SignalRecord{id, signal, clock_.Now()});
}

void FakeRuntime::ExitLocked(Container& container, int exit_code) {
  if (container.status.state() != criv1::CONTAINER_RUNNING) return;
  container.status.set_state(criv1::CONTAINER_EXITED);
  container.status.set_finished_at(NowNanos());
  container.status.set_exit_code(exit_code);
  container.status.set_reason(exit_code == 0 ? "Completed" : "Error");
  container.exited->Cancel();
  EmitLocked(container.status.id(), container.sandbox_id, criv1::CONTAINER_STOPPED_EVENT);
}

absl::StatusOr<std::string> FakeRuntime::CreateContainerLocked(
    const std::string& sandbox_id, const criv1::ContainerConfig& config) {
  auto sandbox = sandboxes_.find(sandbox_id);
  if (sandbox == sandboxes_.end()) {
    return absl::NotFoundError(
        absl::StrCat("failed to find sandbox id \"", sandbox_id, "\": not found"));
  }
  if (sandbox->second.status.state() != criv1::SANDBOX_READY) {
    return absl::FailedPreconditionError(absl::StrCat("sandbox \"", sandbox_id, "\" is not ready"));
  }
  if (config.metadata().name().empty()) {
    return absl::InvalidArgumentError("container config must include metadata name");
  }
  const criv1::PodSandboxMetadata& pod = sandbox->second.status.metadata();
  // containerd reserves "<name>_<pod>_<namespace>_<uid>_<attempt>" while the container exists.
  const std::string reserved_name =
      absl::StrCat(config.metadata().name(), "_", pod.name(), "_", pod.namespace_(), "_", pod.uid(),
                   "_", config.metadata().attempt());
  for (const auto& [id, existing] : containers_) {
    if (existing->sandbox_id == sandbox_id &&
        existing->status.metadata().name() == config.metadata().name() &&
        existing->status.metadata().attempt() == config.metadata().attempt()) {
      return absl::UnknownError(absl::StrCat("failed to reserve container name \"", reserved_name,
                                             "\": name \"", reserved_name, "\" is reserved for \"",
                                             id, "\""));
    }
  }
  std::string id = NewIdLocked();
  while (containers_.count(id) != 0 || sandboxes_.count(id) != 0) id = NewIdLocked();

  auto container = std::make_shared<Container>();
  container->sandbox_id = sandbox_id;
  container->behaviour = default_behaviour_;
  const std::string image_name = config.image().image();
  const StoredImage* image = FindImageLocked(image_name);
  if (image != nullptr) {
    container->image_id = image->image.id();
  } else {
    // Not pulled: derive the same id a pull would give, so the fields are filled and stable.
    container->image_id = StoreImageLocked(image_name, 1).image.id();
    images_.erase(container->image_id);
  }
  criv1::ContainerStatus& status = container->status;
  status.set_id(id);
  *status.mutable_metadata() = config.metadata();
  status.set_state(criv1::CONTAINER_CREATED);
  status.set_created_at(NowNanos());
  *status.mutable_image() = config.image();
  status.set_image_ref(container->image_id);
  status.set_image_id(container->image_id);
  *status.mutable_labels() = config.labels();
  *status.mutable_annotations() = config.annotations();
  *status.mutable_mounts() = config.mounts();
  status.set_log_path(config.log_path());
  containers_.emplace(id, container);
  EmitLocked(id, sandbox_id, criv1::CONTAINER_CREATED_EVENT);
  return id;
}

absl::StatusOr<criv1::CreateContainerResponse> FakeRuntime::CreateContainer(
    const criv1::CreateContainerRequest& request) {
  if (absl::Status s = BeginCall("CreateContainer"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::string> id =
      CreateContainerLocked(request.pod_sandbox_id(), request.config());
  if (!id.ok()) return id.status();
  // containerd reports the log path joined with the sandbox's log directory.
  if (!request.sandbox_config().log_directory().empty() && !request.config().log_path().empty()) {
    containers_[*id]->status.set_log_path(
        absl::StrCat(request.sandbox_config().log_directory(), "/", request.config().log_path()));
  }
  criv1::CreateContainerResponse response;
  response.set_container_id(*id);
  return response;
}

void FakeRuntime::StartContainerLocked(Container& container) {
  container.status.set_state(criv1::CONTAINER_RUNNING);
  container.status.set_started_at(NowNanos());
  EmitLocked(container.status.id(), container.sandbox_id, criv1::CONTAINER_STARTED_EVENT);
}

absl::Status FakeRuntime::StartContainer(const criv1::StartContainerRequest& request) {
  if (absl::Status s = BeginCall("StartContainer"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Container> container = FindContainerLocked(request.container_id());
  if (container == nullptr) return ContainerNotFound(request.container_id());
  if (container->status.state() != criv1::CONTAINER_CREATED) {
    return absl::FailedPreconditionError(
        absl::StrCat("container \"", request.container_id(), "\" is in ",
                     criv1::ContainerState_Name(container->status.state()), " state"));
  }
  StartContainerLocked(*container);
  return absl::OkStatus();
}

absl::Status FakeRuntime::StopContainer(const criv1::StopContainerRequest& request) {
  return StopContainerCancellable(request, nullptr);
}

absl::Status FakeRuntime::StopContainerCancellable(const criv1::StopContainerRequest& request,
                                                   Cancellation* cancel) {
  if (absl::Status s = BeginCall("StopContainer"); !s.ok()) return s;
  const std::string& id = request.container_id();
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Container> container = FindContainerLocked(id);
  if (container == nullptr) {
    // containerd 1.6.0–1.6.34 / 1.7.0–1.7.20 answer NOT_FOUND; later ones and CRI-O are idempotent.
    return profile_.stop_unknown_is_not_found ? ContainerNotFound(id) : absl::OkStatus();
  }
  if (container->status.state() != criv1::CONTAINER_RUNNING) return absl::OkStatus();

  const absl::Time now = clock_.Now();
  const bool send_signal = request.timeout() > 0 || profile_.stop_signal_on_zero_timeout;
  // The stop signal goes out once per container (containerd#5021); a concurrent stop only waits.
  if (send_signal && !container->stop_signalled) {
    container->stop_signalled = true;
    RecordSignalLocked(id, "SIGTERM");
    if (container->behaviour.honours_term) {
      container->term_exit_at = now + container->behaviour.term_exit_delay;
    }
  }
  // Concurrent stops share the earliest kill deadline (CRI-O: a later stop can only shorten it).
  const absl::Time own_kill_at = now + absl::Seconds(std::max<int64_t>(request.timeout(), 0));
  if (!container->kill_at.has_value() || own_kill_at < *container->kill_at) {
    container->kill_at = own_kill_at;
  }
  while (true) {
    if (container->status.state() != criv1::CONTAINER_RUNNING) return absl::OkStatus();
    const absl::Time current = clock_.Now();
    const absl::Time kill_at = *container->kill_at;
    const std::optional<absl::Time> term_at = container->term_exit_at;
    if (term_at.has_value() && *term_at <= kill_at && current >= *term_at) {
      ExitLocked(*container, container->behaviour.term_exit_code);
      return absl::OkStatus();
    }
    if (current >= kill_at) {
      RecordSignalLocked(id, "SIGKILL");
      ExitLocked(*container, kSigkillExitCode);
      return absl::OkStatus();
    }
    if (cancel != nullptr && cancel->IsCancelled()) {
      return absl::CancelledError("StopContainer: cancelled by the client");
    }
    const absl::Time wake_at = term_at.has_value() ? std::min(kill_at, *term_at) : kill_at;
    std::shared_ptr<Cancellation> exited = container->exited;
    mu_.Unlock();
    // Woken by the exit or by the caller's cancellation, whichever comes first.
    Cancellation wake;
    const int on_exit = exited->Register([&wake] { wake.Cancel(); });
    const int on_cancel = cancel == nullptr ? -1 : cancel->Register([&wake] { wake.Cancel(); });
    SleepUntilOrWoken(clock_, wake_at, &wake);
    exited->Unregister(on_exit);
    if (cancel != nullptr) cancel->Unregister(on_cancel);
    mu_.Lock();
  }
}

void FakeRuntime::RemoveContainerLocked(const std::string& id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  std::shared_ptr<Container> container = it->second;
  if (container->status.state() == criv1::CONTAINER_RUNNING) {
    RecordSignalLocked(id, "SIGKILL");
    ExitLocked(*container, kSigkillExitCode);
  }
  const std::string sandbox_id = container->sandbox_id;
  containers_.erase(it);
  EmitLocked(id, sandbox_id, criv1::CONTAINER_DELETED_EVENT);
}

absl::Status FakeRuntime::RemoveContainer(const criv1::RemoveContainerRequest& request) {
  if (absl::Status s = BeginCall("RemoveContainer"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  RemoveContainerLocked(request.container_id());
  return absl::OkStatus();
}

criv1::Container FakeRuntime::ToContainerLocked(const std::string& id,
                                                const Container& container) const {
  const criv1::ContainerStatus& status = container.status;
  criv1::Container item;
  item.set_id(id);
  item.set_pod_sandbox_id(container.sandbox_id);
  *item.mutable_metadata() = status.metadata();
  *item.mutable_image() = status.image();
  // containerd's listing carries the config digest in both fields (no image-store lookup).
  item.set_image_ref(container.image_id);
  item.set_image_id(container.image_id);
  item.set_state(status.state());
  item.set_created_at(status.created_at());
  *item.mutable_labels() = status.labels();
  *item.mutable_annotations() = status.annotations();
  return item;
}

absl::StatusOr<criv1::ListContainersResponse> FakeRuntime::ListContainers(
    const criv1::ListContainersRequest& request) {
  if (absl::Status s = BeginCall("ListContainers"); !s.ok()) return s;
  const criv1::ContainerFilter& filter = request.filter();
  absl::MutexLock lock(&mu_);
  criv1::ListContainersResponse response;
  for (const auto& [id, container] : containers_) {
    if (!filter.id().empty() && !absl::StartsWith(id, filter.id())) continue;
    if (!filter.pod_sandbox_id().empty() &&
        !absl::StartsWith(container->sandbox_id, filter.pod_sandbox_id())) {
      continue;
    }
    if (filter.has_state() && container->status.state() != filter.state().state()) continue;
    if (!LabelsMatch(container->status.labels(), filter.label_selector())) continue;
    *response.add_containers() = ToContainerLocked(id, *container);
  }
  return response;
}

absl::StatusOr<criv1::ContainerStatusResponse> FakeRuntime::ContainerStatus(
    const criv1::ContainerStatusRequest& request) {
  if (absl::Status s = BeginCall("ContainerStatus"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Container> container = FindContainerLocked(request.container_id());
  if (container == nullptr) return ContainerNotFound(request.container_id());
  criv1::ContainerStatusResponse response;
  *response.mutable_status() = container->status;
  return response;
}

// ---- Stop behaviour hooks ----

void FakeRuntime::SetDefaultStopBehaviour(const StopBehaviour& behaviour) {
  absl::MutexLock lock(&mu_);
  default_behaviour_ = behaviour;
}

absl::Status FakeRuntime::SetStopBehaviour(absl::string_view container_id,
                                           const StopBehaviour& behaviour) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Container> container = FindContainerLocked(container_id);
  if (container == nullptr) return ContainerNotFound(container_id);
  container->behaviour = behaviour;
  return absl::OkStatus();
}

std::vector<SignalRecord> FakeRuntime::Signals() const {
  absl::MutexLock lock(&mu_);
  return signals_;
}

std::vector<std::string> FakeRuntime::SignalsOf(absl::string_view container_id) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const SignalRecord& record : signals_) {
    if (record.container_id == container_id) out.push_back(record.signal);
  }
  return out;
}

absl::Status FakeRuntime::ExitContainer(absl::string_view container_id, int exit_code) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<Container> container = FindContainerLocked(container_id);
  if (container == nullptr) return ContainerNotFound(container_id);
  if (container->status.state() != criv1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("container \"", container_id, "\" is not running"));
  }
  ExitLocked(*container, exit_code);
  return absl::OkStatus();
}

// ---- ExecSync ----

void FakeRuntime::SetExecHandler(absl::string_view container_id_or_name,
                                 std::vector<std::string> cmd, ExecResult result) {
  absl::MutexLock lock(&mu_);
  exec_handlers_.push_back(
      ExecHandler{std::string(container_id_or_name), std::move(cmd), std::move(result)});
}

std::vector<ExecRecord> FakeRuntime::Execs() const {
  absl::MutexLock lock(&mu_);
  return execs_;
}

absl::StatusOr<criv1::ExecSyncResponse> FakeRuntime::ExecSync(const criv1::ExecSyncRequest& request,
                                                              Cancellation* cancel) {
  if (absl::Status s = BeginCall("ExecSync"); !s.ok()) return s;
  const std::string& id = request.container_id();
  std::vector<std::string> cmd(request.cmd().begin(), request.cmd().end());
  ExecResult result;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Container> container = FindContainerLocked(id);
    if (container == nullptr) return ContainerNotFound(id);
    execs_.push_back(ExecRecord{id, cmd, request.timeout()});
    if (container->status.state() != criv1::CONTAINER_RUNNING) {
      if (profile_.exec_not_running_is_not_found) {
        return absl::NotFoundError("container is not created or running");
      }
      return absl::UnknownError(absl::StrCat("failed to exec in container: container is in ",
                                             criv1::ContainerState_Name(container->status.state()),
                                             " state"));
    }
    // The latest matching handler wins; an id match beats a name match.
    const ExecHandler* best = nullptr;
    for (const ExecHandler& handler : exec_handlers_) {
      const bool id_match = handler.target == id;
      const bool name_match = handler.target == container->status.metadata().name();
      if (!id_match && !name_match) continue;
      if (!handler.cmd.empty() && handler.cmd != cmd) continue;
      if (best != nullptr && best->target == id && !id_match) continue;
      best = &handler;
    }
    if (best != nullptr) result = best->result;
  }

  const absl::Time start = clock_.Now();
  const bool has_timeout = request.timeout() > 0;
  const absl::Time timeout_at = start + absl::Seconds(request.timeout());
  const bool times_out = has_timeout && (result.hang || start + result.duration > timeout_at);
  absl::Time end = times_out ? timeout_at : start + result.duration;
  if (result.hang && !has_timeout) end = absl::InfiniteFuture();
  if (end > start && !SleepUntilOrWoken(clock_, end, cancel)) {
    return absl::CancelledError("context canceled");
  }
  if (cancel != nullptr && cancel->IsCancelled()) return absl::CancelledError("context canceled");
  if (times_out) {
    if (profile_.exec_timeout == ExecTimeoutStyle::kDeadlineExceeded) {
      return absl::DeadlineExceededError(absl::StrCat("failed to exec in container: timeout ",
                                                      request.timeout(),
                                                      "s exceeded: context deadline exceeded"));
    }
    criv1::ExecSyncResponse response;
    response.set_exit_code(-1);
    response.set_stderr(absl::StrCat("command timed out after ", request.timeout(), " seconds"));
    return response;
  }
  criv1::ExecSyncResponse response;
  response.set_stdout(result.stdout_text);
  response.set_stderr(result.stderr_text);
  response.set_exit_code(result.exit_code);
  return response;
}

}  // namespace inplaced::fakes
