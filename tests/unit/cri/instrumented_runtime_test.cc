// InstrumentedRuntime: every call reaches the wrapped runtime unchanged and is reported with its
// method, status code and latency (on a test clock the wrapped call advances).

#include "cri/instrumented_runtime.h"

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/recording_metrics.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/cri/mock_runtime.h"

namespace inplaced::cri {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using testing::MockRuntime;
using ::testing::Return;

// A clock the mocked calls move forward.
class StepClock final : public Clock {
 public:
  absl::Time Now() override { return now_; }
  void SleepUntil(absl::Time deadline) override { now_ = std::max(now_, deadline); }
  void Advance(absl::Duration delta) { now_ += delta; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1000);
};

TEST(InstrumentedRuntimeTest, ReportsEveryCallWithItsCodeAndLatency) {
  MockRuntime runtime;
  StepClock clock;
  fakes::RecordingMetrics metrics;
  InstrumentedRuntime instrumented(runtime, metrics, clock);

  criv1::VersionResponse version;
  version.set_runtime_name("containerd");
  EXPECT_CALL(runtime, Version).WillOnce([&](const criv1::VersionRequest&) {
    clock.Advance(absl::Milliseconds(30));
    return version;
  });
  EXPECT_CALL(runtime, StopContainer).WillOnce([&](const criv1::StopContainerRequest&) {
    clock.Advance(absl::Seconds(2));
    return absl::DeadlineExceededError("StopContainer: deadline");
  });
  EXPECT_CALL(runtime, ContainerStatus)
      .WillOnce(Return(absl::NotFoundError("ContainerStatus: no such container")));

  ASSERT_OK_AND_ASSIGN(criv1::VersionResponse answered,
                       instrumented.Version(criv1::VersionRequest()));
  EXPECT_EQ(answered.runtime_name(), "containerd") << "the answer is passed on unchanged";
  EXPECT_THAT(instrumented.StopContainer(criv1::StopContainerRequest()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(instrumented.ContainerStatus(criv1::ContainerStatusRequest()).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(metrics.Lines(),
              ElementsAre("cri Version OK 30ms", "cri StopContainer DEADLINE_EXCEEDED 2s",
                          "cri ContainerStatus NOT_FOUND 0"));
}

TEST(InstrumentedRuntimeTest, ForwardsAsyncCallsWithTheirTokenAndReportsThemWhenDone) {
  MockRuntime runtime;
  StepClock clock;
  fakes::RecordingMetrics metrics;
  InstrumentedRuntime instrumented(runtime, metrics, clock);
  Cancellation cancel;

  std::function<void(absl::Status)> stop_done;
  EXPECT_CALL(runtime, StopContainerAsync)
      .WillOnce([&](const criv1::StopContainerRequest& request, Cancellation* token,
                    std::function<void(absl::Status)> done) {
        EXPECT_EQ(request.container_id(), "c1");
        EXPECT_EQ(token, &cancel) << "the token is forwarded, not dropped";
        stop_done = std::move(done);
      });
  EXPECT_CALL(runtime, ExecSyncAsync)
      .WillOnce([&](const criv1::ExecSyncRequest&, Cancellation* token,
                    std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) {
        EXPECT_EQ(token, &cancel);
        clock.Advance(absl::Milliseconds(5));
        done(absl::CancelledError("ExecSync: cancelled"));
      });

  criv1::StopContainerRequest stop;
  stop.set_container_id("c1");
  absl::Status stopped = absl::UnknownError("not done");
  instrumented.StopContainerAsync(stop, &cancel, [&](absl::Status s) { stopped = std::move(s); });
  EXPECT_TRUE(metrics.Lines().empty()) << "reported when done, not when started";
  clock.Advance(absl::Seconds(40));
  ASSERT_TRUE(stop_done != nullptr);
  stop_done(absl::OkStatus());
  EXPECT_OK(stopped);

  absl::StatusOr<criv1::ExecSyncResponse> executed;
  instrumented.ExecSyncAsync(criv1::ExecSyncRequest(), &cancel,
                             [&](absl::StatusOr<criv1::ExecSyncResponse> r) { executed = r; });
  EXPECT_THAT(executed, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(metrics.Lines(),
              ElementsAre("cri StopContainer OK 40s", "cri ExecSync CANCELLED 5ms"));
}

}  // namespace
}  // namespace inplaced::cri
