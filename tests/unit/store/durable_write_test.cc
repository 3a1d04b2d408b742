#include "store/durable_write.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/flaky_store.h"
#include "tests/support/status_matchers.h"

namespace inplaced::store {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Continuations' calls, in order, from whichever thread ran them.
struct Calls {
  absl::Mutex mu;
  std::vector<std::string> seen ABSL_GUARDED_BY(mu);

  std::function<void(absl::Status)> Record(std::string name) {
    return [this, name](const absl::Status& status) {
      absl::MutexLock lock(&mu);
      seen.push_back(name + (status.ok() ? " ok" : " " + absl::StatusCodeToString(status.code())));
    };
  }
  std::vector<std::string> Seen() {
    absl::MutexLock lock(&mu);
    return seen;
  }
};

TEST(DurableWriteTest, NothingQueuedCountsAsDurable) {
  Calls calls;
  WhenDurable(nullptr, calls.Record("next"));
  EXPECT_THAT(calls.Seen(), ElementsAre("next ok"));
  EXPECT_THAT(AwaitDurable(nullptr, absl::ZeroDuration()), IsOk());
}

TEST(DurableWriteTest, ContinuationsWaitForTheWriteAndRunInOrderLaterOnesAtOnce) {
  auto write = std::make_shared<DurableWrite>();
  Calls calls;
  WhenDurable(write, calls.Record("first"));
  WhenDurable(write, calls.Record("second"));
  EXPECT_THAT(calls.Seen(), ElementsAre());
  write->Finish(absl::OkStatus());
  EXPECT_THAT(calls.Seen(), ElementsAre("first ok", "second ok"));
  WhenDurable(write, calls.Record("after"));
  EXPECT_THAT(calls.Seen(), ElementsAre("first ok", "second ok", "after ok"));
  EXPECT_THAT(AwaitDurable(write, absl::ZeroDuration()), IsOk());
}

TEST(DurableWriteTest, AWriteThatIsNotDurableInTimeAnswersUnavailableAndItsFailureIsPassedOn) {
  auto write = std::make_shared<DurableWrite>();
  EXPECT_THAT(AwaitDurable(write, absl::Milliseconds(10)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("it is retried")));
  Calls calls;
  WhenDurable(write, calls.Record("next"));
  write->Finish(absl::UnavailableError("abandoned"));
  EXPECT_THAT(calls.Seen(), ElementsAre("next UNAVAILABLE"));
  EXPECT_THAT(AwaitDurable(write, absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("abandoned")));
}

TEST(DurableWriteTest, SubmitDurableFinishesWithTheCommittersResult) {
  fakes::FlakyStore store;
  GroupCommitter committer(store);
  DurableRef created = SubmitDurable(committer, Write::Create("k", "a", "v"), "test_write_failed");
  // The same key again: refused by the store, and only this write fails.
  DurableRef refused = SubmitDurable(committer, Write::Create("k", "a", "v"), "test_write_failed");
  EXPECT_THAT(AwaitDurable(created, absl::Seconds(30)), IsOk());
  EXPECT_THAT(AwaitDurable(refused, absl::Seconds(30)), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store.Get("k", "a"), IsOk());
}

TEST(DurableWriteTest, WhenDurableWithinPassesOnTheOutcomeOfAWriteDoneInTime) {
  TimerQueue timers;
  Calls calls;
  WhenDurableWithin(nullptr, absl::Hours(1), timers, calls.Record("nothing queued"));
  auto write = std::make_shared<DurableWrite>();
  WhenDurableWithin(write, absl::Hours(1), timers, calls.Record("ok"));
  auto refused = std::make_shared<DurableWrite>();
  WhenDurableWithin(refused, absl::Hours(1), timers, calls.Record("refused"));
  EXPECT_THAT(calls.Seen(), ElementsAre("nothing queued ok"));
  EXPECT_EQ(timers.Pending(), 2u);
  write->Finish(absl::OkStatus());
  refused->Finish(absl::AlreadyExistsError("exists"));
  EXPECT_THAT(calls.Seen(), ElementsAre("nothing queued ok", "ok ok", "refused ALREADY_EXISTS"));
  EXPECT_EQ(timers.Pending(), 0u) << "a bound whose write is done is cancelled";
  // A write already done answers at once.
  WhenDurableWithin(write, absl::Hours(1), timers, calls.Record("done before"));
  EXPECT_EQ(calls.Seen().back(), "done before ok");
  EXPECT_EQ(timers.Pending(), 0u);
}

TEST(DurableWriteTest, WhenDurableWithinAnswersUnavailableOnceAtTheBoundAndTheWriteStaysQueued) {
  TimerQueue timers;
  auto write = std::make_shared<DurableWrite>();
  absl::Mutex mu;
  std::vector<absl::Status> outcomes;
  WhenDurableWithin(write, absl::Milliseconds(10), timers, [&](absl::Status status) {
    absl::MutexLock lock(&mu);
    outcomes.push_back(std::move(status));
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<absl::Status>* o) { return !o->empty(); }, &outcomes));
  }
  // Then the write is done after all (the committer kept it): nothing more is passed on.
  Calls calls;
  WhenDurable(write, calls.Record("side effect"));
  write->Finish(absl::OkStatus());
  EXPECT_THAT(calls.Seen(), ElementsAre("side effect ok"));
  absl::MutexLock lock(&mu);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_THAT(outcomes[0], StatusIs(absl::StatusCode::kUnavailable, HasSubstr("it is retried")));
}

}  // namespace
}  // namespace inplaced::store
