// The daemon's /readyz and /metrics view of its parts (daemon/probe_state): each readiness check
// named, the engine's tick age against the wedge limit on a fake clock, the state gauges read from
// a running engine and cleared once stopping.

#include "daemon/probe_state.h"

#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/daemon/recreate/engine_test_support.h"

namespace inplaced::daemon {
namespace {

using testing::EngineEnv;
using ::testing::HasSubstr;
using testing::NewCreate;

constexpr absl::Duration kMaxTickAge = absl::Minutes(1);

RecreateEngineOptions RarePolls() {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.fast_poll = absl::Hours(1);
  options.slow_poll = absl::Hours(1);
  return options;
}

TEST(ProbeStateTest, NotReadyUntilEveryPartIsUpAndTheEngineTicked) {
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), RarePolls());
  ProbeState observed;
  ServingState serving;
  metrics::ProbeResult result = Readiness(observed, serving, env.clock_, kMaxTickAge);
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.body, HasSubstr("runtime: not answered yet"));
  EXPECT_THAT(result.body, HasSubstr("store: not open"));
  EXPECT_THAT(result.body, HasSubstr("api: starting"));
  EXPECT_THAT(result.body, HasSubstr("engine: not running"));

  env.StartEngine();
  {
    absl::MutexLock lock(&observed.mu);
    observed.runtime_answered = true;
    observed.runtime_version = "containerd 1.6.20";
    observed.store_open = true;
    observed.engine = env.engine_.get();
  }
  serving.SetServing();
  result = Readiness(observed, serving, env.clock_, kMaxTickAge);
  EXPECT_FALSE(result.ok) << "the loop has not ticked";
  EXPECT_THAT(result.body, HasSubstr("engine: no tick yet"));

  env.engine_->Start();  // ticks at once, then waits an hour for the next tick
  while (env.engine_->LastPulse().last_tick == absl::InfinitePast()) std::this_thread::yield();
  result = Readiness(observed, serving, env.clock_, kMaxTickAge);
  EXPECT_TRUE(result.ok) << result.body;
  EXPECT_THAT(result.body, HasSubstr("runtime: ok (containerd 1.6.20)"));
  EXPECT_THAT(result.body, HasSubstr("api: serving"));

  // A loop silent for longer than the limit is wedged: not ready.
  env.clock_.Advance(absl::Minutes(2));
  result = Readiness(observed, serving, env.clock_, kMaxTickAge);
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.body, HasSubstr("engine: last tick 2m ago, more than 1m"));

  {
    absl::MutexLock lock(&observed.mu);
    observed.stopping = true;
    observed.engine = nullptr;
  }
  result = Readiness(observed, serving, env.clock_, kMaxTickAge);
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.body, HasSubstr("api: stopping"));
  env.engine_->Shutdown();
}

TEST(ProbeStateTest, StateGaugesComeFromTheRunningEngineOnly) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  ProbeState observed;
  EXPECT_FALSE(ObservedState(observed, env.clock_).available) << "no engine yet";

  {
    absl::MutexLock lock(&observed.mu);
    observed.engine = env.engine_.get();
    observed.hub = &env.hub_;
  }
  // Pending until a tick decides its first step.
  ASSERT_OK(env.engine_->Create(env.WithStatusContexts(NewCreate("r1", {"a"}))).status());
  env.clock_.Advance(absl::Seconds(90));
  metrics::EngineState state = ObservedState(observed, env.clock_);
  EXPECT_TRUE(state.available);
  EXPECT_EQ(state.requests_pending, 1);
  EXPECT_EQ(state.oldest_pending_age, absl::Seconds(90));
  EXPECT_EQ(state.recreate_watches, 0);

  {
    absl::MutexLock lock(&observed.mu);
    observed.stopping = true;
  }
  state = ObservedState(observed, env.clock_);
  EXPECT_FALSE(state.available);
  EXPECT_EQ(state.requests_pending, 0);
}

}  // namespace
}  // namespace inplaced::daemon
