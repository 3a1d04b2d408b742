#include "daemon/prestop/cri_prestop_runner.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/daemon/prestop/prestop_test_env.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

api::LifecycleHandler Exec(std::vector<std::string> command) {
  api::LifecycleHandler handler;
  for (std::string& arg : command) handler.mutable_exec()->add_command(std::move(arg));
  return handler;
}

api::LifecycleHandler Sleep(int64_t seconds) {
  api::LifecycleHandler handler;
  handler.mutable_sleep()->set_seconds(seconds);
  return handler;
}

// Both ways runtimes report an ExecSync timeout must come out the same.
class ExecHookTest : public ::testing::TestWithParam<const char*> {
 protected:
  ExecHookTest() : env_(fakes::RuntimeProfile::ByName(GetParam()).value()) {}
  PreStopTestEnv env_;
};

INSTANTIATE_TEST_SUITE_P(Runtimes, ExecHookTest, ::testing::Values("containerd-1.6", "cri-o"));

TEST_P(ExecHookTest, ExitZeroSucceedsAndRunsTheCommandInTheContainer) {
  env_.runtime.SetExecHandler(env_.target.container_id, {"sh", "-c", "touch /mark"},
                              fakes::ExecResult{});
  const PreStopResult result = env_.runner.Run(Exec({"sh", "-c", "touch /mark"}), env_.target,
                                               env_.DeadlineIn(absl::Seconds(30)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
  const std::vector<fakes::ExecRecord> execs = env_.runtime.Execs();
  ASSERT_THAT(execs, SizeIs(1));
  EXPECT_EQ(execs[0].container_id, env_.target.container_id);
  EXPECT_EQ(execs[0].cmd, (std::vector<std::string>{"sh", "-c", "touch /mark"}));
  EXPECT_EQ(execs[0].timeout_seconds, 30);
}

TEST_P(ExecHookTest, TimeoutIsTheWholeSecondsLeftAndAtLeastOne) {
  env_.runner.Run(Exec({"true"}), env_.target, env_.DeadlineIn(absl::Milliseconds(12900)), nullptr);
  env_.runner.Run(Exec({"true"}), env_.target, env_.DeadlineIn(absl::Milliseconds(300)), nullptr);
  const std::vector<fakes::ExecRecord> execs = env_.runtime.Execs();
  ASSERT_THAT(execs, SizeIs(2));
  EXPECT_EQ(execs[0].timeout_seconds, 12);
  EXPECT_EQ(execs[1].timeout_seconds, 1);
}

TEST_P(ExecHookTest, NonZeroExitFailsWithTheCodeAndTheOutputTail) {
  fakes::ExecResult failing;
  failing.exit_code = 3;
  failing.stdout_text = "some stdout";
  failing.stderr_text = "boom: cannot drain\n";
  env_.runtime.SetExecHandler(env_.target.container_id, {}, failing);
  const PreStopResult result =
      env_.runner.Run(Exec({"drain"}), env_.target, env_.DeadlineIn(absl::Seconds(30)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(result.message, "exit code 3: boom: cannot drain");
}

TEST_P(ExecHookTest, FailureMessageKeepsOnlyAPrintableTail) {
  fakes::ExecResult failing;
  failing.exit_code = 1;
  failing.stdout_text = std::string(1000, 'a') + "\xff\x01 END";
  env_.runtime.SetExecHandler(env_.target.container_id, {}, failing);
  const PreStopResult result =
      env_.runner.Run(Exec({"x"}), env_.target, env_.DeadlineIn(absl::Seconds(30)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_THAT(result.message, AllOf(StartsWith("exit code 1: aaa"), HasSubstr("a?? END")));
  EXPECT_EQ(result.message.size(), std::string("exit code 1: ").size() + 256);
}

TEST_P(ExecHookTest, RuntimeTimeoutIsTimedOut) {
  fakes::ExecResult hanging;
  hanging.hang = true;
  env_.runtime.SetExecHandler(env_.target.container_id, {}, hanging);
  BackgroundRun run([&] {
    return env_.runner.Run(Exec({"sleep", "inf"}), env_.target, env_.DeadlineIn(absl::Seconds(10)),
                           nullptr);
  });
  env_.clock.WaitForSleepers(1);
  env_.clock.Advance(absl::Seconds(10));
  const PreStopResult result = run.Join();
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_TIMED_OUT) << result.message;
}

TEST_P(ExecHookTest, CancellationEndsTheExec) {
  fakes::ExecResult hanging;
  hanging.hang = true;
  env_.runtime.SetExecHandler(env_.target.container_id, {}, hanging);
  Cancellation cancel;
  BackgroundRun run([&] {
    return env_.runner.Run(Exec({"sleep", "inf"}), env_.target, env_.DeadlineIn(absl::Seconds(10)),
                           &cancel);
  });
  env_.clock.WaitForSleepers(1);
  cancel.Cancel();
  const PreStopResult result = run.Join();
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(result.message, "cancelled");
}

TEST_P(ExecHookTest, ContainerNotRunningFailsWithTheRuntimeMessage) {
  ASSERT_OK(env_.runtime.ExitContainer(env_.target.container_id, 0));
  const PreStopResult result =
      env_.runner.Run(Exec({"true"}), env_.target, env_.DeadlineIn(absl::Seconds(30)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  // CRI-O: "container is not created or running"; containerd: "... CONTAINER_EXITED state".
  EXPECT_THAT(result.message, StartsWith("exec: "));
  EXPECT_THAT(result.message,
              ::testing::AnyOf(HasSubstr("not created or running"), HasSubstr("CONTAINER_EXITED")));
}

TEST_P(ExecHookTest, UnknownContainerFails) {
  env_.target.container_id = "0123456789abcdef";
  const PreStopResult result =
      env_.runner.Run(Exec({"true"}), env_.target, env_.DeadlineIn(absl::Seconds(30)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_THAT(result.message, HasSubstr("not found"));
}

TEST_P(ExecHookTest, PassedDeadlineOrEarlyCancelRunsNothing) {
  const PreStopResult late =
      env_.runner.Run(Exec({"true"}), env_.target, env_.clock.Now(), nullptr);
  EXPECT_EQ(late.outcome, api::PRE_STOP_OUTCOME_TIMED_OUT);
  Cancellation cancel;
  cancel.Cancel();
  const PreStopResult cancelled =
      env_.runner.Run(Exec({"true"}), env_.target, env_.DeadlineIn(absl::Seconds(30)), &cancel);
  EXPECT_EQ(cancelled.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(cancelled.message, "cancelled");
  EXPECT_THAT(env_.runtime.Execs(), SizeIs(0));
}

TEST(CriPreStopRunnerTest, ExecIsAbandonedWhenTheRuntimeIgnoresItsTimeout) {
  PreStopTestEnv env;
  fakes::ExecResult hanging;
  hanging.hang = true;
  env.runtime.SetExecHandler(env.target.container_id, {}, hanging);
  // The fake clock never moves, so the runtime's 1 s timeout never comes: only the watchdog (50 ms
  // of real time, no slack) can end the call.
  CriPreStopRunner runner(env.runtime, env.clock, CriPreStopRunnerOptions{absl::ZeroDuration()});
  const PreStopResult result = runner.Run(Exec({"sleep", "inf"}), env.target,
                                          env.DeadlineIn(absl::Milliseconds(50)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_TIMED_OUT);
  EXPECT_EQ(result.message, "exec: the runtime did not return by the deadline");
}

// Start returns at once; many exec hooks are in flight together (an ExecSyncAsync each, no thread
// of the runner) and each `done` runs once, with the outcome Run would have given.
TEST(CriPreStopRunnerTest, StartedExecHooksRunTogetherAndEachEndsOnce) {
  PreStopTestEnv env;
  fakes::ExecResult hanging;
  hanging.hang = true;
  env.runtime.SetExecHandler(env.target.container_id, {}, hanging);
  constexpr int kHooks = 30;
  Cancellation cancel;
  absl::Mutex mu;
  std::vector<PreStopResult> results;
  for (int i = 0; i < kHooks; ++i) {
    env.runner.Start(Exec({"sleep", "inf"}), env.target, env.DeadlineIn(absl::Seconds(30)),
                     i == 0 ? nullptr : &cancel, [&](PreStopResult result) {
                       absl::MutexLock lock(&mu);
                       results.push_back(std::move(result));
                     });
  }
  env.clock.WaitForSleepers(kHooks);
  EXPECT_EQ(env.runtime.CallCount("ExecSync"), kHooks);
  cancel.Cancel();
  {
    absl::MutexLock lock(&mu);
    const auto cancelled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return results.size() == kHooks - 1;
    };
    mu.Await(absl::Condition(&cancelled));
    for (const PreStopResult& result : results) {
      EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
      EXPECT_EQ(result.message, "cancelled");
    }
  }
  // The one without a token ends at the runtime's timeout.
  env.clock.Advance(absl::Seconds(30));
  absl::MutexLock lock(&mu);
  const auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return results.size() == kHooks; };
  mu.Await(absl::Condition(&all));
  EXPECT_EQ(results.back().outcome, api::PRE_STOP_OUTCOME_TIMED_OUT) << results.back().message;
}

TEST(CriPreStopRunnerTest, StartOfAHookThatCannotRunAnswersOnTheCallingThread) {
  PreStopTestEnv env;
  bool answered = false;
  env.runner.Start(Exec({"true"}), env.target, env.clock.Now(), nullptr, [&](PreStopResult result) {
    answered = true;
    EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_TIMED_OUT);
  });
  EXPECT_TRUE(answered) << "deadline already passed: nothing runs, `done` at once";
}

TEST(CriPreStopRunnerTest, HandlerWithoutActionFails) {
  PreStopTestEnv env;
  const PreStopResult result = env.runner.Run(api::LifecycleHandler(), env.target,
                                              env.DeadlineIn(absl::Seconds(30)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_THAT(result.message, HasSubstr("no action"));
}

TEST(SleepHookTest, SleepsOnTheClockAndSucceeds) {
  PreStopTestEnv env;
  const absl::Time start = env.clock.Now();
  BackgroundRun run([&] {
    return env.runner.Run(Sleep(5), env.target, env.DeadlineIn(absl::Seconds(30)), nullptr);
  });
  env.clock.WaitForSleepers(1);
  env.clock.Advance(absl::Seconds(5));
  const PreStopResult result = run.Join();
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
  EXPECT_EQ(env.clock.Now() - start, absl::Seconds(5));
}

TEST(SleepHookTest, DoesNotEndBeforeItsTime) {
  PreStopTestEnv env;
  std::atomic<bool> done{false};
  BackgroundRun run([&] {
    PreStopResult result =
        env.runner.Run(Sleep(5), env.target, env.DeadlineIn(absl::Seconds(30)), nullptr);
    done = true;
    return result;
  });
  for (int i = 0; i < 49; ++i) {
    env.clock.WaitForSleepers(1);
    env.clock.Advance(absl::Milliseconds(100));
  }
  env.clock.WaitForSleepers(1);  // Still asleep after 4.9 s.
  EXPECT_FALSE(done);
  env.clock.Advance(absl::Milliseconds(100));
  EXPECT_EQ(run.Join().outcome, api::PRE_STOP_OUTCOME_SUCCEEDED);
}

TEST(SleepHookTest, CutByTheDeadlineIsTimedOut) {
  PreStopTestEnv env;
  BackgroundRun run([&] {
    return env.runner.Run(Sleep(60), env.target, env.DeadlineIn(absl::Seconds(10)), nullptr);
  });
  env.clock.WaitForSleepers(1);
  env.clock.Advance(absl::Seconds(10));
  const PreStopResult result = run.Join();
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_TIMED_OUT);
  EXPECT_THAT(result.message, HasSubstr("cut short by the deadline"));
}

TEST(SleepHookTest, ZeroSecondsSucceedsAtOnce) {
  PreStopTestEnv env;
  const PreStopResult result =
      env.runner.Run(Sleep(0), env.target, env.DeadlineIn(absl::Seconds(10)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED);
}

TEST(SleepHookTest, CancellationEndsTheSleep) {
  PreStopTestEnv env;
  Cancellation cancel;
  BackgroundRun run([&] {
    return env.runner.Run(Sleep(60), env.target, env.DeadlineIn(absl::Seconds(90)), &cancel);
  });
  env.clock.WaitForSleepers(1);
  cancel.Cancel();
  // The sleep notices at its next slice; one second is far less than the 60 s asked for.
  env.clock.Advance(absl::Seconds(1));
  const PreStopResult result = run.Join();
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(result.message, "cancelled");
}

}  // namespace
}  // namespace inplaced::daemon
