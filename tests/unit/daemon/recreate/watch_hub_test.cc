#include "daemon/recreate/watch_hub.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/each_of.h"
#include "tests/support/status_matchers.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::EachOf;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;

api::RecreateRequest Request(const std::string& ns, const std::string& name, const std::string& pod,
                             uint64_t resource_version, const std::string& uid = "uid-1") {
  api::RecreateRequest request;
  request.mutable_metadata()->set_namespace_(ns);
  request.mutable_metadata()->set_name(name);
  request.mutable_metadata()->set_uid(uid);
  request.mutable_metadata()->set_resource_version(resource_version);
  request.mutable_spec()->set_pod_name(pod);
  return request;
}

// "TYPE ns/name@rv" per event, "SYNCED" for SYNCED: compact and readable in failure messages.
std::string Describe(const api::WatchRecreateRequestsResponse& event) {
  if (event.type() == api::WATCH_EVENT_TYPE_SYNCED) return "SYNCED";
  std::string type = api::WatchEventType_Name(event.type()).substr(sizeof("WATCH_EVENT_TYPE_") - 1);
  const api::RecreateMetadata& m = event.recreate_request().metadata();
  return type + " " + m.namespace_() + "/" + m.name() + "@" + std::to_string(m.resource_version());
}

// Reads exactly `n` events (the watch must have them queued, or this blocks).
std::vector<std::string> Take(RecreateWatch& watch, int n) {
  std::vector<std::string> events;
  for (int i = 0; i < n; ++i) {
    api::WatchRecreateRequestsResponse event;
    if (!watch.Next(&event)) {
      events.push_back("<ended>");
      break;
    }
    events.push_back(Describe(event));
  }
  return events;
}

// Drains what is queued now: publishes a sentinel into the default namespace and reads until it.
// Only usable with watches whose filter matches the sentinel.
std::vector<std::string> Drain(WatchHub& hub, RecreateWatch& watch) {
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("zz-sentinel", "end", "end", 999));
  std::vector<std::string> events;
  api::WatchRecreateRequestsResponse event;
  while (watch.Next(&event)) {
    if (event.recreate_request().metadata().namespace_() == "zz-sentinel") return events;
    events.push_back(Describe(event));
  }
  events.push_back("<ended>");
  return events;
}

TEST(WatchHubTest, InitialStateIsAddedPerMatchingRequestThenSynced) {
  WatchHub hub;
  api::WatchRecreateRequestsRequest filter;
  filter.set_namespace_("ns");
  auto watch = hub.Subscribe(filter, EachOf<api::RecreateRequest>({Request("ns", "a", "p", 1),
                                                                   Request("other", "b", "p", 2),
                                                                   Request("ns", "c", "q", 3)}));
  EXPECT_THAT(Take(*watch, 3), ElementsAre("ADDED ns/a@1", "ADDED ns/c@3", "SYNCED"));
}

TEST(WatchHubTest, SyncedIsSentEvenWithoutInitialRequests) {
  WatchHub hub;
  auto watch = hub.Subscribe({}, nullptr);
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "p", 1));
  EXPECT_THAT(Take(*watch, 2), ElementsAre("SYNCED", "ADDED ns/a@1"));
}

TEST(WatchHubTest, SkipInitialStateSendsOnlyLaterChanges) {
  WatchHub hub;
  api::WatchRecreateRequestsRequest filter;
  filter.set_skip_initial_state(true);
  auto watch = hub.Subscribe(filter, EachOf<api::RecreateRequest>({Request("ns", "a", "p", 1)}));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 2));
  EXPECT_THAT(Drain(hub, *watch), ElementsAre("MODIFIED ns/a@2"));
}

TEST(WatchHubTest, FansOutEveryChangeToEverySubscriber) {
  WatchHub hub;
  api::WatchRecreateRequestsRequest filter;
  filter.set_skip_initial_state(true);
  auto first = hub.Subscribe(filter, nullptr);
  auto second = hub.Subscribe(filter, nullptr);
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "p", 1));
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "b", "p", 2));
  EXPECT_THAT(Drain(hub, *first), ElementsAre("ADDED ns/a@1", "ADDED ns/b@2"));
  EXPECT_THAT(Drain(hub, *second), ElementsAre("ADDED ns/a@1", "ADDED ns/b@2"));
  EXPECT_EQ(hub.ActiveWatches(), 2);
}

TEST(WatchHubTest, FiltersByNamespacePodAndName) {
  struct Case {
    std::string description;
    std::string ns, pod, name;
    bool matches;
  };
  const api::RecreateRequest request = Request("ns", "req", "pod", 1);
  const std::vector<Case> cases = {
      {"no filter", "", "", "", true},
      {"same namespace", "ns", "", "", true},
      {"other namespace", "other", "", "", false},
      {"same pod", "", "pod", "", true},
      {"other pod", "", "pod2", "", false},
      {"same name", "", "", "req", true},
      {"other name", "", "", "req2", false},
      {"all three match", "ns", "pod", "req", true},
      {"name matches, namespace does not", "other", "pod", "req", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::WatchRecreateRequestsRequest filter;
    filter.set_namespace_(c.ns);
    filter.set_pod_name(c.pod);
    filter.set_name(c.name);
    EXPECT_EQ(MatchesWatchFilter(filter, request), c.matches);

    // The same filter applied to the initial state: the first event is the request's ADDED or
    // SYNCED.
    WatchHub hub;
    auto watch = hub.Subscribe(filter, EachOf<api::RecreateRequest>({request}));
    EXPECT_THAT(Take(*watch, 1), ElementsAre(c.matches ? "ADDED ns/req@1" : "SYNCED"));
  }
}

TEST(WatchHubTest, PublishDeliversOnlyToMatchingSubscribers) {
  WatchHub hub;
  api::WatchRecreateRequestsRequest by_pod;
  by_pod.set_pod_name("pod-b");
  by_pod.set_skip_initial_state(true);
  api::WatchRecreateRequestsRequest all;
  all.set_skip_initial_state(true);
  auto pod_watch = hub.Subscribe(by_pod, nullptr);
  auto all_watch = hub.Subscribe(all, nullptr);
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "pod-a", 1));
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "b", "pod-b", 2));
  EXPECT_THAT(Take(*pod_watch, 1), ElementsAre("ADDED ns/b@2"));
  EXPECT_THAT(Drain(hub, *all_watch), ElementsAre("ADDED ns/a@1", "ADDED ns/b@2"));
}

TEST(WatchHubTest, SlowReaderGetsOnlyTheLatestStateOfARequest) {
  WatchHub hub;
  auto watch = hub.Subscribe({}, EachOf<api::RecreateRequest>({Request("ns", "a", "p", 1)}));
  EXPECT_THAT(Take(*watch, 2), ElementsAre("ADDED ns/a@1", "SYNCED"));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 2));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "b", "p", 3));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 4));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 5));
  // a keeps the position of its oldest undelivered event, with its latest state.
  EXPECT_THAT(Drain(hub, *watch), ElementsAre("MODIFIED ns/a@5", "MODIFIED ns/b@3"));
}

TEST(WatchHubTest, UndeliveredInitialAddedStaysAddedWithTheLatestState) {
  WatchHub hub;
  auto watch = hub.Subscribe({}, EachOf<api::RecreateRequest>({Request("ns", "a", "p", 1)}));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 2));
  EXPECT_THAT(Drain(hub, *watch), ElementsAre("ADDED ns/a@2", "SYNCED"));
}

TEST(WatchHubTest, DeletedSurvivesCoalescingAndARecreateQueuesBehindIt) {
  WatchHub hub;
  auto watch = hub.Subscribe({}, nullptr);
  EXPECT_THAT(Take(*watch, 1), ElementsAre("SYNCED"));
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "p", 1));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 2));
  hub.Publish(api::WATCH_EVENT_TYPE_DELETED, Request("ns", "a", "p", 2));
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "p", 3, "uid-2"));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 4, "uid-2"));
  EXPECT_THAT(Drain(hub, *watch), ElementsAre("DELETED ns/a@2", "ADDED ns/a@4"));
}

TEST(WatchHubTest, EventsAfterADeliveredOneAreQueuedAgain) {
  WatchHub hub;
  auto watch = hub.Subscribe({}, nullptr);
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "p", 1));
  EXPECT_THAT(Take(*watch, 2), ElementsAre("SYNCED", "ADDED ns/a@1"));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 2));
  EXPECT_THAT(Take(*watch, 1), ElementsAre("MODIFIED ns/a@2"));
  hub.Publish(api::WATCH_EVENT_TYPE_MODIFIED, Request("ns", "a", "p", 3));
  hub.Publish(api::WATCH_EVENT_TYPE_DELETED, Request("ns", "a", "p", 3));
  EXPECT_THAT(Drain(hub, *watch), ElementsAre("DELETED ns/a@3"));
}

TEST(WatchHubTest, ShutdownEndsWatchesWithUnavailable) {
  WatchHub hub;
  auto watch = hub.Subscribe({}, EachOf<api::RecreateRequest>({Request("ns", "a", "p", 1)}));
  hub.Shutdown();
  api::WatchRecreateRequestsResponse event;
  EXPECT_FALSE(watch->Next(&event));
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(hub.ActiveWatches(), 0);
}

TEST(WatchHubTest, SubscribeAfterShutdownReturnsAnEndedWatch) {
  WatchHub hub;
  hub.Shutdown();
  auto watch = hub.Subscribe({}, EachOf<api::RecreateRequest>({Request("ns", "a", "p", 1)}));
  api::WatchRecreateRequestsResponse event;
  EXPECT_FALSE(watch->Next(&event));
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WatchHubTest, CancelEndsWithOkAndLaterShutdownKeepsIt) {
  WatchHub hub;
  auto watch = hub.Subscribe({}, nullptr);
  watch->Cancel();
  watch->Cancel();  // idempotent
  hub.Shutdown();
  api::WatchRecreateRequestsResponse event;
  EXPECT_FALSE(watch->Next(&event));
  EXPECT_THAT(watch->Status(), IsOk());
}

TEST(WatchHubTest, CancelFromAnotherThreadUnblocksNext) {
  WatchHub hub;
  api::WatchRecreateRequestsRequest filter;
  filter.set_skip_initial_state(true);
  auto watch = hub.Subscribe(filter, nullptr);
  bool got_event = true;
  std::thread reader([&] {
    api::WatchRecreateRequestsResponse event;
    got_event = watch->Next(&event);  // nothing is ever published: only Cancel ends this
  });
  watch->Cancel();
  reader.join();
  EXPECT_FALSE(got_event);
  EXPECT_THAT(watch->Status(), IsOk());
}

TEST(WatchHubTest, ShutdownFromAnotherThreadUnblocksNext) {
  WatchHub hub;
  api::WatchRecreateRequestsRequest filter;
  filter.set_skip_initial_state(true);
  auto watch = hub.Subscribe(filter, nullptr);
  bool got_event = true;
  std::thread reader([&] {
    api::WatchRecreateRequestsResponse event;
    got_event = watch->Next(&event);
  });
  hub.Shutdown();
  reader.join();
  EXPECT_FALSE(got_event);
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(WatchHubTest, BlockedReaderReceivesAnEventPublishedFromAnotherThread) {
  WatchHub hub;
  api::WatchRecreateRequestsRequest filter;
  filter.set_skip_initial_state(true);
  auto watch = hub.Subscribe(filter, nullptr);
  std::string received;
  std::thread reader([&] {
    api::WatchRecreateRequestsResponse event;
    if (watch->Next(&event)) received = Describe(event);
  });
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "p", 7));
  reader.join();
  EXPECT_EQ(received, "ADDED ns/a@7");
}

TEST(WatchHubTest, DestroyedWatchIsForgotten) {
  WatchHub hub;
  auto kept = hub.Subscribe({}, nullptr);
  {
    auto dropped = hub.Subscribe({}, nullptr);
    EXPECT_EQ(hub.ActiveWatches(), 2);
  }
  hub.Publish(api::WATCH_EVENT_TYPE_ADDED, Request("ns", "a", "p", 1));
  EXPECT_EQ(hub.ActiveWatches(), 1);
}

TEST(WatchHubTest, WatchOutlivingTheHubEndsUnavailable) {
  std::unique_ptr<RecreateWatch> watch;
  {
    WatchHub hub;
    watch = hub.Subscribe({}, nullptr);
  }
  api::WatchRecreateRequestsResponse event;
  EXPECT_FALSE(watch->Next(&event));
  EXPECT_THAT(watch->Status(), StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace inplaced::daemon
