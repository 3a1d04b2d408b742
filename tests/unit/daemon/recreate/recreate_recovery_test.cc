// Crash safety of RecreateEngine: a daemon stopped at any persisted kill step restarts (a new
// engine over the same store and runtime), never runs a preStop hook again, stops a container
// instance at most once per decision (and never a new instance), and resumes its waits from the
// persisted times.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "daemon/recreate/recreate_engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite_store.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/daemon/recreate/engine_test_support.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
namespace internal = ::inplaced::internal;
using ::testing::ElementsAre;
using testing::EngineEnv;
using testing::Get;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::NewCreate;
using testing::PodOptions;

enum class StoreKind { kMemory, kSqlite };

// Where the runtime stands when the daemon restarts.
enum class RuntimeState {
  kOldRunning,  // the StopContainer never reached the runtime
  kOldExited,   // it did; kubelet has not restarted the container yet
  kNewRunning,  // it did and kubelet restarted the container
};

struct StepCase {
  std::string name;
  internal::KillStep step;
  RuntimeState runtime;
  // After the restart: StopContainer calls on the old instance, and hook runs.
  int stops;
  int hooks;
  api::PreStopOutcome pre_stop;
  // A stop sent before the restart whose instance still runs: nothing until its timeout ends,
  // then one StopContainer(timeout=0).
  bool final_kill = false;
};

void PrintTo(const StepCase& c, std::ostream* os) { *os << c.name; }
void PrintTo(StoreKind kind, std::ostream* os) {
  *os << (kind == StoreKind::kMemory ? "memory" : "sqlite");
}

class RecoveryTest : public ::testing::TestWithParam<std::tuple<StepCase, StoreKind>> {};

TEST_P(RecoveryTest, ResumesFromThePersistedStep) {
  const auto& [c, store_kind] = GetParam();
  EngineEnv env;
  ::inplaced::testing::TempDir dir;
  if (store_kind == StoreKind::kSqlite) {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> opened =
        store::SqliteStore::Open(dir.Join("state.db"));
    ASSERT_TRUE(opened.ok()) << opened.status();
    env.store_ = *std::move(opened);
  }
  PodOptions pod;
  pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
  env.RunPod(pod);
  const std::string old_id = env.CurrentId("default", "web-0", "a");

  // The record as a daemon killed at step `c.step` left it.
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"});
  ApplySpecDefaults(create.mutable_spec());
  const absl::Time start = env.clock_.Now();
  internal::RecreateRecord record = NewRecord(create, "req-uid", start, 7);
  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(env.runtime_));
  const cri::PodInfo* info = FindRequestPod(record.request(), snapshot);
  ASSERT_NE(info, nullptr);
  record.mutable_request()->mutable_status()->set_pod_uid(info->uid);
  FillMissingContexts(&record, *info);
  if (c.step != internal::KILL_STEP_NONE) {
    record.mutable_request()->mutable_status()->set_phase(api::RECREATE_PHASE_RECREATING);
    internal::ContainerKill& kill = *record.mutable_kills(0);
    kill.set_step(c.step);
    kill.set_target_container_id(old_id);
    kill.set_grace_period_seconds(30);
    *kill.mutable_started_at() = ToProtoTime(start);
    kill.set_pod_sandbox_id(info->sandbox.id);
    api::ContainerRecreateState& state =
        *record.mutable_request()->mutable_status()->mutable_container_states(0);
    state.set_phase(api::CONTAINER_RECREATE_PHASE_RECREATING);
    state.mutable_pre_stop()->set_source(api::PRE_STOP_SOURCE_KUBELET_ANNOTATION);
    state.mutable_pre_stop()->set_outcome(
        c.step == internal::KILL_STEP_PRESTOP_STARTED ? api::PRE_STOP_OUTCOME_RUNNING
        : c.step == internal::KILL_STEP_QUEUED        ? api::PRE_STOP_OUTCOME_QUEUED
                                                      : api::PRE_STOP_OUTCOME_SUCCEEDED);
    if (c.step == internal::KILL_STEP_STOP_SENT || c.step == internal::KILL_STEP_STOP_DONE) {
      state.set_is_killed(true);
      *state.mutable_killed_at() = ToProtoTime(start);
      *kill.mutable_stop_sent_at() = ToProtoTime(start);
      kill.set_stop_timeout_seconds(30);
    }
  }
  ASSERT_OK(
      env.store_->Create(kRecreateStoreKind, "default/r1", record.SerializeAsString()).status());
  if (c.runtime != RuntimeState::kOldRunning) {
    ::runtime::v1::StopContainerRequest stop;
    stop.set_container_id(old_id);
    stop.set_timeout(30);
    ASSERT_OK(env.runtime_.StopContainer(stop));
  }
  if (c.runtime == RuntimeState::kNewRunning) env.KubeletRestarts();
  env.runtime_.ClearCalls();

  env.clock_.Advance(absl::Seconds(5));
  env.StartEngine();  // the restarted daemon
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), c.stops);
  EXPECT_EQ(static_cast<int>(env.prestop_.Calls().size()), c.hooks)
      << "a started hook is never re-run";
  for (const fakes::SignalRecord& signal : env.runtime_.Signals()) {
    EXPECT_EQ(signal.container_id, old_id) << "only the old instance is ever stopped";
  }
  api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().container_states(0).pre_stop().outcome(), c.pre_stop);
  EXPECT_EQ(now.metadata().uid(), "req-uid");
  if (c.final_kill) {
    EXPECT_THAT(env.runtime_.SignalsOf(old_id), ElementsAre()) << "never a second SIGTERM";
    env.clock_.Advance(absl::Seconds(25));  // start + 30 s: the sent stop's timeout ended
    env.Tick();
    EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
    EXPECT_THAT(env.runtime_.SignalsOf(old_id), ElementsAre("SIGKILL"))
        << "StopContainer(timeout=0) kills at once";
  }

  // Then the recreate completes, with no further kill.
  if (c.runtime != RuntimeState::kNewRunning) env.KubeletRestarts();
  env.Tick();
  env.Tick();
  now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED) << now.DebugString();
  EXPECT_EQ(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), c.stops + (c.final_kill ? 1 : 0));
  EXPECT_EQ(static_cast<int>(env.prestop_.Calls().size()), c.hooks);
}

std::string RecoveryName(const ::testing::TestParamInfo<std::tuple<StepCase, StoreKind>>& info) {
  return absl::StrCat(std::get<0>(info.param).name,
                      std::get<1>(info.param) == StoreKind::kMemory ? "Memory" : "Sqlite");
}

INSTANTIATE_TEST_SUITE_P(
    Steps, RecoveryTest,
    ::testing::Combine(
        ::testing::Values(
            // Nothing started yet: the whole kill runs (the hook had never started).
            StepCase{"None", internal::KILL_STEP_NONE, RuntimeState::kOldRunning, 1, 1,
                     api::PRE_STOP_OUTCOME_SUCCEEDED},
            // Decided but never started (the old daemon's queue): the whole kill, hook included.
            StepCase{"Queued", internal::KILL_STEP_QUEUED, RuntimeState::kOldRunning, 1, 1,
                     api::PRE_STOP_OUTCOME_SUCCEEDED},
            StepCase{"PreStopStarted", internal::KILL_STEP_PRESTOP_STARTED,
                     RuntimeState::kOldRunning, 1, 0, api::PRE_STOP_OUTCOME_INTERRUPTED},
            StepCase{"PreStopDone", internal::KILL_STEP_PRESTOP_DONE, RuntimeState::kOldRunning, 1,
                     0, api::PRE_STOP_OUTCOME_SUCCEEDED},
            StepCase{"StopSentStillRunning", internal::KILL_STEP_STOP_SENT,
                     RuntimeState::kOldRunning, 0, 0, api::PRE_STOP_OUTCOME_SUCCEEDED,
                     /*final_kill=*/true},
            StepCase{"StopSentExited", internal::KILL_STEP_STOP_SENT, RuntimeState::kOldExited, 0,
                     0, api::PRE_STOP_OUTCOME_SUCCEEDED},
            StepCase{"StopSentRestarted", internal::KILL_STEP_STOP_SENT, RuntimeState::kNewRunning,
                     0, 0, api::PRE_STOP_OUTCOME_SUCCEEDED},
            StepCase{"StopDoneRestarted", internal::KILL_STEP_STOP_DONE, RuntimeState::kNewRunning,
                     0, 0, api::PRE_STOP_OUTCOME_SUCCEEDED}),
        ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite)),
    RecoveryName);

// The record of default/<name> as the store holds it (engines that shut down answer no Get).
internal::RecreateRecord Stored(EngineEnv& env, const std::string& name) {
  internal::RecreateRecord record;
  absl::StatusOr<store::Record> stored =
      env.store_->Get(kRecreateStoreKind, absl::StrCat("default/", name));
  EXPECT_TRUE(stored.ok()) << stored.status();
  if (stored.ok()) {
    EXPECT_TRUE(record.ParseFromString(stored->value));
  }
  return record;
}

TEST(RecreateRecoveryTest, ShutdownDuringTheHookReportsItInterruptedAfterRestartAndStopsOnce) {
  EngineEnv env;  // shutdown_hook_timeout 0: the running hook is cancelled at once
  PodOptions pod;
  pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
  env.RunPod(pod);
  const std::string old_id = env.CurrentId("default", "web-0", "a");
  env.StartEngine();
  env.prestop_.Block();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);
  env.engine_->Shutdown();  // cancels the hook; its step stays PRESTOP_STARTED in the store
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
  EXPECT_EQ(Stored(env, "r1").kills(0).step(), internal::KILL_STEP_PRESTOP_STARTED);

  env.prestop_.Release();
  env.StartEngine();
  env.Tick();
  EXPECT_THAT(env.prestop_.Calls(), ElementsAre(old_id)) << "run once, before the restart";
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_INTERRUPTED);
  EXPECT_EQ(now.status().container_states(0).pre_stop().message(), kRestartedDuringHookMessage);
}

TEST(RecreateRecoveryTest, ShutdownLetsARunningHookFinishWithinTheBoundAndLeavesTheStop) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.shutdown_hook_timeout = absl::Hours(1);  // never reached: the hook ends first
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), options);
  PodOptions pod;
  pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
  env.RunPod(pod);
  const std::string old_id = env.CurrentId("default", "web-0", "a");
  env.StartEngine();
  env.prestop_.Block();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);
  // The hook ends once the engine is shutting down (it answers UNAVAILABLE from then on).
  std::thread releaser([&env] {
    api::GetRecreateRequestRequest get;
    get.set_namespace_("default");
    get.set_name("r1");
    while (env.engine_->Get(get).ok()) absl::SleepFor(absl::Milliseconds(1));
    env.prestop_.Release();
  });
  env.engine_->Shutdown();
  releaser.join();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0) << "no new kill during a shutdown";
  const internal::RecreateRecord stored = Stored(env, "r1");
  EXPECT_EQ(stored.kills(0).step(), internal::KILL_STEP_PRESTOP_DONE);
  EXPECT_EQ(stored.request().status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_SUCCEEDED)
      << "the hook's result is persisted before the daemon exits";

  env.StartEngine();
  env.Tick();
  EXPECT_THAT(env.prestop_.Calls(), ElementsAre(old_id)) << "never run again";
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1) << "the next daemon sends the stop";
  EXPECT_EQ(Get(*env.engine_, "r1").status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_SUCCEEDED);
}

TEST(RecreateRecoveryTest, ShutdownLeavesQueuedKillsToTheNextDaemonWithTheirWholeHook) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.max_concurrent_kills = 1;  // the second pod's kill waits in the queue
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), options);
  PodOptions pod;
  pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
  pod.name = "web-0";
  env.RunPod(pod);
  pod.name = "web-1";
  env.RunPod(pod);
  const std::string first_id = env.CurrentId("default", "web-0", "a");
  const std::string second_id = env.CurrentId("default", "web-1", "a");
  env.StartEngine();
  env.prestop_.Block();
  ASSERT_OK(env.engine_->Create(NewCreate("r0", {"a"}, "web-0")).status());
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"}, "web-1")).status());
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);
  env.engine_->Shutdown();
  EXPECT_EQ(Stored(env, "r1").kills(0).step(), internal::KILL_STEP_QUEUED)
      << "decided, never started: persisted as queued";
  EXPECT_EQ(Stored(env, "r1").request().status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_QUEUED);

  env.prestop_.Release();
  env.StartEngine();
  env.Tick();
  EXPECT_THAT(env.prestop_.Calls(), ElementsAre(first_id, second_id))
      << "each hook runs once: the queued one in the next daemon";
  EXPECT_EQ(Get(*env.engine_, "r0").status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_INTERRUPTED);
  EXPECT_EQ(Get(*env.engine_, "r1").status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_SUCCEEDED)
      << "a queued hook is never lost";
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 2);
}

TEST(RecreateRecoveryTest, ShutdownAbandonsStopsInFlightAndTheNextDaemonNeverSignalsTwice) {
  EngineEnv env;
  env.RunPod({});
  const std::string old_id = env.CurrentId("default", "web-0", "a");
  fakes::StopBehaviour ignores_term;
  ignores_term.honours_term = false;
  ASSERT_OK(env.runtime_.SetStopBehaviour(old_id, ignores_term));
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  ASSERT_OK(env.engine_->TickOnce());
  env.clock_.WaitForSleepers(1);  // StopContainer waits for its 30 s timeout on the fake clock
  // Returns without the clock moving: the stop's wait is abandoned, not waited for.
  env.engine_->Shutdown();
  EXPECT_THAT(env.runtime_.SignalsOf(old_id), ElementsAre("SIGTERM"));
  const internal::RecreateRecord stored = Stored(env, "r1");
  EXPECT_EQ(stored.kills(0).step(), internal::KILL_STEP_STOP_SENT);
  EXPECT_EQ(stored.kills(0).stop_timeout_seconds(), 30);

  env.StartEngine();
  env.clock_.Advance(absl::Seconds(10));
  ASSERT_OK(env.engine_->TickOnce());
  EXPECT_EQ(env.engine_->KillsInFlight(), 0u) << "nothing before the sent stop's timeout";
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
  EXPECT_THAT(Get(*env.engine_, "r1").status().container_states(0).message(),
              HasSubstr("waiting for the stop sent"));

  env.clock_.Advance(absl::Seconds(20));  // stop_sent_at + 30 s
  env.Tick();
  env.KubeletRestarts();
  env.Tick();
  env.Tick();
  EXPECT_THAT(env.runtime_.SignalsOf(old_id), ElementsAre("SIGTERM", "SIGKILL"))
      << "one SIGTERM, one SIGKILL, as kubelet";
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED) << now.DebugString();
  EXPECT_EQ(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
}

TEST(RecreateRecoveryTest, UnreadyWindowResumesFromThePersistedAcknowledgement) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"});
  create.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(10);
  ASSERT_OK(env.engine_->Create(create).status());
  api::AcknowledgeUnreadyRequest ack;
  ack.set_namespace_("default");
  ack.set_name("r1");
  *ack.mutable_unready_at() = ToProtoTime(env.clock_.Now());
  ASSERT_OK(env.engine_->AcknowledgeUnready(ack).status());
  env.clock_.Advance(absl::Seconds(5));
  env.StartEngine();  // restart in the middle of the window
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
  env.clock_.Advance(absl::Seconds(5));
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
}

TEST(RecreateRecoveryTest, RequestsAndTheirOrderSurviveARestart) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(NewCreate("zz-first", {"a"})).status());
  api::CreateRecreateRequestRequest second = NewCreate("aa-second", {"a"});
  second.mutable_spec()->mutable_strategy()->set_force_recreate(true);
  ASSERT_OK(env.engine_->Create(second).status());
  const std::string uid = Get(*env.engine_, "zz-first").metadata().uid();
  env.StartEngine();
  EXPECT_EQ(Get(*env.engine_, "zz-first").metadata().uid(), uid);
  env.Tick();
  // FIFO by creation, not by name: the first created runs first after the restart too.
  EXPECT_EQ(Get(*env.engine_, "zz-first").status().phase(), api::RECREATE_PHASE_RECREATING);
  EXPECT_EQ(Get(*env.engine_, "aa-second").status().phase(), api::RECREATE_PHASE_PENDING);
  // A request created after the restart gets a later sequence than the reloaded ones.
  api::CreateRecreateRequestRequest third = NewCreate("third", {"a"});
  third.mutable_spec()->mutable_strategy()->set_force_recreate(true);
  ASSERT_OK(env.engine_->Create(third).status());
  env.KubeletRestarts();
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "aa-second").status().phase(), api::RECREATE_PHASE_RECREATING);
  EXPECT_EQ(Get(*env.engine_, "third").status().phase(), api::RECREATE_PHASE_PENDING);
}

// ---- The runtime down during a kill ----

TEST(RecreateRecoveryTest, UnavailableStopIsResentToTheSameInstanceOnceTheRuntimeAnswers) {
  EngineEnv env;
  env.RunPod({});
  const std::string old_id = env.CurrentId("default", "web-0", "a");
  env.StartEngine();
  env.runtime_.InjectError("StopContainer",
                           absl::UnavailableError("StopContainer: connection refused"));
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());  // decides and sends the stop
  env.engine_->WaitForKills();
  // Deferred, not failed: the instance still runs untouched.
  const api::ContainerRecreateState deferred = Get(*env.engine_, "r1").status().container_states(0);
  EXPECT_EQ(deferred.phase(), api::CONTAINER_RECREATE_PHASE_RECREATING) << deferred.DebugString();
  EXPECT_THAT(env.runtime_.SignalsOf(old_id), IsEmpty());
  EXPECT_EQ(env.CurrentId("default", "web-0", "a"), old_id);

  env.Tick();  // the runtime answers again
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 2);
  EXPECT_THAT(env.runtime_.SignalsOf(old_id), ElementsAre("SIGTERM"));
  env.KubeletRestarts();
  env.Tick();
  const api::RecreateRequest done = Get(*env.engine_, "r1");
  EXPECT_EQ(done.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(done.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_EQ(done.status().container_states(0).restart_count(), 1);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 2);
}

TEST(RecreateRecoveryTest, UnavailableStopThatReachedTheRuntimeIsNotSentAgain) {
  EngineEnv env;
  env.RunPod({});
  const std::string old_id = env.CurrentId("default", "web-0", "a");
  env.StartEngine();
  env.runtime_.InjectError("StopContainer",
                           absl::UnavailableError("StopContainer: connection reset"));
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());  // decides and sends the stop
  env.engine_->WaitForKills();
  // The stop got through before the connection broke: the instance is gone by the next tick.
  ASSERT_OK(env.runtime_.ExitContainer(old_id, 0));
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
  env.KubeletRestarts();
  env.Tick();
  const api::RecreateRequest done = Get(*env.engine_, "r1");
  EXPECT_EQ(done.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(done.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_EQ(done.status().container_states(0).restart_count(), 1);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
}

}  // namespace
}  // namespace inplaced::daemon
