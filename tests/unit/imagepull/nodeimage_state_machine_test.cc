#include "imagepull/nodeimage_state_machine.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/nodeimage_validation.h"
#include "imagepull/pull_backoff.h"
#include "tests/unit/imagepull/nodeimage_specs.h"

namespace inplaced::imagepull::nodeimage {
namespace {

namespace api = ::inplaced::v1;
using specs::AddImage;
using specs::TagOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

PullOutcome Pulled(const std::string& image_id = "reg.io/a@sha256:1") {
  PullOutcome outcome;
  outcome.image_id = image_id;
  return outcome;
}
PullOutcome Failed(const std::string& message = "manifest unknown") {
  PullOutcome outcome;
  outcome.status = absl::NotFoundError(message);
  return outcome;
}
PullOutcome Unreachable() {
  PullOutcome outcome;
  outcome.status = absl::UnavailableError("connection refused");
  outcome.runtime_unreachable = true;
  return outcome;
}

// Feeds the machine as the puller does, on a time of its own, and keeps every effect.
class Machine {
 public:
  explicit Machine(int max_concurrent_pulls = 3) {
    state_.max_concurrent_pulls = max_concurrent_pulls;
  }
  explicit Machine(Transition restored) { Commit(std::move(restored)); }

  // SetNodeImage at the current generation, defaults applied.
  const Effects& Set(api::NodeImageSpec spec) {
    ApplyNodeImageDefaults(&spec, now_);
    return Apply(SpecSet{std::move(spec), state_.metadata.generation(), false});
  }
  const Effects& PullAdHoc(const std::string& image) {
    api::PullImageRequest request;
    request.set_image(image);
    ApplyPullImageDefaults(&request);
    return Apply(AdHocPullRequested{request, *ImageReference::Parse(image)});
  }
  const Effects& Finish(uint64_t operation, PullOutcome outcome) {
    return Apply(AttemptFinished{operation, std::move(outcome)});
  }
  // Finishes the operation `image`:`tag` waits on.
  const Effects& Finish(const std::string& image, const std::string& tag, PullOutcome outcome) {
    return Finish(Operation(image, tag), std::move(outcome));
  }
  const Effects& TickAt(absl::Time now) {
    now_ = now;
    return Apply(Tick{});
  }
  const Effects& Apply(const Input& input) {
    Transition transition = Step(std::move(state_), input, now_);
    status_ = transition.status;
    ad_hoc_ = transition.ad_hoc;
    return Commit(std::move(transition));
  }

  const Task& TaskOf(const std::string& image, const std::string& tag) const {
    return state_.tasks.at(TaskKey{false, image, tag});
  }
  const api::ImageTagStatus& Tag(const std::string& image, const std::string& tag) const {
    return TaskOf(image, tag).status;
  }
  uint64_t Operation(const std::string& image, const std::string& tag) const {
    return TaskOf(image, tag).operation;
  }
  // The references of the operations started so far, in order.
  std::vector<std::string> Started() const {
    std::vector<std::string> out;
    for (const StartPull& start : started_) out.push_back(start.job.reference.PullReference());
    return out;
  }

  const State& state() const { return state_; }
  const Effects& effects() const { return effects_; }
  const absl::Status& status() const { return status_; }
  const std::optional<api::AdHocPullStatus>& ad_hoc() const { return ad_hoc_; }
  absl::Time now() const { return now_; }
  void set_now(absl::Time now) { now_ = now; }

 private:
  const Effects& Commit(Transition transition) {
    state_ = std::move(transition.state);
    effects_ = std::move(transition.effects);
    for (const StartPull& start : effects_.start) started_.push_back(start);
    return effects_;
  }

  State state_;
  Effects effects_;
  absl::Status status_;
  std::optional<api::AdHocPullStatus> ad_hoc_;
  std::vector<StartPull> started_;
  absl::Time now_ = kStart;
};

// ---- spec changes ----

TEST(NodeImageStateMachineTest, ASpecStartsItsTagsAndIsPersistedAndPublished) {
  Machine m;
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1", "2"});
  const Effects& effects = m.Set(spec);
  EXPECT_TRUE(effects.changed);
  EXPECT_THAT(m.Started(), ElementsAre("reg.io/a:1", "reg.io/a:2"));
  EXPECT_THAT(effects.cancel, IsEmpty());
  EXPECT_EQ(m.state().metadata.generation(), 1);
  EXPECT_EQ(m.state().metadata.resource_version(), 1u);
  const api::NodeImage node = Snapshot(m.state(), /*redact=*/true);
  EXPECT_EQ(node.status().desired(), 2);
  EXPECT_EQ(node.status().pulling(), 2);
  EXPECT_EQ(m.Tag("reg.io/a", "1").attempts(), 1);
  EXPECT_EQ(FromProtoTime(m.Tag("reg.io/a", "1").start_time()), kStart);
}

TEST(NodeImageStateMachineTest, AStaleGenerationIsAbortedAndChangesNothing) {
  Machine m;
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1"});
  m.Set(spec);
  const Effects& effects = m.Apply(SpecSet{spec, /*expected_generation=*/0, /*force=*/false});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(m.status().message(), HasSubstr("spec is at generation 1, got 0"));
  EXPECT_FALSE(effects.changed);
  EXPECT_THAT(effects.start, IsEmpty());
  EXPECT_EQ(m.state().metadata.generation(), 1);

  m.Apply(SpecSet{spec, /*expected_generation=*/0, /*force=*/true});
  EXPECT_TRUE(m.status().ok());
  EXPECT_EQ(m.state().metadata.generation(), 2);
}

struct SpecChangeCase {
  std::string description;
  bool finished_first;  // the tag's first pull succeeded before the change
  int64_t new_version;  // the tag's version in the new spec (it was 1)
  bool remove_tag;      // the new spec drops the tag instead
  // Expected.
  bool cancels_running;  // the first operation is cancelled
  bool restarts;         // a fresh task with a new attempt 1
  api::ImagePullPhase phase;
};

TEST(NodeImageStateMachineTest, VersionChangesRestartAndRemovalsCancel) {
  const std::vector<SpecChangeCase> cases = {
      {"same version keeps the pulling task", false, 1, false, false, false,
       api::IMAGE_PULL_PHASE_PULLING},
      {"same version keeps the finished task", true, 1, false, false, false,
       api::IMAGE_PULL_PHASE_SUCCEEDED},
      {"new version restarts an in-flight pull (its operation cancelled)", false, 2, false, true,
       true, api::IMAGE_PULL_PHASE_PULLING},
      {"new version pulls a finished tag again", true, 2, false, false, true,
       api::IMAGE_PULL_PHASE_PULLING},
      {"removing the tag cancels its in-flight pull", false, 1, true, true, false,
       api::IMAGE_PULL_PHASE_UNSPECIFIED},
  };
  for (const SpecChangeCase& c : cases) {
    SCOPED_TRACE(c.description);
    Machine m;
    api::NodeImageSpec spec;
    TagOptions v1;
    v1.version = 1;
    AddImage(spec, "reg.io/a", {"1"}, v1);
    AddImage(spec, "reg.io/keep", {"1"});
    m.Set(spec);
    const uint64_t first = m.Operation("reg.io/a", "1");
    if (c.finished_first) m.Finish(first, Pulled());

    api::NodeImageSpec next;
    if (!c.remove_tag) {
      TagOptions changed;
      changed.version = c.new_version;
      AddImage(next, "reg.io/a", {"1"}, changed);
    }
    AddImage(next, "reg.io/keep", {"1"});
    m.set_now(kStart + absl::Seconds(5));
    const Effects& effects = m.Set(next);
    if (c.cancels_running) {
      EXPECT_THAT(effects.cancel, ElementsAre(first));
    } else {
      EXPECT_THAT(effects.cancel, IsEmpty());
    }
    if (c.remove_tag) {
      EXPECT_EQ(m.state().tasks.count(TaskKey{false, "reg.io/a", "1"}), 0u);
      EXPECT_EQ(Snapshot(m.state(), true).status().desired(), 1);
      continue;
    }
    const Task& task = m.TaskOf("reg.io/a", "1");
    EXPECT_EQ(task.status.phase(), c.phase);
    EXPECT_EQ(task.status.version(), c.new_version);
    if (c.restarts) {
      EXPECT_EQ(task.status.attempts(), 1);
      EXPECT_NE(task.operation, first);
      EXPECT_EQ(FromProtoTime(task.status.start_time()), kStart + absl::Seconds(5));
      EXPECT_THAT(effects.log.front().text, HasSubstr("nodeimage_set"));
    } else {
      EXPECT_THAT(effects.start, IsEmpty());
    }
  }
}

TEST(NodeImageStateMachineTest, TheOldOperationOfARestartedTagChangesNothingWhenItReturns) {
  Machine m;
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1"});
  m.Set(spec);
  const uint64_t first = m.Operation("reg.io/a", "1");
  spec.mutable_images(0)->mutable_tags(0)->set_version(2);
  m.Set(spec);
  EXPECT_EQ(RunningPulls(m.state()), 2) << "the cancelled call holds its slot until it returns";
  m.Finish(first, Failed("CANCELLED"));
  EXPECT_EQ(RunningPulls(m.state()), 1);
  EXPECT_EQ(m.Tag("reg.io/a", "1").phase(), api::IMAGE_PULL_PHASE_PULLING);
  EXPECT_EQ(m.Tag("reg.io/a", "1").message(), "");
}

// ---- attempts: backoff, timeout, deadline ----

struct RetryCase {
  std::string description;
  int32_t backoff_limit;
  int failures;
  // Expected: the wait before each retry, then the final message's start (empty: still retrying).
  std::vector<absl::Duration> waits;
  std::string final_message;
};

TEST(NodeImageStateMachineTest, FailedAttemptsBackOffFromOneSecondDoublingToThirty) {
  const std::vector<RetryCase> cases = {
      {"backoff_limit 0: the first failure is final", 0, 1, {}, "failed after 1 attempts: "},
      {"backoff_limit 3 (the default): three retries",
       3,
       4,
       {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4)},
       "failed after 4 attempts: "},
      {"doubling stops at 30 s",
       8,
       8,
       {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4), absl::Seconds(8), absl::Seconds(16),
        absl::Seconds(30), absl::Seconds(30), absl::Seconds(30)},
       ""},
  };
  for (const RetryCase& c : cases) {
    SCOPED_TRACE(c.description);
    Machine m;
    api::NodeImageSpec spec;
    TagOptions options;
    options.backoff_limit = c.backoff_limit;
    AddImage(spec, "reg.io/a", {"1"}, options);
    m.Set(spec);
    for (int failure = 1; failure <= c.failures; ++failure) {
      m.Finish("reg.io/a", "1", Failed());
      if (failure > static_cast<int>(c.waits.size())) break;
      const absl::Duration wait = c.waits[failure - 1];
      // Backing off: the status stays PULLING, its message the attempt's error.
      EXPECT_EQ(m.TaskOf("reg.io/a", "1").state, TaskState::kQueued);
      EXPECT_EQ(m.Tag("reg.io/a", "1").phase(), api::IMAGE_PULL_PHASE_PULLING);
      EXPECT_EQ(NextWakeTime(m.state(), m.now()), m.now() + wait);
      EXPECT_THAT(m.TickAt(m.now() + wait - absl::Milliseconds(1)).start, IsEmpty())
          << "not before the backoff ends";
      EXPECT_EQ(m.TickAt(m.now() + absl::Milliseconds(1)).start.size(), 1u);
      EXPECT_EQ(m.Tag("reg.io/a", "1").attempts(), failure + 1);
    }
    const api::ImageTagStatus& status = m.Tag("reg.io/a", "1");
    if (c.final_message.empty()) {
      EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_PULLING);
    } else {
      EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_FAILED);
      EXPECT_THAT(status.message(), StartsWith(c.final_message));
      EXPECT_THAT(status.message(), HasSubstr("manifest unknown"));
      EXPECT_EQ(status.attempts(), c.failures);
      EXPECT_EQ(FromProtoTime(status.completion_time()), m.now());
    }
  }
}

TEST(NodeImageStateMachineTest, AnUnreachableRuntimeDoesNotUseUpTheRetries) {
  Machine m;
  api::NodeImageSpec spec;
  TagOptions once;
  once.backoff_limit = 0;
  AddImage(spec, "reg.io/a", {"1"}, once);
  m.Set(spec);
  for (int i = 0; i < 5; ++i) {
    const Effects& effects = m.Finish("reg.io/a", "1", Unreachable());
    EXPECT_THAT(effects.log.front().text, StartsWith("image_pull_runtime_unreachable"));
    EXPECT_THAT(m.Tag("reg.io/a", "1").message(),
                StartsWith("waiting for the container runtime: "));
    EXPECT_EQ(NextWakeTime(m.state(), m.now()), m.now() + kRuntimeUnreachableRetry);
    m.TickAt(m.now() + kRuntimeUnreachableRetry);
  }
  m.Finish("reg.io/a", "1", Pulled());
  EXPECT_EQ(m.Tag("reg.io/a", "1").phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
  EXPECT_EQ(m.Tag("reg.io/a", "1").attempts(), 6);
}

struct DeadlineCase {
  std::string description;
  int64_t timeout_seconds;
  std::optional<int64_t> deadline_seconds;
  int failures_first;  // failed attempts before the tick (each retried at once after its backoff)
  absl::Duration tick_at;  // after the last attempt's start
  // Expected.
  bool cancels;
  api::ImagePullPhase phase;
  std::string message;
};

TEST(NodeImageStateMachineTest, TimeoutsBoundEachAttemptAndTheDeadlineAllOfThem) {
  const std::vector<DeadlineCase> cases = {
      {"before the timeout nothing happens", 10, std::nullopt, 0, absl::Seconds(9), false,
       api::IMAGE_PULL_PHASE_PULLING, ""},
      {"the timeout cancels the attempt and retries", 10, std::nullopt, 0, absl::Seconds(10), true,
       api::IMAGE_PULL_PHASE_PULLING,
       "DEADLINE_EXCEEDED: pull attempt 1 timed out after 10s (timeout_seconds)"},
      {"the active deadline caps the attempt's timeout", 600, 10, 0, absl::Seconds(10), true,
       api::IMAGE_PULL_PHASE_FAILED, "pull exceeded active_deadline_seconds (10s)"},
      {"the active deadline counts from the first attempt, over retries", 600, 10, 2,
       absl::Seconds(7), true, api::IMAGE_PULL_PHASE_FAILED,
       "pull exceeded active_deadline_seconds (10s)"},
  };
  for (const DeadlineCase& c : cases) {
    SCOPED_TRACE(c.description);
    Machine m;
    api::NodeImageSpec spec;
    TagOptions options;
    options.timeout_seconds = c.timeout_seconds;
    options.deadline_seconds = c.deadline_seconds;
    AddImage(spec, "reg.io/a", {"1"}, options);
    m.Set(spec);
    for (int i = 0; i < c.failures_first; ++i) {
      m.Finish("reg.io/a", "1", Failed());
      m.TickAt(m.now() + PullBackoff(i + 1));  // 1 s, then 2 s: the last attempt starts at 3 s
    }
    const uint64_t operation = m.Operation("reg.io/a", "1");
    const Effects& effects = m.TickAt(m.now() + c.tick_at);
    if (c.cancels) {
      EXPECT_THAT(effects.cancel, ElementsAre(operation));
      EXPECT_TRUE(effects.changed);
    } else {
      EXPECT_THAT(effects.cancel, IsEmpty());
      EXPECT_FALSE(effects.changed);
    }
    EXPECT_EQ(m.Tag("reg.io/a", "1").phase(), c.phase);
    EXPECT_EQ(m.Tag("reg.io/a", "1").message(), c.message);
  }
}

TEST(NodeImageStateMachineTest, AQueuedTagPastItsDeadlineFailsWithItsLastError) {
  Machine m;
  api::NodeImageSpec spec;
  TagOptions options;
  options.deadline_seconds = 20;
  options.backoff_limit = 10;
  AddImage(spec, "reg.io/a", {"1"}, options);
  m.Set(spec);
  m.set_now(kStart + absl::Seconds(19));
  m.Finish("reg.io/a", "1", Failed("registry down"));
  EXPECT_EQ(NextWakeTime(m.state(), m.now()), kStart + absl::Seconds(20));
  m.TickAt(kStart + absl::Seconds(20));
  EXPECT_EQ(m.Tag("reg.io/a", "1").phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_EQ(m.Tag("reg.io/a", "1").message(),
            "pull exceeded active_deadline_seconds (20s); last error: NOT_FOUND: registry down");
}

// ---- TTL ----

struct TtlCase {
  std::string description;
  std::vector<std::string> tags;  // of reg.io/a; "1" has the TTL
  bool ad_hoc;                    // an ad hoc pull (default TTL 3600 s) instead
  // Expected after the TTL: generation bump, whether reg.io/a is still in the spec.
  int64_t generation_after;
  bool image_kept;
};

TEST(NodeImageStateMachineTest, TtlRemovesAFinishedTagFromSpecAndStatus) {
  const std::vector<TtlCase> cases = {
      {"the last tag leaves, and its image with it", {"1"}, false, 2, false},
      {"another tag keeps its image", {"1", "2"}, false, 2, true},
      {"an ad hoc pull leaves the status, not the spec", {}, true, 0, false},
  };
  for (const TtlCase& c : cases) {
    SCOPED_TRACE(c.description);
    Machine m;
    absl::Duration ttl = absl::Seconds(kDefaultAdHocTtlSeconds);
    if (c.ad_hoc) {
      m.PullAdHoc("reg.io/a:1");
      m.Finish(m.state().tasks.begin()->second.operation, Pulled());
    } else {
      api::NodeImageSpec spec;
      TagOptions with_ttl;
      with_ttl.ttl_seconds = 60;
      ttl = absl::Seconds(60);
      AddImage(spec, "reg.io/a", {"1"}, with_ttl);
      for (size_t i = 1; i < c.tags.size(); ++i) {
        spec.mutable_images(0)->add_tags()->set_tag(c.tags[i]);
      }
      m.Set(spec);
      m.Finish("reg.io/a", "1", Pulled());
    }
    EXPECT_EQ(NextWakeTime(m.state(), m.now()), kStart + ttl);
    EXPECT_FALSE(m.TickAt(kStart + ttl - absl::Seconds(1)).changed);
    EXPECT_TRUE(m.TickAt(kStart + ttl).changed);
    EXPECT_EQ(m.state().tasks.count(
                  TaskKey{c.ad_hoc, c.ad_hoc ? "reg.io/a:1" : "reg.io/a", c.ad_hoc ? "" : "1"}),
              0u);
    EXPECT_EQ(m.state().metadata.generation(), c.generation_after);
    EXPECT_EQ(m.state().spec.images_size() > 0, c.image_kept);
    const api::NodeImage node = Snapshot(m.state(), true);
    EXPECT_EQ(node.status().ad_hoc_pulls_size(), 0);
    EXPECT_EQ(node.status().desired(), static_cast<int>(c.tags.size()) - (c.ad_hoc ? 0 : 1));
  }
}

// ---- slots: limit, dedupe, round-robin ----

TEST(NodeImageStateMachineTest, TheLimitHoldsAndACompletionStartsTheNextTag) {
  Machine m(/*max_concurrent_pulls=*/2);
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1", "2", "3"});
  m.Set(spec);
  EXPECT_THAT(m.Started(), ElementsAre("reg.io/a:1", "reg.io/a:2"));
  EXPECT_EQ(m.Tag("reg.io/a", "3").phase(), api::IMAGE_PULL_PHASE_WAITING);
  EXPECT_EQ(NextWakeTime(m.state(), m.now()), kStart + absl::Seconds(600))
      << "a tag waiting for a slot is woken by a completion, not by time";
  m.Finish("reg.io/a", "1", Pulled());
  EXPECT_THAT(m.Started(), ElementsAre("reg.io/a:1", "reg.io/a:2", "reg.io/a:3"));
  EXPECT_EQ(RunningPulls(m.state()), 2);
}

struct DedupeCase {
  std::string description;
  bool ad_hoc_always;       // the ad hoc pull uses ALWAYS (the spec tag IF_NOT_PRESENT)
  bool ad_hoc_with_secret;  // the ad hoc pull has a credential for reg.io
  // Expected: operations started in all.
  size_t operations;
};

TEST(NodeImageStateMachineTest, IdenticalReferencesShareOneOperation) {
  const std::vector<DedupeCase> cases = {
      {"same reference, policy and credentials: one operation", false, false, 1},
      {"another pull policy: its own operation", true, false, 2},
      {"other credentials: their own operation", false, true, 2},
  };
  for (const DedupeCase& c : cases) {
    SCOPED_TRACE(c.description);
    Machine m(/*max_concurrent_pulls=*/1);
    api::NodeImageSpec spec;
    AddImage(spec, "reg.io/a", {"1"});
    m.Set(spec);
    api::PullImageRequest request;
    request.set_image("reg.io/a:1");
    if (c.ad_hoc_always) request.set_image_pull_policy(api::IMAGE_PULL_POLICY_ALWAYS);
    if (c.ad_hoc_with_secret) {
      request.add_pull_secrets(R"({"auths":{"reg.io":{"username":"u","password":"p"}}})");
    }
    ApplyPullImageDefaults(&request);
    m.Apply(AdHocPullRequested{request, *ImageReference::Parse("reg.io/a:1")});
    const Task& ad_hoc = *FindAdHocPull(m.state(), "reg.io/a:1");
    // A joined operation costs no slot; another one waits for the slot.
    EXPECT_EQ(ad_hoc.status.phase(),
              c.operations == 1 ? api::IMAGE_PULL_PHASE_PULLING : api::IMAGE_PULL_PHASE_WAITING);
    m.Finish("reg.io/a", "1", Pulled());
    if (c.operations == 2) m.Finish(FindAdHocPull(m.state(), "reg.io/a:1")->operation, Pulled());
    EXPECT_EQ(m.Started().size(), c.operations);
    EXPECT_EQ(m.Tag("reg.io/a", "1").phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
    EXPECT_EQ(FindAdHocPull(m.state(), "reg.io/a:1")->status.phase(),
              api::IMAGE_PULL_PHASE_SUCCEEDED);
  }
}

// ---- byte progress ----

api::PullProgress Bytes(int64_t done, int64_t total, absl::Time at) {
  api::PullProgress p;
  p.set_source(api::PROGRESS_SOURCE_BYTES);
  p.set_bytes_done(done);
  p.set_bytes_total(total);
  p.set_bytes_per_second(done);
  api::LayerProgress* layer = p.add_layers();
  layer->set_digest("sha256:aa");
  layer->set_size(total);
  layer->set_offset(done);
  layer->set_state(api::LAYER_STATE_DOWNLOADING);
  *p.mutable_update_time() = ToProtoTime(at);
  return p;
}

TEST(NodeImageStateMachineTest, ProgressGoesToThePullingTasksOfItsOperationOnly) {
  Machine m(/*max_concurrent_pulls=*/1);
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1", "2"});
  m.Set(spec);
  m.PullAdHoc("reg.io/a:1");  // joins the operation of tag 1
  const uint64_t op = m.Operation("reg.io/a", "1");
  const uint64_t version = m.state().metadata.resource_version();

  std::map<uint64_t, api::PullProgress> sample = {{op, Bytes(250, 1000, kStart)},
                                                  {op + 100, Bytes(1, 2, kStart)}};
  EXPECT_TRUE(m.Apply(ProgressSampled{sample}).changed);
  EXPECT_EQ(m.state().metadata.resource_version(), version + 1);
  EXPECT_EQ(m.Tag("reg.io/a", "1").pull_progress().bytes_done(), 250);
  EXPECT_EQ(m.Tag("reg.io/a", "1").progress(), 25);
  EXPECT_EQ(FindAdHocPull(m.state(), "reg.io/a:1")->status.progress(), 25);
  EXPECT_FALSE(m.Tag("reg.io/a", "2").has_pull_progress());  // waiting for the slot

  // The same figures sampled later: nothing to publish.
  sample = {{op, Bytes(250, 1000, kStart + absl::Seconds(1))}};
  EXPECT_FALSE(m.Apply(ProgressSampled{sample}).changed);
  EXPECT_EQ(m.state().metadata.resource_version(), version + 1);

  m.Finish(op, Pulled());
  const api::ImageTagStatus& done = m.Tag("reg.io/a", "1");
  EXPECT_EQ(done.progress(), 100);
  EXPECT_EQ(done.pull_progress().bytes_done(), 1000);
  EXPECT_EQ(done.pull_progress().bytes_per_second(), 0);
  EXPECT_EQ(done.pull_progress().layers(0).state(), api::LAYER_STATE_DONE);
  // A late sample of the finished operation changes nothing.
  EXPECT_FALSE(m.Apply(ProgressSampled{{{op, Bytes(10, 1000, kStart)}}}).changed);
  EXPECT_EQ(m.Tag("reg.io/a", "1").pull_progress().bytes_done(), 1000);
}

TEST(NodeImageStateMachineTest, AFailedAttemptKeepsItsBytesWithoutARate) {
  Machine m;
  api::NodeImageSpec spec;
  TagOptions options;
  options.backoff_limit = 0;
  AddImage(spec, "reg.io/a", {"1"}, options);
  m.Set(spec);
  const uint64_t op = m.Operation("reg.io/a", "1");
  m.Apply(ProgressSampled{{{op, Bytes(400, 1000, kStart)}}});
  m.Finish(op, Failed());
  const api::ImageTagStatus& failed = m.Tag("reg.io/a", "1");
  EXPECT_EQ(failed.phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_EQ(failed.progress(), 0);
  EXPECT_EQ(failed.pull_progress().bytes_done(), 400);
  EXPECT_EQ(failed.pull_progress().bytes_per_second(), 0);
}

TEST(NodeImageStateMachineTest, ASharedOperationIsCancelledOnlyWhenItsLastWaiterLeaves) {
  Machine m;
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/a", {"1"});
  m.Set(spec);
  m.PullAdHoc("reg.io/a:1");
  const uint64_t shared = m.Operation("reg.io/a", "1");
  ASSERT_EQ(FindAdHocPull(m.state(), "reg.io/a:1")->operation, shared);

  EXPECT_THAT(m.Set(api::NodeImageSpec()).cancel, IsEmpty()) << "the ad hoc pull still waits";
  EXPECT_THAT(m.TickAt(kStart + absl::Seconds(600)).cancel, ElementsAre(shared));
  EXPECT_EQ(RunningPulls(m.state()), 1) << "until the cancelled call returns";
  m.Finish(shared, Failed("CANCELLED"));
  EXPECT_EQ(RunningPulls(m.state()), 0);
}

TEST(NodeImageStateMachineTest, SlotsGoRoundRobinAcrossImagesThenAdHocPulls) {
  Machine m(/*max_concurrent_pulls=*/1);
  api::NodeImageSpec spec;
  AddImage(spec, "reg.io/big", {"1", "2", "3", "4"});
  AddImage(spec, "reg.io/mid", {"1", "2"});
  AddImage(spec, "reg.io/small", {"1"});
  m.Set(spec);
  m.PullAdHoc("reg.io/adhoc:1");
  m.PullAdHoc("reg.io/adhoc:2");
  while (RunningPulls(m.state()) > 0) m.Finish(m.state().operations.begin()->first, Pulled());
  EXPECT_THAT(m.Started(), ElementsAre("reg.io/big:1", "reg.io/mid:1", "reg.io/small:1",
                                       "reg.io/adhoc:1", "reg.io/big:2", "reg.io/mid:2",
                                       "reg.io/adhoc:2", "reg.io/big:3", "reg.io/big:4"));
}

TEST(NodeImageStateMachineTest, AnUnfinishedAdHocPullIsReturnedAsIsAndAFinishedOnePulledAgain) {
  Machine m;
  m.PullAdHoc("reg.io/a:1");
  ASSERT_TRUE(m.ad_hoc().has_value());
  EXPECT_EQ(m.ad_hoc()->status().phase(), api::IMAGE_PULL_PHASE_PULLING);
  EXPECT_FALSE(m.PullAdHoc("reg.io/a:1").changed);
  EXPECT_EQ(m.Started().size(), 1u);
  m.Finish(FindAdHocPull(m.state(), "reg.io/a:1")->operation, Pulled());
  EXPECT_TRUE(m.PullAdHoc("reg.io/a:1").changed);
  EXPECT_EQ(m.Started().size(), 2u);
}

TEST(NodeImageStateMachineTest, AdHocPullsAreCapped) {
  Machine m;
  for (size_t i = 0; i < kMaxAdHocPulls; ++i) m.PullAdHoc(absl::StrCat("reg.io/a:", i));
  EXPECT_TRUE(m.status().ok());
  EXPECT_FALSE(m.PullAdHoc("reg.io/a:one-more").changed);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kResourceExhausted);
}

// ---- reload after a restart ----

struct RestoreCase {
  std::string description;
  bool ad_hoc;
  api::ImagePullPhase stored_phase;
  int64_t stored_version;  // the spec's version is 1
  // Expected right after Restore.
  api::ImagePullPhase phase;
  bool started;
  std::string message;
};

TEST(NodeImageStateMachineTest, RestoreKeepsFinishedTagsAndRestartsTheOthers) {
  const std::vector<RestoreCase> cases = {
      {"a finished tag of the same version stays finished", false, api::IMAGE_PULL_PHASE_SUCCEEDED,
       1, api::IMAGE_PULL_PHASE_SUCCEEDED, false, "stored"},
      {"a failed tag of the same version stays failed", false, api::IMAGE_PULL_PHASE_FAILED, 1,
       api::IMAGE_PULL_PHASE_FAILED, false, "stored"},
      {"a finished tag of an older version is pulled", false, api::IMAGE_PULL_PHASE_SUCCEEDED, 0,
       api::IMAGE_PULL_PHASE_PULLING, true, ""},
      {"an unfinished tag starts again", false, api::IMAGE_PULL_PHASE_PULLING, 1,
       api::IMAGE_PULL_PHASE_PULLING, true, ""},
      {"an unfinished ad hoc pull is FAILED", true, api::IMAGE_PULL_PHASE_PULLING, 0,
       api::IMAGE_PULL_PHASE_FAILED, false, kInterruptedByRestartMessage},
      {"a finished ad hoc pull is kept", true, api::IMAGE_PULL_PHASE_SUCCEEDED, 0,
       api::IMAGE_PULL_PHASE_SUCCEEDED, false, "stored"},
  };
  for (const RestoreCase& c : cases) {
    SCOPED_TRACE(c.description);
    api::NodeImage stored;
    stored.mutable_metadata()->set_generation(4);
    stored.mutable_metadata()->set_resource_version(40);
    api::ImageTagStatus status;
    status.set_tag("1");
    status.set_phase(c.stored_phase);
    status.set_version(c.stored_version);
    status.set_attempts(3);
    status.set_message("stored");
    if (c.ad_hoc) {
      api::AdHocPullStatus* pull = stored.mutable_status()->add_ad_hoc_pulls();
      pull->set_image("reg.io/a:1");
      *pull->mutable_status() = status;
    } else {
      TagOptions v1;
      v1.version = 1;
      AddImage(*stored.mutable_spec(), "reg.io/a", {"1"}, v1);
      api::ImageStatus* image = stored.mutable_status()->add_images();
      image->set_name("reg.io/a");
      *image->add_tags() = status;
    }
    Machine m(Restore(stored, 3, kStart));
    const Task& task =
        c.ad_hoc ? *FindAdHocPull(m.state(), "reg.io/a:1") : m.TaskOf("reg.io/a", "1");
    EXPECT_EQ(task.status.phase(), c.phase);
    EXPECT_EQ(task.status.message(), c.message);
    EXPECT_EQ(m.effects().start.size(), c.started ? 1u : 0u);
    EXPECT_EQ(m.effects().changed, c.started);
    EXPECT_EQ(m.state().metadata.generation(), 4);
    EXPECT_EQ(m.state().metadata.resource_version(), c.started ? 41u : 40u);
    if (c.started) {
      EXPECT_EQ(task.status.attempts(), 1) << "attempts start again";
    }
  }
}

TEST(NodeImageStateMachineTest, RestoreStartsUnfinishedAdHocPullsAgainFromTheirStoredRequests) {
  api::NodeImage stored;
  stored.mutable_metadata()->set_resource_version(40);
  const auto add_pull = [&](const std::string& image, api::ImagePullPhase phase) {
    api::AdHocPullStatus* pull = stored.mutable_status()->add_ad_hoc_pulls();
    pull->set_image(image);
    pull->mutable_status()->set_phase(phase);
    pull->mutable_status()->set_attempts(2);
    pull->mutable_status()->set_message("stored");
  };
  add_pull("reg.io/pulling:1", api::IMAGE_PULL_PHASE_PULLING);
  add_pull("reg.io/done:1", api::IMAGE_PULL_PHASE_SUCCEEDED);
  add_pull("reg.io/no-request:1", api::IMAGE_PULL_PHASE_WAITING);

  AdHocRequests requests;
  const auto add_request = [&](const std::string& image) {
    api::PullImageRequest request;
    request.set_image(image);
    request.set_image_pull_policy(api::IMAGE_PULL_POLICY_ALWAYS);
    request.add_pull_secrets(R"({"auths":{"reg.io":{"username":"u","password":"hunter2"}}})");
    ApplyPullImageDefaults(&request);
    requests[image] = request;
  };
  add_request("reg.io/pulling:1");
  add_request("reg.io/done:1");      // finished: its final status wins, nothing is pulled
  add_request("reg.io/unlisted:1");  // stored before its status was: accepted, so pulled

  Machine m(Restore(stored, 3, kStart, requests));
  const Task* pulling = FindAdHocPull(m.state(), "reg.io/pulling:1");
  ASSERT_NE(pulling, nullptr);
  EXPECT_EQ(pulling->status.phase(), api::IMAGE_PULL_PHASE_PULLING);
  EXPECT_EQ(pulling->status.attempts(), 1) << "attempts start again";
  EXPECT_TRUE(pulling->job.always) << "the stored request's policy applies";
  ASSERT_EQ(pulling->job.credentials.size(), 1u) << "and its secrets";
  EXPECT_EQ(pulling->job.credentials[0].password, "hunter2");

  EXPECT_EQ(FindAdHocPull(m.state(), "reg.io/done:1")->status.phase(),
            api::IMAGE_PULL_PHASE_SUCCEEDED);
  EXPECT_EQ(FindAdHocPull(m.state(), "reg.io/no-request:1")->status.message(),
            kInterruptedByRestartMessage);
  ASSERT_NE(FindAdHocPull(m.state(), "reg.io/unlisted:1"), nullptr);
  EXPECT_EQ(FindAdHocPull(m.state(), "reg.io/unlisted:1")->status.phase(),
            api::IMAGE_PULL_PHASE_PULLING);
  EXPECT_EQ(m.effects().start.size(), 2u);
  EXPECT_TRUE(m.effects().changed);
  EXPECT_EQ(m.state().ad_hoc_order,
            (std::vector<std::string>{"reg.io/pulling:1", "reg.io/done:1", "reg.io/no-request:1",
                                      "reg.io/unlisted:1"}));
}

TEST(NodeImageStateMachineTest, SnapshotRedactsSecretsAndCountsTheSpecTagsOnly) {
  Machine m;
  api::NodeImageSpec spec;
  api::ImageSpec* image = AddImage(spec, "reg.io/a", {"1", "2"});
  image->add_pull_secrets(R"({"auths":{"reg.io":{"username":"u","password":"hunter2"}}})");
  m.Set(spec);
  m.PullAdHoc("reg.io/b:1");
  m.Finish("reg.io/a", "1", Pulled());
  m.Finish("reg.io/a", "2", Failed());
  const api::NodeImage redacted = Snapshot(m.state(), /*redact=*/true);
  EXPECT_EQ(redacted.spec().images(0).pull_secrets_size(), 0);
  EXPECT_EQ(redacted.spec().images(0).pull_secret_count(), 1);
  EXPECT_EQ(Snapshot(m.state(), /*redact=*/false).spec().images(0).pull_secrets_size(), 1);
  EXPECT_EQ(redacted.status().desired(), 2);
  EXPECT_EQ(redacted.status().succeeded(), 1);
  EXPECT_EQ(redacted.status().pulling(), 1) << "a tag backing off counts as pulling";
  EXPECT_EQ(redacted.status().failed(), 0);
  EXPECT_EQ(redacted.status().ad_hoc_pulls_size(), 1);
  EXPECT_EQ(redacted.status().observed_generation(), 1);
}

}  // namespace
}  // namespace inplaced::imagepull::nodeimage
