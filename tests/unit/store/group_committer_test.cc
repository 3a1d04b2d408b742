#include "store/group_committer.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/flaky_store.h"
#include "tests/fakes/memory_store.h"
#include "tests/support/status_matchers.h"

namespace inplaced::store {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;

// Records every callback in the order the committer ran them.
struct Recorder {
  absl::Mutex mu;
  std::vector<std::string> calls ABSL_GUARDED_BY(mu);

  GroupCommitter::Done Record(std::string name) {
    return [this, name](const WriteResult& result) {
      absl::MutexLock lock(&mu);
      calls.push_back(absl::StrCat(
          name, result.ok() ? "=" : "!",
          result.ok() ? absl::StrCat(*result) : absl::StatusCodeToString(result.status().code())));
    };
  }
  std::vector<std::string> Calls() {
    absl::MutexLock lock(&mu);
    return calls;
  }
};

// A failing store is retried every few milliseconds, so tests wait little for its recovery.
constexpr GroupCommitterOptions kFastRetry{
    .max_batch = 1024, .retry_initial = absl::Milliseconds(1), .retry_max = absl::Milliseconds(5)};

TEST(GroupCommitterTest, CallbacksRunInSubmissionOrderAfterTheWriteIsInTheStore) {
  fakes::MemoryStore store;
  GroupCommitter committer(store);
  Recorder recorder;
  std::atomic<bool> seen_in_store{false};
  committer.Submit(Write::Create("recreate", "ns/a", "a1"), recorder.Record("create-a"));
  committer.Submit(Write::Update("recreate", "ns/a", "a2"), [&](const WriteResult& result) {
    // Durable (here: applied) before the callback runs.
    auto revision = store.CurrentRevision();
    seen_in_store = result.ok() && revision.ok() && *revision >= *result;
  });
  committer.Submit(Write::Update("recreate", "ns/missing", "x"), recorder.Record("update-missing"));
  committer.Submit(Write::Delete("recreate", "ns/a"), recorder.Record("delete-a"));
  committer.Flush();
  EXPECT_THAT(recorder.Calls(),
              ElementsAre("create-a=1", "update-missing!NOT_FOUND", "delete-a=3"));
  EXPECT_TRUE(seen_in_store);
}

TEST(GroupCommitterTest, WritesReadyTogetherShareOneBatch) {
  fakes::FlakyStore store;
  // Held back by a failing store, 200 writes queue up; once it recovers they go in few batches.
  store.fail_writes = true;
  GroupCommitter committer(store, kFastRetry);
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i) {
    committer.Submit(Write::Create("recreate", absl::StrCat("ns/r", i), "v"),
                     [&](const WriteResult& result) { ok += result.ok() ? 1 : 0; });
  }
  store.fail_writes = false;
  committer.Flush();
  EXPECT_EQ(ok.load(), 200);
  const GroupCommitter::Stats stats = committer.stats();
  EXPECT_EQ(stats.writes, 200);
  // The first batch may have been taken before the rest were queued: at most two.
  EXPECT_LE(stats.batches, 2);
  EXPECT_EQ(store.inner().batches(), stats.batches);
}

TEST(GroupCommitterTest, WritesSubmittedUnderAHoldGoInOneBatch) {
  fakes::FlakyStore store;
  GroupCommitter committer(store);
  for (int round = 0; round < 20; ++round) {
    const int64_t batches_before = committer.stats().batches;
    {
      GroupCommitter::Hold hold(committer);
      committer.Submit(Write::Create("recreate", absl::StrCat("ns/r", round), "created"), nullptr);
      // Without the hold the idle committer would take the first write alone by now.
      absl::SleepFor(absl::Milliseconds(1));
      committer.Submit(Write::Update("recreate", absl::StrCat("ns/r", round), "decided"), nullptr);
    }
    committer.Flush();
    EXPECT_EQ(committer.stats().batches, batches_before + 1) << "round " << round;
  }
  EXPECT_EQ(committer.stats().writes, 40);
}

TEST(GroupCommitterTest, MaxBatchBoundsOneTransaction) {
  fakes::FlakyStore store;
  store.fail_writes = true;
  GroupCommitter committer(store, {.max_batch = 10,
                                   .retry_initial = absl::Milliseconds(1),
                                   .retry_max = absl::Milliseconds(5)});
  for (int i = 0; i < 35; ++i) {
    committer.Submit(Write::Create("recreate", absl::StrCat("ns/r", i), "v"), nullptr);
  }
  store.fail_writes = false;
  committer.Flush();
  EXPECT_EQ(committer.stats().writes, 35);
  EXPECT_GE(committer.stats().batches, 4);
}

TEST(GroupCommitterTest, AFailingStoreHoldsBackLaterWritesUntilItRecovers) {
  fakes::FlakyStore store;
  store.fail_writes = true;
  GroupCommitter committer(store, kFastRetry);
  Recorder recorder;
  committer.Submit(Write::Create("recreate", "ns/a", "a1"), recorder.Record("a"));
  committer.Submit(Write::Create("recreate", "ns/b", "b1"), recorder.Record("b"));
  // Nothing is acted on while the store fails: no callback ran.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(recorder.Calls().empty());
  store.fail_writes = false;
  committer.Flush();
  EXPECT_THAT(recorder.Calls(), ElementsAre("a=1", "b=2"));
}

TEST(GroupCommitterTest, ShutdownAbandonsWhatAFailingStoreKeepsRefusingAfterTheBound) {
  fakes::FlakyStore store;
  store.fail_writes = true;
  GroupCommitter committer(store, kFastRetry);
  Recorder recorder;
  committer.Submit(Write::Create("recreate", "ns/a", "a1"), recorder.Record("a"));
  committer.Shutdown(absl::Milliseconds(20));
  EXPECT_THAT(recorder.Calls(), ElementsAre("a!UNAVAILABLE"));
  EXPECT_THAT(store.inner().Get("recreate", "ns/a"), StatusIs(absl::StatusCode::kNotFound));
  // After the shutdown: refused at once, on the caller's thread.
  committer.Submit(Write::Create("recreate", "ns/b", "b1"), recorder.Record("b"));
  EXPECT_THAT(recorder.Calls(), ElementsAre("a!UNAVAILABLE", "b!UNAVAILABLE"));
}

TEST(GroupCommitterTest, ShutdownWritesWhatIsQueued) {
  fakes::MemoryStore store;
  Recorder recorder;
  {
    GroupCommitter committer(store);
    for (int i = 0; i < 50; ++i) {
      committer.Submit(Write::Create("recreate", absl::StrCat("ns/r", i), "v"), nullptr);
    }
    committer.Submit(Write::Create("recreate", "ns/last", "v"), recorder.Record("last"));
  }  // the destructor shuts down
  EXPECT_THAT(recorder.Calls(), ElementsAre("last=51"));
  EXPECT_THAT(store.Count("recreate"), ::inplaced::testing::IsOk());
  EXPECT_EQ(*store.Count("recreate"), 51);
}

TEST(GroupCommitterTest, ACallbackMaySubmitTheNextStep) {
  fakes::MemoryStore store;
  GroupCommitter committer(store);
  absl::Notification second_done;
  committer.Submit(Write::Create("recreate", "ns/a", "step1"), [&](const WriteResult&) {
    committer.Submit(Write::Update("recreate", "ns/a", "step2"),
                     [&](const WriteResult&) { second_done.Notify(); });
  });
  ASSERT_TRUE(second_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(store.Get("recreate", "ns/a")->value, "step2");
}

TEST(GroupCommitterTest, ConcurrentSubmittersAreAllWrittenOnce) {
  fakes::MemoryStore store;
  GroupCommitter committer(store);
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        committer.Submit(Write::Create("recreate", absl::StrCat("ns/t", t, "-", i), "v"),
                         [&](const WriteResult& result) { done += result.ok() ? 1 : 0; });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  committer.Flush();
  EXPECT_EQ(done.load(), 400);
  EXPECT_EQ(*store.Count("recreate"), 400);
}

}  // namespace
}  // namespace inplaced::store
