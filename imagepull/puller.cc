#include "imagepull/puller.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "imagepull/registry/docker_config.h"
#include "imagepull/pull_backoff.h"
#include "spdlog/spdlog.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;

constexpr int kMaxConcurrentPullsLimit = 64;
// Most ad hoc pulls kept (finished ones included) before PullImage answers RESOURCE_EXHAUSTED.
constexpr size_t kMaxAdHocPulls = 256;

bool IsFinishedPhase(api::ImagePullPhase phase) {
  return phase == api::IMAGE_PULL_PHASE_SUCCEEDED || phase == api::IMAGE_PULL_PHASE_FAILED;
}

// What ImageTagStatus.tag shows for an ad hoc reference: its tag, or its digest.
std::string AdHocTag(const ImageReference& ref) {
  return ref.digest().empty() ? ref.tag() : ref.digest();
}

// Tasks pulling the same reference with the same policy and credentials share one operation. The
// credentials enter the key only through a hash: the key is never printed, but it must not be a
// place where secrets are kept either.
std::string DedupeKey(const PullJob& job) {
  std::string material;
  for (const RegistryCredential& c : job.credentials) {
    absl::StrAppend(&material, c.server_address.size(), ":", c.server_address, c.username.size(),
                    ":", c.username, c.password.size(), ":", c.password, c.auth.size(), ":", c.auth,
                    c.identity_token.size(), ":", c.identity_token, c.registry_token.size(), ":",
                    c.registry_token, ";");
  }
  return absl::StrCat(job.reference.PullReference(), "|", job.always ? "always" : "if-not-present",
                      "|", std::hash<std::string>{}(material));
}

}  // namespace

// ---- construction ----

absl::StatusOr<std::unique_ptr<ImagePuller>> ImagePuller::Create(cri::Runtime& runtime,
                                                                 Clock& clock, store::Store& store,
                                                                 PullPrecheck* precheck,
                                                                 PullerOptions options) {
  if (options.max_concurrent_pulls < 1 || options.max_concurrent_pulls > kMaxConcurrentPullsLimit) {
    return absl::InvalidArgumentError(absl::StrCat("max_concurrent_pulls: must be in 1-",
                                                   kMaxConcurrentPullsLimit, ", got ",
                                                   options.max_concurrent_pulls));
  }
  if (options.store_key.empty()) return absl::InvalidArgumentError("store_key: required");
  std::unique_ptr<ImagePuller> puller(
      new ImagePuller(runtime, clock, store, precheck, std::move(options)));
  {
    absl::MutexLock lock(&puller->mu_);
    RETURN_IF_ERROR(puller->LoadLocked());
    if (puller->ScheduleLocked()) puller->ChangedLocked();
    puller->pending_notifications_.clear();  // nobody can have subscribed yet
  }
  return puller;
}

ImagePuller::ImagePuller(cri::Runtime& runtime, Clock& clock, store::Store& store,
                         PullPrecheck* precheck, PullerOptions options)
    : runtime_(runtime),
      clock_(clock),
      store_(store),
      precheck_(precheck),
      options_(std::move(options)),
      pool_(std::make_unique<WorkerPool>(options_.max_concurrent_pulls)) {}

ImagePuller::~ImagePuller() {
  Stop();
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [key, op] : operations_) op->cancel.Cancel();
    for (auto& [key, task] : tasks_) {
      if (task.op != nullptr) task.op->cancel.Cancel();
    }
  }
  // Joins the workers; their OnOperationDone sees shutting_down_ and records nothing, so the stored
  // record keeps the unfinished tags for the next start.
  pool_.reset();
}

absl::Status ImagePuller::LoadLocked() {
  absl::StatusOr<store::Record> record = store_.Get(kNodeImageStoreKind, options_.store_key);
  if (absl::IsNotFound(record.status())) return absl::OkStatus();
  if (!record.ok()) return record.status();
  api::NodeImage stored;
  if (!stored.ParseFromString(record->value)) {
    return absl::DataLossError(
        absl::StrCat("nodeimage record \"", options_.store_key, "\" does not parse"));
  }
  spec_ = stored.spec();
  metadata_ = stored.metadata();
  const absl::Time now = clock_.Now();

  // Spec tags: a finished status of the same version is kept; anything else starts again.
  std::map<TaskKey, api::ImageTagStatus> previous;
  for (const api::ImageStatus& image : stored.status().images()) {
    for (const api::ImageTagStatus& tag : image.tags())
      previous[TaskKey{false, image.name(), tag.tag()}] = tag;
  }
  ReconcileLocked();
  int resumed = 0;
  for (auto& [key, task] : tasks_) {
    auto it = previous.find(key);
    if (it != previous.end() && it->second.version() == task.status.version() &&
        IsFinishedPhase(it->second.phase())) {
      task.status = it->second;
      task.state = Task::State::kFinished;
    } else {
      ++resumed;
    }
  }
  // Ad hoc pulls: their secrets are not stored, so unfinished ones cannot resume.
  for (const api::AdHocPullStatus& pull : stored.status().ad_hoc_pulls()) {
    absl::StatusOr<ImageReference> ref = ImageReference::Parse(pull.image());
    if (!ref.ok()) continue;
    TaskKey key{true, pull.image(), ""};
    Task task = NewTaskLocked(key, *ref, 0);
    task.ttl = absl::Seconds(kDefaultAdHocTtlSeconds);
    task.status = pull.status();
    task.state = Task::State::kFinished;
    if (!IsFinishedPhase(task.status.phase())) {
      task.status.set_phase(api::IMAGE_PULL_PHASE_FAILED);
      task.status.set_message("interrupted by a daemon restart");
      *task.status.mutable_completion_time() = ToProtoTime(now);
    }
    tasks_.emplace(key, std::move(task));
    ad_hoc_order_.push_back(pull.image());
  }
  spdlog::info("nodeimage_loaded generation={} tags={} resumed={}", metadata_.generation(),
               tasks_.size() - ad_hoc_order_.size(), resumed);
  return absl::OkStatus();
}

// ---- tasks ----

ImagePuller::Task ImagePuller::NewTaskLocked(const TaskKey& key, const ImageReference& ref,
                                             int64_t version) {
  Task task(key, PullJob{ref, {}, false, {}});
  task.status.set_tag(key.ad_hoc ? AdHocTag(ref) : key.tag);
  task.status.set_phase(api::IMAGE_PULL_PHASE_WAITING);
  task.status.set_version(version);
  task.dedupe_key = DedupeKey(task.job);
  return task;
}

void ImagePuller::ApplyInputs(Task& task,
                              const google::protobuf::RepeatedPtrField<std::string>& secrets,
                              const api::PullPolicy& policy, api::ImagePullPolicy image_pull_policy,
                              const api::SandboxConfig& sandbox) {
  absl::StatusOr<CredentialKeyring> keyring = CredentialKeyring::FromDockerConfigs(
      std::vector<std::string>(secrets.begin(), secrets.end()));
  if (!keyring.ok()) {
    // Validated on input; a stored record from an older version might not be. The message names the
    // secret by index only.
    spdlog::warn("nodeimage_bad_pull_secrets image={} error=\"{}\"", task.key.image,
                 std::string(keyring.status().message()));
  }
  task.job.credentials =
      keyring.ok() ? keyring->Lookup(task.job.reference) : std::vector<RegistryCredential>();
  task.job.always = image_pull_policy == api::IMAGE_PULL_POLICY_ALWAYS;
  task.job.sandbox_config = ToCriSandboxConfig(sandbox);
  task.timeout = absl::Seconds(policy.has_timeout_seconds() ? policy.timeout_seconds()
                                                            : kDefaultPullTimeoutSeconds);
  task.backoff_limit = policy.has_backoff_limit() ? policy.backoff_limit() : kDefaultBackoffLimit;
  task.active_deadline =
      policy.has_active_deadline_seconds()
          ? std::optional<absl::Duration>(absl::Seconds(policy.active_deadline_seconds()))
          : std::nullopt;
  task.ttl = policy.has_ttl_seconds_after_finished()
                 ? std::optional<absl::Duration>(absl::Seconds(policy.ttl_seconds_after_finished()))
                 : std::nullopt;
  task.dedupe_key = DedupeKey(task.job);
}

void ImagePuller::ReconcileLocked() {
  std::set<TaskKey> wanted;
  for (const api::ImageSpec& image : spec_.images()) {
    for (const api::ImageTagSpec& tag : image.tags()) {
      const TaskKey key{false, image.name(), tag.tag()};
      wanted.insert(key);
      auto it = tasks_.find(key);
      if (it != tasks_.end() && it->second.status.version() != tag.version()) {
        spdlog::info("image_pull_restarted image={} tag={} old_version={} version={}", key.image,
                     key.tag, it->second.status.version(), tag.version());
        DetachLocked(it->second);
        tasks_.erase(it);
        it = tasks_.end();
      }
      if (it == tasks_.end()) {
        absl::StatusOr<ImageReference> ref = TagReference(image.name(), tag.tag());
        if (!ref.ok()) {
          // Validated on input; only a corrupt stored record gets here.
          spdlog::error("nodeimage_bad_tag image={} tag={} error=\"{}\"", key.image, key.tag,
                        std::string(ref.status().message()));
          continue;
        }
        it = tasks_.emplace(key, NewTaskLocked(key, *ref, tag.version())).first;
      }
      ApplyInputs(it->second, image.pull_secrets(), tag.pull_policy(), tag.image_pull_policy(),
                  image.sandbox_config());
    }
  }
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (!it->first.ad_hoc && wanted.count(it->first) == 0) {
      if (it->second.state != Task::State::kFinished) {
        spdlog::info("image_pull_removed image={} tag={}", it->first.image, it->first.tag);
      }
      DetachLocked(it->second);
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

void ImagePuller::DetachLocked(Task& task) {
  if (task.op == nullptr) return;
  std::shared_ptr<Operation> op = std::move(task.op);
  task.op = nullptr;
  op->waiters.erase(task.key);
  if (op->waiters.empty()) {
    // Nobody wants the result: stop the CRI call. The operation keeps its slot until the runtime
    // returns, so the limit holds for real calls, not just for our bookkeeping.
    auto it = operations_.find(op->key);
    if (it != operations_.end() && it->second == op) operations_.erase(it);
    op->cancel.Cancel();
  }
}

std::vector<std::vector<ImagePuller::TaskKey>> ImagePuller::ImageOrderLocked() const {
  std::vector<std::vector<TaskKey>> order;
  for (const api::ImageSpec& image : spec_.images()) {
    std::vector<TaskKey> keys;
    for (const api::ImageTagSpec& tag : image.tags())
      keys.push_back(TaskKey{false, image.name(), tag.tag()});
    order.push_back(std::move(keys));
  }
  std::vector<TaskKey> ad_hoc;
  for (const std::string& image : ad_hoc_order_) ad_hoc.push_back(TaskKey{true, image, ""});
  order.push_back(std::move(ad_hoc));
  return order;
}

ImagePuller::Task* ImagePuller::NextReadyTaskLocked(const std::vector<TaskKey>& image_tasks,
                                                    absl::Time now) {
  for (const TaskKey& key : image_tasks) {
    auto it = tasks_.find(key);
    if (it != tasks_.end() && it->second.state == Task::State::kQueued &&
        it->second.ready_at <= now) {
      return &it->second;
    }
  }
  return nullptr;
}

bool ImagePuller::ScheduleLocked() {
  if (shutting_down_) return false;
  const absl::Time now = clock_.Now();
  bool started = false;
  // Joining a running operation costs no slot: do it whatever the limit.
  for (auto& [key, task] : tasks_) {
    if (task.state == Task::State::kQueued && task.ready_at <= now &&
        operations_.count(task.dedupe_key) > 0) {
      StartAttemptLocked(task, now);
      started = true;
    }
  }
  const std::vector<std::vector<TaskKey>> order = ImageOrderLocked();
  const int n = static_cast<int>(order.size());
  while (running_ < options_.max_concurrent_pulls) {
    Task* next = nullptr;
    for (int i = 1; i <= n && next == nullptr; ++i) {
      const int index = ((cursor_ + i) % n + n) % n;
      next = NextReadyTaskLocked(order[index], now);
      if (next != nullptr) cursor_ = index;
    }
    if (next == nullptr) break;
    StartAttemptLocked(*next, now);
    started = true;
  }
  return started;
}

void ImagePuller::StartAttemptLocked(Task& task, absl::Time now) {
  task.state = Task::State::kPulling;
  if (!task.first_start.has_value()) {
    task.first_start = now;
    *task.status.mutable_start_time() = ToProtoTime(now);
  }
  task.status.set_phase(api::IMAGE_PULL_PHASE_PULLING);
  task.status.set_attempts(task.status.attempts() + 1);
  task.attempt_deadline = now + task.timeout;
  if (task.active_deadline.has_value()) {
    task.attempt_deadline =
        std::min(task.attempt_deadline, *task.first_start + *task.active_deadline);
  }

  std::shared_ptr<Operation>& op = operations_[task.dedupe_key];
  if (op == nullptr) {
    op = std::make_shared<Operation>(task.dedupe_key, task.job);
    ++running_;
    spdlog::info("image_pull_started image={} tag={} reference={} attempt={} credentials={}",
                 task.key.image, task.key.tag, task.job.reference.PullReference(),
                 task.status.attempts(), task.job.credentials.size());
    pool_->Submit([this, op] {
      PullOutcome outcome = RunPull(runtime_, op->job, precheck_, &op->cancel);
      OnOperationDone(op, std::move(outcome));
    });
  }
  op->waiters.insert(task.key);
  task.op = op;
}

bool ImagePuller::FinishIfPastDeadlineLocked(Task& task, const std::string& message,
                                             absl::Time now) {
  if (!task.active_deadline.has_value() || !task.first_start.has_value() ||
      now < *task.first_start + *task.active_deadline) {
    return false;
  }
  FinishLocked(task, false,
               absl::StrCat("pull exceeded active_deadline_seconds (",
                            absl::ToInt64Seconds(*task.active_deadline),
                            "s); last error: ", message),
               now);
  return true;
}

void ImagePuller::RuntimeUnreachableLocked(Task& task, const std::string& message, absl::Time now) {
  task.op = nullptr;
  const std::string waiting = absl::StrCat("waiting for the container runtime: ", message);
  task.status.set_message(waiting);
  if (FinishIfPastDeadlineLocked(task, waiting, now)) return;
  task.state = Task::State::kQueued;
  task.ready_at = now + kRuntimeUnreachableRetry;
  spdlog::warn(
      "image_pull_runtime_unreachable image={} tag={} attempt={} retry_in_ms={} error=\"{}\"",
      task.key.image, task.key.tag, task.status.attempts(),
      absl::ToInt64Milliseconds(kRuntimeUnreachableRetry), message);
}

void ImagePuller::AttemptFailedLocked(Task& task, const std::string& message, absl::Time now) {
  ++task.failed_attempts;
  task.op = nullptr;
  task.status.set_message(message);
  if (FinishIfPastDeadlineLocked(task, message, now)) return;
  if (task.failed_attempts > task.backoff_limit) {
    FinishLocked(task, false,
                 absl::StrCat("failed after ", task.failed_attempts, " attempts: ", message), now);
    return;
  }
  task.state = Task::State::kQueued;
  task.ready_at = now + PullBackoff(task.failed_attempts);
  spdlog::info("image_pull_retry image={} tag={} attempt={} retry_in={}s error=\"{}\"",
               task.key.image, task.key.tag, task.status.attempts(),
               absl::ToInt64Seconds(task.ready_at - now), message);
}

void ImagePuller::FinishLocked(Task& task, bool succeeded, const std::string& message,
                               absl::Time now) {
  task.state = Task::State::kFinished;
  task.op = nullptr;
  task.status.set_phase(succeeded ? api::IMAGE_PULL_PHASE_SUCCEEDED : api::IMAGE_PULL_PHASE_FAILED);
  task.status.set_progress(succeeded ? 100 : 0);
  task.status.set_message(message);
  if (!succeeded) task.status.clear_image_id();
  *task.status.mutable_completion_time() = ToProtoTime(now);
  if (succeeded) {
    spdlog::info("image_pull_succeeded image={} tag={} image_id={} attempts={}", task.key.image,
                 task.key.tag, task.status.image_id(), task.status.attempts());
  } else {
    spdlog::warn("image_pull_failed image={} tag={} attempts={} error=\"{}\"", task.key.image,
                 task.key.tag, task.status.attempts(), message);
  }
}

void ImagePuller::OnOperationDone(const std::shared_ptr<Operation>& op, PullOutcome outcome) {
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    --running_;
    auto it = operations_.find(op->key);
    if (it != operations_.end() && it->second == op) operations_.erase(it);
    if (shutting_down_) return;
    const absl::Time now = clock_.Now();
    for (const TaskKey& key : op->waiters) {
      auto task = tasks_.find(key);
      if (task == tasks_.end() || task->second.op != op) continue;
      changed = true;
      if (outcome.status.ok()) {
        task->second.status.set_image_id(outcome.image_id);
        FinishLocked(task->second, true, outcome.already_present ? "image already present" : "",
                     now);
      } else if (outcome.runtime_unreachable) {
        RuntimeUnreachableLocked(task->second, outcome.status.ToString(), now);
      } else {
        AttemptFailedLocked(task->second, outcome.status.ToString(), now);
      }
    }
    op->waiters.clear();
    changed |= ScheduleLocked();
    if (changed) {
      ChangedLocked();
      wake_ = true;
    }
  }
  if (changed) Notify();
}

// ---- time-driven steps ----

void ImagePuller::Tick() {
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    const absl::Time now = clock_.Now();
    for (auto& [key, task] : tasks_) {
      const bool past_deadline = task.active_deadline.has_value() && task.first_start.has_value() &&
                                 now >= *task.first_start + *task.active_deadline;
      if (task.state == Task::State::kPulling && now >= task.attempt_deadline) {
        DetachLocked(task);
        changed = true;
        if (past_deadline) {
          FinishLocked(task, false,
                       absl::StrCat("pull exceeded active_deadline_seconds (",
                                    absl::ToInt64Seconds(*task.active_deadline), "s)"),
                       now);
        } else {
          AttemptFailedLocked(
              task,
              absl::StrCat("DEADLINE_EXCEEDED: pull attempt ", task.status.attempts(),
                           " timed out after ", absl::ToInt64Seconds(task.timeout),
                           "s (timeout_seconds)"),
              now);
        }
      } else if (task.state == Task::State::kQueued && past_deadline) {
        changed = true;
        FinishLocked(task, false,
                     absl::StrCat("pull exceeded active_deadline_seconds (",
                                  absl::ToInt64Seconds(*task.active_deadline),
                                  "s); last error: ", task.status.message()),
                     now);
      }
    }
    changed |= ExpireLocked(now);
    changed |= ScheduleLocked();
    if (changed) ChangedLocked();
  }
  if (changed) Notify();
}

bool ImagePuller::ExpireLocked(absl::Time now) {
  bool spec_changed = false;
  bool changed = false;
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    const Task& task = it->second;
    if (task.state != Task::State::kFinished || !task.ttl.has_value() ||
        now < FromProtoTime(task.status.completion_time()) + *task.ttl) {
      ++it;
      continue;
    }
    changed = true;
    spdlog::info("image_pull_expired image={} tag={}", it->first.image, it->first.tag);
    if (it->first.ad_hoc) {
      ad_hoc_order_.erase(std::remove(ad_hoc_order_.begin(), ad_hoc_order_.end(), it->first.image),
                          ad_hoc_order_.end());
    } else {
      // As Kruise's manager does: the tag leaves the spec, and an image without tags leaves too.
      auto* images = spec_.mutable_images();
      for (int i = 0; i < images->size(); ++i) {
        api::ImageSpec& image = (*images)[i];
        if (image.name() != it->first.image) continue;
        auto* tags = image.mutable_tags();
        for (int j = 0; j < tags->size(); ++j) {
          if ((*tags)[j].tag() == it->first.tag) {
            tags->erase(tags->begin() + j);
            break;
          }
        }
        if (tags->empty()) images->erase(images->begin() + i);
        break;
      }
      spec_changed = true;
    }
    it = tasks_.erase(it);
  }
  if (spec_changed) {
    metadata_.set_generation(metadata_.generation() + 1);
    *metadata_.mutable_spec_update_time() = ToProtoTime(now);
  }
  return changed;
}

absl::Time ImagePuller::NextWakeTime() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [key, task] : tasks_) {
    switch (task.state) {
      case Task::State::kPulling:
        next = std::min(next, task.attempt_deadline);
        break;
      case Task::State::kQueued:
        // A ready task waits for a slot, which a completing pull frees (an event, not a time).
        if (task.ready_at > now) next = std::min(next, task.ready_at);
        if (task.active_deadline.has_value() && task.first_start.has_value()) {
          next = std::min(next, *task.first_start + *task.active_deadline);
        }
        break;
      case Task::State::kFinished:
        if (task.ttl.has_value())
          next = std::min(next, FromProtoTime(task.status.completion_time()) + *task.ttl);
        break;
    }
  }
  return next;
}

// ---- API ----

absl::StatusOr<api::NodeImage> ImagePuller::SetNodeImage(const api::SetNodeImageRequest& request) {
  RETURN_IF_ERROR(ValidateSetNodeImage(request, options_.limits));
  api::NodeImageSpec spec = request.spec();
  const absl::Time now = clock_.Now();
  ApplyNodeImageDefaults(&spec, now);

  api::NodeImage snapshot;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::UnavailableError("the image puller is shutting down");
    if (!request.force() && request.expected_generation() != metadata_.generation()) {
      return absl::AbortedError(absl::StrCat(
          "expected_generation: stale, the spec is at generation ", metadata_.generation(),
          ", got ", request.expected_generation(), " (GetNodeImage and retry, or set force)"));
    }
    api::NodeImageSpec old_spec = std::move(spec_);
    api::NodeImageMetadata old_metadata = metadata_;
    spec_ = std::move(spec);
    metadata_.set_generation(metadata_.generation() + 1);
    *metadata_.mutable_spec_update_time() = ToProtoTime(now);
    // The spec is durable before anything acts on it; a failed write changes nothing.
    if (absl::Status stored = PersistLocked(); !stored.ok()) {
      spec_ = std::move(old_spec);
      metadata_ = std::move(old_metadata);
      return stored;
    }
    spdlog::info("nodeimage_set generation={} images={}", metadata_.generation(),
                 spec_.images_size());
    ReconcileLocked();
    ScheduleLocked();
    snapshot = ChangedLocked();
    wake_ = true;
  }
  Notify();
  return snapshot;
}

api::NodeImage ImagePuller::GetNodeImage() const {
  absl::MutexLock lock(&mu_);
  return SnapshotLocked(/*redact=*/true);
}

absl::StatusOr<api::AdHocPullStatus> ImagePuller::PullImage(const api::PullImageRequest& request) {
  RETURN_IF_ERROR(ValidatePullImage(request, options_.limits));
  api::PullImageRequest effective = request;
  ApplyPullImageDefaults(&effective);
  ASSIGN_OR_RETURN(ImageReference ref, ImageReference::Parse(effective.image()));

  api::AdHocPullStatus result;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::UnavailableError("the image puller is shutting down");
    const TaskKey key{true, effective.image(), ""};
    auto it = tasks_.find(key);
    if (it != tasks_.end() && it->second.state != Task::State::kFinished) {
      result.set_image(key.image);
      *result.mutable_status() = it->second.status;
      return result;
    }
    if (it == tasks_.end() && ad_hoc_order_.size() >= kMaxAdHocPulls) {
      return absl::ResourceExhaustedError(
          absl::StrCat("at most ", kMaxAdHocPulls, " ad hoc pulls are kept; wait for their TTL"));
    }
    if (it != tasks_.end()) tasks_.erase(it);  // a finished one: pull again
    ad_hoc_order_.erase(std::remove(ad_hoc_order_.begin(), ad_hoc_order_.end(), key.image),
                        ad_hoc_order_.end());
    ad_hoc_order_.push_back(key.image);
    Task task = NewTaskLocked(key, ref, 0);
    ApplyInputs(task, effective.pull_secrets(), effective.pull_policy(),
                effective.image_pull_policy(), effective.sandbox_config());
    tasks_.emplace(key, std::move(task));
    ScheduleLocked();
    result.set_image(key.image);
    *result.mutable_status() = tasks_.at(key).status;
    ChangedLocked();
    wake_ = true;
  }
  Notify();
  return result;
}

absl::StatusOr<api::AdHocPullStatus> ImagePuller::GetAdHocPull(const std::string& image) const {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(TaskKey{true, image, ""});
  if (it == tasks_.end())
    return absl::NotFoundError(absl::StrCat("no ad hoc pull of \"", image, "\""));
  api::AdHocPullStatus out;
  out.set_image(image);
  *out.mutable_status() = it->second.status;
  return out;
}

absl::StatusOr<api::AdHocPullStatus> ImagePuller::WaitAdHocPull(const std::string& image,
                                                                Cancellation* cancel) {
  // `cancelled` is written by the callback under mu_, so that releasing mu_ re-evaluates the wait
  // condition. Registered without mu_ held: Register() runs the callback at once when already
  // cancelled, and the callback takes mu_.
  bool cancelled = false;
  int callback_id = -1;
  if (cancel != nullptr) {
    callback_id = cancel->Register([this, &cancelled] {
      absl::MutexLock lock(&mu_);
      cancelled = true;
    });
  }
  absl::StatusOr<api::AdHocPullStatus> result;
  {
    absl::MutexLock lock(&mu_);
    const TaskKey key{true, image, ""};
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = tasks_.find(key);
      return cancelled || shutting_down_ || it == tasks_.end() ||
             it->second.state == Task::State::kFinished;
    };
    mu_.Await(absl::Condition(&done));
    auto it = tasks_.find(key);
    if (it == tasks_.end()) {
      result = absl::NotFoundError(absl::StrCat("no ad hoc pull of \"", image, "\""));
    } else if (it->second.state == Task::State::kFinished) {
      api::AdHocPullStatus out;
      out.set_image(image);
      *out.mutable_status() = it->second.status;
      result = std::move(out);
    } else if (cancelled) {
      result = absl::CancelledError("wait for the ad hoc pull cancelled; the pull goes on");
    } else {
      result = absl::UnavailableError("the image puller is shutting down");
    }
  }
  if (cancel != nullptr && callback_id >= 0) cancel->Unregister(callback_id);
  return result;
}

// ---- snapshots, persistence, subscribers ----

api::NodeImage ImagePuller::SnapshotLocked(bool redact) const {
  api::NodeImage out;
  *out.mutable_metadata() = metadata_;
  *out.mutable_spec() = redact ? RedactSpec(spec_) : spec_;
  api::NodeImageStatus& status = *out.mutable_status();
  status.set_observed_generation(metadata_.generation());
  for (const api::ImageSpec& image : spec_.images()) {
    api::ImageStatus& image_status = *status.add_images();
    image_status.set_name(image.name());
    for (const api::ImageTagSpec& tag : image.tags()) {
      auto it = tasks_.find(TaskKey{false, image.name(), tag.tag()});
      if (it == tasks_.end()) continue;
      const api::ImageTagStatus& tag_status = it->second.status;
      *image_status.add_tags() = tag_status;
      status.set_desired(status.desired() + 1);
      switch (tag_status.phase()) {
        case api::IMAGE_PULL_PHASE_SUCCEEDED:
          status.set_succeeded(status.succeeded() + 1);
          break;
        case api::IMAGE_PULL_PHASE_FAILED:
          status.set_failed(status.failed() + 1);
          break;
        case api::IMAGE_PULL_PHASE_PULLING:
          status.set_pulling(status.pulling() + 1);
          break;
        default:
          status.set_waiting(status.waiting() + 1);
          break;
      }
    }
  }
  for (const std::string& image : ad_hoc_order_) {
    auto it = tasks_.find(TaskKey{true, image, ""});
    if (it == tasks_.end()) continue;
    api::AdHocPullStatus& pull = *status.add_ad_hoc_pulls();
    pull.set_image(image);
    *pull.mutable_status() = it->second.status;
  }
  return out;
}

absl::Status ImagePuller::PersistLocked() {
  std::string value;
  if (!SnapshotLocked(/*redact=*/false).SerializeToString(&value)) {
    return absl::InternalError("nodeimage record does not serialize");
  }
  absl::StatusOr<int64_t> written =
      store_.Update(kNodeImageStoreKind, options_.store_key, value, store::kAnyRevision);
  if (absl::IsNotFound(written.status())) {
    written = store_.Create(kNodeImageStoreKind, options_.store_key, value);
  }
  if (!written.ok()) {
    spdlog::error("nodeimage_persist_failed error=\"{}\"", written.status().ToString());
    return written.status();
  }
  return absl::OkStatus();
}

api::NodeImage ImagePuller::ChangedLocked() {
  metadata_.set_resource_version(metadata_.resource_version() + 1);
  // A failed status write is logged; the next change writes the whole record again.
  PersistLocked().IgnoreError();
  api::NodeImage snapshot = SnapshotLocked(/*redact=*/true);
  pending_notifications_.push_back(snapshot);
  return snapshot;
}

int ImagePuller::Subscribe(Subscriber subscriber) {
  absl::MutexLock lock(&subscribers_mu_);
  const int id = next_subscriber_id_++;
  subscribers_.emplace(id, std::move(subscriber));
  return id;
}

void ImagePuller::Unsubscribe(int id) {
  absl::MutexLock lock(&subscribers_mu_);
  subscribers_.erase(id);
}

void ImagePuller::Notify() {
  // Snapshots are queued under mu_ in resource_version order and delivered by whoever holds
  // subscribers_mu_, one at a time from the front: callbacks see them in order even when several
  // threads change the state at once. (Lock order: subscribers_mu_, then mu_.)
  absl::MutexLock subscribers_lock(&subscribers_mu_);
  while (true) {
    api::NodeImage next;
    {
      absl::MutexLock lock(&mu_);
      if (pending_notifications_.empty()) return;
      next = std::move(pending_notifications_.front());
      pending_notifications_.pop_front();
    }
    for (auto& [id, subscriber] : subscribers_) subscriber(next);
  }
}

// ---- background loop and test hooks ----

void ImagePuller::Start() {
  absl::MutexLock lock(&mu_);
  if (loop_running_ || shutting_down_) return;
  loop_running_ = true;
  loop_stop_ = false;
  loop_thread_ = std::thread([this] { Loop(); });
}

void ImagePuller::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!loop_running_) return;
    loop_stop_ = true;
  }
  loop_thread_.join();
  absl::MutexLock lock(&mu_);
  loop_running_ = false;
}

void ImagePuller::Loop() {
  while (true) {
    Tick();
    const absl::Time next = NextWakeTime();
    absl::MutexLock lock(&mu_);
    if (loop_stop_) return;
    // The wait is in real time (see the header): fine with RealClock, whose time is real time.
    const absl::Duration wait =
        std::max(absl::ZeroDuration(), std::min(next - clock_.Now(), options_.max_tick_interval));
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || loop_stop_; };
    mu_.AwaitWithTimeout(absl::Condition(&woken), wait);
    wake_ = false;
    if (loop_stop_) return;
  }
}

int ImagePuller::RunningPulls() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void ImagePuller::AwaitState(
    const std::function<bool(const api::NodeImage&, int running_pulls)>& done) const {
  absl::MutexLock lock(&mu_);
  auto ready = [this, &done]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done(SnapshotLocked(/*redact=*/true), running_);
  };
  mu_.Await(absl::Condition(&ready));
}

}  // namespace inplaced::imagepull
