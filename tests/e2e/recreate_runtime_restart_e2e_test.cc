// containerd killed (SIGKILL) and restarted in the middle of a recreate, on the versions with an
// event stream (1.7, 2.1). The first of two containers (ordered) is in its preStop hook when
// containerd dies: the hook's exec breaks, the StopContainer that follows finds no runtime and is
// deferred, the daemon's event stream breaks. Once containerd is back the daemon resubscribes,
// looks at once (events were missed meanwhile), stops the same instance, and goes on with the
// second container.
//
// The daemon polls only every 20 s here: progress after the restart comes from the resubscription's
// wake-up and the new stream's events, not from polls.

#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/recreate_fixture.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace api = ::inplaced::v1;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class RecreateRuntimeRestartE2eTest : public RecreateE2eTest {
 protected:
  std::vector<std::string> DaemonPollFlags() const override {
    return {"--fast-poll-ms", "20000", "--slow-poll-ms", "20000"};
  }
};

TEST_F(RecreateRuntimeRestartE2eTest, ContainerdKilledMidRecreateCompletesWithoutKillingTwice) {
  ASSERT_NO_FATAL_FAILURE(
      RunPod({Container("first", PoliteSleeper()), Container("second", PoliteSleeper())},
             /*termination_grace_period_seconds=*/30));
  std::optional<cri::ContainerInfo> first = Current("first");
  std::optional<cri::ContainerInfo> second = Current("second");
  ASSERT_TRUE(first.has_value() && second.has_value());

  api::CreateRecreateRequestRequest request = Request("outage", {"first", "second"});
  request.mutable_spec()->mutable_strategy()->set_ordered_recreate(true);
  // A hook long enough for containerd to die while it runs.
  api::ExecAction* hook =
      request.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec();
  for (const char* part : {"sh", "-c", "sleep 5"}) hook->add_command(part);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  const api::RecreateRequest hooked = PollUntil("outage", [](const api::RecreateRequest& r) {
    return r.status().container_states(0).pre_stop().outcome() == api::PRE_STOP_OUTCOME_RUNNING ||
           r.status().phase() == api::RECREATE_PHASE_COMPLETED;
  });
  ASSERT_EQ(hooked.status().container_states(0).pre_stop().outcome(), api::PRE_STOP_OUTCOME_RUNNING)
      << hooked.DebugString();

  ASSERT_OK(RestartContainerd(env_, RestartMode::kCrash));

  const api::RecreateRequest done = WaitCompleted("outage");
  ASSERT_NO_FATAL_FAILURE(ExpectAllRecreatedOnce(done, {first->id, second->id}));
  const api::ContainerRecreateState& one = done.status().container_states(0);
  const api::ContainerRecreateState& two = done.status().container_states(1);
  // The hook's exec went down with containerd; the kill went on (as kubelet does after a failed
  // hook).
  EXPECT_EQ(one.pre_stop().outcome(), api::PRE_STOP_OUTCOME_FAILED) << one.DebugString();

  // Nothing killed twice: only the old instances were ever stopped, and the new ones still run,
  // each the first restart of its container.
  std::map<std::string, std::set<std::string>> stopped;  // container -> instance ids
  for (const std::string& line : DaemonLogLines("container_killed")) {
    stopped[LogField(line, "container")].insert(LogField(line, "id"));
  }
  EXPECT_EQ(stopped["first"], std::set<std::string>{first->id});
  EXPECT_EQ(stopped["second"], std::set<std::string>{second->id});
  for (const api::ContainerRecreateState* state : {&one, &two}) {
    std::optional<cri::ContainerInfo> now = Current(state->name());
    ASSERT_TRUE(now.has_value()) << state->name();
    EXPECT_EQ(now->id, state->new_container_id()) << state->name();
    EXPECT_EQ(now->state, ::runtime::v1::CONTAINER_RUNNING) << state->name();
    EXPECT_EQ(now->restart_count, 1) << state->name();
  }

  // The first stop found no runtime and waited for it; the event stream broke and came back, and
  // the second container (killed after the restart) was seen restarted through the new stream. (A
  // runtime still starting may end a fresh stream again: one outage can log more than one break.)
  EXPECT_THAT(DaemonLogLines("container_kill_deferred"), Not(IsEmpty()));
  EXPECT_THAT(DaemonLogLines("container_events_stream_broken"), Not(IsEmpty()));
  const std::vector<std::string> resubscribed = DaemonLogLines("container_events_resubscribed");
  ASSERT_THAT(resubscribed, Not(IsEmpty()));
  std::string second_via;
  for (const std::string& line : DaemonLogLines("container_restart_observed")) {
    if (LogField(line, "container") == "second") second_via = LogField(line, "via");
  }
  EXPECT_THAT(second_via, HasSubstr("event"));
  std::cout << "[ outage   ] " << connection_.version.runtime_name() << " " << runtime_version()
            << ": event stream down " << LogField(resubscribed.back(), "down_ms")
            << " ms; second restart seen via " << second_via << std::endl;
}

}  // namespace
}  // namespace inplaced::e2e
