#include "imagepull/puller.h"

#include <algorithm>
#include <functional>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;

constexpr int kMaxConcurrentPullsLimit = 64;
// Why the loop ticks at once: the state changed (a new spec, an ad hoc pull, a finished attempt).
constexpr uint32_t kWakeStateChanged = 1;

void Log(const nodeimage::LogLine& line) {
  switch (line.level) {
    case nodeimage::LogLine::Level::kInfo:
      spdlog::info("{}", line.text);
      break;
    case nodeimage::LogLine::Level::kWarning:
      spdlog::warn("{}", line.text);
      break;
    case nodeimage::LogLine::Level::kError:
      spdlog::error("{}", line.text);
      break;
  }
}

// The metrics label of an attempt's outcome.
const char* PullResultLabel(const PullOutcome& outcome) {
  if (outcome.status.ok()) return outcome.already_present ? "present" : "pulled";
  if (outcome.status.code() == absl::StatusCode::kCancelled) return "cancelled";
  if (outcome.runtime_unreachable) return "runtime_unavailable";
  return "failed";
}

api::AdHocPullStatus AdHocStatus(const std::string& image, const nodeimage::Task& task) {
  api::AdHocPullStatus out;
  out.set_image(image);
  *out.mutable_status() = task.status;
  return out;
}

absl::Status NoAdHocPull(const std::string& image) {
  return absl::NotFoundError(absl::StrCat("no ad hoc pull of \"", image, "\""));
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
  if (options.progress_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("progress_interval: must be positive");
  }
  absl::StatusOr<store::Record> record = store.Get(kNodeImageStoreKind, options.store_key);
  api::NodeImage stored;
  if (record.ok()) {
    if (!stored.ParseFromString(record->value)) {
      return absl::DataLossError(
          absl::StrCat("nodeimage record \"", options.store_key, "\" does not parse"));
    }
  } else if (!absl::IsNotFound(record.status())) {
    return record.status();
  }
  ASSIGN_OR_RETURN(std::vector<store::Record> ad_hoc_records, store.ListAll(kAdHocPullStoreKind));
  nodeimage::AdHocRequests ad_hoc_requests;
  for (const store::Record& ad_hoc : ad_hoc_records) {
    api::PullImageRequest request;
    if (!request.ParseFromString(ad_hoc.value) || request.image() != ad_hoc.key) {
      return absl::DataLossError(
          absl::StrCat("ad hoc pull record \"", ad_hoc.key, "\" does not parse"));
    }
    ad_hoc_requests.emplace(ad_hoc.key, std::move(request));
  }
  std::unique_ptr<ImagePuller> puller(
      new ImagePuller(runtime, clock, store, precheck, std::move(options)));
  {
    absl::MutexLock lock(&puller->mu_);
    puller->node_record_stored_ = record.ok();
    for (const auto& [image, request] : ad_hoc_requests) puller->stored_ad_hoc_.insert(image);
    if (record.ok() || !ad_hoc_requests.empty()) {
      nodeimage::Transition restored = nodeimage::Restore(
          stored, puller->options_.max_concurrent_pulls, clock.Now(), ad_hoc_requests);
      puller->CommitLocked(restored);
    } else {
      puller->state_.max_concurrent_pulls = puller->options_.max_concurrent_pulls;
    }
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
      metrics_(options_.metrics != nullptr ? *options_.metrics : NoMetrics()),
      committer_(store),
      executor_(std::make_unique<ThreadPoolExecutor>(options_.max_concurrent_pulls)),
      loop_(clock, [this](uint32_t /*wake_reasons*/) { return TickAndWait(); }),
      progress_loop_(clock, [this](uint32_t /*wake_reasons*/) { return SampleAndWait(); }) {}

ImagePuller::~ImagePuller() { Shutdown(); }

void ImagePuller::Start() {
  loop_.Start();
  if (options_.progress != nullptr) progress_loop_.Start();
}

void ImagePuller::Shutdown() {
  loop_.Shutdown();
  progress_loop_.Shutdown();
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [id, cancel] : cancels_) cancel->Cancel();
  }
  fanout_.Shutdown();
  {
    // Cancelled, the attempts end soon; their OnAttemptFinished sees shutting_down_ and records
    // nothing, so the stored record keeps the unfinished tags for the next start.
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return attempts_running_ == 0; };
    mu_.Await(absl::Condition(&ended));
  }
  executor_->Shutdown();
  // Then writes what is queued (a pull whose start waited for it no longer starts).
  committer_.Shutdown(options_.store_write_timeout);
}

// ---- the state machine's shell ----

nodeimage::Transition ImagePuller::StepLocked(nodeimage::Input input) {
  nodeimage::Transition transition =
      nodeimage::Step(std::move(state_), std::move(input), clock_.Now());
  CommitLocked(transition);
  return transition;
}

store::DurableRef ImagePuller::CommitLocked(nodeimage::Transition& transition,
                                            Persistence persistence) {
  state_ = std::move(transition.state);
  nodeimage::Effects& effects = transition.effects;
  for (const nodeimage::LogLine& line : effects.log) Log(line);
  for (uint64_t id : effects.cancel) {
    auto it = cancels_.find(id);
    if (it != cancels_.end()) it->second->Cancel();
  }
  store::DurableRef written;
  if (effects.changed && persistence == Persistence::kDurable) {
    written = QueueNodeRecordLocked();
    // Only behind the final statuses (same batch or a later one) may the requests go.
    ForgetFinishedAdHocRequestsLocked();
  }
  // A pull starts once the state that asks for it is durable: a restart in between pulls it again
  // rather than having pulled something the store never heard of.
  for (nodeimage::StartPull& start : effects.start) {
    auto cancel = std::make_shared<Cancellation>();
    cancels_[start.operation] = cancel;
    // The continuation may run at once, here, under mu_ (a write already done, or none queued):
    // it only hands the attempt to the pool, where RunAttempt takes mu_.
    store::WhenDurable(written, [this, id = start.operation, job = std::move(start.job),
                                 cancel](const absl::Status& durable) mutable {
      // Not durable: abandoned at shutdown, or refused (logged by the write); the next start
      // resumes from what is durable. Refused by the pool: shutting down, likewise.
      if (!durable.ok()) return;
      executor_->Submit([this, id, job = std::move(job), cancel = std::move(cancel)]() mutable {
        RunAttempt(id, std::move(job), std::move(cancel));
      });
    });
  }
  if (effects.changed) {
    fanout_.Publish(WatchEventKind::kModified, nodeimage::Snapshot(state_, /*redact=*/true));
  }
  return written;
}

void ImagePuller::RunAttempt(uint64_t id, PullJob job, std::shared_ptr<Cancellation> cancel) {
  {
    absl::MutexLock lock(&mu_);
    // Durable only once the puller began to shut down: the next start runs it.
    if (shutting_down_) return;
    ++attempts_running_;
  }
  const absl::Time started = clock_.Now();
  PullProgressTracker* progress = options_.progress;
  std::function<void()> before_pull;
  if (progress != nullptr) {
    before_pull = [progress, id, job, cancel] { progress->Begin(id, job, cancel.get()); };
  }
  Cancellation* token = cancel.get();
  // `cancel` rides along in `done`, so the token lives until the operation ended.
  StartPull(runtime_, std::move(job), precheck_, token, std::move(before_pull), *executor_,
            [this, id, started, progress, cancel = std::move(cancel)](PullOutcome outcome) {
              if (progress != nullptr) progress->End(id);
              metrics_.PullFinished(PullResultLabel(outcome), clock_.Now() - started);
              OnAttemptFinished(id, std::move(outcome));
            });
}

void ImagePuller::OnAttemptFinished(uint64_t operation, PullOutcome outcome) {
  absl::MutexLock lock(&mu_);
  cancels_.erase(operation);
  --attempts_running_;
  if (shutting_down_) return;
  if (StepLocked(nodeimage::AttemptFinished{operation, std::move(outcome)}).effects.changed) {
    loop_.Wake(kWakeStateChanged);
  }
}

void ImagePuller::Tick() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  StepLocked(nodeimage::Tick{});
}

absl::Time ImagePuller::NextWakeTime() const {
  absl::MutexLock lock(&mu_);
  return nodeimage::NextWakeTime(state_, clock_.Now());
}

void ImagePuller::SampleProgress() {
  if (options_.progress == nullptr) return;
  // Sampled without mu_: the content store calls must not hold up the API.
  std::map<uint64_t, api::PullProgress> sampled = options_.progress->Sample();
  if (sampled.empty()) return;
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  const absl::Time now = clock_.Now();
  if (now < last_progress_publish_ + options_.progress_interval) return;
  nodeimage::Transition transition =
      nodeimage::Step(std::move(state_), nodeimage::ProgressSampled{std::move(sampled)}, now);
  if (transition.effects.changed) last_progress_publish_ = now;
  // Published, not persisted: progress is transient (a restarted daemon pulls again).
  CommitLocked(transition, Persistence::kTransient);
}

absl::Duration ImagePuller::SampleAndWait() {
  SampleProgress();
  return options_.progress_interval;
}

// ---- API ----

absl::StatusOr<api::NodeImage> ImagePuller::SetNodeImage(const api::SetNodeImageRequest& request) {
  RETURN_IF_ERROR(ValidateSetNodeImage(request, options_.limits));
  api::NodeImageSpec spec = request.spec();
  const absl::Time now = clock_.Now();
  ApplyNodeImageDefaults(&spec, now);

  store::DurableRef written;
  api::NodeImage answer;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::UnavailableError("the image puller is shutting down");
    // Stepped on a copy: a refused spec changes nothing.
    nodeimage::Transition transition = nodeimage::Step(
        state_, nodeimage::SpecSet{std::move(spec), request.expected_generation(), request.force()},
        now);
    RETURN_IF_ERROR(transition.status);
    // Its pulls start once the spec is durable; the caller hears of it then.
    written = CommitLocked(transition);
    loop_.Wake(kWakeStateChanged);
    answer = nodeimage::Snapshot(state_, /*redact=*/true);
  }
  RETURN_IF_ERROR(store::AwaitDurable(written, options_.store_write_timeout));
  return answer;
}

api::NodeImage ImagePuller::GetNodeImage() const {
  absl::MutexLock lock(&mu_);
  return nodeimage::Snapshot(state_, /*redact=*/true);
}

absl::StatusOr<api::AdHocPullStatus> ImagePuller::PullImage(const api::PullImageRequest& request) {
  RETURN_IF_ERROR(ValidatePullImage(request, options_.limits));
  api::PullImageRequest effective = request;
  ApplyPullImageDefaults(&effective);
  ASSIGN_OR_RETURN(ImageReference ref, ImageReference::Parse(effective.image()));

  store::DurableRef written;
  api::AdHocPullStatus answer;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::UnavailableError("the image puller is shutting down");
    // Stepped on a copy: a refused pull changes nothing.
    nodeimage::Transition transition = nodeimage::Step(
        state_, nodeimage::AdHocPullRequested{effective, std::move(ref)}, clock_.Now());
    RETURN_IF_ERROR(transition.status);
    // An accepted pull is durable (its request and the status, one batch) before it starts and
    // before the caller hears of it.
    store::GroupCommitter::Hold one_batch(committer_);
    if (transition.effects.changed) QueueAdHocRequestLocked(effective);
    written = CommitLocked(transition);
    if (transition.effects.changed) loop_.Wake(kWakeStateChanged);
    answer = *std::move(transition.ad_hoc);
  }
  RETURN_IF_ERROR(store::AwaitDurable(written, options_.store_write_timeout));
  return answer;
}

absl::StatusOr<api::AdHocPullStatus> ImagePuller::GetAdHocPull(const std::string& image) const {
  absl::MutexLock lock(&mu_);
  const nodeimage::Task* task = nodeimage::FindAdHocPull(state_, image);
  if (task == nullptr) return NoAdHocPull(image);
  return AdHocStatus(image, *task);
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
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      const nodeimage::Task* task = nodeimage::FindAdHocPull(state_, image);
      return cancelled || shutting_down_ || task == nullptr ||
             task->state == nodeimage::TaskState::kFinished;
    };
    mu_.Await(absl::Condition(&done));
    const nodeimage::Task* task = nodeimage::FindAdHocPull(state_, image);
    if (task == nullptr) {
      result = NoAdHocPull(image);
    } else if (task->state == nodeimage::TaskState::kFinished) {
      result = AdHocStatus(image, *task);
    } else if (cancelled) {
      result = absl::CancelledError("wait for the ad hoc pull cancelled; the pull goes on");
    } else {
      result = absl::UnavailableError("the image puller is shutting down");
    }
  }
  if (cancel != nullptr && callback_id >= 0) cancel->Unregister(callback_id);
  return result;
}

absl::StatusOr<std::unique_ptr<Watch<api::NodeImage>>> ImagePuller::Watch(
    const api::WatchNodeImageRequest& request) {
  // The initial state is read and the watch opened under mu_, under which every change is
  // published: no change is lost or sent twice between the two.
  absl::MutexLock lock(&mu_);
  if (request.skip_initial_state()) return fanout_.Subscribe(nullptr, nullptr, /*synced=*/false);
  const api::NodeImage now = nodeimage::Snapshot(state_, /*redact=*/true);
  return fanout_.Subscribe(
      nullptr, [&now](const auto& visit) { visit(now); }, /*synced=*/false);
}

// ---- persistence ----

store::DurableRef ImagePuller::QueueNodeRecordLocked() {
  std::string value = nodeimage::Snapshot(state_, /*redact=*/false).SerializeAsString();
  store::Write write =
      node_record_stored_
          ? store::Write::Update(kNodeImageStoreKind, options_.store_key, std::move(value))
          : store::Write::Create(kNodeImageStoreKind, options_.store_key, std::move(value));
  node_record_stored_ = true;
  return store::SubmitDurable(committer_, std::move(write), "nodeimage_persist_failed");
}

void ImagePuller::QueueAdHocRequestLocked(const api::PullImageRequest& request) {
  std::string value = request.SerializeAsString();
  const bool stored = !stored_ad_hoc_.insert(request.image()).second;
  store::SubmitDurable(
      committer_,
      stored ? store::Write::Update(kAdHocPullStoreKind, request.image(), std::move(value))
             : store::Write::Create(kAdHocPullStoreKind, request.image(), std::move(value)),
      "ad_hoc_pull_persist_failed");
}

void ImagePuller::ForgetFinishedAdHocRequestsLocked() {
  for (auto it = stored_ad_hoc_.begin(); it != stored_ad_hoc_.end();) {
    const nodeimage::Task* task = nodeimage::FindAdHocPull(state_, *it);
    if (task != nullptr && task->state != nodeimage::TaskState::kFinished) {
      ++it;
      continue;
    }
    store::SubmitDurable(committer_, store::Write::Delete(kAdHocPullStoreKind, *it),
                         "ad_hoc_pull_forget_failed");
    it = stored_ad_hoc_.erase(it);
  }
}

// ---- loop and test hooks ----

absl::Duration ImagePuller::TickAndWait() {
  Tick();
  // The wait is in real time (see the header): fine with RealClock, whose time is real time.
  return std::max(absl::ZeroDuration(),
                  std::min(NextWakeTime() - clock_.Now(), options_.max_tick_interval));
}

void ImagePuller::FlushWrites() { committer_.Flush(); }

int ImagePuller::RunningPulls() const {
  absl::MutexLock lock(&mu_);
  return nodeimage::RunningPulls(state_);
}

void ImagePuller::AwaitState(
    const std::function<bool(const api::NodeImage&, int running_pulls)>& done) const {
  absl::MutexLock lock(&mu_);
  auto ready = [this, &done]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done(nodeimage::Snapshot(state_, /*redact=*/true), nodeimage::RunningPulls(state_));
  };
  mu_.Await(absl::Condition(&ready));
}

}  // namespace inplaced::imagepull
