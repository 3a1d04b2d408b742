// The systemd heartbeat (systemd/heartbeat): WATCHDOG=1 only while the watched loop ticks, STATUS
// lines when the text changes; and the notifier chosen from the environment (systemd/notifier).

#include "systemd/heartbeat.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "systemd/notifier.h"
#include "tests/fakes/fake_clock.h"

namespace inplaced::systemd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class RecordingNotifier final : public Notifier {
 public:
  absl::Status Notify(absl::string_view state) override {
    absl::MutexLock lock(&mu_);
    sent_.emplace_back(state);
    return absl::OkStatus();
  }
  std::vector<std::string> Take() {
    absl::MutexLock lock(&mu_);
    return std::exchange(sent_, {});
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> sent_ ABSL_GUARDED_BY(mu_);
};

class HeartbeatTest : public ::testing::Test {
 protected:
  Heartbeat Make(std::optional<absl::Duration> watchdog) {
    HeartbeatOptions options;
    options.watchdog_timeout = watchdog;
    options.max_tick_age = absl::Seconds(10);
    return Heartbeat(
        notifier_, clock_, options, [this] { return last_tick_; }, [this] { return status_; });
  }

  RecordingNotifier notifier_;
  fakes::FakeClock clock_;
  absl::Time last_tick_ = absl::InfinitePast();
  std::string status_ = "serving: 0 open recreate requests";
};

TEST_F(HeartbeatTest, PingsWhileTheLoopTicksAndStopsWhenItStops) {
  Heartbeat heartbeat = Make(absl::Seconds(4));
  last_tick_ = clock_.Now();
  EXPECT_TRUE(heartbeat.Beat());
  EXPECT_THAT(notifier_.Take(),
              ElementsAre("STATUS=serving: 0 open recreate requests", "WATCHDOG=1"));

  clock_.Advance(absl::Seconds(10));  // the last tick is exactly max_tick_age old: still alive
  EXPECT_TRUE(heartbeat.Beat());
  EXPECT_THAT(notifier_.Take(), ElementsAre("WATCHDOG=1"));

  clock_.Advance(absl::Milliseconds(1));  // wedged: no ping, so systemd restarts the daemon
  EXPECT_FALSE(heartbeat.Beat());
  EXPECT_THAT(notifier_.Take(), IsEmpty());

  last_tick_ = clock_.Now();  // ticking again
  EXPECT_TRUE(heartbeat.Beat());
  EXPECT_THAT(notifier_.Take(), ElementsAre("WATCHDOG=1"));
}

TEST_F(HeartbeatTest, NoPingBeforeTheFirstTick) {
  Heartbeat heartbeat = Make(absl::Seconds(4));
  EXPECT_FALSE(heartbeat.Beat());
  EXPECT_THAT(notifier_.Take(), ElementsAre("STATUS=serving: 0 open recreate requests"));
}

TEST_F(HeartbeatTest, NoWatchdogMeansStatusOnly) {
  Heartbeat heartbeat = Make(std::nullopt);
  last_tick_ = clock_.Now();
  EXPECT_FALSE(heartbeat.Beat());
  EXPECT_THAT(notifier_.Take(), ElementsAre("STATUS=serving: 0 open recreate requests"));
  EXPECT_EQ(heartbeat.period(), HeartbeatOptions().status_period);
}

TEST_F(HeartbeatTest, StatusIsSentOnlyWhenItChanges) {
  Heartbeat heartbeat = Make(std::nullopt);
  heartbeat.Beat();
  heartbeat.Beat();
  status_ = "serving: 2 open recreate requests";
  heartbeat.Beat();
  EXPECT_THAT(notifier_.Take(), ElementsAre("STATUS=serving: 0 open recreate requests",
                                            "STATUS=serving: 2 open recreate requests"));
}

TEST_F(HeartbeatTest, PingsAtHalfTheWatchdogTimeout) {
  EXPECT_EQ(Make(absl::Seconds(4)).period(), absl::Seconds(2));
}

TEST(NotifierTest, NoNotifySocketMeansNoop) {
  ::unsetenv("NOTIFY_SOCKET");
  std::unique_ptr<Notifier> notifier = NotifierFromEnvironment();
  EXPECT_NE(dynamic_cast<NoopNotifier*>(notifier.get()), nullptr);
  EXPECT_TRUE(notifier->Notify("READY=1").ok());
}

TEST(NotifierTest, NotifySocketMeansSdNotify) {
  ::setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
  std::unique_ptr<Notifier> notifier = NotifierFromEnvironment();
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_NE(dynamic_cast<SdNotifier*>(notifier.get()), nullptr);
}

TEST(NotifierTest, WatchdogTimeoutComesFromWatchdogUsec) {
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  EXPECT_EQ(WatchdogTimeoutFromEnvironment(), absl::Seconds(3));
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(WatchdogTimeoutFromEnvironment(), std::nullopt);
}

}  // namespace
}  // namespace inplaced::systemd
