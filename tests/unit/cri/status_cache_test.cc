#include "cri/status_cache.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cri {
namespace {

class StatusCacheTest : public ::testing::Test {
 protected:
  StatusCacheTest() : runtime_(clock_) { runtime_.AddPods(3, 1); }

  // A fresh snapshot (as every tick takes) and the ids of its running containers.
  NodeSnapshot Snapshot(std::vector<std::string>* ids) {
    absl::StatusOr<NodeSnapshot> snapshot = TakeSnapshot(runtime_);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    ids->clear();
    for (const PodInfo& pod : snapshot->pods()) ids->push_back(pod.CurrentContainer("c0")->id);
    return *std::move(snapshot);
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_;
  StatusCache cache_;
};

TEST_F(StatusCacheTest, AsksOncePerRunningInstanceAndFillsTheRestFromMemory) {
  std::vector<std::string> ids;
  NodeSnapshot first = Snapshot(&ids);
  runtime_.ClearCalls();
  ASSERT_OK(cache_.Fill(runtime_, ids, &first));
  EXPECT_EQ(runtime_.CallCount("ContainerStatus"), 3);
  const int64_t started_at = first.FindContainer(ids[0])->started_at;
  EXPECT_GT(started_at, 0);

  NodeSnapshot second = Snapshot(&ids);
  runtime_.ClearCalls();
  ASSERT_OK(cache_.Fill(runtime_, ids, &second));
  EXPECT_EQ(runtime_.CallCount("ContainerStatus"), 0);
  EXPECT_TRUE(second.FindContainer(ids[0])->has_status);
  EXPECT_EQ(second.FindContainer(ids[0])->started_at, started_at);
}

TEST_F(StatusCacheTest, AnInstanceThatExitedIsAskedAgain) {
  std::vector<std::string> ids;
  NodeSnapshot first = Snapshot(&ids);
  ASSERT_OK(cache_.Fill(runtime_, ids, &first));
  ASSERT_OK(runtime_.ExitContainer(ids[0], 1));
  NodeSnapshot second = Snapshot(&ids);
  runtime_.ClearCalls();
  ASSERT_OK(cache_.Fill(runtime_, ids, &second));
  EXPECT_EQ(runtime_.CallCount("ContainerStatus"), 1);
  EXPECT_NE(second.FindContainer(ids[0])->finished_at, 0);
}

TEST_F(StatusCacheTest, KeepsOnlyTheInstancesOfTheLastFill) {
  std::vector<std::string> ids;
  NodeSnapshot first = Snapshot(&ids);
  ASSERT_OK(cache_.Fill(runtime_, ids, &first));
  EXPECT_EQ(cache_.size(), 3u);
  NodeSnapshot second = Snapshot(&ids);
  ASSERT_OK(cache_.Fill(runtime_, {ids[1]}, &second));
  EXPECT_EQ(cache_.size(), 1u);
}

}  // namespace
}  // namespace inplaced::cri
