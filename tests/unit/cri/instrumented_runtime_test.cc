// InstrumentedRuntime: every call reaches the wrapped runtime unchanged and is reported with its
// method, status code and latency (on a test clock the wrapped call advances).

#include "cri/instrumented_runtime.h"

#include <algorithm>
#include <string>

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

}  // namespace
}  // namespace inplaced::cri
