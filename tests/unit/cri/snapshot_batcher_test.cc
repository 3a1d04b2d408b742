#include "cri/snapshot_batcher.h"

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cri {
namespace {

using ::inplaced::testing::Eventually;
using ::inplaced::testing::StatusIs;

constexpr int kPods = 3;
constexpr int kFollowers = 4;

using Result = absl::StatusOr<std::shared_ptr<const NodeSnapshot>>;

// One targeted read at most: the second caller at once already reads the whole node.
class SnapshotBatcherTest : public ::testing::Test {
 protected:
  SnapshotBatcherTest() : runtime_(clock_), batcher_(runtime_, /*max_targeted_reads=*/1) {
    runtime_.AddPods(kPods, 1);
  }

  // A targeted read that must not run: a caller past the limit shares a whole-node read.
  static absl::StatusOr<NodeSnapshot> NotTargeted() {
    ADD_FAILURE() << "a caller past the limit made its own read";
    return NodeSnapshot();
  }

  // A first caller whose targeted read blocks until `release_` (it returns no pod: tells it apart).
  void StartBlockedTargetedRead() {
    first_ = std::thread([this] {
      Result result = batcher_.Read([this] {
        entered_.Notify();
        release_.WaitForNotification();
        return absl::StatusOr<NodeSnapshot>(NodeSnapshot());
      });
      ASSERT_OK(result.status());
      EXPECT_TRUE((*result)->pods().empty());
    });
    entered_.WaitForNotification();
  }

  std::thread StartReader(Result* result) {
    return std::thread([this, result] { *result = batcher_.Read(&NotTargeted); });
  }

  struct Rounds {
    Result lead;                    // the first caller past the limit: reads at once
    std::vector<Result> followers;  // arrived while it read: share the next read
  };
  // While a targeted read holds the one slot, a caller reads the whole node and kFollowers more
  // arrive during that read (whole-node reads wait on the fake clock); `before_second_read` runs
  // once the followers' shared read has started.
  Rounds RunTwoWholeNodeRounds(const std::function<void()>& before_second_read) {
    StartBlockedTargetedRead();
    runtime_.SetLatency("ListPodSandbox", absl::Seconds(1));
    Rounds rounds;
    rounds.followers.assign(kFollowers, absl::UnknownError("not answered"));
    std::thread leader = StartReader(&rounds.lead);
    clock_.WaitForSleepers(1);  // its whole-node read runs
    std::vector<std::thread> followers;
    for (Result& result : rounds.followers) followers.push_back(StartReader(&result));
    EXPECT_TRUE(Eventually([&] { return batcher_.waiting() == kFollowers; }));
    clock_.Advance(absl::Seconds(1));  // the running read ends; the followers' read starts
    leader.join();
    clock_.WaitForSleepers(1);
    before_second_read();
    clock_.Advance(absl::Seconds(1));
    for (std::thread& follower : followers) follower.join();
    release_.Notify();
    first_.join();
    return rounds;
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_;
  SnapshotBatcher batcher_;
  absl::Notification entered_, release_;
  std::thread first_;
};

TEST_F(SnapshotBatcherTest, ACallerUnderTheLimitMakesItsOwnTargetedRead) {
  int targeted = 0;
  Result result = batcher_.Read([&] {
    ++targeted;
    return TakePodSnapshot(runtime_, "bulk", "pod-00000");
  });
  ASSERT_OK(result.status());
  EXPECT_EQ(targeted, 1);
  EXPECT_EQ((*result)->pods().size(), 1u);
  EXPECT_EQ(batcher_.stats().targeted, 1);
  EXPECT_EQ(batcher_.stats().whole_node, 0);
}

TEST_F(SnapshotBatcherTest, CallersPastTheLimitShareOneWholeNodeReadStartedAfterThem) {
  const Rounds rounds = RunTwoWholeNodeRounds([] {});
  ASSERT_OK(rounds.lead.status());
  for (const Result& result : rounds.followers) {
    ASSERT_OK(result.status());
    EXPECT_EQ((*result)->pods().size(), static_cast<size_t>(kPods));
    // One read for all of them, and not the one running when they arrived.
    EXPECT_EQ(result->get(), rounds.followers[0]->get());
    EXPECT_NE(result->get(), rounds.lead->get());
  }
  EXPECT_EQ(runtime_.CallCount("ListPodSandbox"), 2);
  EXPECT_EQ(runtime_.CallCount("ListContainers"), 2);
  const SnapshotBatcher::Stats stats = batcher_.stats();
  EXPECT_EQ(stats.callers, 2 + kFollowers);
  EXPECT_EQ(stats.targeted, 1);
  EXPECT_EQ(stats.whole_node, 2);
}

TEST_F(SnapshotBatcherTest, AnErrorIsSharedByItsRoundAndTheNextReadTriesAgain) {
  const Rounds rounds = RunTwoWholeNodeRounds([this] {
    runtime_.InjectError("ListPodSandbox", absl::UnavailableError("runtime restarting"));
  });
  ASSERT_OK(rounds.lead.status());
  for (const Result& result : rounds.followers) {
    EXPECT_THAT(result.status(), StatusIs(absl::StatusCode::kUnavailable));
  }
  runtime_.SetLatency("ListPodSandbox", absl::ZeroDuration());
  Result later = batcher_.Read([&] { return TakeSnapshot(runtime_); });
  ASSERT_OK(later.status());
  EXPECT_EQ((*later)->pods().size(), static_cast<size_t>(kPods));
}

}  // namespace
}  // namespace inplaced::cri
