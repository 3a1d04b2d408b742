// RecreateEngine and the runtime's container event stream: events only wake the loop early; a
// stream that ends or breaks is resubscribed (and the loop woken, since events were missed
// meanwhile); a runtime without the stream leaves the engine polling.

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "daemon/recreate/recreate_engine.h"
#include "gtest/gtest.h"
#include "tests/unit/daemon/recreate/engine_test_support.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using testing::EngineEnv;
using testing::Get;
using testing::NewCreate;

// The default test options with the event stream on and both polls every `poll`.
RecreateEngineOptions WithEvents(absl::Duration poll) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.use_event_stream = true;
  options.fast_poll = poll;
  options.slow_poll = poll;
  return options;
}

// Creates request r1 for container "a" and waits until its kill has run (StopContainer counted: the
// kill job was queued; no kill in flight: it ended).
void CreateAndWaitForTheKill(EngineEnv& env) {
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  while (env.runtime_.CallCount("StopContainer") == 0 || env.engine_->KillsInFlight() > 0) {
    std::this_thread::yield();
  }
}

// Runs pod web-0 and starts the engine, then waits until it subscribed to the runtime's events.
void StartWithAPodAndSubscribed(EngineEnv& env) {
  env.RunPod({});
  env.StartEngine();
  env.engine_->Start();
  while (env.runtime_.EventSubscribers() == 0) std::this_thread::yield();
}

void WaitForR1ToSucceed(EngineEnv& env) {
  while (Get(*env.engine_, "r1").status().phase() != api::RECREATE_PHASE_COMPLETED)
    std::this_thread::yield();
  EXPECT_EQ(Get(*env.engine_, "r1").status().container_states(0).phase(),
            api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
}

TEST(RecreateEventsTest, UnimplementedEventStreamIsNotRetried) {
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), WithEvents(absl::Seconds(1)));
  env.StartEngine();
  env.engine_->Start();
  while (env.runtime_.CallCount("GetContainerEvents") == 0) std::this_thread::yield();
  env.engine_->Shutdown();
  EXPECT_EQ(env.runtime_.CallCount("GetContainerEvents"), 1);
}

TEST(RecreateEventsTest, EndedEventStreamIsResubscribed) {
  fakes::RuntimeProfile profile = fakes::RuntimeProfile::CriO();
  profile.events = fakes::EventsMode::kEndsImmediately;
  EngineEnv env(profile, WithEvents(absl::Seconds(1)));
  env.StartEngine();
  env.engine_->Start();
  while (env.runtime_.CallCount("GetContainerEvents") < 3) std::this_thread::yield();
  env.engine_->Shutdown();
}

TEST(RecreateEventsTest, ARuntimeEventWakesTheLoopBeforeThePollInterval) {
  // Polls so rare that only a wake-up can make progress within the test.
  EngineEnv env(fakes::RuntimeProfile::Containerd20(), WithEvents(absl::Hours(1)));
  StartWithAPodAndSubscribed(env);
  // Create wakes the loop: the kill happens, and its completion wakes the loop once more.
  ASSERT_NO_FATAL_FAILURE(CreateAndWaitForTheKill(env));
  // kubelet's restart is seen only through the runtime's events.
  env.KubeletRestarts();
  WaitForR1ToSucceed(env);
}

TEST(RecreateEventsTest, AStreamThatStaysQuietLeavesTheRestartToPolling) {
  fakes::RuntimeProfile profile = fakes::RuntimeProfile::Containerd17();
  profile.events = fakes::EventsMode::kSilent;
  EngineEnv env(profile, WithEvents(absl::Milliseconds(1)));
  StartWithAPodAndSubscribed(env);
  ASSERT_NO_FATAL_FAILURE(CreateAndWaitForTheKill(env));
  env.KubeletRestarts();
  WaitForR1ToSucceed(env);
  // The quiet stream stayed open the whole time (no resubscription).
  EXPECT_EQ(env.runtime_.CallCount("GetContainerEvents"), 1);
  env.engine_->Shutdown();
}

TEST(RecreateEventsTest, ResubscribingAfterARuntimeRestartWakesTheLoop) {
  // Polls so rare that only wake-ups make progress within the test.
  EngineEnv env(fakes::RuntimeProfile::Containerd20(), WithEvents(absl::Hours(1)));
  StartWithAPodAndSubscribed(env);
  const std::string old_id = env.CurrentId("default", "web-0", "a");

  // The runtime restarts: the stream breaks, and the engine's next subscription hangs (on the fake
  // clock) until the test lets it through. No stream is open meanwhile: no event reaches the
  // engine.
  env.runtime_.SetLatency("GetContainerEvents", absl::Seconds(10));
  env.runtime_.BreakEventStreams(absl::UnavailableError("GetContainerEvents: connection reset"));
  while (env.runtime_.CallCount("GetContainerEvents") < 2) std::this_thread::yield();

  // Create and the finished kill wake the loop; the second of those ticks waits for kubelet.
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  while (Get(*env.engine_, "r1").status().container_states(0).message() !=
         "waiting for kubelet to start the new container") {
    std::this_thread::yield();
  }
  // kubelet restarts the container while no stream is open: nothing wakes the engine.
  env.clock_.Advance(absl::Seconds(1));
  ASSERT_OK(env.kubelet_.SyncOnce());
  ASSERT_NE(env.CurrentId("default", "web-0", "a"), old_id);
  EXPECT_EQ(Get(*env.engine_, "r1").status().phase(), api::RECREATE_PHASE_RECREATING);

  // The subscription goes through: the engine looks at once, and sees the restart.
  env.clock_.Advance(absl::Seconds(10));
  WaitForR1ToSucceed(env);
  EXPECT_EQ(env.runtime_.EventSubscribers(), 1);
  env.engine_->Shutdown();
}

// The subscription's state, as NodeService reports it (eventually-style waits: the state changes on
// the subscription's thread).
void WaitForState(const RecreateEngine& engine, EventStreamState want) {
  while (engine.event_stream_state() != want) std::this_thread::yield();
}

TEST(RecreateEventsStateTest, WithoutTheEventStreamTheStateIsDisabled) {
  RecreateEngineOptions options = WithEvents(absl::Seconds(1));
  options.use_event_stream = false;
  EngineEnv env(fakes::RuntimeProfile::Containerd20(), options);
  env.StartEngine();
  env.engine_->Start();
  EXPECT_EQ(env.engine_->event_stream_state(), EventStreamState::kDisabled);
  env.engine_->Shutdown();
  EXPECT_EQ(env.runtime_.CallCount("GetContainerEvents"), 0);
}

TEST(RecreateEventsStateTest, ARuntimeWithoutTheStreamIsUnsupported) {
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), WithEvents(absl::Seconds(1)));
  env.StartEngine();
  EXPECT_EQ(env.engine_->event_stream_state(), EventStreamState::kSubscribed);
  env.engine_->Start();
  WaitForState(*env.engine_, EventStreamState::kUnsupported);
  env.engine_->Shutdown();
}

TEST(RecreateEventsStateTest, SubscribedUntilTheFirstEventThenStreamingThenReconnecting) {
  // Polls so rare that nothing but the events drive the engine. 2.x broadcasts to open streams
  // only (1.7's shared channel also hands a new reader what was queued before it subscribed).
  EngineEnv env(fakes::RuntimeProfile::Containerd20(), WithEvents(absl::Hours(1)));
  StartWithAPodAndSubscribed(env);
  // An open stream that has sent nothing: containerd 1.7/2.x before any container event.
  EXPECT_EQ(env.engine_->event_stream_state(), EventStreamState::kSubscribed);

  ASSERT_NO_FATAL_FAILURE(CreateAndWaitForTheKill(env));
  env.KubeletRestarts();
  WaitForState(*env.engine_, EventStreamState::kStreaming);

  // The runtime restarts; the next subscription hangs on the fake clock, so the state stays put.
  env.runtime_.SetLatency("GetContainerEvents", absl::Seconds(10));
  env.runtime_.BreakEventStreams(absl::UnavailableError("GetContainerEvents: connection reset"));
  WaitForState(*env.engine_, EventStreamState::kReconnecting);
  while (env.runtime_.CallCount("GetContainerEvents") < 2) std::this_thread::yield();
  EXPECT_EQ(env.engine_->event_stream_state(), EventStreamState::kReconnecting);
  // Subscribed again once the call goes through: no event on the new stream yet. (Advanced until
  // then: the call may not be parked on the clock yet.)
  while (env.engine_->event_stream_state() != EventStreamState::kSubscribed) {
    env.clock_.Advance(absl::Seconds(10));
    std::this_thread::yield();
  }
  env.engine_->Shutdown();
}

}  // namespace
}  // namespace inplaced::daemon
