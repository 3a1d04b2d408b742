// Kills as continuations: many kills in flight hold no thread of the engine and never wait on each
// other; the concurrency limit queues (and logs) the rest; a shutdown with stops and hooks in
// flight returns in bounded time.

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/recreate/recreate_engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/log_capture.h"
#include "tests/unit/daemon/recreate/engine_test_support.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
namespace internal = ::inplaced::internal;
using ::testing::ElementsAre;
using testing::EngineEnv;
using testing::Get;
using testing::NewCreate;
using testing::PodOptions;
using ::testing::UnorderedElementsAre;

// Polls `done` in real time (the kills' continuations run on other threads) for up to 30 s.
template <typename Condition>
bool Eventually(Condition done) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (!done()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

int CountLines(::inplaced::testing::LogCapture& log, absl::string_view text) {
  int count = 0;
  for (const std::string& line : log.Lines()) count += absl::StrContains(line, text) ? 1 : 0;
  return count;
}

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

RecreateEngineOptions Options(int max_concurrent_kills) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.max_concurrent_kills = max_concurrent_kills;
  return options;
}

TEST(RecreateKillsTest, FiftySlowStopsInFlightDoNotDelayAShortGraceRecreate) {
  // 50 containers ignore SIGTERM with a 40 s grace: each StopContainer stays in flight for 40 s.
  // The old engine's 16 threads would all block in them; a 2 s-grace recreate of another pod waited
  // for one to free up.
  constexpr int kSlow = 50;
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), Options(1000));
  env.runtime_.SetDefaultStopBehaviour(fakes::StopBehaviour{/*honours_term=*/false});
  for (int i = 0; i < kSlow; ++i) {
    PodOptions slow;
    slow.name = absl::StrCat("slow-", i);
    slow.termination_grace_period_seconds = 40;
    env.RunPod(slow);
  }
  env.runtime_.SetDefaultStopBehaviour(fakes::StopBehaviour{});
  PodOptions quick;
  quick.name = "quick";
  quick.termination_grace_period_seconds = 2;
  env.RunPod(quick);
  const std::string quick_id = env.CurrentId("default", "quick", "a");
  env.StartEngine();

  for (int i = 0; i < kSlow; ++i) {
    ASSERT_OK(
        env.engine_->Create(NewCreate(absl::StrCat("slow-r", i), {"a"}, absl::StrCat("slow-", i)))
            .status());
  }
  ASSERT_OK(env.engine_->TickOnce());
  // Every stop is sent and waits on the runtime (the fake parks each on the clock).
  env.clock_.WaitForSleepers(kSlow);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), kSlow);
  EXPECT_EQ(env.engine_->KillsInFlight(), static_cast<size_t>(kSlow))
      << "far more kills in flight than the old pool's 16 threads";

  const absl::Time before = env.clock_.Now();
  ASSERT_OK(env.engine_->Create(NewCreate("quick-r", {"a"}, "quick")).status());
  ASSERT_OK(env.engine_->TickOnce());
  // Its StopContainer is sent at once (no time passes on the clock) and its result recorded, while
  // the 50 others are still in flight.
  ASSERT_TRUE(Eventually([&] {
    return !env.runtime_.SignalsOf(quick_id).empty() &&
           env.engine_->KillsInFlight() == static_cast<size_t>(kSlow);
  }));
  EXPECT_THAT(env.runtime_.SignalsOf(quick_id), ElementsAre("SIGTERM"));
  EXPECT_EQ(env.clock_.Now(), before);
  EXPECT_EQ(env.engine_->KillsInFlight(), static_cast<size_t>(kSlow));

  // The grace ends: the runtime kills the 50 and every stop completes.
  env.clock_.Advance(absl::Seconds(40));
  env.engine_->WaitForKills();
  EXPECT_EQ(env.engine_->KillsInFlight(), 0u);
  for (int i = 0; i < kSlow; ++i) {
    const std::string id = env.CurrentId("default", absl::StrCat("slow-", i), "a");
    EXPECT_TRUE(
        Get(*env.engine_, absl::StrCat("slow-r", i)).status().container_states(0).is_killed());
    EXPECT_THAT(env.runtime_.SignalsOf(id), ElementsAre("SIGTERM", "SIGKILL"));
  }
}

// Pods web-0..web-(n-1), one container "a" each with an exec preStop hook; their container ids.
std::vector<std::string> RunPodsWithExecHooks(EngineEnv& env, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    PodOptions pod;
    pod.name = absl::StrCat("web-", i);
    pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
    env.RunPod(pod);
    ids.push_back(env.CurrentId("default", pod.name, "a"));
  }
  return ids;
}

// The kill steps a request's record went through on disk, in write order (one per write).
std::vector<internal::KillStep> StepsWritten(fakes::FlakyStore& store, const std::string& name) {
  std::vector<internal::KillStep> steps;
  for (const std::string& value : store.ValuesWritten(absl::StrCat("default/", name))) {
    internal::RecreateRecord record;
    EXPECT_TRUE(record.ParseFromString(value));
    steps.push_back(record.kills(0).step());
  }
  return steps;
}

// Dispatch: Create reads the pod, so it decides the first step itself and commits it with the
// request; a kill without a hook that has a free slot records STOP_SENT in that same write. The stop
// goes out once it is durable, with no tick and no second write in between.
TEST(RecreateKillsTest, CreateDecidesTheKillAndAStopWithoutHookIsPersistedWithItsDecision) {
  EngineEnv env;
  fakes::FlakyStore& store = env.UseFlakyStore();
  env.RunPod({});
  const std::string id = env.CurrentId("default", "web-0", "a");
  env.StartEngine();         // no tick loop: only Create decides here
  store.fail_writes = true;  // nothing is durable yet
  std::thread create([&] { EXPECT_OK(env.engine_->Create(NewCreate("r", {"a"})).status()); });
  ASSERT_TRUE(Eventually([&] { return env.engine_->GetStats().recreating == 1; }));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0) << "sent before its step was durable";
  store.fail_writes = false;
  create.join();
  env.engine_->WaitForKills();
  EXPECT_THAT(env.runtime_.SignalsOf(id), ElementsAre("SIGTERM"));
  EXPECT_THAT(StepsWritten(store, "r"),
              ElementsAre(internal::KILL_STEP_NONE, internal::KILL_STEP_STOP_SENT,
                          internal::KILL_STEP_STOP_DONE));
}

// Without a free slot the kill waits QUEUED and records STOP_SENT when it starts: a stop is never
// recorded sent while it waits in the FIFO (a daemon stopped meanwhile would never send it).
TEST(RecreateKillsTest, AQueuedStopIsRecordedSentOnlyWhenItStarts) {
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), Options(1));
  fakes::FlakyStore& store = env.UseFlakyStore();
  env.RunPod({});
  PodOptions second;
  second.name = "web-1";
  env.RunPod(second);
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(env.WithStatusContexts(NewCreate("r0", {"a"}))).status());
  ASSERT_OK(env.engine_->Create(env.WithStatusContexts(NewCreate("r1", {"a"}, "web-1"))).status());
  env.Tick();  // decides both; one slot
  EXPECT_THAT(StepsWritten(store, "r0"),
              ElementsAre(internal::KILL_STEP_NONE, internal::KILL_STEP_STOP_SENT,
                          internal::KILL_STEP_STOP_DONE));
  EXPECT_THAT(StepsWritten(store, "r1"),
              ElementsAre(internal::KILL_STEP_NONE, internal::KILL_STEP_QUEUED,
                          internal::KILL_STEP_STOP_SENT, internal::KILL_STEP_STOP_DONE));
}

TEST(RecreateKillsTest, KillsBeyondTheLimitWaitInOrderAndTheLimitIsLoggedOnce) {
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), Options(2));
  const std::vector<std::string> ids = RunPodsWithExecHooks(env, 4);
  env.StartEngine();
  ::inplaced::testing::LogCapture log;
  env.prestop_.Block();
  // Given their status contexts, the four are decided together by one tick.
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(env.engine_
                  ->Create(env.WithStatusContexts(
                      NewCreate(absl::StrCat("r", i), {"a"}, absl::StrCat("web-", i))))
                  .status());
  }
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(2);
  EXPECT_EQ(env.engine_->KillsInFlight(), 4u) << "two running, two queued";
  EXPECT_THAT(env.prestop_.Calls(), ElementsAre(ids[0], ids[1]));
  EXPECT_EQ(Stored(env, "r2").kills(0).step(), internal::KILL_STEP_QUEUED);
  EXPECT_EQ(CountLines(log, "recreate_kill_limit_reached limit=2 queued=2"), 1);
  ASSERT_OK(env.engine_->TickOnce());  // nothing new decided: no second line
  EXPECT_EQ(CountLines(log, "recreate_kill_limit_reached"), 1);

  env.prestop_.Release();
  env.engine_->WaitForKills();
  // Both running hooks end at once: the two queued kills take the two freed slots in FIFO order,
  // but each then starts on the thread that freed its slot, so their hooks may start either way.
  const std::vector<std::string> calls = env.prestop_.Calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_THAT(std::vector<std::string>(calls.begin(), calls.begin() + 2),
              ElementsAre(ids[0], ids[1]));
  EXPECT_THAT(std::vector<std::string>(calls.begin() + 2, calls.end()),
              UnorderedElementsAre(ids[2], ids[3]))
      << "the queued kills start once others end";
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 4);
  EXPECT_EQ(CountLines(log, "recreate_kill_limit_reached"), 1) << "once per episode";
}

TEST(RecreateKillsTest, QueuedKillsTakeAFreedSlotInCreationOrder) {
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), Options(1));
  const std::vector<std::string> ids = RunPodsWithExecHooks(env, 4);
  env.StartEngine();
  env.prestop_.Block();
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(env.engine_->Create(NewCreate(absl::StrCat("r", i), {"a"}, absl::StrCat("web-", i)))
                  .status());
  }
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);
  env.prestop_.Release();  // one slot: each kill starts only when the one before it ended
  env.engine_->WaitForKills();
  EXPECT_THAT(env.prestop_.Calls(), ElementsAre(ids[0], ids[1], ids[2], ids[3]));
}

TEST(RecreateKillsTest, ShutdownWithStopsAndHooksInFlightReturnsInBoundedTime) {
  constexpr int kStops = 20;
  constexpr int kHooks = 5;
  RecreateEngineOptions options = Options(1000);
  options.shutdown_hook_timeout = absl::Milliseconds(200);
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), options);
  env.runtime_.SetDefaultStopBehaviour(fakes::StopBehaviour{/*honours_term=*/false});
  for (int i = 0; i < kStops; ++i) {
    PodOptions pod;
    pod.name = absl::StrCat("stop-", i);
    pod.termination_grace_period_seconds = 40;
    env.RunPod(pod);
  }
  for (int i = 0; i < kHooks; ++i) {
    PodOptions pod;
    pod.name = absl::StrCat("hook-", i);
    pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
    env.RunPod(pod);
  }
  env.StartEngine();
  env.prestop_.Block();
  for (int i = 0; i < kStops; ++i) {
    ASSERT_OK(
        env.engine_->Create(NewCreate(absl::StrCat("stop-r", i), {"a"}, absl::StrCat("stop-", i)))
            .status());
  }
  for (int i = 0; i < kHooks; ++i) {
    ASSERT_OK(
        env.engine_->Create(NewCreate(absl::StrCat("hook-r", i), {"a"}, absl::StrCat("hook-", i)))
            .status());
  }
  ASSERT_OK(env.engine_->TickOnce());
  env.clock_.WaitForSleepers(kStops);
  env.prestop_.WaitRunning(kHooks);
  EXPECT_EQ(env.engine_->KillsInFlight(), static_cast<size_t>(kStops + kHooks));

  const absl::Time start = absl::Now();
  env.engine_->Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "bounded: hooks get 200 ms, stops nothing";
  EXPECT_EQ(env.engine_->KillsInFlight(), 0u);
  for (int i = 0; i < kStops; ++i) {
    EXPECT_EQ(Stored(env, absl::StrCat("stop-r", i)).kills(0).step(), internal::KILL_STEP_STOP_SENT)
        << "abandoned: the runtime finishes it, the next daemon never signals twice";
  }
  for (int i = 0; i < kHooks; ++i) {
    EXPECT_EQ(Stored(env, absl::StrCat("hook-r", i)).kills(0).step(),
              internal::KILL_STEP_PRESTOP_STARTED)
        << "cancelled: reported INTERRUPTED by the next daemon";
  }
}

}  // namespace
}  // namespace inplaced::daemon
