#include "tests/fakes/kubelet_standin.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cri/kubelet_labels.h"
#include "spdlog/spdlog.h"
#include "tests/fakes/fake_clock.h"

namespace inplaced::fakes {
namespace {

namespace criv1 = ::runtime::v1;
namespace kubelet = ::inplaced::cri::kubelet;

std::string Key(absl::string_view namespace_, absl::string_view name) {
  return absl::StrCat(namespace_, "/", name);
}

// kubelet hashes the container spec and writes it in hex; any stable hash serves the same purpose
// here.
std::string HashContainer(const ContainerSpec& spec) {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  auto mix = [&hash](absl::string_view text) {
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ULL;
    hash = (hash ^ 0xff) * 1099511628211ULL;
  };
  mix(spec.name);
  mix(spec.image);
  for (const std::string& part : spec.command) mix(part);
  for (const std::string& part : spec.args) mix(part);
  return absl::StrFormat("%x", hash);
}

std::string LogPath(absl::string_view name, uint32_t attempt) {
  return absl::StrCat(name, "/", attempt, ".log");
}

// The config of instance `attempt` from the attempt-0 template.
criv1::ContainerConfig ConfigForAttempt(const criv1::ContainerConfig& base, uint32_t attempt) {
  criv1::ContainerConfig config = base;
  config.mutable_metadata()->set_attempt(attempt);
  (*config.mutable_annotations())[std::string(kubelet::kContainerRestartCount)] =
      absl::StrCat(attempt);
  config.set_log_path(LogPath(config.metadata().name(), attempt));
  return config;
}

std::string ContainerNameOf(const criv1::Container& container) {
  auto it = container.labels().find(std::string(kubelet::kContainerName));
  return it != container.labels().end() ? it->second : container.metadata().name();
}

}  // namespace

KubeletStandIn::KubeletStandIn(cri::Runtime& runtime, PodLifecycle& lifecycle, Clock& clock,
                               KubeletStandInOptions options)
    : runtime_(runtime), lifecycle_(lifecycle), clock_(clock), options_(options) {}

KubeletStandIn::~KubeletStandIn() { Stop(); }

absl::StatusOr<std::string> KubeletStandIn::RunPod(const PodSpec& spec) {
  const std::string key = Key(spec.namespace_, spec.name);
  {
    absl::MutexLock lock(&mu_);
    if (pods_.count(key) != 0)
      return absl::AlreadyExistsError(absl::StrCat("pod ", key, " already runs"));
  }
  Pod pod;
  criv1::PodSandboxConfig& sandbox = pod.sandbox_config;
  sandbox.mutable_metadata()->set_name(spec.name);
  sandbox.mutable_metadata()->set_uid(spec.uid);
  sandbox.mutable_metadata()->set_namespace_(spec.namespace_);
  sandbox.mutable_metadata()->set_attempt(0);
  sandbox.set_log_directory(
      spec.log_directory.empty()
          ? absl::StrCat("/var/log/pods/", spec.namespace_, "_", spec.name, "_", spec.uid)
          : spec.log_directory);
  for (const auto& [key_, value] : spec.labels) (*sandbox.mutable_labels())[key_] = value;
  (*sandbox.mutable_labels())[std::string(kubelet::kPodName)] = spec.name;
  (*sandbox.mutable_labels())[std::string(kubelet::kPodNamespace)] = spec.namespace_;
  (*sandbox.mutable_labels())[std::string(kubelet::kPodUid)] = spec.uid;
  for (const auto& [key_, value] : spec.annotations) (*sandbox.mutable_annotations())[key_] = value;
  if (spec.host_network) {
    // No hostname: runc refuses one without a private UTS namespace (e2e-environment.md §4).
    sandbox.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
        criv1::NODE);
  }

  for (const ContainerSpec& container : spec.containers) {
    criv1::ContainerConfig config;
    config.mutable_metadata()->set_name(container.name);
    config.mutable_image()->set_image(container.image);
    for (const std::string& part : container.command) config.add_command(part);
    for (const std::string& part : container.args) config.add_args(part);
    for (const auto& [name, value] : container.envs) {
      criv1::KeyValue* env = config.add_envs();
      env->set_key(name);
      env->set_value(value);
    }
    for (const ContainerSpec::Mount& mount : container.mounts) {
      criv1::Mount* cri_mount = config.add_mounts();
      cri_mount->set_host_path(mount.host_path);
      cri_mount->set_container_path(mount.container_path);
      cri_mount->set_readonly(mount.read_only);
    }
    auto& labels = *config.mutable_labels();
    labels[std::string(kubelet::kPodName)] = spec.name;
    labels[std::string(kubelet::kPodNamespace)] = spec.namespace_;
    labels[std::string(kubelet::kPodUid)] = spec.uid;
    labels[std::string(kubelet::kContainerName)] = container.name;
    auto& annotations = *config.mutable_annotations();
    for (const auto& [key_, value] : container.annotations) annotations[key_] = value;
    annotations[std::string(kubelet::kContainerHash)] = HashContainer(container);
    annotations[std::string(kubelet::kContainerRestartCount)] = "0";
    annotations[std::string(kubelet::kContainerTerminationMessagePath)] = "/dev/termination-log";
    annotations[std::string(kubelet::kContainerTerminationMessagePolicy)] = "File";
    // A regular container unless the spec says otherwise (an init container in a test).
    annotations.insert(
        {std::string(kubelet::kContainerType), std::string(kubelet::kContainerTypeRegular)});
    if (spec.termination_grace_period_seconds.has_value()) {
      annotations[std::string(kubelet::kPodTerminationGracePeriod)] =
          absl::StrCat(*spec.termination_grace_period_seconds);
    }
    if (container.pre_stop_handler_json.has_value()) {
      annotations[std::string(kubelet::kContainerPreStopHandler)] =
          *container.pre_stop_handler_json;
    }
    if (container.ports_json.has_value()) {
      annotations[std::string(kubelet::kContainerPorts)] = *container.ports_json;
    }
    if (spec.host_network) {
      // kubelet mirrors the pod's namespaces into each container: host network, private pid.
      auto* namespaces =
          config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
      namespaces->set_network(criv1::NODE);
      namespaces->set_pid(criv1::CONTAINER);
    }
    config.set_log_path(LogPath(container.name, 0));
    pod.templates[container.name] = std::move(config);
  }

  criv1::RunPodSandboxRequest run;
  *run.mutable_config() = sandbox;
  absl::StatusOr<criv1::RunPodSandboxResponse> ran = lifecycle_.RunPodSandbox(run);
  if (!ran.ok()) return ran.status();
  pod.sandbox_id = ran->pod_sandbox_id();

  absl::Status failed;
  for (const ContainerSpec& container : spec.containers) {
    criv1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod.sandbox_id);
    *create.mutable_config() = pod.templates[container.name];
    *create.mutable_sandbox_config() = sandbox;
    absl::StatusOr<criv1::CreateContainerResponse> created = lifecycle_.CreateContainer(create);
    if (!created.ok()) {
      failed = created.status();
      break;
    }
    criv1::StartContainerRequest start;
    start.set_container_id(created->container_id());
    failed = lifecycle_.StartContainer(start);
    if (!failed.ok()) break;
  }
  if (!failed.ok()) {
    spdlog::warn("kubelet_standin run_pod_failed pod={} error={}", key, failed.ToString());
    criv1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(pod.sandbox_id);
    (void)lifecycle_.StopPodSandbox(stop);
    criv1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod.sandbox_id);
    (void)lifecycle_.RemovePodSandbox(remove);
    return failed;
  }
  spdlog::info("kubelet_standin pod_started pod={} sandbox={}", key, pod.sandbox_id);
  std::string id = pod.sandbox_id;
  absl::MutexLock lock(&mu_);
  pods_[key] = std::move(pod);
  return id;
}

absl::StatusOr<bool> KubeletStandIn::Adopt(const std::string& sandbox_id) {
  criv1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  absl::StatusOr<criv1::PodSandboxStatusResponse> status = runtime_.PodSandboxStatus(request);
  if (absl::IsNotFound(status.status())) return false;
  if (!status.ok()) return status.status();
  const criv1::PodSandboxStatus& sandbox = status->status();
  if (sandbox.state() != criv1::SANDBOX_READY ||
      !sandbox.labels().contains(std::string(kubelet::kPodUid))) {
    return false;
  }
  Pod pod;
  pod.sandbox_id = sandbox.id();
  *pod.sandbox_config.mutable_metadata() = sandbox.metadata();
  *pod.sandbox_config.mutable_labels() = sandbox.labels();
  *pod.sandbox_config.mutable_annotations() = sandbox.annotations();
  // No templates: SyncPod rebuilds container configs from the runtime's listing.
  absl::MutexLock lock(&mu_);
  pods_.emplace(Key(sandbox.metadata().namespace_(), sandbox.metadata().name()), std::move(pod));
  return true;
}

absl::Status KubeletStandIn::SyncOnce() {
  absl::MutexLock sync(&sync_mu_);
  // Idle cost stays one List call: only exited instances matter, and those already replaced are
  // skipped (they stay listed as the one kept dead instance).
  criv1::ListContainersRequest exited_request;
  exited_request.mutable_filter()->mutable_state()->set_state(criv1::CONTAINER_EXITED);
  absl::StatusOr<criv1::ListContainersResponse> exited = runtime_.ListContainers(exited_request);
  if (!exited.ok()) return exited.status();
  std::set<std::string> sandboxes;
  std::set<std::string> still_listed;
  for (const criv1::Container& container : exited->containers()) {
    if (superseded_.count(container.id()) != 0) {
      still_listed.insert(container.id());
      continue;
    }
    sandboxes.insert(container.pod_sandbox_id());
  }
  // Forget replaced instances that are gone (removed by us or by someone else).
  for (auto it = superseded_.begin(); it != superseded_.end();) {
    it = still_listed.count(*it) != 0 ? std::next(it) : superseded_.erase(it);
  }

  if (sandboxes.empty()) return absl::OkStatus();
  // One listing of the node for every pod to sync (like kubelet's relist), not one per pod: a burst
  // of exits would cost the runtime a scan per pod while the clients' calls wait.
  absl::StatusOr<criv1::ListContainersResponse> all = runtime_.ListContainers({});
  if (!all.ok()) return all.status();
  std::map<std::string, std::vector<criv1::Container>> by_sandbox;
  for (const criv1::Container& container : all->containers()) {
    if (sandboxes.count(container.pod_sandbox_id()) != 0) {
      by_sandbox[container.pod_sandbox_id()].push_back(container);
    }
  }

  const auto known_pod = [this](const std::string& sandbox_id) -> std::optional<Pod> {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, known] : pods_) {
      if (known.sandbox_id == sandbox_id) return known;
    }
    return std::nullopt;
  };
  absl::Status first_error;
  for (const std::string& sandbox_id : sandboxes) {
    std::optional<Pod> pod = known_pod(sandbox_id);
    if (!pod.has_value() && options_.adopt_all_pods) {
      absl::StatusOr<bool> adopted = Adopt(sandbox_id);
      if (!adopted.ok()) {
        first_error.Update(adopted.status());
        continue;
      }
      if (*adopted) pod = known_pod(sandbox_id);
    }
    if (!pod.has_value()) continue;
    first_error.Update(SyncPod(*pod, by_sandbox[sandbox_id]));
  }
  return first_error;
}

absl::Status KubeletStandIn::SyncPod(const Pod& pod,
                                     const std::vector<criv1::Container>& containers) {
  std::map<std::string, std::vector<const criv1::Container*>> by_name;
  for (const criv1::Container& container : containers)
    by_name[ContainerNameOf(container)].push_back(&container);

  absl::Status first_error;
  for (auto& [name, instances] : by_name) {
    // Newest first: kubelet orders by creation; attempts grow with it.
    std::sort(instances.begin(), instances.end(),
              [](const criv1::Container* a, const criv1::Container* b) {
                return a->metadata().attempt() > b->metadata().attempt();
              });
    const criv1::Container& newest = *instances.front();
    // Instances older than the newest are replaced already.
    for (size_t i = 1; i < instances.size(); ++i) {
      if (instances[i]->state() != criv1::CONTAINER_RUNNING) superseded_.insert(instances[i]->id());
    }
    size_t keep =
        2;  // The current instance and one dead one (maximum-dead-containers-per-container 1).

    if (newest.state() == criv1::CONTAINER_CREATED) {
      criv1::StartContainerRequest start;
      start.set_container_id(newest.id());
      first_error.Update(lifecycle_.StartContainer(start));
    } else if (newest.state() == criv1::CONTAINER_EXITED ||
               newest.state() == criv1::CONTAINER_UNKNOWN) {
      criv1::ContainerStatusRequest status_request;
      status_request.set_container_id(newest.id());
      absl::StatusOr<criv1::ContainerStatusResponse> status =
          runtime_.ContainerStatus(status_request);
      if (!status.ok()) {
        if (!absl::IsNotFound(status.status())) first_error.Update(status.status());
        continue;
      }
      const absl::Time finished = absl::FromUnixNanos(status->status().finished_at());
      if (clock_.Now() - finished < options_.restart_backoff) continue;

      criv1::ContainerConfig base;
      auto it = pod.templates.find(name);
      if (it != pod.templates.end()) {
        base = it->second;
      } else {
        // Adopted pod: rebuild the config from what the runtime reports.
        base.mutable_metadata()->set_name(newest.metadata().name());
        *base.mutable_image() = status->status().image();
        *base.mutable_labels() = newest.labels();
        *base.mutable_annotations() = newest.annotations();
      }
      const uint32_t attempt = newest.metadata().attempt() + 1;
      criv1::CreateContainerRequest create;
      create.set_pod_sandbox_id(pod.sandbox_id);
      *create.mutable_config() = ConfigForAttempt(base, attempt);
      *create.mutable_sandbox_config() = pod.sandbox_config;
      absl::StatusOr<criv1::CreateContainerResponse> created = lifecycle_.CreateContainer(create);
      if (!created.ok()) {
        first_error.Update(created.status());
        continue;
      }
      criv1::StartContainerRequest start;
      start.set_container_id(created->container_id());
      absl::Status started = lifecycle_.StartContainer(start);
      first_error.Update(started);
      {
        absl::MutexLock lock(&mu_);
        ++restarts_;
      }
      spdlog::info("kubelet_standin container_restarted sandbox={} container={} attempt={} id={}",
                   pod.sandbox_id, name, attempt, created->container_id());
      superseded_.insert(newest.id());
      keep = 1;  // The new instance is not in `instances`: keep only the one that just died.
    }
    for (size_t i = keep; i < instances.size(); ++i) {
      if (instances[i]->state() == criv1::CONTAINER_RUNNING) continue;
      criv1::RemoveContainerRequest remove;
      remove.set_container_id(instances[i]->id());
      first_error.Update(lifecycle_.RemoveContainer(remove));
    }
  }
  return first_error;
}

void KubeletStandIn::Start(absl::Duration poll_interval) {
  absl::MutexLock lock(&thread_mu_);
  if (thread_.joinable()) return;
  stop_ = std::make_unique<Cancellation>();
  Cancellation* stop = stop_.get();
  thread_ = std::thread([this, poll_interval, stop] { Loop(poll_interval, stop); });
}

void KubeletStandIn::Loop(absl::Duration poll_interval, Cancellation* stop) {
  while (!stop->IsCancelled()) {
    absl::Status synced = SyncOnce();
    if (!synced.ok()) spdlog::warn("kubelet_standin sync_failed error={}", synced.ToString());
    SleepUntilOrWoken(clock_, clock_.Now() + poll_interval, stop);
  }
}

void KubeletStandIn::Stop() {
  std::thread thread;
  std::unique_ptr<Cancellation> stop;
  {
    absl::MutexLock lock(&thread_mu_);
    if (!thread_.joinable()) return;
    stop_->Cancel();
    thread = std::move(thread_);
    stop = std::move(stop_);
  }
  thread.join();
}

absl::Status KubeletStandIn::RemovePod(absl::string_view namespace_, absl::string_view name) {
  absl::MutexLock sync(&sync_mu_);
  const std::string key = Key(namespace_, name);
  std::string sandbox_id;
  {
    absl::MutexLock lock(&mu_);
    auto it = pods_.find(key);
    if (it == pods_.end())
      return absl::NotFoundError(absl::StrCat("pod ", key, " is not run here"));
    sandbox_id = it->second.sandbox_id;
  }
  criv1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(sandbox_id);
  absl::Status status = lifecycle_.StopPodSandbox(stop);
  if (!status.ok()) return status;
  criv1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(sandbox_id);
  status = lifecycle_.RemovePodSandbox(remove);
  if (!status.ok()) return status;
  absl::MutexLock lock(&mu_);
  pods_.erase(key);
  return absl::OkStatus();
}

absl::Status KubeletStandIn::RemoveAll() {
  std::vector<std::pair<std::string, std::string>> names;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, pod] : pods_) {
      names.emplace_back(pod.sandbox_config.metadata().namespace_(),
                         pod.sandbox_config.metadata().name());
    }
  }
  absl::Status first_error;
  for (const auto& [namespace_, name] : names) first_error.Update(RemovePod(namespace_, name));
  return first_error;
}

int KubeletStandIn::Restarts() const {
  absl::MutexLock lock(&mu_);
  return restarts_;
}

absl::StatusOr<std::string> KubeletStandIn::SandboxId(absl::string_view namespace_,
                                                      absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = pods_.find(Key(namespace_, name));
  if (it == pods_.end())
    return absl::NotFoundError(absl::StrCat("pod ", Key(namespace_, name), " is not run here"));
  return it->second.sandbox_id;
}

}  // namespace inplaced::fakes
