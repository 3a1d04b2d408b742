#include "daemon/recreate/recreate_state_machine.h"

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "daemon/recreate/recreate_validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/daemon/recreate/node_builder.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
namespace internal = ::inplaced::internal;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::InstanceSpec;
using testing::NodeBuilder;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

// A small node: one pod "default/web-0" (uid-1) whose container instances the test moves around
// like kubelet and the runtime would.
class World {
 public:
  World() { AddContainer("a"); }

  void AddContainer(const std::string& name, std::map<std::string, std::string> annotations = {}) {
    InstanceSpec instance;
    instance.pod_uid = "uid-1";
    instance.name = name;
    instance.id = absl::StrCat(name, "-0");
    instance.created_at = kStart - absl::Hours(1);
    instance.started_at = kStart - absl::Hours(1);
    instance.annotations = std::move(annotations);
    instances_.push_back(instance);
  }

  // The container's current instance exits (it is not removed: kubelet keeps the dead one).
  void Exit(const std::string& id) {
    for (InstanceSpec& instance : instances_) {
      if (instance.id == id) instance.state = ::runtime::v1::CONTAINER_EXITED;
    }
  }
  // kubelet starts attempt + 1 of `name` at `now`.
  std::string Restart(const std::string& name, absl::Time now, bool running = true) {
    int restarts = 0;
    for (InstanceSpec& instance : instances_) {
      if (instance.name != name) continue;
      restarts = std::max(restarts, instance.restart_count + 1);
      instance.state = ::runtime::v1::CONTAINER_EXITED;
    }
    InstanceSpec next;
    next.pod_uid = "uid-1";
    next.name = name;
    next.id = absl::StrCat(name, "-", restarts);
    next.restart_count = restarts;
    next.created_at = now;
    next.state = running ? ::runtime::v1::CONTAINER_RUNNING : ::runtime::v1::CONTAINER_EXITED;
    if (running) next.started_at = now;
    instances_.push_back(next);
    return next.id;
  }
  void RemovePod() { pod_present_ = false; }

  cri::NodeSnapshot Snapshot() const {
    NodeBuilder builder;
    if (!pod_present_) return builder.Build();
    builder.AddPod({});
    for (const InstanceSpec& instance : instances_) builder.AddInstance(instance);
    return builder.Build();
  }

 private:
  bool pod_present_ = true;
  std::vector<InstanceSpec> instances_;
};

api::CreateRecreateRequestRequest NewRequest(std::vector<std::string> containers) {
  api::CreateRecreateRequestRequest request;
  request.set_namespace_("default");
  request.set_name("r1");
  request.mutable_spec()->set_pod_name("web-0");
  for (const std::string& name : containers)
    request.mutable_spec()->add_containers()->set_name(name);
  return request;
}

internal::RecreateRecord Record(api::CreateRecreateRequestRequest request,
                                absl::Time now = kStart) {
  ApplySpecDefaults(request.mutable_spec());
  return NewRecord(request, "req-uid", now, 1);
}

StepInput At(absl::Time now) {
  StepInput input;
  input.now = now;
  return input;
}

const api::ContainerRecreateState& StateOf(const internal::RecreateRecord& record, int i) {
  return record.request().status().container_states(i);
}

TEST(RecreateStateMachineTest, KillsTheRunningContainerWithNoHookAndDefaultGrace) {
  World world;
  const StepResult result = Advance(Record(NewRequest({"a"})), world.Snapshot(), At(kStart));
  ASSERT_TRUE(result.changed);
  ASSERT_EQ(result.kills.size(), 1u);
  EXPECT_EQ(result.kills[0].container_id, "a-0");
  EXPECT_EQ(result.kills[0].grace_period_seconds, kDefaultGracePeriodSeconds);
  EXPECT_EQ(result.kills[0].pod_sandbox_id, NodeBuilder::SandboxId("uid-1"));
  EXPECT_FALSE(result.kills[0].pre_stop.has_value());
  const internal::RecreateRecord& record = result.record;
  EXPECT_EQ(record.request().status().phase(), api::RECREATE_PHASE_RECREATING);
  EXPECT_EQ(record.request().status().pod_uid(), "uid-1");
  EXPECT_EQ(record.kills(0).step(), internal::KILL_STEP_QUEUED)
      << "only decided: STOP_SENT is written by the kill worker right before the call";
  EXPECT_EQ(record.kills(0).target_container_id(), "a-0");
  const api::ContainerRecreateState& state = StateOf(record, 0);
  EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_RECREATING);
  EXPECT_EQ(state.old_container_id(), "a-0");
  EXPECT_FALSE(state.has_killed_at());

  internal::RecreateRecord sent = record;
  const std::optional<int64_t> timeout = MarkStopSent(&sent, 0, kStart + absl::Seconds(4));
  ASSERT_TRUE(timeout.has_value());
  EXPECT_EQ(*timeout, kDefaultGracePeriodSeconds) << "no hook: the grace counts from the stop";
  EXPECT_EQ(sent.kills(0).step(), internal::KILL_STEP_STOP_SENT);
  EXPECT_EQ(FromProtoTime(sent.kills(0).stop_sent_at()), kStart + absl::Seconds(4));
  EXPECT_EQ(sent.kills(0).stop_timeout_seconds(), kDefaultGracePeriodSeconds);
  EXPECT_TRUE(StateOf(sent, 0).is_killed());
  EXPECT_EQ(FromProtoTime(StateOf(sent, 0).killed_at()), kStart + absl::Seconds(4));
  EXPECT_FALSE(MarkStopSent(&sent, 0, kStart).has_value()) << "a stop is marked sent once";
  EXPECT_EQ(state.grace_period_seconds(), kDefaultGracePeriodSeconds);
  EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_NO_HOOK);
}

TEST(RecreateStateMachineTest, FollowsTheRestartToSucceededAndCompletes) {
  World world;
  StepResult result = Advance(Record(NewRequest({"a"})), world.Snapshot(), At(kStart));
  ASSERT_EQ(result.kills.size(), 1u);
  internal::RecreateRecord record = result.record;
  ApplyStopResult(&record, 0, absl::OkStatus(), kStart);
  world.Exit("a-0");
  result = Advance(record, world.Snapshot(), At(kStart + absl::Seconds(1)));
  EXPECT_TRUE(result.kills.empty());
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_RECREATING);
  EXPECT_THAT(StateOf(result.record, 0).message(), HasSubstr("waiting for kubelet"));

  world.Restart("a", kStart + absl::Seconds(2));
  result = Advance(result.record, world.Snapshot(), At(kStart + absl::Seconds(2)));
  const api::ContainerRecreateState& state = StateOf(result.record, 0);
  EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_EQ(state.new_container_id(), "a-1");
  EXPECT_EQ(state.restart_count(), 1);
  EXPECT_EQ(FromProtoTime(state.restarted_at()), kStart + absl::Seconds(2));
  EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(result.record.request().status().message(), "");
  EXPECT_EQ(FromProtoTime(result.record.request().status().completion_time()),
            kStart + absl::Seconds(2));
}

TEST(RecreateStateMachineTest, AStepWithNothingNewChangesNothing) {
  World world;
  StepResult result = Advance(Record(NewRequest({"a"})), world.Snapshot(), At(kStart));
  StepInput input = At(kStart + absl::Seconds(1));
  input.kills_in_flight.insert("a");
  const StepResult again = Advance(result.record, world.Snapshot(), input);
  EXPECT_FALSE(again.changed);
  EXPECT_TRUE(again.kills.empty());
}

TEST(RecreateStateMachineTest, StatusContextFromTheCallerDecidesWhatIsRecreated) {
  World world;
  world.Restart("a", kStart - absl::Minutes(5));  // a-1 runs since before the request
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->mutable_containers(0)->mutable_status_context()->set_container_id(
      "containerd://a-0");
  const StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  EXPECT_TRUE(result.kills.empty()) << "already recreated since the status context: no kill";
  const api::ContainerRecreateState& state = StateOf(result.record, 0);
  EXPECT_EQ(state.old_container_id(), "a-0");
  EXPECT_EQ(state.new_container_id(), "a-1");
  EXPECT_TRUE(state.is_killed());
  EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
}

TEST(RecreateStateMachineTest, ForceRecreateKillsAnAlreadyRestartedContainerOnce) {
  World world;
  world.Restart("a", kStart - absl::Minutes(5));
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->mutable_containers(0)->mutable_status_context()->set_container_id("a-0");
  request.mutable_spec()->mutable_strategy()->set_force_recreate(true);
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  ASSERT_EQ(result.kills.size(), 1u);
  EXPECT_EQ(result.kills[0].container_id, "a-1") << "the running instance is the one killed";
  internal::RecreateRecord record = result.record;
  ApplyStopResult(&record, 0, absl::OkStatus(), kStart);
  world.Restart("a", kStart + absl::Seconds(1));
  result = Advance(record, world.Snapshot(), At(kStart + absl::Seconds(1)));
  EXPECT_TRUE(result.kills.empty()) << "killed once only";
  EXPECT_EQ(StateOf(result.record, 0).new_container_id(), "a-2");
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
}

TEST(RecreateStateMachineTest, ForceRecreateWaitsForACrashedContainerToRunBeforeKillingIt) {
  World world;
  world.Exit("a-0");
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->mutable_strategy()->set_force_recreate(true);
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  EXPECT_TRUE(result.kills.empty());
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_PENDING);
  world.Restart("a", kStart + absl::Seconds(1));
  result = Advance(result.record, world.Snapshot(), At(kStart + absl::Seconds(1)));
  ASSERT_EQ(result.kills.size(), 1u);
  EXPECT_EQ(result.kills[0].container_id, "a-1");
}

TEST(RecreateStateMachineTest, AContainerThatExitedOnItsOwnIsNotKilled) {
  World world;
  // The status context as taken at acceptance, then the container crashes before the first step.
  internal::RecreateRecord record = Record(NewRequest({"a"}));
  FillMissingContexts(&record, *FindRequestPod(record.request(), world.Snapshot()));
  world.Exit("a-0");
  StepResult result = Advance(record, world.Snapshot(), At(kStart));
  EXPECT_TRUE(result.kills.empty());
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_RECREATING);
  EXPECT_TRUE(StateOf(result.record, 0).is_killed());
  world.Restart("a", kStart + absl::Seconds(1));
  result = Advance(result.record, world.Snapshot(), At(kStart + absl::Seconds(1)));
  EXPECT_TRUE(result.kills.empty());
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
}

TEST(RecreateStateMachineTest, CrashLoopingNewContainerIsFailedAtTheDeadline) {
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->set_active_deadline_seconds(10);
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  internal::RecreateRecord record = result.record;
  ApplyStopResult(&record, 0, absl::OkStatus(), kStart);
  world.Restart("a", kStart + absl::Seconds(1), /*running=*/false);
  result = Advance(record, world.Snapshot(), At(kStart + absl::Seconds(2)));
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_RECREATING);
  EXPECT_THAT(StateOf(result.record, 0).message(), HasSubstr("is not running"));
  result = Advance(result.record, world.Snapshot(), At(kStart + absl::Seconds(10)));
  EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(result.record.request().status().message(), kDeadlineExceededMessage);
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  EXPECT_EQ(StateOf(result.record, 0).message(), kDeadlineExceededMessage);
}

TEST(RecreateStateMachineTest, DeadlineAlsoEndsARequestWaitingInItsPodsQueue) {
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->set_active_deadline_seconds(3);
  StepInput input = At(kStart + absl::Seconds(3));
  input.blocked_by = "older";
  const StepResult result = Advance(Record(request), world.Snapshot(), input);
  EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_TRUE(result.kills.empty());
}

TEST(RecreateStateMachineTest, BlockedRequestStaysPendingAndSaysWhy) {
  World world;
  StepInput input = At(kStart);
  input.blocked_by = "older";
  const StepResult result = Advance(Record(NewRequest({"a"})), world.Snapshot(), input);
  EXPECT_TRUE(result.kills.empty());
  EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_PENDING);
  EXPECT_THAT(result.record.request().status().message(), HasSubstr("waiting for request older"));
  EXPECT_EQ(StateOf(result.record, 0).old_container_id(), "a-0")
      << "status context filled while waiting";
}

TEST(RecreateStateMachineTest, PodGoneCompletesTheRequest) {
  World world;
  world.RemovePod();
  const StepResult result = Advance(Record(NewRequest({"a"})), world.Snapshot(), At(kStart));
  EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(result.record.request().status().message(), kPodGoneMessage);
}

TEST(RecreateStateMachineTest, PodWithAnotherUidIsGone) {
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->set_pod_uid("uid-old");
  const StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  EXPECT_EQ(result.record.request().status().message(), kPodGoneMessage);
}

TEST(RecreateStateMachineTest, TtlDeletesTheFinishedRequestAfterItsTime) {
  World world;
  world.RemovePod();
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->set_ttl_seconds_after_finished(60);
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  ASSERT_TRUE(IsCompleted(result.record));
  EXPECT_FALSE(result.remove);
  EXPECT_FALSE(Advance(result.record, world.Snapshot(), At(kStart + absl::Seconds(59))).remove);
  EXPECT_TRUE(Advance(result.record, world.Snapshot(), At(kStart + absl::Seconds(60))).remove);
}

TEST(RecreateStateMachineTest, WithoutTtlAFinishedRequestIsKept) {
  World world;
  world.RemovePod();
  StepResult result = Advance(Record(NewRequest({"a"})), world.Snapshot(), At(kStart));
  EXPECT_FALSE(Advance(result.record, world.Snapshot(), At(kStart + absl::Hours(1000))).remove);
}

struct PolicyCase {
  std::string name;
  api::FailurePolicy policy;
  bool ordered;
  // Expected after one step: kills issued (container ids) and the request phase.
  std::vector<std::string> kills;
  api::RecreatePhase phase;
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.name; }

class MissingContainerTest : public ::testing::TestWithParam<PolicyCase> {};

// Containers: "ghost" (not in the pod), then "a".
TEST_P(MissingContainerTest, FailOrIgnore) {
  const PolicyCase& c = GetParam();
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"ghost", "a"});
  request.mutable_spec()->mutable_strategy()->set_failure_policy(c.policy);
  request.mutable_spec()->mutable_strategy()->set_ordered_recreate(c.ordered);
  const StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  std::vector<std::string> kills;
  for (const KillAction& kill : result.kills) kills.push_back(kill.container_id);
  EXPECT_EQ(kills, c.kills);
  EXPECT_EQ(result.record.request().status().phase(), c.phase);
  EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  EXPECT_EQ(StateOf(result.record, 0).message(), kContainerNotFoundMessage);
  if (c.policy == api::FAILURE_POLICY_FAIL) {
    EXPECT_EQ(StateOf(result.record, 1).phase(), api::CONTAINER_RECREATE_PHASE_PENDING);
    EXPECT_THAT(StateOf(result.record, 1).message(),
                HasSubstr("not attempted: container ghost failed"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Policies, MissingContainerTest,
    ::testing::Values(
        PolicyCase{
            "FailParallel", api::FAILURE_POLICY_FAIL, false, {}, api::RECREATE_PHASE_COMPLETED},
        PolicyCase{
            "FailOrdered", api::FAILURE_POLICY_FAIL, true, {}, api::RECREATE_PHASE_COMPLETED},
        PolicyCase{"IgnoreParallel",
                   api::FAILURE_POLICY_IGNORE,
                   false,
                   {"a-0"},
                   api::RECREATE_PHASE_RECREATING},
        PolicyCase{"IgnoreOrdered",
                   api::FAILURE_POLICY_IGNORE,
                   true,
                   {"a-0"},
                   api::RECREATE_PHASE_RECREATING}),
    [](const ::testing::TestParamInfo<PolicyCase>& info) { return info.param.name; });

TEST(RecreateStateMachineTest, InitAndEphemeralContainersFailAtOnceInsteadOfWaitingForTheDeadline) {
  struct Case {
    std::string type;
    ::runtime::v1::ContainerState state;
  };
  for (const Case& c : {Case{"init", ::runtime::v1::CONTAINER_EXITED},
                        Case{"ephemeral", ::runtime::v1::CONTAINER_RUNNING}}) {
    SCOPED_TRACE(c.type);
    InstanceSpec instance;
    instance.pod_uid = "uid-1";
    instance.name = "setup";
    instance.id = "setup-0";
    instance.state = c.state;
    instance.created_at = kStart;
    instance.annotations[std::string(cri::kubelet::kContainerType)] = c.type;
    const cri::NodeSnapshot node = NodeBuilder().AddPod({}).AddInstance(instance).Build();
    const StepResult result = Advance(Record(NewRequest({"setup"})), node, At(kStart));
    EXPECT_TRUE(result.kills.empty());
    EXPECT_EQ(StateOf(result.record, 0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
    EXPECT_EQ(
        StateOf(result.record, 0).message(),
        absl::StrCat("container \"setup\" is an ", c.type,
                     " container: only regular containers (pod.spec.containers) can be recreated"));
    EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_COMPLETED);
  }
}

TEST(RecreateStateMachineTest, StopErrorFailsTheContainerAndFailPolicyCompletes) {
  World world;
  world.AddContainer("b");
  StepResult result = Advance(Record(NewRequest({"a", "b"})), world.Snapshot(), At(kStart));
  ASSERT_EQ(result.kills.size(), 2u);
  internal::RecreateRecord record = result.record;
  ApplyStopResult(&record, 0, absl::UnavailableError("StopContainer: connection refused"), kStart);
  EXPECT_EQ(StateOf(record, 0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  EXPECT_EQ(StateOf(record, 0).message(),
            "kill container error: StopContainer: connection refused");
  StepInput input = At(kStart + absl::Seconds(1));
  input.kills_in_flight.insert("b");
  result = Advance(record, world.Snapshot(), input);
  EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_COMPLETED);
}

TEST(RecreateStateMachineTest, GraceComesFromStrategyElseAnnotationElseDefault) {
  World world;
  world.AddContainer("b", {{std::string(cri::kubelet::kPodTerminationGracePeriod), "45"}});
  api::CreateRecreateRequestRequest request = NewRequest({"a", "b"});
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  ASSERT_EQ(result.kills.size(), 2u);
  EXPECT_EQ(result.kills[0].grace_period_seconds, 30);
  EXPECT_EQ(result.kills[1].grace_period_seconds, 45);
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(7);
  result = Advance(Record(request), world.Snapshot(), At(kStart));
  EXPECT_EQ(result.kills[0].grace_period_seconds, 7);
  EXPECT_EQ(result.kills[1].grace_period_seconds, 7);
}

TEST(RecreateStateMachineTest, PreStopFromTheRequestRunsFirst) {
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec()->add_command(
      "drain");
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  ASSERT_EQ(result.kills.size(), 1u);
  ASSERT_TRUE(result.kills[0].pre_stop.has_value());
  EXPECT_EQ(result.kills[0].pre_stop->exec().command(0), "drain");
  EXPECT_EQ(result.record.kills(0).step(), internal::KILL_STEP_QUEUED)
      << "PRESTOP_STARTED is written when the hook really starts, not when it is decided";
  const api::ContainerRecreateState& state = StateOf(result.record, 0);
  EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_QUEUED);
  EXPECT_EQ(state.pre_stop().source(), api::PRE_STOP_SOURCE_REQUEST);
  EXPECT_FALSE(state.has_killed_at()) << "killed_at is the StopContainer time, after the hook";

  internal::RecreateRecord record = result.record;
  const absl::Time hook_start = kStart + absl::Seconds(10);  // waited for a worker
  ASSERT_TRUE(MarkHookStarted(&record, 0, hook_start));
  EXPECT_FALSE(MarkHookStarted(&record, 0, hook_start)) << "a hook is marked started once";
  EXPECT_EQ(record.kills(0).step(), internal::KILL_STEP_PRESTOP_STARTED);
  EXPECT_EQ(StateOf(record, 0).pre_stop().outcome(), api::PRE_STOP_OUTCOME_RUNNING);
  EXPECT_EQ(FromProtoTime(StateOf(record, 0).pre_stop().started_at()), hook_start);
  EXPECT_EQ(FromProtoTime(record.kills(0).started_at()), hook_start)
      << "the grace counts from the hook's real start";
  ApplyPreStopResult(&record, 0, api::PRE_STOP_OUTCOME_FAILED, "exit code 1",
                     hook_start + absl::Seconds(3));
  EXPECT_EQ(record.kills(0).step(), internal::KILL_STEP_PRESTOP_DONE);
  EXPECT_EQ(StateOf(record, 0).pre_stop().outcome(), api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(StateOf(record, 0).pre_stop().message(), "exit code 1");
  EXPECT_FALSE(StateOf(record, 0).has_killed_at());
  const std::optional<int64_t> timeout = MarkStopSent(&record, 0, hook_start + absl::Seconds(3));
  ASSERT_TRUE(timeout.has_value());
  EXPECT_EQ(*timeout, 27);
  EXPECT_EQ(record.kills(0).step(), internal::KILL_STEP_STOP_SENT);
  EXPECT_EQ(FromProtoTime(StateOf(record, 0).killed_at()), hook_start + absl::Seconds(3));
  MarkStopNotSent(&record, 0);
  EXPECT_EQ(record.kills(0).step(), internal::KILL_STEP_PRESTOP_DONE)
      << "an UNAVAILABLE stop is sent again by the next tick";
  EXPECT_FALSE(record.kills(0).has_stop_sent_at());
}

TEST(RecreateStateMachineTest, AnnotationHookGraceZeroIsSkippedAndBadAnnotationIsRecorded) {
  World world;
  world.AddContainer("b", {{std::string(cri::kubelet::kContainerPreStopHandler), "{\"exec\":{}}"}});
  world.AddContainer("c", {{std::string(cri::kubelet::kContainerPreStopHandler), "broken"}});
  StepInput input = At(kStart);
  input.parse_pre_stop =
      [](absl::string_view json) -> absl::StatusOr<std::optional<api::LifecycleHandler>> {
    if (json == "broken") return absl::InvalidArgumentError("not JSON");
    api::LifecycleHandler handler;
    handler.mutable_exec()->add_command("hook");
    return handler;
  };
  api::CreateRecreateRequestRequest request = NewRequest({"a", "b", "c"});
  StepResult result = Advance(Record(request), world.Snapshot(), input);
  ASSERT_EQ(result.kills.size(), 3u);
  EXPECT_FALSE(result.kills[0].pre_stop.has_value());
  EXPECT_EQ(StateOf(result.record, 0).pre_stop().outcome(), api::PRE_STOP_OUTCOME_NO_HOOK);
  ASSERT_TRUE(result.kills[1].pre_stop.has_value());
  EXPECT_EQ(StateOf(result.record, 1).pre_stop().source(), api::PRE_STOP_SOURCE_KUBELET_ANNOTATION);
  EXPECT_FALSE(result.kills[2].pre_stop.has_value());
  EXPECT_EQ(StateOf(result.record, 2).pre_stop().outcome(), api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_THAT(StateOf(result.record, 2).pre_stop().message(), HasSubstr("not JSON"));
  EXPECT_EQ(result.record.kills(2).step(), internal::KILL_STEP_QUEUED);

  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(0);
  result = Advance(Record(request), world.Snapshot(), input);
  ASSERT_EQ(result.kills.size(), 3u);
  EXPECT_FALSE(result.kills[1].pre_stop.has_value());
  EXPECT_EQ(StateOf(result.record, 1).pre_stop().outcome(), api::PRE_STOP_OUTCOME_SKIPPED);
  EXPECT_EQ(result.record.kills(1).step(), internal::KILL_STEP_QUEUED);
}

TEST(RecreateStateMachineTest, KillCarriesKubeletPortsParsedAndRequestPortsFirst) {
  World world;
  world.AddContainer("b", {{std::string(cri::kubelet::kContainerPorts),
                            R"([{"name":"http","containerPort":8080}])"}});
  world.AddContainer("c", {{std::string(cri::kubelet::kContainerPorts), "broken"}});
  world.AddContainer("d", {{std::string(cri::kubelet::kContainerPorts),
                            R"([{"name":"http","containerPort":8080}])"}});
  api::CreateRecreateRequestRequest request = NewRequest({"a", "b", "c", "d"});
  api::ContainerPort* own = request.mutable_spec()->mutable_containers(3)->add_ports();
  own->set_name("admin");
  own->set_container_port(9090);
  const StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  ASSERT_EQ(result.kills.size(), 4u);
  EXPECT_TRUE(result.kills[0].ports.empty());
  ASSERT_EQ(result.kills[1].ports.size(), 1u);
  EXPECT_EQ(result.kills[1].ports[0].name(), "http");
  EXPECT_EQ(result.kills[1].ports[0].container_port(), 8080);
  EXPECT_TRUE(result.kills[2].ports.empty()) << "an unparsable annotation gives no named ports";
  ASSERT_EQ(result.kills[3].ports.size(), 1u);
  EXPECT_EQ(result.kills[3].ports[0].name(), "admin");
}

TEST(RecreateStateMachineTest, StopTimeoutIsTheRemainingGraceAtLeastTwo) {
  EXPECT_EQ(StopTimeoutSeconds(30, kStart, kStart), 30);
  EXPECT_EQ(StopTimeoutSeconds(30, kStart, kStart + absl::Milliseconds(29999)), 2);
  EXPECT_EQ(StopTimeoutSeconds(30, kStart, kStart + absl::Milliseconds(1999)), 29);
  EXPECT_EQ(StopTimeoutSeconds(0, kStart, kStart), 2);
  EXPECT_EQ(StopTimeoutSeconds(5, kStart, kStart + absl::Seconds(100)), 2);
}

// ---- Interrupted kills (a daemon restart), one case per persisted step ----

// What the next daemon does with the kill step it finds (no kill in flight for it).
enum class Resume {
  kWholeKill,  // decided again: hook and all (a QUEUED kill that never started)
  kStopOnly,   // StopContainer with the rest of the grace, never the hook again
  kWait,       // a stop was sent: nothing before its timeout ends
  kFinalKill,  // the sent stop's timeout ended and the instance runs: StopContainer(timeout=0)
  kFollowNew,  // the instance exited: nothing to send, follow its replacement
};

struct ResumeCase {
  std::string name;
  internal::KillStep step;
  bool target_running;   // the old instance still runs in the runtime
  absl::Duration after;  // the new daemon's tick, after the hook's start
  Resume expected;
  api::PreStopOutcome pre_stop;
};

void PrintTo(const ResumeCase& c, std::ostream* os) { *os << c.name; }

class ResumeTest : public ::testing::TestWithParam<ResumeCase> {};

TEST_P(ResumeTest, NeverRerunsAHookNeverSignalsTwiceNeverKillsANewInstance) {
  const ResumeCase& c = GetParam();
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec()->add_command(
      "drain");
  StepResult first = Advance(Record(request), world.Snapshot(), At(kStart));
  internal::RecreateRecord record = first.record;
  ASSERT_EQ(record.kills(0).step(), internal::KILL_STEP_QUEUED);
  if (c.step != internal::KILL_STEP_QUEUED) {
    ASSERT_TRUE(MarkHookStarted(&record, 0, kStart));
  }
  if (c.step == internal::KILL_STEP_PRESTOP_DONE || c.step == internal::KILL_STEP_STOP_SENT) {
    ApplyPreStopResult(&record, 0, api::PRE_STOP_OUTCOME_SUCCEEDED, "", kStart + absl::Seconds(1));
  }
  if (c.step == internal::KILL_STEP_STOP_SENT) {
    // 30 s grace, hook took 1 s: the stop carried 29 s, sent at kStart + 1 s.
    ASSERT_EQ(MarkStopSent(&record, 0, kStart + absl::Seconds(1)), 29);
  }
  if (!c.target_running) {
    world.Exit("a-0");
    world.Restart("a", kStart + absl::Seconds(1));
  }
  const absl::Time now = kStart + c.after;
  const StepResult result = Advance(record, world.Snapshot(), At(now));
  const api::ContainerRecreateState& state = StateOf(result.record, 0);
  EXPECT_EQ(state.pre_stop().outcome(), c.pre_stop);
  switch (c.expected) {
    case Resume::kWholeKill:
      ASSERT_EQ(result.kills.size(), 1u);
      EXPECT_EQ(result.kills[0].container_id, "a-0");
      ASSERT_TRUE(result.kills[0].pre_stop.has_value()) << "a hook that never started runs whole";
      EXPECT_FALSE(result.kills[0].final_kill);
      EXPECT_EQ(result.record.kills(0).step(), internal::KILL_STEP_QUEUED);
      EXPECT_EQ(result.record.kills(0).grace_period_seconds(), kDefaultGracePeriodSeconds);
      break;
    case Resume::kStopOnly:
      ASSERT_EQ(result.kills.size(), 1u);
      EXPECT_EQ(result.kills[0].container_id, "a-0");
      EXPECT_FALSE(result.kills[0].pre_stop.has_value());
      EXPECT_FALSE(result.kills[0].final_kill);
      EXPECT_EQ(result.kills[0].started_at, kStart)
          << "the grace keeps counting from the hook's start";
      EXPECT_EQ(result.record.kills(0).step(), internal::KILL_STEP_PRESTOP_DONE)
          << "STOP_SENT is the worker's to write, right before the call";
      break;
    case Resume::kWait:
      EXPECT_TRUE(result.kills.empty()) << "never a second SIGTERM";
      EXPECT_EQ(result.record.kills(0).step(), internal::KILL_STEP_STOP_SENT);
      ASSERT_TRUE(result.wake_at.has_value());
      EXPECT_EQ(*result.wake_at, kStart + absl::Seconds(30)) << "stop_sent_at + its timeout";
      EXPECT_THAT(state.message(), HasSubstr("waiting for the stop sent"));
      break;
    case Resume::kFinalKill:
      ASSERT_EQ(result.kills.size(), 1u);
      EXPECT_EQ(result.kills[0].container_id, "a-0");
      EXPECT_TRUE(result.kills[0].final_kill) << "StopContainer(timeout=0): SIGKILL only";
      EXPECT_FALSE(result.kills[0].pre_stop.has_value());
      break;
    case Resume::kFollowNew:
      EXPECT_TRUE(result.kills.empty());
      EXPECT_EQ(result.record.kills(0).step(), internal::KILL_STEP_STOP_DONE);
      EXPECT_EQ(state.new_container_id(), "a-1");
      break;
  }
  if (c.pre_stop == api::PRE_STOP_OUTCOME_INTERRUPTED) {
    EXPECT_EQ(state.pre_stop().message(), kRestartedDuringHookMessage);
    EXPECT_EQ(FromProtoTime(state.pre_stop().started_at()), kStart);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Steps, ResumeTest,
    ::testing::Values(
        ResumeCase{"QueuedRunning", internal::KILL_STEP_QUEUED, true, absl::Seconds(5),
                   Resume::kWholeKill, api::PRE_STOP_OUTCOME_QUEUED},
        ResumeCase{"QueuedGone", internal::KILL_STEP_QUEUED, false, absl::Seconds(5),
                   Resume::kFollowNew, api::PRE_STOP_OUTCOME_SKIPPED},
        ResumeCase{"PreStopStartedRunning", internal::KILL_STEP_PRESTOP_STARTED, true,
                   absl::Seconds(5), Resume::kStopOnly, api::PRE_STOP_OUTCOME_INTERRUPTED},
        ResumeCase{"PreStopStartedGone", internal::KILL_STEP_PRESTOP_STARTED, false,
                   absl::Seconds(5), Resume::kFollowNew, api::PRE_STOP_OUTCOME_INTERRUPTED},
        ResumeCase{"PreStopDoneRunning", internal::KILL_STEP_PRESTOP_DONE, true, absl::Seconds(5),
                   Resume::kStopOnly, api::PRE_STOP_OUTCOME_SUCCEEDED},
        ResumeCase{"StopSentRunningBeforeTimeout", internal::KILL_STEP_STOP_SENT, true,
                   absl::Seconds(5), Resume::kWait, api::PRE_STOP_OUTCOME_SUCCEEDED},
        ResumeCase{"StopSentRunningAfterTimeout", internal::KILL_STEP_STOP_SENT, true,
                   absl::Seconds(30), Resume::kFinalKill, api::PRE_STOP_OUTCOME_SUCCEEDED},
        ResumeCase{"StopSentRestarted", internal::KILL_STEP_STOP_SENT, false, absl::Seconds(5),
                   Resume::kFollowNew, api::PRE_STOP_OUTCOME_SUCCEEDED}),
    [](const ::testing::TestParamInfo<ResumeCase>& info) { return info.param.name; });

TEST(RecreateStateMachineTest, KillInFlightIsNotResumed) {
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec()->add_command(
      "drain");
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart));
  StepInput input = At(kStart + absl::Seconds(1));
  input.kills_in_flight.insert("a");
  result = Advance(result.record, world.Snapshot(), input);
  EXPECT_TRUE(result.kills.empty());
  EXPECT_EQ(StateOf(result.record, 0).pre_stop().outcome(), api::PRE_STOP_OUTCOME_QUEUED);
}

// ---- Every strategy combination, driven to completion ----

using Combination = std::tuple<bool /*ordered*/, bool /*force*/, api::FailurePolicy,
                               api::ReadinessSource, bool /*unready*/, int /*min_started_seconds*/>;

class StrategyCombinationTest : public ::testing::TestWithParam<Combination> {};

// Two running containers a, b; kubelet restarts a killed container one second after its kill; the
// controller acknowledges unready at t=2 s (window 4 s) and reports a new instance ready one step
// after it appears. Checks the invariants of every strategy on the way and the final state.
TEST_P(StrategyCombinationTest, RecreatesEveryContainerOnceRespectingTheStrategy) {
  const auto [ordered, force, policy, readiness, unready, min_started] = GetParam();
  World world;
  world.AddContainer("b");
  api::CreateRecreateRequestRequest request = NewRequest({"a", "b"});
  api::RecreateStrategy& strategy = *request.mutable_spec()->mutable_strategy();
  strategy.set_ordered_recreate(ordered);
  strategy.set_force_recreate(force);
  strategy.set_failure_policy(policy);
  strategy.set_min_started_seconds(min_started);
  if (unready) strategy.set_unready_grace_period_seconds(4);
  request.mutable_spec()->set_readiness_source(readiness);
  internal::RecreateRecord record = Record(request);

  const absl::Time ack_at = kStart + absl::Seconds(2);
  std::map<std::string, absl::Time> killed_at;       // container name -> kill time
  std::map<std::string, absl::Time> succeeded_at;    // container name -> first Succeeded
  std::map<std::string, absl::Time> new_started_at;  // container name -> new instance start
  std::map<std::string, absl::Time> reported_at;     // container name -> ready report time
  std::vector<std::pair<std::string, absl::Time>> pending_restarts;
  absl::Time now = kStart;
  for (int step = 0; step < 60 && !IsCompleted(record); ++step, now += absl::Seconds(1)) {
    for (auto it = pending_restarts.begin(); it != pending_restarts.end();) {
      if (it->second <= now) {
        new_started_at[it->first] = now;
        world.Restart(it->first, now);
        it = pending_restarts.erase(it);
      } else {
        ++it;
      }
    }
    if (unready && now == ack_at) {
      *record.mutable_request()->mutable_status()->mutable_unready_acknowledged_at() =
          ToProtoTime(ack_at);
    }
    const StepResult result = Advance(record, world.Snapshot(), At(now));
    record = result.record;
    for (const KillAction& kill : result.kills) {
      ASSERT_EQ(killed_at.count(kill.container_name), 0u)
          << "killed twice: " << kill.container_name;
      killed_at[kill.container_name] = now;
      if (unready) {
        EXPECT_GE(now, ack_at + absl::Seconds(4)) << "killed inside the unready window";
      }
      if (ordered && kill.container_name == "b") {
        ASSERT_EQ(StateOf(record, 0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED)
            << "ordered: b killed before a Succeeded";
      }
      ApplyStopResult(&record, kill.container_index, absl::OkStatus(), now);
      world.Exit(kill.container_id);
      pending_restarts.emplace_back(kill.container_name, now + absl::Seconds(1));
    }
    for (int i = 0; i < 2; ++i) {
      const api::ContainerRecreateState& state = StateOf(record, i);
      if (state.phase() == api::CONTAINER_RECREATE_PHASE_SUCCEEDED &&
          !succeeded_at.count(state.name())) {
        succeeded_at[state.name()] = now;
        EXPECT_GE(now, new_started_at[state.name()] + absl::Seconds(min_started));
        if (readiness == api::READINESS_SOURCE_CONTROLLER) {
          ASSERT_EQ(reported_at.count(state.name()), 1u) << "Succeeded before the ready report";
        }
      }
      if (readiness == api::READINESS_SOURCE_CONTROLLER && !state.new_container_id().empty() &&
          !reported_at.count(state.name()) && new_started_at.count(state.name()) &&
          now > new_started_at[state.name()]) {
        api::ContainerReadinessReport& report = *record.mutable_request()
                                                     ->mutable_status()
                                                     ->mutable_container_states(i)
                                                     ->mutable_last_readiness_report();
        report.set_container_id(state.new_container_id());
        report.set_ready(true);
        reported_at[state.name()] = now;
      }
    }
    if (!unready || now >= ack_at + absl::Seconds(4)) {
      EXPECT_NE(record.request().status().phase(), api::RECREATE_PHASE_PENDING)
          << "pending with a free queue";
    }
  }
  ASSERT_TRUE(IsCompleted(record)) << record.DebugString();
  EXPECT_EQ(record.request().status().message(), "");
  EXPECT_EQ(killed_at.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(StateOf(record, i).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED) << i;
    EXPECT_TRUE(StateOf(record, i).is_killed());
    EXPECT_EQ(StateOf(record, i).old_container_id(), absl::StrCat(StateOf(record, i).name(), "-0"));
    EXPECT_EQ(StateOf(record, i).new_container_id(), absl::StrCat(StateOf(record, i).name(), "-1"));
  }
  if (ordered) {
    EXPECT_GT(killed_at["b"], killed_at["a"]);
  } else {
    EXPECT_EQ(killed_at["a"], killed_at["b"]) << "parallel kills in one step";
  }
}

std::string CombinationName(const ::testing::TestParamInfo<Combination>& info) {
  const auto [ordered, force, policy, readiness, unready, min_started] = info.param;
  return absl::StrCat(ordered ? "Ordered" : "Parallel", force ? "Force" : "",
                      policy == api::FAILURE_POLICY_FAIL ? "Fail" : "Ignore",
                      readiness == api::READINESS_SOURCE_CONTROLLER ? "Controller" : "Runtime",
                      unready ? "Unready" : "", "MinStarted", min_started);
}

INSTANTIATE_TEST_SUITE_P(AllStrategies, StrategyCombinationTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(),
                                            ::testing::Values(api::FAILURE_POLICY_FAIL,
                                                              api::FAILURE_POLICY_IGNORE),
                                            ::testing::Values(api::READINESS_SOURCE_RUNTIME,
                                                              api::READINESS_SOURCE_CONTROLLER),
                                            ::testing::Bool(), ::testing::Values(0, 5)),
                         CombinationName);

TEST(RecreateStateMachineTest, UnreadyWaitsForTheAcknowledgementThenTheWindow) {
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(10);
  StepResult result = Advance(Record(request), world.Snapshot(), At(kStart + absl::Hours(1)));
  EXPECT_TRUE(result.kills.empty());
  EXPECT_EQ(result.record.request().status().phase(), api::RECREATE_PHASE_PENDING);
  EXPECT_THAT(result.record.request().status().message(), HasSubstr("AcknowledgeUnready"));
  internal::RecreateRecord record = result.record;
  *record.mutable_request()->mutable_status()->mutable_unready_acknowledged_at() =
      ToProtoTime(kStart + absl::Hours(1));
  result = Advance(record, world.Snapshot(), At(kStart + absl::Hours(1) + absl::Seconds(9)));
  EXPECT_TRUE(result.kills.empty());
  EXPECT_THAT(result.record.request().status().message(),
              HasSubstr("unready grace period to end at"));
  result = Advance(record, world.Snapshot(), At(kStart + absl::Hours(1) + absl::Seconds(10)));
  EXPECT_EQ(result.kills.size(), 1u);
}

TEST(RecreateStateMachineTest, WakeAtIsTheEarliestEndOfATimedWait) {
  World world;
  api::CreateRecreateRequestRequest request = NewRequest({"a"});
  request.mutable_spec()->set_active_deadline_seconds(100);
  request.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(10);
  request.mutable_spec()->mutable_strategy()->set_min_started_seconds(30);
  internal::RecreateRecord record = Record(request);
  StepResult result = Advance(record, world.Snapshot(), At(kStart));
  EXPECT_EQ(result.wake_at, kStart + absl::Seconds(100))
      << "only the deadline before the acknowledgement";
  *record.mutable_request()->mutable_status()->mutable_unready_acknowledged_at() =
      ToProtoTime(kStart);
  result = Advance(record, world.Snapshot(), At(kStart + absl::Seconds(1)));
  EXPECT_EQ(result.wake_at, kStart + absl::Seconds(10)) << "the unready window ends first";
  result = Advance(record, world.Snapshot(), At(kStart + absl::Seconds(10)));
  ASSERT_EQ(result.kills.size(), 1u);
  record = result.record;
  ApplyStopResult(&record, 0, absl::OkStatus(), kStart + absl::Seconds(10));
  world.Restart("a", kStart + absl::Seconds(11));
  result = Advance(record, world.Snapshot(), At(kStart + absl::Seconds(12)));
  EXPECT_EQ(result.wake_at, kStart + absl::Seconds(41))
      << "min_started_seconds after the new start";

  api::CreateRecreateRequestRequest finished = NewRequest({"a"});
  finished.mutable_spec()->set_ttl_seconds_after_finished(60);
  world.RemovePod();
  result = Advance(Record(finished), world.Snapshot(), At(kStart));
  ASSERT_TRUE(IsCompleted(result.record));
  result = Advance(result.record, world.Snapshot(), At(kStart + absl::Seconds(1)));
  EXPECT_EQ(result.wake_at, kStart + absl::Seconds(60));
}

TEST(RecreateStateMachineTest, ContainersToInspectAreTheNewInstancesOnly) {
  World world;
  world.AddContainer("b");
  StepResult result = Advance(Record(NewRequest({"a", "b"})), world.Snapshot(), At(kStart));
  EXPECT_TRUE(ContainersToInspect(result.record, world.Snapshot()).empty());
  world.Restart("a", kStart + absl::Seconds(1));
  EXPECT_THAT(ContainersToInspect(result.record, world.Snapshot()), ElementsAre("a-1"));
}

TEST(RecreateStateMachineTest, BareContainerIdDropsTheRuntimePrefix) {
  EXPECT_EQ(BareContainerId("containerd://abc"), "abc");
  EXPECT_EQ(BareContainerId("cri-o://abc"), "abc");
  EXPECT_EQ(BareContainerId("abc"), "abc");
}

}  // namespace
}  // namespace inplaced::daemon
