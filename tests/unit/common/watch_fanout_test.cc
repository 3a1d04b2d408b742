#include "common/watch_fanout.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/each_of.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

using ::inplaced::testing::EachOf;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;

struct Item {
  std::string key;
  std::string group;
  int version = 0;
};

Item MakeItem(std::string key, int version, std::string group = "a") {
  return Item{std::move(key), std::move(group), version};
}

WatchFanout<Item>::KeyFn ByKey() {
  return [](const Item& item) { return item.key; };
}

std::string Describe(const WatchEvent<Item>& event) {
  switch (event.kind) {
    case WatchEventKind::kAdded:
      return absl::StrCat("ADDED ", event.object->key, "@", event.object->version);
    case WatchEventKind::kModified:
      return absl::StrCat("MODIFIED ", event.object->key, "@", event.object->version);
    case WatchEventKind::kDeleted:
      return absl::StrCat("DELETED ", event.object->key, "@", event.object->version);
    case WatchEventKind::kSynced:
      return "SYNCED";
  }
  return "?";
}

// Reads what is queued now: a final SYNCED marker published on a private key ends the read.
std::vector<std::string> Drain(WatchFanout<Item>& fanout, Watch<Item>& watch) {
  fanout.Publish(WatchEventKind::kModified, MakeItem("~end", 0, "*"));
  std::vector<std::string> seen;
  WatchEvent<Item> event;
  while (watch.Next(&event)) {
    if (event.object != nullptr && event.object->key == "~end") break;
    seen.push_back(Describe(event));
  }
  return seen;
}

// A filter that also lets the drain marker through.
WatchFanout<Item>::Filter GroupOrMarker(std::string group) {
  return [group](const Item& item) { return item.group == group || item.group == "*"; };
}

TEST(WatchFanoutTest, InitialObjectsPassingTheFilterAreAddedThenSynced) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(
      GroupOrMarker("a"), EachOf<Item>({MakeItem("x", 1), MakeItem("y", 1, "b"), MakeItem("z", 2)}),
      true);
  EXPECT_THAT(Drain(fanout, *watch), ElementsAre("ADDED x@1", "ADDED z@2", "SYNCED"));
}

TEST(WatchFanoutTest, WithoutSyncedTheInitialStateHasNoMarker) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1)}), false);
  EXPECT_THAT(Drain(fanout, *watch), ElementsAre("ADDED x@1"));
}

TEST(WatchFanoutTest, EverySubscriberGetsTheChangesItsFilterPasses) {
  WatchFanout<Item> fanout(ByKey());
  auto group_a = fanout.Subscribe(GroupOrMarker("a"), nullptr, false);
  auto group_b = fanout.Subscribe(GroupOrMarker("b"), nullptr, false);
  auto everything = fanout.Subscribe(nullptr, nullptr, false);
  fanout.Publish(WatchEventKind::kAdded, MakeItem("x", 1, "a"));
  fanout.Publish(WatchEventKind::kAdded, MakeItem("y", 1, "b"));
  EXPECT_THAT(Drain(fanout, *group_a), ElementsAre("ADDED x@1"));
  EXPECT_THAT(Drain(fanout, *group_b), ElementsAre("ADDED y@1"));
  EXPECT_THAT(Drain(fanout, *everything), ElementsAre("ADDED x@1", "ADDED y@1"));
}

TEST(WatchFanoutTest, SubscribersShareOneCopyOfAPublishedObject) {
  WatchFanout<Item> fanout(ByKey());
  auto first = fanout.Subscribe(nullptr, nullptr, false);
  auto second = fanout.Subscribe(nullptr, nullptr, false);
  fanout.Publish(WatchEventKind::kAdded, MakeItem("x", 1));
  WatchEvent<Item> a;
  WatchEvent<Item> b;
  ASSERT_TRUE(first->Next(&a));
  ASSERT_TRUE(second->Next(&b));
  EXPECT_EQ(a.object.get(), b.object.get());
}

TEST(WatchFanoutTest, SlowReaderGetsTheLatestStateAtTheOldestPosition) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1), MakeItem("y", 1)}), true);
  fanout.Publish(WatchEventKind::kModified, MakeItem("y", 2));
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 2));
  fanout.Publish(WatchEventKind::kModified, MakeItem("y", 3));
  // x and y are still undelivered ADDEDs: they stay ADDED, with their newest state.
  EXPECT_THAT(Drain(fanout, *watch), ElementsAre("ADDED x@2", "ADDED y@3", "SYNCED"));
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 3));
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 4));
  EXPECT_THAT(Drain(fanout, *watch), ElementsAre("MODIFIED x@4"));
}

TEST(WatchFanoutTest, DeletedReplacesThePendingEventAndALaterAddedQueuesBehindIt) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1)}), false);
  ASSERT_THAT(Drain(fanout, *watch), ElementsAre("ADDED x@1"));
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 2));
  fanout.Publish(WatchEventKind::kDeleted, MakeItem("x", 3));
  fanout.Publish(WatchEventKind::kAdded, MakeItem("x", 1));
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 2));
  EXPECT_THAT(Drain(fanout, *watch), ElementsAre("DELETED x@3", "ADDED x@2"));
}

TEST(WatchFanoutTest, OneKeyHoldsOnlyTheNewestUndeliveredState) {
  // The NodeImage shape: one object, one key.
  WatchFanout<Item> fanout([](const Item&) { return std::string("node"); });
  auto watch = fanout.Subscribe(nullptr, nullptr, false);
  for (int version = 1; version <= 50; ++version) {
    fanout.Publish(WatchEventKind::kModified, MakeItem("node", version));
  }
  WatchEvent<Item> event;
  ASSERT_TRUE(watch->Next(&event));
  EXPECT_EQ(event.object->version, 50);
  fanout.Shutdown();
  EXPECT_FALSE(watch->Next(&event));
}

TEST(WatchFanoutTest, ShutdownEndsOpenWatchesWithUnavailable) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1)}), true);
  WatchEvent<Item> event;
  bool next = true;
  std::thread reader([&] {
    while (watch->Next(&event)) {
    }
    next = false;
  });
  fanout.Shutdown();
  reader.join();
  EXPECT_FALSE(next);
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(fanout.ActiveWatches(), 0);
}

TEST(WatchFanoutTest, SubscribeAfterShutdownGivesAnEndedWatch) {
  WatchFanout<Item> fanout(ByKey());
  fanout.Shutdown();
  auto watch = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1)}), true);
  WatchEvent<Item> event;
  EXPECT_FALSE(watch->Next(&event));
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WatchFanoutTest, CancelEndsABlockedNextWithOk) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, nullptr, false);
  std::thread reader([&] {
    WatchEvent<Item> event;
    EXPECT_FALSE(watch->Next(&event));
  });
  watch->Cancel();
  reader.join();
  EXPECT_THAT(watch->Status(), IsOk());
  EXPECT_EQ(fanout.ActiveWatches(), 0);
}

TEST(WatchFanoutTest, DroppedWatchIsForgotten) {
  WatchFanout<Item> fanout(ByKey());
  auto kept = fanout.Subscribe(nullptr, nullptr, false);
  { auto dropped = fanout.Subscribe(nullptr, nullptr, false); }
  EXPECT_EQ(fanout.ActiveWatches(), 1);
  fanout.Publish(WatchEventKind::kAdded, MakeItem("x", 1));  // must not touch the dropped one
  EXPECT_THAT(Drain(fanout, *kept), ElementsAre("ADDED x@1"));
}

TEST(WatchFanoutTest, WatchOutlivesTheFanout) {
  std::unique_ptr<Watch<Item>> watch;
  {
    WatchFanout<Item> fanout(ByKey());
    watch = fanout.Subscribe(nullptr, nullptr, false);
  }
  WatchEvent<Item> event;
  EXPECT_FALSE(watch->Next(&event));
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WatchFanoutTest, TryNextTakesWhatIsQueuedWithoutBlocking) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1)}), true);
  WatchEvent<Item> event;
  ASSERT_EQ(watch->TryNext(&event), WatchPoll::kEvent);
  EXPECT_EQ(Describe(event), "ADDED x@1");
  ASSERT_EQ(watch->TryNext(&event), WatchPoll::kEvent);
  EXPECT_EQ(Describe(event), "SYNCED");
  EXPECT_EQ(watch->TryNext(&event), WatchPoll::kEmpty);
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 2));
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 3));
  ASSERT_EQ(watch->TryNext(&event), WatchPoll::kEvent);
  EXPECT_EQ(Describe(event), "MODIFIED x@3");  // coalesced as for Next()
  EXPECT_EQ(watch->TryNext(&event), WatchPoll::kEmpty);
  watch->Cancel();
  EXPECT_EQ(watch->TryNext(&event), WatchPoll::kEnded);
  EXPECT_THAT(watch->Status(), IsOk());
}

TEST(WatchFanoutTest, ReadyCallbackRunsWhenTheQueueTurnsNonEmpty) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, nullptr, false);
  int calls = 0;
  watch->SetReadyCallback([&calls] { ++calls; });
  EXPECT_EQ(calls, 0);  // nothing queued at registration
  fanout.Publish(WatchEventKind::kAdded, MakeItem("x", 1));
  EXPECT_EQ(calls, 1);
  // Still non-empty: neither a new key nor a coalesced change calls again.
  fanout.Publish(WatchEventKind::kAdded, MakeItem("y", 1));
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 2));
  EXPECT_EQ(calls, 1);
  WatchEvent<Item> event;
  while (watch->TryNext(&event) == WatchPoll::kEvent) {
  }
  fanout.Publish(WatchEventKind::kModified, MakeItem("x", 3));
  EXPECT_EQ(calls, 2);
}

TEST(WatchFanoutTest, ReadyCallbackRunsAtRegistrationWhenSomethingIsQueued) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1)}), true);
  int calls = 0;
  watch->SetReadyCallback([&calls] { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(WatchFanoutTest, ReadyCallbackRunsWhenTheWatchEnds) {
  WatchFanout<Item> fanout(ByKey());
  auto cancelled = fanout.Subscribe(nullptr, nullptr, false);
  auto shut_down = fanout.Subscribe(nullptr, EachOf<Item>({MakeItem("x", 1)}), false);
  int cancelled_calls = 0;
  int shut_down_calls = 0;
  cancelled->SetReadyCallback([&] { ++cancelled_calls; });
  shut_down->SetReadyCallback([&] { ++shut_down_calls; });
  ASSERT_EQ(shut_down_calls, 1);  // x@1 queued
  cancelled->Cancel();
  cancelled->Cancel();  // idempotent: ends once, tells once
  EXPECT_EQ(cancelled_calls, 1);
  fanout.Shutdown();
  EXPECT_EQ(shut_down_calls, 2);
  WatchEvent<Item> event;
  EXPECT_EQ(shut_down->TryNext(&event), WatchPoll::kEnded);  // the undelivered x@1 is dropped
  EXPECT_THAT(shut_down->Status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WatchFanoutTest, ReadyCallbackOnAnEndedWatchRunsAtRegistration) {
  WatchFanout<Item> fanout(ByKey());
  fanout.Shutdown();
  auto watch = fanout.Subscribe(nullptr, nullptr, false);
  int calls = 0;
  watch->SetReadyCallback([&calls] { ++calls; });
  EXPECT_EQ(calls, 1);
}

// The callback API's reader: the callback takes the reader's own lock and drains with TryNext (as
// does a second thread, like a stream's write-done reaction). The callback runs outside the watch's
// lock, so this cannot deadlock; the reader sees every change in order and never misses the last.
TEST(WatchFanoutTest, ReadyCallbackMayReadTheWatchWhilePublishersRunElsewhere) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, nullptr, false);
  absl::Mutex mu;
  std::vector<int> versions;  // of x, as read
  bool ended = false;
  Watch<Item>* raw = watch.get();
  auto drain = [&] {
    absl::MutexLock lock(&mu);
    WatchEvent<Item> event;
    while (true) {
      const WatchPoll poll = raw->TryNext(&event);
      if (poll == WatchPoll::kEmpty) return false;
      if (poll == WatchPoll::kEnded) {
        ended = true;
        return true;
      }
      versions.push_back(event.object->version);
    }
  };
  watch->SetReadyCallback([&] { drain(); });
  std::thread reader([&] {
    while (!drain()) std::this_thread::yield();
  });
  constexpr int kVersions = 2000;
  std::thread publisher([&] {
    for (int version = 1; version <= kVersions; ++version) {
      fanout.Publish(WatchEventKind::kModified, MakeItem("x", version));
    }
  });
  publisher.join();
  // Everything published has been read: no lost wake-up, whoever drained last.
  {
    absl::MutexLock lock(&mu);
    ASSERT_FALSE(versions.empty());
    EXPECT_EQ(versions.back(), kVersions);
  }
  fanout.Shutdown();
  reader.join();
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(ended);
  // Coalescing may skip versions, never reorder them.
  for (size_t i = 1; i < versions.size(); ++i) EXPECT_LT(versions[i - 1], versions[i]);
}

TEST(WatchFanoutTest, ReadyCallbackMayCancelItsOwnWatch) {
  WatchFanout<Item> fanout(ByKey());
  auto watch = fanout.Subscribe(nullptr, nullptr, false);
  Watch<Item>* raw = watch.get();
  std::atomic<int> calls{0};
  watch->SetReadyCallback([&] {
    ++calls;
    raw->Cancel();  // re-enters End(), which runs this callback again: no lock is held
  });
  fanout.Publish(WatchEventKind::kAdded, MakeItem("x", 1));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(fanout.ActiveWatches(), 0);
}

}  // namespace
}  // namespace inplaced
