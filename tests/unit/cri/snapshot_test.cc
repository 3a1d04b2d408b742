#include "cri/snapshot.h"

#include <map>
#include <string>
#include <vector>

#include "cri/kubelet_labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/cri/mock_runtime.h"

namespace inplaced::cri {
namespace {

using ::inplaced::cri::testing::MockRuntime;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Return;
using ::testing::StrictMock;

constexpr int64_t kSecond = 1'000'000'000;

struct SandboxSpec {
  SandboxSpec(std::string id, std::string ns, std::string name, std::string uid,
              uint32_t attempt = 0, criv1::PodSandboxState state = criv1::SANDBOX_READY,
              int64_t created_at = 0)
      : id(std::move(id)),
        ns(std::move(ns)),
        name(std::move(name)),
        uid(std::move(uid)),
        attempt(attempt),
        state(state),
        created_at(created_at) {}
  std::string id;
  std::string ns, name, uid;
  uint32_t attempt = 0;
  criv1::PodSandboxState state = criv1::SANDBOX_READY;
  int64_t created_at = 0;
  bool metadata = true;  // false: only kubelet's labels carry the pod identity
};

struct ContainerSpec {
  ContainerSpec(std::string id, std::string sandbox, std::string name, uint32_t attempt = 0,
                int64_t created_at = 0, criv1::ContainerState state = criv1::CONTAINER_RUNNING)
      : id(std::move(id)),
        sandbox(std::move(sandbox)),
        name(std::move(name)),
        attempt(attempt),
        created_at(created_at),
        state(state) {}
  std::string id;
  std::string sandbox;
  std::string name;
  uint32_t attempt = 0;
  int64_t created_at = 0;
  criv1::ContainerState state = criv1::CONTAINER_RUNNING;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string metadata_name;  // defaults to `name`
};

criv1::ListPodSandboxResponse Sandboxes(const std::vector<SandboxSpec>& specs) {
  criv1::ListPodSandboxResponse response;
  for (const SandboxSpec& s : specs) {
    criv1::PodSandbox* sandbox = response.add_items();
    sandbox->set_id(s.id);
    if (s.metadata) {
      sandbox->mutable_metadata()->set_name(s.name);
      sandbox->mutable_metadata()->set_namespace_(s.ns);
      sandbox->mutable_metadata()->set_uid(s.uid);
    }
    sandbox->mutable_metadata()->set_attempt(s.attempt);
    sandbox->set_state(s.state);
    sandbox->set_created_at(s.created_at);
    (*sandbox->mutable_labels())[std::string(kubelet::kPodName)] = s.name;
    (*sandbox->mutable_labels())[std::string(kubelet::kPodNamespace)] = s.ns;
    (*sandbox->mutable_labels())[std::string(kubelet::kPodUid)] = s.uid;
  }
  return response;
}

criv1::ListContainersResponse Containers(const std::vector<ContainerSpec>& specs) {
  criv1::ListContainersResponse response;
  for (const ContainerSpec& s : specs) {
    criv1::Container* container = response.add_containers();
    container->set_id(s.id);
    container->set_pod_sandbox_id(s.sandbox);
    container->mutable_metadata()->set_name(s.metadata_name.empty() ? s.name : s.metadata_name);
    container->mutable_metadata()->set_attempt(s.attempt);
    container->set_created_at(s.created_at);
    container->set_state(s.state);
    container->mutable_image()->set_image("sha256:img-" + s.id);
    container->set_image_ref("sha256:ref-" + s.id);
    for (const auto& [k, v] : s.labels) (*container->mutable_labels())[k] = v;
    if (!s.name.empty() && !s.labels.count(std::string(kubelet::kContainerName))) {
      (*container->mutable_labels())[std::string(kubelet::kContainerName)] = s.name;
    }
    for (const auto& [k, v] : s.annotations) (*container->mutable_annotations())[k] = v;
  }
  return response;
}

std::vector<std::string> Ids(absl::Span<const ContainerInfo> containers) {
  std::vector<std::string> ids;
  for (const ContainerInfo& c : containers) ids.push_back(c.id);
  return ids;
}

TEST(NodeSnapshotTest, IndexesPodsAndContainersEveryWay) {
  const NodeSnapshot snapshot = NodeSnapshot::FromLists(
      Sandboxes({{"sb1", "default", "web", "uid-1", 0, criv1::SANDBOX_READY, 10 * kSecond}}),
      Containers({{"c1", "sb1", "app", 0, 11 * kSecond}}));
  ASSERT_EQ(snapshot.pods().size(), 1u);
  const PodInfo* pod = snapshot.FindPod("default", "web");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->uid, "uid-1");
  EXPECT_EQ(pod->sandbox.id, "sb1");
  EXPECT_EQ(snapshot.FindPodByUid("uid-1"), pod);
  EXPECT_EQ(snapshot.FindPodBySandboxId("sb1"), pod);
  EXPECT_EQ(snapshot.FindPodOfContainer("c1"), pod);
  EXPECT_EQ(snapshot.FindPod("default", "other"), nullptr);
  EXPECT_EQ(snapshot.FindPod("other", "web"), nullptr);
  EXPECT_EQ(snapshot.FindPodByUid("nope"), nullptr);

  const ContainerInfo* app = pod->CurrentContainer("app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app, snapshot.FindContainer("c1"));
  EXPECT_EQ(app->name, "app");
  EXPECT_EQ(app->pod_sandbox_id, "sb1");
  EXPECT_EQ(app->state, criv1::CONTAINER_RUNNING);
  EXPECT_EQ(app->created_at, 11 * kSecond);
  EXPECT_EQ(app->image, "sha256:img-c1");
  EXPECT_EQ(app->image_ref, "sha256:ref-c1");
  EXPECT_FALSE(app->has_status);
  EXPECT_EQ(pod->CurrentContainer("sidecar"), nullptr);
  EXPECT_EQ(snapshot.container_count(), 1u);
}

TEST(NodeSnapshotTest, CurrentInstanceIsTheNewestCreatedAt) {
  // Listed out of order on purpose; attempt numbers disagree with creation order in the last case.
  const NodeSnapshot snapshot = NodeSnapshot::FromLists(
      Sandboxes({{"sb1", "ns", "p", "u", 0, criv1::SANDBOX_READY, 1 * kSecond}}),
      Containers({
          {"app-1", "sb1", "app", 1, 20 * kSecond, criv1::CONTAINER_EXITED},
          {"app-2", "sb1", "app", 2, 30 * kSecond, criv1::CONTAINER_RUNNING},
          {"app-0", "sb1", "app", 0, 10 * kSecond, criv1::CONTAINER_EXITED},
          {"side-9", "sb1", "side", 9, 5 * kSecond, criv1::CONTAINER_EXITED},
          {"side-1", "sb1", "side", 1, 6 * kSecond, criv1::CONTAINER_RUNNING},
      }));
  const PodInfo* pod = snapshot.FindPod("ns", "p");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->CurrentContainer("app")->id, "app-2");
  EXPECT_THAT(Ids(pod->Instances("app")), ElementsAre("app-2", "app-1", "app-0"));
  EXPECT_EQ(pod->CurrentContainer("side")->id, "side-1");
  EXPECT_TRUE(pod->Instances("none").empty());
  std::vector<std::string> current;
  for (const ContainerInfo* c : pod->CurrentContainers()) current.push_back(c->id);
  EXPECT_THAT(current, ElementsAre("app-2", "side-1"));
}

TEST(NodeSnapshotTest, RestartCountFromAnnotationElseAttempt) {
  struct Case {
    std::string description;
    std::map<std::string, std::string> annotations;
    uint32_t attempt;
    int64_t want;
  };
  const std::string key(kubelet::kContainerRestartCount);
  const std::vector<Case> cases = {
      {"annotation wins", {{key, "7"}}, 3, 7},
      {"no annotation: attempt", {}, 3, 3},
      {"unparsable annotation: attempt", {{key, "seven"}}, 4, 4},
      {"empty annotation: attempt", {{key, ""}}, 5, 5},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    ContainerSpec spec{"c", "sb", "app", c.attempt, kSecond};
    spec.annotations = c.annotations;
    const NodeSnapshot snapshot =
        NodeSnapshot::FromLists(Sandboxes({{"sb", "ns", "p", "u"}}), Containers({spec}));
    ASSERT_NE(snapshot.FindContainer("c"), nullptr);
    EXPECT_EQ(snapshot.FindContainer("c")->restart_count, c.want);
    EXPECT_EQ(snapshot.FindContainer("c")->attempt, c.attempt);
  }
}

TEST(NodeSnapshotTest, ParsesKubeletAnnotations) {
  ContainerSpec spec{"c", "sb", "app", 0, kSecond};
  spec.annotations = {
      {std::string(kubelet::kContainerPreStopHandler), R"({"exec":{"command":["sh","-c","x"]}})"},
      {std::string(kubelet::kPodTerminationGracePeriod), "45"},
      {std::string(kubelet::kPodDeletionGracePeriod), "bogus"},
      {std::string(kubelet::kContainerPorts), R"([{"name":"http","containerPort":8080}])"},
      {std::string(kubelet::kContainerHash), "1a2b3c"},
      {std::string(kubelet::kContainerType), "container"},
  };
  ContainerSpec bare{"d", "sb", "other", 0, kSecond};
  const NodeSnapshot snapshot =
      NodeSnapshot::FromLists(Sandboxes({{"sb", "ns", "p", "u"}}), Containers({spec, bare}));
  const ContainerInfo* c = snapshot.FindContainer("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->pre_stop_handler_json, R"({"exec":{"command":["sh","-c","x"]}})");
  EXPECT_EQ(c->termination_grace_period_seconds, 45);
  EXPECT_EQ(c->deletion_grace_period_seconds, std::nullopt);
  EXPECT_EQ(c->ports_json, R"([{"name":"http","containerPort":8080}])");
  EXPECT_EQ(c->hash, "1a2b3c");
  EXPECT_EQ(c->type, "container");
  const ContainerInfo* d = snapshot.FindContainer("d");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->pre_stop_handler_json, "");
  EXPECT_EQ(d->termination_grace_period_seconds, std::nullopt);
  EXPECT_EQ(d->ports_json, "");
}

TEST(NodeSnapshotTest, SandboxSelectionTable) {
  struct Case {
    std::string description;
    std::vector<SandboxSpec> sandboxes;
    std::string want_current;
    std::vector<std::string> want_order;
  };
  const std::vector<Case> cases = {
      {"newest ready wins",
       {{"old", "ns", "p", "u", 0, criv1::SANDBOX_NOTREADY, 1 * kSecond},
        {"new", "ns", "p", "u", 1, criv1::SANDBOX_READY, 2 * kSecond}},
       "new",
       {"new", "old"}},
      {"ready preferred over a newer notready",
       {{"ready", "ns", "p", "u", 0, criv1::SANDBOX_READY, 1 * kSecond},
        {"dying", "ns", "p", "u", 1, criv1::SANDBOX_NOTREADY, 2 * kSecond}},
       "ready",
       {"ready", "dying"}},
      {"all notready: newest",
       {{"a", "ns", "p", "u", 0, criv1::SANDBOX_NOTREADY, 3 * kSecond},
        {"b", "ns", "p", "u", 1, criv1::SANDBOX_NOTREADY, 1 * kSecond},
        {"c", "ns", "p", "u", 2, criv1::SANDBOX_NOTREADY, 2 * kSecond}},
       "a",
       {"a", "c", "b"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const NodeSnapshot snapshot =
        NodeSnapshot::FromLists(Sandboxes(c.sandboxes), criv1::ListContainersResponse());
    ASSERT_EQ(snapshot.pods().size(), 1u);
    const PodInfo* pod = snapshot.FindPod("ns", "p");
    ASSERT_NE(pod, nullptr);
    EXPECT_EQ(pod->sandbox.id, c.want_current);
    std::vector<std::string> order;
    for (const SandboxInfo& s : pod->sandboxes) order.push_back(s.id);
    EXPECT_EQ(order, c.want_order);
    for (const SandboxSpec& s : c.sandboxes) EXPECT_EQ(snapshot.FindPodBySandboxId(s.id), pod);
  }
}

TEST(NodeSnapshotTest, ContainersOfAllSandboxAttemptsBelongToThePod) {
  const NodeSnapshot snapshot = NodeSnapshot::FromLists(
      Sandboxes({{"sb0", "ns", "p", "u", 0, criv1::SANDBOX_NOTREADY, 1 * kSecond},
                 {"sb1", "ns", "p", "u", 1, criv1::SANDBOX_READY, 5 * kSecond}}),
      Containers({{"old", "sb0", "app", 0, 2 * kSecond, criv1::CONTAINER_EXITED},
                  {"new", "sb1", "app", 0, 6 * kSecond, criv1::CONTAINER_RUNNING}}));
  const PodInfo* pod = snapshot.FindPod("ns", "p");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->CurrentContainer("app")->id, "new");
  EXPECT_THAT(Ids(pod->Instances("app")), ElementsAre("new", "old"));
}

TEST(NodeSnapshotTest, PodIdentityComesFromTheCurrentSandboxWhateverTheListOrder) {
  // Only the best sandbox has metadata; the others carry different (stale) labels. Listed worst,
  // best, middle: the identity must not follow the last sandbox that beat the first one listed.
  SandboxSpec worst{"worst", "ns", "stale-1", "u", 0, criv1::SANDBOX_NOTREADY, 1 * kSecond};
  SandboxSpec best{"best", "ns", "p", "u", 2, criv1::SANDBOX_READY, 3 * kSecond};
  SandboxSpec middle{"middle", "ns", "stale-2", "u", 1, criv1::SANDBOX_NOTREADY, 2 * kSecond};
  const NodeSnapshot snapshot =
      NodeSnapshot::FromLists(Sandboxes({worst, best, middle}), criv1::ListContainersResponse());
  ASSERT_EQ(snapshot.pods().size(), 1u);
  EXPECT_EQ(snapshot.pods()[0].name, "p");
  EXPECT_EQ(snapshot.pods()[0].sandbox.id, "best");
  EXPECT_NE(snapshot.FindPod("ns", "p"), nullptr);
}

TEST(NodeSnapshotTest, SameNameDifferentUidPrefersTheReadyPod) {
  // A pod deleted and created again with the same name: two UIDs.
  const NodeSnapshot snapshot = NodeSnapshot::FromLists(
      Sandboxes({{"gone", "ns", "p", "uid-old", 0, criv1::SANDBOX_NOTREADY, 9 * kSecond},
                 {"live", "ns", "p", "uid-new", 0, criv1::SANDBOX_READY, 8 * kSecond}}),
      criv1::ListContainersResponse());
  EXPECT_EQ(snapshot.pods().size(), 2u);
  ASSERT_NE(snapshot.FindPod("ns", "p"), nullptr);
  EXPECT_EQ(snapshot.FindPod("ns", "p")->uid, "uid-new");
  ASSERT_NE(snapshot.FindPodByUid("uid-old"), nullptr);
  EXPECT_EQ(snapshot.FindPodByUid("uid-old")->sandbox.id, "gone");
}

TEST(NodeSnapshotTest, MissingMetadataFallsBackToKubeletLabels) {
  SandboxSpec sandbox{"sb", "ns", "p", "u"};
  sandbox.metadata = false;
  ContainerSpec no_label{"c1", "sb", "", 0, kSecond};
  no_label.metadata_name = "from-metadata";
  const NodeSnapshot snapshot =
      NodeSnapshot::FromLists(Sandboxes({sandbox}), Containers({no_label}));
  const PodInfo* pod = snapshot.FindPod("ns", "p");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->uid, "u");
  ASSERT_NE(pod->CurrentContainer("from-metadata"), nullptr);
  EXPECT_EQ(pod->CurrentContainer("from-metadata")->id, "c1");
}

TEST(NodeSnapshotTest, ContainerNameLabelWinsOverMetadata) {
  ContainerSpec spec{"c1", "sb", "label-name", 0, kSecond};
  spec.metadata_name = "meta-name";
  const NodeSnapshot snapshot =
      NodeSnapshot::FromLists(Sandboxes({{"sb", "ns", "p", "u"}}), Containers({spec}));
  EXPECT_EQ(snapshot.FindContainer("c1")->name, "label-name");
}

TEST(NodeSnapshotTest, UnknownSandboxIsIgnoredUnlessThePodUidLabelMatches) {
  ContainerSpec orphan{"orphan", "sb-unknown", "app", 0, kSecond};
  ContainerSpec late{"late", "sb-new", "app", 1, 2 * kSecond};
  late.labels = {{std::string(kubelet::kPodUid), "u"}};
  ContainerSpec stranger{"stranger", "sb-x", "app", 0, kSecond};
  stranger.labels = {{std::string(kubelet::kPodUid), "someone-else"}};
  const NodeSnapshot snapshot = NodeSnapshot::FromLists(Sandboxes({{"sb", "ns", "p", "u"}}),
                                                        Containers({orphan, late, stranger}));
  EXPECT_EQ(snapshot.FindContainer("orphan"), nullptr);
  EXPECT_EQ(snapshot.FindContainer("stranger"), nullptr);
  EXPECT_EQ(snapshot.ignored_containers(), 2u);
  ASSERT_NE(snapshot.FindContainer("late"), nullptr);
  EXPECT_EQ(snapshot.FindPodOfContainer("late"), snapshot.FindPod("ns", "p"));
}

TEST(NodeSnapshotTest, SandboxWithoutIdentityIsIgnored) {
  SandboxSpec anonymous{"sb", "", "", ""};
  const NodeSnapshot snapshot =
      NodeSnapshot::FromLists(Sandboxes({anonymous}), Containers({{"c", "sb", "app"}}));
  EXPECT_TRUE(snapshot.pods().empty());
  EXPECT_EQ(snapshot.FindContainer("c"), nullptr);
}

TEST(NodeSnapshotTest, SnapshotCopiesStayValid) {
  NodeSnapshot copy;
  {
    const NodeSnapshot original = NodeSnapshot::FromLists(
        Sandboxes({{"sb", "ns", "p", "u"}}), Containers({{"c", "sb", "app", 0, kSecond}}));
    copy = original;
  }
  ASSERT_NE(copy.FindContainer("c"), nullptr);
  EXPECT_EQ(copy.FindPod("ns", "p")->CurrentContainer("app"), copy.FindContainer("c"));
}

TEST(TakeSnapshotTest, ExactlyOneListOfEachKindWithoutFilters) {
  StrictMock<MockRuntime> runtime;
  EXPECT_CALL(runtime, ListPodSandbox(_)).WillOnce([](const criv1::ListPodSandboxRequest& request) {
    EXPECT_FALSE(request.has_filter());
    return Sandboxes({{"sb", "ns", "p", "u"}});
  });
  EXPECT_CALL(runtime, ListContainers(_)).WillOnce([](const criv1::ListContainersRequest& request) {
    EXPECT_FALSE(request.has_filter());
    return Containers({{"c", "sb", "app"}});
  });
  ASSERT_OK_AND_ASSIGN(NodeSnapshot snapshot, TakeSnapshot(runtime));
  EXPECT_NE(snapshot.FindContainer("c"), nullptr);
}

TEST(TakePodSnapshotTest, BothListsFilteredByKubeletsPodLabels) {
  using Labels = std::map<std::string, std::string>;
  const Labels expected = {{std::string(kubelet::kPodNamespace), "ns"},
                           {std::string(kubelet::kPodName), "p"}};
  StrictMock<MockRuntime> runtime;
  EXPECT_CALL(runtime, ListPodSandbox(_))
      .WillOnce([&](const criv1::ListPodSandboxRequest& request) {
        const auto& selector = request.filter().label_selector();
        EXPECT_EQ(Labels(selector.begin(), selector.end()), expected);
        EXPECT_TRUE(request.filter().id().empty());
        return Sandboxes({{"sb", "ns", "p", "u"}});
      });
  EXPECT_CALL(runtime, ListContainers(_))
      .WillOnce([&](const criv1::ListContainersRequest& request) {
        const auto& selector = request.filter().label_selector();
        EXPECT_EQ(Labels(selector.begin(), selector.end()), expected);
        EXPECT_TRUE(request.filter().pod_sandbox_id().empty());
        return Containers({{"c", "sb", "app"}});
      });
  ASSERT_OK_AND_ASSIGN(NodeSnapshot snapshot, TakePodSnapshot(runtime, "ns", "p"));
  ASSERT_NE(snapshot.FindPod("ns", "p"), nullptr);
  EXPECT_NE(snapshot.FindPod("ns", "p")->CurrentContainer("app"), nullptr);
}

TEST(TakePodSnapshotTest, ListErrorIsReturned) {
  StrictMock<MockRuntime> runtime;
  EXPECT_CALL(runtime, ListPodSandbox(_)).WillOnce(Return(Sandboxes({})));
  EXPECT_CALL(runtime, ListContainers(_))
      .WillOnce(Return(absl::UnavailableError("ListContainers: connection refused")));
  EXPECT_THAT(TakePodSnapshot(runtime, "ns", "p"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(TakeSnapshotTest, ListErrorIsReturned) {
  StrictMock<MockRuntime> runtime;
  EXPECT_CALL(runtime, ListPodSandbox(_))
      .WillOnce(Return(absl::UnavailableError("ListPodSandbox: connection refused")));
  EXPECT_THAT(TakeSnapshot(runtime), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(FillStatusTest, FillsTrackedContainersMarksGoneAndReportsOtherErrors) {
  NodeSnapshot snapshot =
      NodeSnapshot::FromLists(Sandboxes({{"sb", "ns", "p", "u"}}),
                              Containers({{"ok", "sb", "a", 0, kSecond, criv1::CONTAINER_RUNNING},
                                          {"gone", "sb", "b", 0, kSecond},
                                          {"flaky", "sb", "c", 0, kSecond},
                                          {"untracked", "sb", "d", 0, kSecond}}));
  StrictMock<MockRuntime> runtime;
  EXPECT_CALL(runtime, ContainerStatus(
                           ::testing::Property(&criv1::ContainerStatusRequest::container_id, "ok")))
      .WillOnce([](const criv1::ContainerStatusRequest&) {
        criv1::ContainerStatusResponse response;
        criv1::ContainerStatus* status = response.mutable_status();
        status->set_id("ok");
        status->set_state(criv1::CONTAINER_EXITED);
        status->set_started_at(2 * kSecond);
        status->set_finished_at(3 * kSecond);
        status->set_exit_code(137);
        status->set_reason("Error");
        status->set_message("killed");
        return response;
      });
  EXPECT_CALL(runtime, ContainerStatus(::testing::Property(
                           &criv1::ContainerStatusRequest::container_id, "gone")))
      .WillOnce(Return(absl::NotFoundError("ContainerStatus: no such container")));
  EXPECT_CALL(runtime, ContainerStatus(::testing::Property(
                           &criv1::ContainerStatusRequest::container_id, "flaky")))
      .WillOnce(Return(absl::DeadlineExceededError("ContainerStatus: deadline")));
  // "untracked" is not asked for and "absent" is not in the snapshot: no call for either
  // (StrictMock fails on any other call).
  EXPECT_THAT(FillStatus(runtime, {"ok", "flaky", "gone", "absent"}, &snapshot),
              StatusIs(absl::StatusCode::kDeadlineExceeded));

  const ContainerInfo* ok = snapshot.FindContainer("ok");
  EXPECT_TRUE(ok->has_status);
  EXPECT_FALSE(ok->gone);
  EXPECT_EQ(ok->state, criv1::CONTAINER_EXITED);
  EXPECT_EQ(ok->started_at, 2 * kSecond);
  EXPECT_EQ(ok->finished_at, 3 * kSecond);
  EXPECT_EQ(ok->exit_code, 137);
  EXPECT_EQ(ok->reason, "Error");
  EXPECT_EQ(ok->message, "killed");
  EXPECT_TRUE(snapshot.FindContainer("gone")->gone);
  EXPECT_FALSE(snapshot.FindContainer("gone")->has_status);
  EXPECT_FALSE(snapshot.FindContainer("flaky")->has_status);
  EXPECT_FALSE(snapshot.FindContainer("flaky")->gone);
  EXPECT_FALSE(snapshot.FindContainer("untracked")->has_status);
}

TEST(FillStatusTest, AllNotFoundIsOk) {
  NodeSnapshot snapshot =
      NodeSnapshot::FromLists(Sandboxes({{"sb", "ns", "p", "u"}}), Containers({{"c", "sb", "a"}}));
  StrictMock<MockRuntime> runtime;
  EXPECT_CALL(runtime, ContainerStatus(_)).WillOnce(Return(absl::NotFoundError("gone")));
  EXPECT_THAT(FillStatus(runtime, {"c"}, &snapshot), IsOk());
  EXPECT_TRUE(snapshot.FindContainer("c")->gone);
}

}  // namespace
}  // namespace inplaced::cri
