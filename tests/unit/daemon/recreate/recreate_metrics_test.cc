// What the recreate engine reports to the Metrics seam (kills, hooks, restarts, completions) and
// its Stats for the state gauges, on a FakeClock, a FakeRuntime and a RecordingMetrics.

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "common/proto_time.h"
#include "daemon/recreate/recreate_engine.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/recording_metrics.h"
#include "tests/unit/daemon/recreate/engine_test_support.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::EngineEnv;
using testing::NewCreate;
using testing::PodOptions;

RecreateEngineOptions WithMetrics(Metrics* metrics) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.metrics = metrics;
  return options;
}

TEST(RecreateMetricsTest, ARecreateReportsItsHookKillRestartAndCompletion) {
  fakes::RecordingMetrics metrics;
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), WithMetrics(&metrics));
  PodOptions pod;
  pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
  env.RunPod(pod);
  env.StartEngine();
  // The hook takes 2 s on the fake clock.
  env.prestop_.Block();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());  // decides the kill
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);
  env.clock_.Advance(absl::Seconds(2));
  env.prestop_.Release();
  env.engine_->WaitForKills();
  // kubelet starts the new instance 1 s later; the next tick (a poll) sees it 250 ms after that.
  env.KubeletRestarts();
  env.clock_.Advance(absl::Milliseconds(250));
  env.Tick();
  EXPECT_EQ(testing::Get(*env.engine_, "r1").status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_THAT(metrics.Lines(),
              ElementsAre("events disabled", "prestop succeeded 2s", "kill stopped",
                          "recreate succeeded 3.25s", "restart poll 250ms"));
}

TEST(RecreateMetricsTest, AFailedStopIsAFailedKillAndAFailedRecreate) {
  fakes::RecordingMetrics metrics;
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), WithMetrics(&metrics));
  env.RunPod({});
  env.StartEngine();
  env.runtime_.InjectError("StopContainer", absl::InternalError("permission denied"));
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  env.Tick();
  env.Tick();
  EXPECT_THAT(metrics.Lines(), ElementsAre("events disabled", "kill failed", "recreate failed 0"));
}

TEST(RecreateMetricsTest, AnUnavailableRuntimeDefersTheKill) {
  fakes::RecordingMetrics metrics;
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), WithMetrics(&metrics));
  env.RunPod({});
  env.StartEngine();
  env.runtime_.InjectError("StopContainer", absl::UnavailableError("runtime restarting"));
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  env.Tick();
  EXPECT_THAT(metrics.Lines(), Contains("kill deferred"));
}

// The event subscription's states, on runtimes with and without the stream.
std::vector<std::string> EventStates(fakes::RuntimeProfile profile, const std::string& until) {
  fakes::RecordingMetrics metrics;
  RecreateEngineOptions options = WithMetrics(&metrics);
  options.use_event_stream = true;
  EngineEnv env(std::move(profile), options);
  env.StartEngine();
  env.engine_->Start();
  for (std::vector<std::string> lines = metrics.Lines();
       std::find(lines.begin(), lines.end(), until) == lines.end(); lines = metrics.Lines()) {
    std::this_thread::yield();
  }
  env.engine_->Shutdown();
  return metrics.Lines();
}

TEST(RecreateMetricsTest, EventStreamStatesAreReported) {
  EXPECT_THAT(EventStates(fakes::RuntimeProfile::Containerd20(), "events subscribed"),
              ElementsAre("events connecting", "events subscribed"));
  // The fake containerd 1.6 refuses the subscription itself with UNIMPLEMENTED.
  EXPECT_THAT(EventStates(fakes::RuntimeProfile::Containerd16(), "events unsupported"),
              ElementsAre("events connecting", "events unsupported"));
}

TEST(RecreateMetricsTest, StatsCountPhasesAndTheOldestPendingRequest) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  RecreateEngine::Stats stats = env.engine_->GetStats();
  EXPECT_EQ(stats.pending + stats.recreating + stats.completed, 0);
  EXPECT_EQ(stats.oldest_pending_created, absl::InfiniteFuture());

  const absl::Time first = env.clock_.Now();
  // Given their status contexts, both stay pending until a tick.
  ASSERT_OK(env.engine_->Create(env.WithStatusContexts(NewCreate("r1", {"a"}))).status());
  env.clock_.Advance(absl::Seconds(5));
  const absl::Time second = env.clock_.Now();
  ASSERT_OK(env.engine_->Create(env.WithStatusContexts(NewCreate("r2", {"a"}))).status());
  stats = env.engine_->GetStats();
  EXPECT_EQ(stats.pending, 2);
  EXPECT_EQ(stats.recreating, 0);
  EXPECT_EQ(stats.oldest_pending_created, first);

  env.Tick();  // r1 starts; r2 waits behind it (same pod)
  stats = env.engine_->GetStats();
  EXPECT_EQ(stats.pending, 1);
  EXPECT_EQ(stats.recreating, 1);
  EXPECT_EQ(stats.oldest_pending_created, second);

  env.KubeletRestarts();
  env.Tick();  // r1 completes, r2 starts
  env.KubeletRestarts();
  env.Tick();
  stats = env.engine_->GetStats();
  EXPECT_EQ(stats.pending, 0);
  EXPECT_EQ(stats.recreating, 0);
  EXPECT_EQ(stats.completed, 2);
}

}  // namespace
}  // namespace inplaced::daemon
