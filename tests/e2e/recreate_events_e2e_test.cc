// How the daemon notices kubelet's restart of a container it killed, on each containerd version:
// from the runtime's GetContainerEvents stream where there is one (1.7, 2.1), by polling where
// there is none (1.6 answers UNIMPLEMENTED). Where the runtime streams events, the daemon polls
// only every 20 s here, so the restart (about half a second after the kill) is seen through an
// event or not within the poll; the daemon's log says which (`container_restart_observed ...
// via=`). The test prints the delay from the new container's started_at (the runtime's clock) to
// the moment the request's status showed it to a watching client: reported, not asserted.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/recreate_fixture.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace api = ::inplaced::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

class RecreateEventPickupE2eTest : public RecreateE2eTest {
 protected:
  bool StreamsEvents() const {
    absl::StatusOr<ContainerdVersion> version = ParseContainerdVersion(runtime_version());
    EXPECT_OK(version.status());
    return version.ok() && DifferencesOf(*version).streams_container_events;
  }

  // With a stream, polls far apart (an event is the only quick way); without one, a usual fast
  // poll.
  int PollMs() const { return StreamsEvents() ? 20000 : 1000; }

  std::vector<std::string> DaemonPollFlags() const override {
    const std::string poll_ms = std::to_string(PollMs());
    return {"--fast-poll-ms", poll_ms, "--slow-poll-ms", poll_ms};
  }

  // Watches the request until its first container shows restarted_at; returns that state and when
  // it reached this client.
  std::optional<std::pair<api::RecreateRequest, absl::Time>> WatchUntilRestartShows(
      const std::string& name, const std::function<void()>& after_watch_opened) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWaitLimit));
    api::WatchRecreateRequestsRequest request;
    request.set_namespace_(kRecreateNamespace);
    request.set_name(name);
    std::unique_ptr<grpc::ClientReader<api::WatchRecreateRequestsResponse>> reader =
        stub_->WatchRecreateRequests(&context, request);
    after_watch_opened();
    std::optional<std::pair<api::RecreateRequest, absl::Time>> seen;
    api::WatchRecreateRequestsResponse event;
    while (reader->Read(&event)) {
      const api::RecreateStatus& status = event.recreate_request().status();
      if (status.container_states_size() > 0 && status.container_states(0).has_restarted_at()) {
        seen.emplace(event.recreate_request(), absl::Now());
        break;
      }
    }
    context.TryCancel();
    reader->Finish();  // CANCELLED: this client ended the watch
    return seen;
  }
};

TEST_F(RecreateEventPickupE2eTest,
       RestartIsSeenFromAnEventWhereTheRuntimeStreamsThemElseByPolling) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("pickup", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
  const auto seen =
      WatchUntilRestartShows("pickup", [&] { ASSERT_NO_FATAL_FAILURE(Create(request)); });
  ASSERT_TRUE(seen.has_value()) << "the watch never showed the restart";
  const api::RecreateRequest done = WaitCompleted("pickup");
  ASSERT_EQ(done.status().container_states_size(), 1);
  const api::ContainerRecreateState& state = done.status().container_states(0);
  ExpectRecreatedOnce(state, old->id);

  // restarted_at is the runtime's started_at of the new instance.
  std::optional<cri::ContainerInfo> fresh = Instance(state.new_container_id());
  ASSERT_TRUE(fresh.has_value());
  const absl::Time started = absl::FromUnixNanos(fresh->started_at);
  EXPECT_EQ(FromProtoTime(state.restarted_at()), started);

  const std::vector<std::string> observed = DaemonLogLines("container_restart_observed");
  ASSERT_THAT(observed, SizeIs(1));
  const std::string via = LogField(observed[0], "via");
  if (StreamsEvents()) {
    EXPECT_THAT(via, HasSubstr("event")) << observed[0];
    EXPECT_THAT(DaemonLogLines("container_events_streaming"), SizeIs(1));
    EXPECT_THAT(DaemonLogLines("container_events_unsupported"), SizeIs(0));
  } else {
    EXPECT_THAT(via, Not(HasSubstr("event"))) << observed[0];
    EXPECT_THAT(DaemonLogLines("container_events_unsupported"), SizeIs(1));
  }
  std::cout << "[ pickup   ] " << connection_.version.runtime_name() << " " << runtime_version()
            << ": restart seen via " << via << "; started_at -> status at a watching client "
            << absl::FormatDuration(seen->second - started)
            << " (daemon: " << LogField(observed[0], "delay_ms") << " ms; daemon polls every "
            << PollMs() << " ms)" << std::endl;
}

}  // namespace
}  // namespace inplaced::e2e
