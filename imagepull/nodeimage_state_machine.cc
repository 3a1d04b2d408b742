#include "imagepull/nodeimage_state_machine.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/log_safe.h"
#include "common/proto_time.h"
#include "imagepull/pull_backoff.h"
#include "imagepull/pull_progress.h"
#include "imagepull/registry/docker_config.h"

namespace inplaced::imagepull::nodeimage {
namespace {

namespace api = ::inplaced::v1;

// Whether two samples say the same (their sample times aside).
bool SameProgress(const api::PullProgress& a, const api::PullProgress& b) {
  api::PullProgress a_copy = a;
  api::PullProgress b_copy = b;
  a_copy.clear_update_time();
  b_copy.clear_update_time();
  return a_copy.SerializeAsString() == b_copy.SerializeAsString();
}

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
std::string OperationKey(const PullJob& job) {
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

// A fresh WAITING task for one spec tag (or an ad hoc pull).
Task NewTask(const TaskKey& key, const ImageReference& ref, int64_t version) {
  Task task(key, PullJob{ref, {}, false, {}});
  task.status.set_tag(key.ad_hoc ? AdHocTag(ref) : key.tag);
  task.status.set_phase(api::IMAGE_PULL_PHASE_WAITING);
  task.status.set_version(version);
  task.operation_key = OperationKey(task.job);
  return task;
}

// Everything one step works on: the state it changes and the effects it collects.
class Stepper {
 public:
  Stepper(State& state, Effects& effects, absl::Time now)
      : state_(state), effects_(effects), now_(now) {}

  // ---- inputs ----

  absl::Status SetSpec(const SpecSet& input) {
    const int64_t generation = state_.metadata.generation();
    if (!input.force && input.expected_generation != generation) {
      return absl::AbortedError(absl::StrCat(
          "expected_generation: stale, the spec is at generation ", generation, ", got ",
          input.expected_generation, " (GetNodeImage and retry, or set force)"));
    }
    state_.spec = input.spec;
    state_.metadata.set_generation(generation + 1);
    *state_.metadata.mutable_spec_update_time() = ToProtoTime(now_);
    Log(LogLine::Level::kInfo, absl::StrCat("nodeimage_set generation=", generation + 1,
                                            " images=", state_.spec.images_size()));
    Reconcile();
    Schedule();
    effects_.changed = true;
    return absl::OkStatus();
  }

  absl::StatusOr<api::AdHocPullStatus> PullAdHoc(const AdHocPullRequested& input) {
    const TaskKey key{true, input.request.image(), ""};
    api::AdHocPullStatus result;
    result.set_image(key.image);
    auto it = state_.tasks.find(key);
    if (it != state_.tasks.end() && it->second.state != TaskState::kFinished) {
      *result.mutable_status() = it->second.status;
      return result;
    }
    if (it == state_.tasks.end() && state_.ad_hoc_order.size() >= kMaxAdHocPulls) {
      return absl::ResourceExhaustedError(
          absl::StrCat("at most ", kMaxAdHocPulls, " ad hoc pulls are kept; wait for their TTL"));
    }
    if (it != state_.tasks.end()) state_.tasks.erase(it);  // a finished one: pull again
    RemoveAdHoc(key.image);
    state_.ad_hoc_order.push_back(key.image);
    Task task = NewTask(key, input.reference, 0);
    ApplyInputs(task, input.request.pull_secrets(), input.request.pull_policy(),
                input.request.image_pull_policy(), input.request.sandbox_config());
    state_.tasks.emplace(key, std::move(task));
    Schedule();
    *result.mutable_status() = state_.tasks.at(key).status;
    effects_.changed = true;
    return result;
  }

  void ApplyProgress(const ProgressSampled& input) {
    for (const auto& [id, progress] : input.progress) {
      auto op_it = state_.operations.find(id);
      if (op_it == state_.operations.end()) continue;
      for (const TaskKey& key : op_it->second.waiters) {
        auto it = state_.tasks.find(key);
        if (it == state_.tasks.end() || it->second.operation != id ||
            it->second.state != TaskState::kPulling) {
          continue;
        }
        api::ImageTagStatus& status = it->second.status;
        if (SameProgress(status.pull_progress(), progress)) continue;
        *status.mutable_pull_progress() = progress;
        status.set_progress(PullingPercent(progress));
        effects_.changed = true;
      }
    }
  }

  void FinishAttempt(const AttemptFinished& input) {
    auto op_it = state_.operations.find(input.operation);
    if (op_it == state_.operations.end()) return;
    const Operation op = std::move(op_it->second);
    state_.operations.erase(op_it);
    auto joinable = state_.joinable.find(op.key);
    if (joinable != state_.joinable.end() && joinable->second == input.operation) {
      state_.joinable.erase(joinable);
    }
    const PullOutcome& outcome = input.outcome;
    for (const TaskKey& key : op.waiters) {
      auto it = state_.tasks.find(key);
      if (it == state_.tasks.end() || it->second.operation != input.operation) continue;
      Task& task = it->second;
      effects_.changed = true;
      if (outcome.status.ok()) {
        task.status.set_image_id(outcome.image_id);
        Finish(task, true, outcome.already_present ? "image already present" : "");
      } else if (outcome.runtime_unreachable) {
        RuntimeUnreachable(task, outcome.status.ToString());
      } else {
        AttemptFailed(task, outcome.status.ToString());
      }
    }
    if (Schedule()) effects_.changed = true;
  }

  void RunTimeDrivenSteps() {
    for (auto& [key, task] : state_.tasks) {
      const bool past_deadline = PastActiveDeadline(task);
      if (task.state == TaskState::kPulling && now_ >= task.attempt_deadline) {
        Detach(task);
        effects_.changed = true;
        if (past_deadline) {
          Finish(task, false,
                 absl::StrCat("pull exceeded active_deadline_seconds (",
                              absl::ToInt64Seconds(*task.active_deadline), "s)"));
        } else {
          AttemptFailed(task,
                        absl::StrCat("DEADLINE_EXCEEDED: pull attempt ", task.status.attempts(),
                                     " timed out after ", absl::ToInt64Seconds(task.timeout),
                                     "s (timeout_seconds)"));
        }
      } else if (task.state == TaskState::kQueued && past_deadline) {
        effects_.changed = true;
        FinishPastDeadline(task, task.status.message());
      }
    }
    if (Expire()) effects_.changed = true;
    if (Schedule()) effects_.changed = true;
  }

  void Restore(const api::NodeImage& stored, const AdHocRequests& ad_hoc_requests) {
    state_.spec = stored.spec();
    state_.metadata = stored.metadata();
    // Spec tags: a finished status of the same version is kept; anything else starts again.
    std::map<TaskKey, api::ImageTagStatus> previous;
    for (const api::ImageStatus& image : stored.status().images()) {
      for (const api::ImageTagStatus& tag : image.tags())
        previous[TaskKey{false, image.name(), tag.tag()}] = tag;
    }
    Reconcile();
    int resumed = 0;
    for (auto& [key, task] : state_.tasks) {
      auto it = previous.find(key);
      if (it != previous.end() && it->second.version() == task.status.version() &&
          IsFinishedPhase(it->second.phase())) {
        task.status = it->second;
        task.state = TaskState::kFinished;
      } else {
        ++resumed;
      }
    }
    // Ad hoc pulls: a finished one keeps its status (until its TTL); an unfinished one whose
    // request was stored starts again, as an unfinished spec tag does. One without a stored
    // request (written by an older version) cannot: it is FAILED.
    int resumed_ad_hoc = 0;
    for (const api::AdHocPullStatus& pull : stored.status().ad_hoc_pulls()) {
      const bool finished = IsFinishedPhase(pull.status().phase());
      auto request = ad_hoc_requests.find(pull.image());
      if (!finished && request != ad_hoc_requests.end()) {
        if (RestartAdHoc(request->second)) ++resumed_ad_hoc;
        continue;
      }
      absl::StatusOr<ImageReference> ref = ImageReference::Parse(pull.image());
      if (!ref.ok()) continue;
      const TaskKey key{true, pull.image(), ""};
      Task task = NewTask(key, *ref, 0);
      task.ttl = absl::Seconds(kDefaultAdHocTtlSeconds);
      task.status = pull.status();
      task.state = TaskState::kFinished;
      if (!finished) {
        task.status.set_phase(api::IMAGE_PULL_PHASE_FAILED);
        task.status.set_message(kInterruptedByRestartMessage);
        if (task.status.has_pull_progress()) {
          *task.status.mutable_pull_progress() =
              FinishedProgress(task.status.pull_progress(), false);
        }
        *task.status.mutable_completion_time() = ToProtoTime(now_);
      }
      state_.tasks.emplace(key, std::move(task));
      state_.ad_hoc_order.push_back(pull.image());
    }
    // A request stored without its status (the daemon stopped between the two writes of
    // PullImage): it was accepted, so it is pulled.
    for (const auto& [image, request] : ad_hoc_requests) {
      if (state_.tasks.count(TaskKey{true, image, ""}) > 0) continue;
      if (RestartAdHoc(request)) ++resumed_ad_hoc;
    }
    if (resumed_ad_hoc > 0) {
      effects_.changed = true;
      Log(LogLine::Level::kInfo, absl::StrCat("ad_hoc_pulls_resumed count=", resumed_ad_hoc));
    }
    Log(LogLine::Level::kInfo,
        absl::StrCat("nodeimage_loaded generation=", state_.metadata.generation(), " tags=",
                     state_.tasks.size() - state_.ad_hoc_order.size(), " resumed=", resumed));
    if (Schedule()) effects_.changed = true;
  }

 private:
  void Log(LogLine::Level level, std::string text) {
    effects_.log.push_back(LogLine{level, std::move(text)});
  }

  // Queues the stored ad hoc `request` as a fresh pull (WAITING, no attempt yet); false when its
  // reference no longer parses.
  bool RestartAdHoc(const api::PullImageRequest& request) {
    absl::StatusOr<ImageReference> ref = ImageReference::Parse(request.image());
    if (!ref.ok()) return false;
    const TaskKey key{true, request.image(), ""};
    Task task = NewTask(key, *ref, 0);
    ApplyInputs(task, request.pull_secrets(), request.pull_policy(), request.image_pull_policy(),
                request.sandbox_config());
    state_.tasks.insert_or_assign(key, std::move(task));
    RemoveAdHoc(key.image);
    state_.ad_hoc_order.push_back(key.image);
    return true;
  }

  void RemoveAdHoc(const std::string& image) {
    state_.ad_hoc_order.erase(
        std::remove(state_.ad_hoc_order.begin(), state_.ad_hoc_order.end(), image),
        state_.ad_hoc_order.end());
  }

  // Sets the pull inputs of `task` (credentials matched from `secrets`, policy, sandbox, operation
  // key).
  void ApplyInputs(Task& task, const google::protobuf::RepeatedPtrField<std::string>& secrets,
                   const api::PullPolicy& policy, api::ImagePullPolicy image_pull_policy,
                   const api::SandboxConfig& sandbox) {
    absl::StatusOr<CredentialKeyring> keyring = CredentialKeyring::FromDockerConfigs(
        std::vector<std::string>(secrets.begin(), secrets.end()));
    if (!keyring.ok()) {
      // Validated on input; a stored record from an older version might not be. The message names
      // the secret by index only.
      Log(LogLine::Level::kWarning,
          absl::StrCat("nodeimage_bad_pull_secrets image=", LogSafe(task.key.image), " error=\"",
                       LogSafe(keyring.status().message()), "\""));
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
    task.ttl =
        policy.has_ttl_seconds_after_finished()
            ? std::optional<absl::Duration>(absl::Seconds(policy.ttl_seconds_after_finished()))
            : std::nullopt;
    task.operation_key = OperationKey(task.job);
  }

  // Builds the tasks of the spec, keeping those that continue (same version).
  void Reconcile() {
    std::set<TaskKey> wanted;
    for (const api::ImageSpec& image : state_.spec.images()) {
      for (const api::ImageTagSpec& tag : image.tags()) {
        const TaskKey key{false, image.name(), tag.tag()};
        wanted.insert(key);
        auto it = state_.tasks.find(key);
        if (it != state_.tasks.end() && it->second.status.version() != tag.version()) {
          Log(LogLine::Level::kInfo,
              absl::StrCat("image_pull_restarted image=", LogSafe(key.image),
                           " tag=", LogSafe(key.tag), " old_version=", it->second.status.version(),
                           " version=", tag.version()));
          Detach(it->second);
          state_.tasks.erase(it);
          it = state_.tasks.end();
        }
        if (it == state_.tasks.end()) {
          absl::StatusOr<ImageReference> ref = TagReference(image.name(), tag.tag());
          if (!ref.ok()) {
            // Validated on input; only a corrupt stored record gets here.
            Log(LogLine::Level::kError, absl::StrCat("nodeimage_bad_tag image=", LogSafe(key.image),
                                                     " tag=", LogSafe(key.tag), " error=\"",
                                                     LogSafe(ref.status().message()), "\""));
            continue;
          }
          it = state_.tasks.emplace(key, NewTask(key, *ref, tag.version())).first;
        }
        ApplyInputs(it->second, image.pull_secrets(), tag.pull_policy(), tag.image_pull_policy(),
                    image.sandbox_config());
      }
    }
    for (auto it = state_.tasks.begin(); it != state_.tasks.end();) {
      if (!it->first.ad_hoc && wanted.count(it->first) == 0) {
        if (it->second.state != TaskState::kFinished) {
          Log(LogLine::Level::kInfo,
              absl::StrCat("image_pull_removed image=", LogSafe(it->first.image),
                           " tag=", LogSafe(it->first.tag)));
        }
        Detach(it->second);
        it = state_.tasks.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Takes `task` off its operation; cancels the operation when nobody else waits on it. The
  // operation keeps its slot until its attempt returns, so the limit holds for the runtime's real
  // calls, not just for this bookkeeping.
  void Detach(Task& task) {
    const uint64_t id = task.operation;
    task.operation = 0;
    auto it = state_.operations.find(id);
    if (it == state_.operations.end()) return;
    Operation& op = it->second;
    op.waiters.erase(task.key);
    if (!op.waiters.empty() || op.cancelled) return;
    op.cancelled = true;
    auto joinable = state_.joinable.find(op.key);
    if (joinable != state_.joinable.end() && joinable->second == id) {
      state_.joinable.erase(joinable);
    }
    effects_.cancel.push_back(id);
  }

  // Tasks grouped per image in round-robin order (spec images, then ad hoc pulls).
  std::vector<std::vector<TaskKey>> ImageOrder() const {
    std::vector<std::vector<TaskKey>> order;
    for (const api::ImageSpec& image : state_.spec.images()) {
      std::vector<TaskKey> keys;
      for (const api::ImageTagSpec& tag : image.tags())
        keys.push_back(TaskKey{false, image.name(), tag.tag()});
      order.push_back(std::move(keys));
    }
    std::vector<TaskKey> ad_hoc;
    for (const std::string& image : state_.ad_hoc_order) ad_hoc.push_back(TaskKey{true, image, ""});
    order.push_back(std::move(ad_hoc));
    return order;
  }

  bool Ready(const Task& task) const {
    return task.state == TaskState::kQueued && task.ready_at <= now_;
  }

  // The first ready task among `image_tasks`, or null.
  Task* NextReadyTask(const std::vector<TaskKey>& image_tasks) {
    for (const TaskKey& key : image_tasks) {
      auto it = state_.tasks.find(key);
      if (it != state_.tasks.end() && Ready(it->second)) return &it->second;
    }
    return nullptr;
  }

  // Starts or joins operations for ready tasks within the limit. True when any task started.
  bool Schedule() {
    bool started = false;
    // Joining a running operation costs no slot: do it whatever the limit.
    for (auto& [key, task] : state_.tasks) {
      if (Ready(task) && state_.joinable.count(task.operation_key) > 0) {
        StartAttempt(task);
        started = true;
      }
    }
    const std::vector<std::vector<TaskKey>> order = ImageOrder();
    const int n = static_cast<int>(order.size());
    while (RunningPulls(state_) < state_.max_concurrent_pulls) {
      Task* next = nullptr;
      for (int i = 1; i <= n && next == nullptr; ++i) {
        const int index = ((state_.cursor + i) % n + n) % n;
        next = NextReadyTask(order[index]);
        if (next != nullptr) state_.cursor = index;
      }
      if (next == nullptr) break;
      StartAttempt(*next);
      started = true;
    }
    return started;
  }

  void StartAttempt(Task& task) {
    task.state = TaskState::kPulling;
    if (!task.first_start.has_value()) {
      task.first_start = now_;
      *task.status.mutable_start_time() = ToProtoTime(now_);
    }
    task.status.set_phase(api::IMAGE_PULL_PHASE_PULLING);
    task.status.set_attempts(task.status.attempts() + 1);
    task.attempt_deadline = now_ + task.timeout;
    if (task.active_deadline.has_value()) {
      task.attempt_deadline =
          std::min(task.attempt_deadline, *task.first_start + *task.active_deadline);
    }

    auto [joinable, inserted] = state_.joinable.emplace(task.operation_key, 0);
    if (inserted) {
      const uint64_t id = state_.next_operation_id++;
      joinable->second = id;
      state_.operations.emplace(id, Operation(task.operation_key, task.job));
      effects_.start.push_back(StartPull{id, task.job});
      Log(LogLine::Level::kInfo,
          absl::StrCat(
              "image_pull_started image=", LogSafe(task.key.image), " tag=", LogSafe(task.key.tag),
              " reference=", LogSafe(task.job.reference.PullReference()),
              " attempt=", task.status.attempts(), " credentials=", task.job.credentials.size()));
    }
    state_.operations.at(joinable->second).waiters.insert(task.key);
    task.operation = joinable->second;
  }

  bool PastActiveDeadline(const Task& task) const {
    return task.active_deadline.has_value() && task.first_start.has_value() &&
           now_ >= *task.first_start + *task.active_deadline;
  }

  void FinishPastDeadline(Task& task, const std::string& last_error) {
    Finish(
        task, false,
        absl::StrCat("pull exceeded active_deadline_seconds (",
                     absl::ToInt64Seconds(*task.active_deadline), "s); last error: ", last_error));
  }

  // An attempt the runtime never answered: retried after kRuntimeUnreachableRetry without counting
  // against backoff_limit; the active deadline still applies.
  void RuntimeUnreachable(Task& task, const std::string& message) {
    task.operation = 0;
    const std::string waiting = absl::StrCat("waiting for the container runtime: ", message);
    task.status.set_message(waiting);
    if (PastActiveDeadline(task)) {
      FinishPastDeadline(task, waiting);
      return;
    }
    task.state = TaskState::kQueued;
    task.ready_at = now_ + kRuntimeUnreachableRetry;
    Log(LogLine::Level::kWarning,
        absl::StrCat("image_pull_runtime_unreachable image=", LogSafe(task.key.image),
                     " tag=", LogSafe(task.key.tag), " attempt=", task.status.attempts(),
                     " retry_in_ms=", absl::ToInt64Milliseconds(kRuntimeUnreachableRetry),
                     " error=\"", LogSafe(message), "\""));
  }

  // A failed attempt: retry later, or FAILED.
  void AttemptFailed(Task& task, const std::string& message) {
    ++task.failed_attempts;
    if (task.status.has_pull_progress())
      task.status.mutable_pull_progress()->set_bytes_per_second(0);
    task.operation = 0;
    task.status.set_message(message);
    if (PastActiveDeadline(task)) {
      FinishPastDeadline(task, message);
      return;
    }
    if (task.failed_attempts > task.backoff_limit) {
      Finish(task, false,
             absl::StrCat("failed after ", task.failed_attempts, " attempts: ", message));
      return;
    }
    task.state = TaskState::kQueued;
    task.ready_at = now_ + PullBackoff(task.failed_attempts);
    Log(LogLine::Level::kInfo,
        absl::StrCat("image_pull_retry image=", LogSafe(task.key.image),
                     " tag=", LogSafe(task.key.tag), " attempt=", task.status.attempts(),
                     " retry_in=", absl::ToInt64Seconds(task.ready_at - now_), "s error=\"",
                     LogSafe(message), "\""));
  }

  void Finish(Task& task, bool succeeded, const std::string& message) {
    task.state = TaskState::kFinished;
    task.operation = 0;
    task.status.set_phase(succeeded ? api::IMAGE_PULL_PHASE_SUCCEEDED
                                    : api::IMAGE_PULL_PHASE_FAILED);
    task.status.set_progress(succeeded ? 100 : 0);
    if (task.status.has_pull_progress()) {
      *task.status.mutable_pull_progress() =
          FinishedProgress(task.status.pull_progress(), succeeded);
    }
    task.status.set_message(message);
    if (!succeeded) task.status.clear_image_id();
    *task.status.mutable_completion_time() = ToProtoTime(now_);
    if (succeeded) {
      Log(LogLine::Level::kInfo,
          absl::StrCat("image_pull_succeeded image=", LogSafe(task.key.image),
                       " tag=", LogSafe(task.key.tag), " image_id=", task.status.image_id(),
                       " attempts=", task.status.attempts()));
    } else {
      Log(LogLine::Level::kWarning,
          absl::StrCat("image_pull_failed image=", LogSafe(task.key.image),
                       " tag=", LogSafe(task.key.tag), " attempts=", task.status.attempts(),
                       " error=\"", LogSafe(message), "\""));
    }
  }

  // Removes finished tasks whose TTL expired (spec tags also leave the spec). True when any did.
  bool Expire() {
    bool spec_changed = false;
    bool changed = false;
    for (auto it = state_.tasks.begin(); it != state_.tasks.end();) {
      const Task& task = it->second;
      if (task.state != TaskState::kFinished || !task.ttl.has_value() ||
          now_ < FromProtoTime(task.status.completion_time()) + *task.ttl) {
        ++it;
        continue;
      }
      changed = true;
      Log(LogLine::Level::kInfo, absl::StrCat("image_pull_expired image=", LogSafe(it->first.image),
                                              " tag=", LogSafe(it->first.tag)));
      if (it->first.ad_hoc) {
        RemoveAdHoc(it->first.image);
      } else {
        RemoveSpecTag(it->first);
        spec_changed = true;
      }
      it = state_.tasks.erase(it);
    }
    if (spec_changed) {
      state_.metadata.set_generation(state_.metadata.generation() + 1);
      *state_.metadata.mutable_spec_update_time() = ToProtoTime(now_);
    }
    return changed;
  }

  // As Kruise's manager does: the tag leaves the spec, and an image without tags leaves too.
  void RemoveSpecTag(const TaskKey& key) {
    auto* images = state_.spec.mutable_images();
    for (int i = 0; i < images->size(); ++i) {
      api::ImageSpec& image = (*images)[i];
      if (image.name() != key.image) continue;
      auto* tags = image.mutable_tags();
      for (int j = 0; j < tags->size(); ++j) {
        if ((*tags)[j].tag() == key.tag) {
          tags->erase(tags->begin() + j);
          break;
        }
      }
      if (tags->empty()) images->erase(images->begin() + i);
      return;
    }
  }

  State& state_;
  Effects& effects_;
  const absl::Time now_;
};

}  // namespace

Transition Step(State state, const Input& input, absl::Time now) {
  Transition out;
  out.state = std::move(state);
  Stepper stepper(out.state, out.effects, now);
  if (const auto* spec_set = std::get_if<SpecSet>(&input)) {
    // Refused inputs change nothing: SetSpec checks before it changes anything.
    out.status = stepper.SetSpec(*spec_set);
  } else if (const auto* ad_hoc = std::get_if<AdHocPullRequested>(&input)) {
    absl::StatusOr<api::AdHocPullStatus> accepted = stepper.PullAdHoc(*ad_hoc);
    if (accepted.ok()) {
      out.ad_hoc = *std::move(accepted);
    } else {
      out.status = accepted.status();
    }
  } else if (const auto* finished = std::get_if<AttemptFinished>(&input)) {
    stepper.FinishAttempt(*finished);
  } else if (const auto* sampled = std::get_if<ProgressSampled>(&input)) {
    stepper.ApplyProgress(*sampled);
  } else {
    stepper.RunTimeDrivenSteps();
  }
  if (out.effects.changed) {
    out.state.metadata.set_resource_version(out.state.metadata.resource_version() + 1);
  }
  return out;
}

Transition Restore(const api::NodeImage& stored, int max_concurrent_pulls, absl::Time now,
                   const AdHocRequests& ad_hoc_requests) {
  Transition out;
  out.state.max_concurrent_pulls = max_concurrent_pulls;
  Stepper(out.state, out.effects, now).Restore(stored, ad_hoc_requests);
  if (out.effects.changed) {
    out.state.metadata.set_resource_version(out.state.metadata.resource_version() + 1);
  }
  return out;
}

api::NodeImage Snapshot(const State& state, bool redact) {
  api::NodeImage out;
  *out.mutable_metadata() = state.metadata;
  *out.mutable_spec() = redact ? RedactSpec(state.spec) : state.spec;
  api::NodeImageStatus& status = *out.mutable_status();
  status.set_observed_generation(state.metadata.generation());
  for (const api::ImageSpec& image : state.spec.images()) {
    api::ImageStatus& image_status = *status.add_images();
    image_status.set_name(image.name());
    for (const api::ImageTagSpec& tag : image.tags()) {
      auto it = state.tasks.find(TaskKey{false, image.name(), tag.tag()});
      if (it == state.tasks.end()) continue;
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
  for (const std::string& image : state.ad_hoc_order) {
    const Task* task = FindAdHocPull(state, image);
    if (task == nullptr) continue;
    api::AdHocPullStatus& pull = *status.add_ad_hoc_pulls();
    pull.set_image(image);
    *pull.mutable_status() = task->status;
  }
  return out;
}

absl::Time NextWakeTime(const State& state, absl::Time now) {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [key, task] : state.tasks) {
    switch (task.state) {
      case TaskState::kPulling:
        next = std::min(next, task.attempt_deadline);
        break;
      case TaskState::kQueued:
        if (task.ready_at > now) next = std::min(next, task.ready_at);
        if (task.active_deadline.has_value() && task.first_start.has_value()) {
          next = std::min(next, *task.first_start + *task.active_deadline);
        }
        break;
      case TaskState::kFinished:
        if (task.ttl.has_value()) {
          next = std::min(next, FromProtoTime(task.status.completion_time()) + *task.ttl);
        }
        break;
    }
  }
  return next;
}

const Task* FindAdHocPull(const State& state, const std::string& image) {
  auto it = state.tasks.find(TaskKey{true, image, ""});
  return it == state.tasks.end() ? nullptr : &it->second;
}

}  // namespace inplaced::imagepull::nodeimage
