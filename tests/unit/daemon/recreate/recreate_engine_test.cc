#include "daemon/recreate/recreate_engine.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/daemon/recreate/engine_test_support.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using testing::EngineEnv;
using testing::Get;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::NewCreate;
using testing::PodOptions;

// ---- The happy path on every runtime profile ----

class EngineProfileTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineProfileTest, RecreatesTwoContainersInOrderAndCompletes) {
  absl::StatusOr<fakes::RuntimeProfile> profile = fakes::RuntimeProfile::ByName(GetParam());
  ASSERT_TRUE(profile.ok());
  EngineEnv env(*profile);
  PodOptions pod;
  pod.containers = {"a", "b"};
  pod.termination_grace_period_seconds = 12;
  const std::string uid = env.RunPod(pod);
  env.StartEngine();
  const std::string a0 = env.CurrentId("default", "web-0", "a");
  const std::string b0 = env.CurrentId("default", "web-0", "b");

  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a", "b"});
  create.mutable_spec()->mutable_strategy()->set_ordered_recreate(true);
  ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse created, env.engine_->Create(create));
  EXPECT_TRUE(created.created());
  const api::RecreateRequest& accepted = created.recreate_request();
  EXPECT_EQ(accepted.status().phase(), api::RECREATE_PHASE_PENDING);
  EXPECT_EQ(accepted.status().pod_uid(), uid) << "pod uid taken at acceptance";
  EXPECT_EQ(accepted.status().container_states(0).old_container_id(), a0);
  EXPECT_EQ(accepted.status().container_states(1).old_container_id(), b0);
  EXPECT_FALSE(accepted.metadata().uid().empty());
  EXPECT_GT(accepted.metadata().resource_version(), 0u);

  env.Tick();  // kills a only
  EXPECT_THAT(env.runtime_.SignalsOf(a0), ElementsAre("SIGTERM"));
  EXPECT_THAT(env.runtime_.SignalsOf(b0), IsEmpty());
  api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_RECREATING);
  EXPECT_TRUE(now.status().container_states(0).is_killed());
  EXPECT_EQ(now.status().container_states(0).grace_period_seconds(), 12)
      << "from the pod's annotation";
  EXPECT_TRUE(now.status().container_states(0).has_killed_at());

  env.KubeletRestarts();
  env.Tick();  // a Succeeded (min_started 0): b killed in the same tick
  env.KubeletRestarts();
  env.Tick();
  now = Get(*env.engine_, "r1");
  ASSERT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED) << now.DebugString();
  for (int i = 0; i < 2; ++i) {
    const api::ContainerRecreateState& state = now.status().container_states(i);
    EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED) << state.name();
    EXPECT_FALSE(state.new_container_id().empty());
    EXPECT_NE(state.new_container_id(), state.old_container_id());
    EXPECT_EQ(state.restart_count(), 1);
    EXPECT_TRUE(state.has_restarted_at());
    EXPECT_EQ(state.pre_stop().outcome(), api::PRE_STOP_OUTCOME_NO_HOOK);
  }
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 2);
  EXPECT_GT(now.metadata().resource_version(), accepted.metadata().resource_version());
}

INSTANTIATE_TEST_SUITE_P(Profiles, EngineProfileTest, ::testing::Values("containerd-1.6", "cri-o"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-' || c == '.') c = '_';
                           }
                           return name;
                         });

// ---- Create ----

TEST(RecreateEngineTest, CreateIsIdempotentBySpecAndCapped) {
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), [] {
    RecreateEngineOptions options = EngineEnv::DefaultOptions();
    options.max_open_requests = 1;
    return options;
  }());
  env.RunPod({});
  env.StartEngine();
  ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse first,
                       env.engine_->Create(NewCreate("r1", {"a"})));
  api::CreateRecreateRequestRequest same = NewCreate("r1", {"a"});
  same.mutable_spec()->mutable_strategy()->set_failure_policy(
      api::FAILURE_POLICY_FAIL);  // the default
  ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse again, env.engine_->Create(same));
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.recreate_request().metadata().uid(), first.recreate_request().metadata().uid());
  api::CreateRecreateRequestRequest different = NewCreate("r1", {"a"});
  different.mutable_spec()->mutable_strategy()->set_force_recreate(true);
  EXPECT_THAT(env.engine_->Create(different), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(env.engine_->Create(NewCreate("r2", {"a"})),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(env.engine_->Create(NewCreate("BAD", {"a"})),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RecreateEngineTest, UnknownPodIsReportedInTheStatusNotAsAnError) {
  EngineEnv env;
  env.StartEngine();
  ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse created,
                       env.engine_->Create(NewCreate("r1", {"a"}, "nowhere")));
  EXPECT_THAT(created.recreate_request().status().message(), HasSubstr("not found on the node"));
  env.Tick();
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(now.status().message(), kPodGoneMessage);
}

TEST(RecreateEngineTest, AcceptanceReadsOnlyThePodWhenKubeletLabelledIt) {
  EngineEnv env;
  PodOptions other;
  other.name = "other-0";
  env.RunPod(other);
  const std::string uid = env.RunPod(PodOptions());
  env.StartEngine();
  const std::string a0 = env.CurrentId("default", "web-0", "a");
  env.runtime_.ClearCalls();

  ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse created,
                       env.engine_->Create(NewCreate("r1", {"a"})));
  EXPECT_EQ(created.recreate_request().status().pod_uid(), uid);
  EXPECT_EQ(created.recreate_request().status().container_states(0).old_container_id(), a0);
  EXPECT_EQ(env.runtime_.CallCount("ListContainers"), 1) << "the pod's own list only";
  EXPECT_EQ(env.runtime_.CallCount("ListPodSandbox"), 1);
}

TEST(RecreateEngineTest, AcceptanceFallsBackToTheWholeNodeWhenThePodListMissesIt) {
  EngineEnv env;
  env.RunPod(PodOptions());
  env.StartEngine();
  env.runtime_.ClearCalls();

  ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse created,
                       env.engine_->Create(NewCreate("r1", {"not-there"})));
  EXPECT_EQ(env.runtime_.CallCount("ListContainers"), 2) << "pod list, then the whole node";
  EXPECT_EQ(created.recreate_request().status().container_states(0).message(),
            "container not found in the pod at acceptance");
}

// ---- Per-pod FIFO, never stuck; pods in parallel ----

TEST(RecreateEngineTest, AnInitContainerIsRefusedNamingTheField) {
  EngineEnv env;
  PodOptions pod;
  pod.containers = {"setup", "app"};
  pod.init_containers = {"setup"};
  env.RunPod(pod);
  env.StartEngine();
  EXPECT_THAT(env.engine_->Create(NewCreate("r1", {"app", "setup"})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.containers[1].name: container \"setup\" is an init container: only "
                       "regular containers (pod.spec.containers) can be recreated"));
  api::GetRecreateRequestRequest get;
  get.set_namespace_("default");
  get.set_name("r1");
  EXPECT_THAT(env.engine_->Get(get), StatusIs(absl::StatusCode::kNotFound)) << "nothing stored";
  ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse created,
                       env.engine_->Create(NewCreate("r1", {"app"})));
  EXPECT_TRUE(created.created());
}

TEST(RecreateEngineTest, RequestsOfOnePodRunOneAtATimeInCreationOrder) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(NewCreate("r2-created-first", {"a"})).status());
  // Forced: without it, the restart the first request causes would already count as its recreate.
  api::CreateRecreateRequestRequest second_create = NewCreate("r1-created-second", {"a"});
  second_create.mutable_spec()->mutable_strategy()->set_force_recreate(true);
  ASSERT_OK(env.engine_->Create(second_create).status());
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "r2-created-first").status().phase(), api::RECREATE_PHASE_RECREATING);
  api::RecreateRequest second = Get(*env.engine_, "r1-created-second");
  EXPECT_EQ(second.status().phase(), api::RECREATE_PHASE_PENDING);
  EXPECT_THAT(second.status().message(), HasSubstr("waiting for request r2-created-first"));
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);

  env.KubeletRestarts();
  env.Tick();  // the first completes and the second starts in the same tick
  EXPECT_EQ(Get(*env.engine_, "r2-created-first").status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(Get(*env.engine_, "r1-created-second").status().phase(),
            api::RECREATE_PHASE_RECREATING);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 2);
}

TEST(RecreateEngineTest, DeletingTheHeadFreesThePodsQueue) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest head = NewCreate("head", {"a"});
  head.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(
      5);  // never acknowledged
  ASSERT_OK(env.engine_->Create(head).status());
  ASSERT_OK(env.engine_->Create(NewCreate("next", {"a"})).status());
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "next").status().phase(), api::RECREATE_PHASE_PENDING);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);

  api::DeleteRecreateRequestRequest remove;
  remove.set_namespace_("default");
  remove.set_name("head");
  ASSERT_OK(env.engine_->Delete(remove));
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "next").status().phase(), api::RECREATE_PHASE_RECREATING);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
}

TEST(RecreateEngineTest, ARequestCreatedAfterTheHeadCompletedStartsAtOnce) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(NewCreate("first", {"a"})).status());
  env.Tick();
  env.KubeletRestarts();
  env.Tick();
  ASSERT_EQ(Get(*env.engine_, "first").status().phase(), api::RECREATE_PHASE_COMPLETED);
  ASSERT_OK(env.engine_->Create(NewCreate("second", {"a"})).status());
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "second").status().phase(), api::RECREATE_PHASE_RECREATING);
}

TEST(RecreateEngineTest, PodsDoNotWaitOnEachOthersKills) {
  EngineEnv env;
  PodOptions slow;
  slow.name = "slow";
  slow.pre_stop_json = R"({"exec":{"command":["sleep","600"]}})";
  env.RunPod(slow);
  PodOptions fast;
  fast.name = "fast";
  env.RunPod(fast);
  env.StartEngine();
  env.prestop_.Block();
  ASSERT_OK(env.engine_->Create(NewCreate("slow-r", {"a"}, "slow")).status());
  ASSERT_OK(env.engine_->Create(NewCreate("fast-r", {"a"}, "fast")).status());
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);
  // The slow pod's hook is still running; the fast pod's kill completes meanwhile.
  while (env.runtime_.CallCount("StopContainer") < 1) std::this_thread::yield();
  EXPECT_EQ(Get(*env.engine_, "fast-r").status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_NO_HOOK);
  EXPECT_EQ(Get(*env.engine_, "slow-r").status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_RUNNING);
  env.prestop_.Release();
  env.engine_->WaitForKills();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 2);
  const api::RecreateRequest slow_now = Get(*env.engine_, "slow-r");
  EXPECT_EQ(slow_now.status().container_states(0).pre_stop().outcome(),
            api::PRE_STOP_OUTCOME_SUCCEEDED);
  EXPECT_EQ(slow_now.status().container_states(0).pre_stop().source(),
            api::PRE_STOP_SOURCE_KUBELET_ANNOTATION);
}

TEST(RecreateEngineTest, DeleteDuringTheHookPreventsTheStop) {
  EngineEnv env;
  PodOptions pod;
  pod.pre_stop_json = R"({"exec":{"command":["drain"]}})";
  env.RunPod(pod);
  env.StartEngine();
  env.prestop_.Block();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);
  api::DeleteRecreateRequestRequest remove;
  remove.set_namespace_("default");
  remove.set_name("r1");
  ASSERT_OK(env.engine_->Delete(remove));
  env.prestop_.Release();
  env.engine_->WaitForKills();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
  EXPECT_THAT(env.engine_->Delete(remove), StatusIs(absl::StatusCode::kNotFound));
  remove.set_allow_missing(true);
  EXPECT_OK(env.engine_->Delete(remove));
}

TEST(RecreateEngineTest, DeleteBeforeAQueuedKillStartsPreventsIt) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.max_concurrent_kills = 1;
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), options);
  PodOptions busy;
  busy.name = "busy";
  busy.pre_stop_json = R"({"exec":{"command":["drain"]}})";
  env.RunPod(busy);
  env.RunPod({});
  env.StartEngine();
  env.prestop_.Block();
  ASSERT_OK(env.engine_->Create(NewCreate("busy-r", {"a"}, "busy")).status());
  ASSERT_OK(env.engine_->TickOnce());
  env.prestop_.WaitRunning(1);  // the only worker is taken
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  ASSERT_OK(env.engine_->TickOnce());  // r1's kill is queued behind it
  EXPECT_EQ(env.engine_->KillsInFlight(), 2u);
  api::DeleteRecreateRequestRequest remove;
  remove.set_namespace_("default");
  remove.set_name("r1");
  ASSERT_OK(env.engine_->Delete(remove));
  env.prestop_.Release();
  env.engine_->WaitForKills();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1) << "only busy-r's kill ran";
}

// ---- Kill outcomes ----

TEST(RecreateEngineTest, StopContainerErrorFailsTheContainer) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  // The runtime answered (unlike UNAVAILABLE, which only defers the kill: recreate_recovery_test).
  env.runtime_.InjectError("StopContainer",
                           absl::InternalError("failed to kill container: permission denied"));
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  env.Tick();
  env.Tick();
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  EXPECT_THAT(now.status().container_states(0).message(), HasSubstr("kill container error: "));
  EXPECT_THAT(now.status().container_states(0).message(), HasSubstr("permission denied"));
}

TEST(RecreateEngineTest, RequestPreStopRunsBeforeTheStopWithTheRemainingGrace) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"});
  create.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec()->add_command(
      "drain");
  create.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(20);
  const std::string a0 = env.CurrentId("default", "web-0", "a");
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  EXPECT_THAT(env.prestop_.Calls(), ElementsAre(a0));
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().container_states(0).pre_stop().outcome(), api::PRE_STOP_OUTCOME_SUCCEEDED);
  EXPECT_EQ(now.status().container_states(0).pre_stop().source(), api::PRE_STOP_SOURCE_REQUEST);
  EXPECT_EQ(now.status().container_states(0).grace_period_seconds(), 20);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
}

// ---- API calls ----

TEST(RecreateEngineTest, AcknowledgeUnreadyKeepsTheFirstTimeAndOpensTheWindow) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"});
  create.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(10);
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
  api::AcknowledgeUnreadyRequest ack;
  ack.set_namespace_("default");
  ack.set_name("r1");
  *ack.mutable_unready_at() = ToProtoTime(env.clock_.Now());
  ASSERT_OK(env.engine_->AcknowledgeUnready(ack).status());
  *ack.mutable_unready_at() = ToProtoTime(env.clock_.Now() + absl::Hours(1));
  ASSERT_OK_AND_ASSIGN(api::RecreateRequest kept, env.engine_->AcknowledgeUnready(ack));
  EXPECT_EQ(FromProtoTime(kept.status().unready_acknowledged_at()), env.clock_.Now());
  env.clock_.Advance(absl::Seconds(9));
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
  env.clock_.Advance(absl::Seconds(1));
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
  env.KubeletRestarts();
  env.Tick();
  ASSERT_EQ(Get(*env.engine_, "r1").status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_THAT(env.engine_->AcknowledgeUnready(ack),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(RecreateEngineTest, ControllerReadinessGatesSuccess) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"});
  create.mutable_spec()->set_readiness_source(api::READINESS_SOURCE_CONTROLLER);
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  env.KubeletRestarts();
  env.Tick();
  api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_RECREATING);
  const std::string new_id = now.status().container_states(0).new_container_id();
  ASSERT_FALSE(new_id.empty());

  api::ReportReadinessRequest report;
  report.set_namespace_("default");
  report.set_name("r1");
  api::ContainerReadiness* ready = report.add_containers();
  ready->set_name("ghost");
  ready->set_container_id("abc");
  ready->set_ready(true);
  EXPECT_THAT(env.engine_->ReportReadiness(report), StatusIs(absl::StatusCode::kInvalidArgument));
  ready->set_name("a");
  ready->set_container_id(now.status().container_states(0).old_container_id());  // the old instance
  ASSERT_OK(env.engine_->ReportReadiness(report).status());
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "r1").status().container_states(0).phase(),
            api::CONTAINER_RECREATE_PHASE_RECREATING);
  ready->set_container_id(absl::StrCat("containerd://", new_id));
  ASSERT_OK(env.engine_->ReportReadiness(report).status());
  env.Tick();
  now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_EQ(now.status().container_states(0).last_readiness_report().container_id(), new_id);
  EXPECT_THAT(env.engine_->ReportReadiness(report),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(RecreateEngineTest, ListFiltersAndPagesInNamespaceNameOrder) {
  EngineEnv env;
  env.StartEngine();
  for (const char* ns : {"b-ns", "a", "a-b"}) {
    for (const char* name : {"y", "x"}) {
      ASSERT_OK(
          env.engine_->Create(NewCreate(name, {"a"}, absl::StrCat("pod-", name), ns)).status());
    }
  }
  api::ListRecreateRequestsRequest list;
  list.set_page_size(4);
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(api::ListRecreateRequestsResponse response, env.engine_->List(list));
    for (const api::RecreateRequest& request : response.recreate_requests()) {
      seen.push_back(absl::StrCat(request.metadata().namespace_(), "/", request.metadata().name()));
    }
    if (response.next_page_token().empty()) break;
    list.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(seen, ElementsAre("a/x", "a/y", "a-b/x", "a-b/y", "b-ns/x", "b-ns/y"));

  api::ListRecreateRequestsRequest filtered;
  filtered.set_namespace_("a");
  filtered.set_pod_name("pod-y");
  ASSERT_OK_AND_ASSIGN(api::ListRecreateRequestsResponse one, env.engine_->List(filtered));
  ASSERT_EQ(one.recreate_requests_size(), 1);
  EXPECT_EQ(one.recreate_requests(0).metadata().name(), "y");
  EXPECT_TRUE(one.next_page_token().empty());
  filtered.set_phase(api::RECREATE_PHASE_COMPLETED);
  ASSERT_OK_AND_ASSIGN(api::ListRecreateRequestsResponse none, env.engine_->List(filtered));
  EXPECT_EQ(none.recreate_requests_size(), 0);
}

TEST(RecreateEngineTest, ListPagesStayUnderAMebibyteWhateverThePageSize) {
  EngineEnv env;
  env.StartEngine();
  // 12 requests of about 190 KiB each (three containers with a 63 KiB preStop command): a page of
  // 100 would be 2.2 MiB; every page must stay readable by a client with the default 4 MiB limit.
  for (int i = 0; i < 12; ++i) {
    api::CreateRecreateRequestRequest create =
        NewCreate(absl::StrCat("big-", 10 + i), {"a", "b", "c"}, "nowhere");
    for (api::RecreateContainer& container : *create.mutable_spec()->mutable_containers()) {
      api::ExecAction* exec = container.mutable_pre_stop()->mutable_exec();
      exec->add_command("sh");
      exec->add_command(std::string(31 * 1024, 'x'));
      exec->add_command(std::string(31 * 1024, 'y'));
    }
    ASSERT_OK(env.engine_->Create(create).status());
  }
  api::ListRecreateRequestsRequest list;  // page_size 0: the default, 100
  std::vector<std::string> seen;
  int pages = 0;
  for (; pages < 20; ++pages) {
    ASSERT_OK_AND_ASSIGN(api::ListRecreateRequestsResponse response, env.engine_->List(list));
    EXPECT_LE(response.ByteSizeLong(), size_t{1024 * 1024} + 64) << "page " << pages;
    EXPECT_GE(response.recreate_requests_size(), 1);
    for (const api::RecreateRequest& request : response.recreate_requests()) {
      seen.push_back(request.metadata().name());
    }
    if (response.next_page_token().empty()) break;
    list.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(pages + 1, 3) << "12 requests of ~190 KiB: 5 + 5 + 2";
  ASSERT_EQ(seen.size(), 12u) << "each request once";
  for (int i = 0; i < 12; ++i) EXPECT_EQ(seen[i], absl::StrCat("big-", 10 + i));

  // One request larger than the budget alone still gets its own page.
  RecreateEngineOptions small = EngineEnv::DefaultOptions();
  small.limits.max_list_page_bytes = 1024;
  EngineEnv tight(fakes::RuntimeProfile::Containerd16(), small);
  tight.StartEngine();
  for (const char* name : {"r1", "r2"}) {
    api::CreateRecreateRequestRequest create = NewCreate(name, {"a"}, "nowhere");
    create.mutable_spec()->mutable_containers(0)->mutable_pre_stop()->mutable_exec()->add_command(
        std::string(4096, 'x'));
    ASSERT_OK(tight.engine_->Create(create).status());
  }
  ASSERT_OK_AND_ASSIGN(api::ListRecreateRequestsResponse first,
                       tight.engine_->List(api::ListRecreateRequestsRequest()));
  ASSERT_EQ(first.recreate_requests_size(), 1);
  EXPECT_FALSE(first.next_page_token().empty());
}

TEST(RecreateEngineTest, WatchSeesInitialStateThenChangesAndDeletion) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RecreateWatch> watch,
                       env.engine_->Watch(api::WatchRecreateRequestsRequest()));
  api::WatchRecreateRequestsResponse event;
  ASSERT_TRUE(watch->Next(&event));
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_ADDED);
  ASSERT_TRUE(watch->Next(&event));
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_SYNCED);
  env.Tick();
  ASSERT_TRUE(watch->Next(&event));
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_MODIFIED);
  api::DeleteRecreateRequestRequest remove;
  remove.set_namespace_("default");
  remove.set_name("r1");
  ASSERT_OK(env.engine_->Delete(remove));
  // Coalescing may merge MODIFIED events; the DELETED always comes.
  do {
    ASSERT_TRUE(watch->Next(&event));
  } while (event.type() == api::WATCH_EVENT_TYPE_MODIFIED);
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_DELETED);
  EXPECT_EQ(event.recreate_request().metadata().name(), "r1");
}

TEST(RecreateEngineTest, TtlDeletesTheFinishedRequest) {
  EngineEnv env;
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"}, "gone");
  create.mutable_spec()->set_ttl_seconds_after_finished(30);
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  ASSERT_EQ(Get(*env.engine_, "r1").status().phase(), api::RECREATE_PHASE_COMPLETED);
  env.clock_.Advance(absl::Seconds(30));
  env.Tick();
  api::GetRecreateRequestRequest get;
  get.set_namespace_("default");
  get.set_name("r1");
  EXPECT_THAT(env.engine_->Get(get), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(env.store_->Get(kRecreateStoreKind, "default/r1"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(RecreateEngineTest, DeadlineFailsACrashLoopingContainer) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"});
  create.mutable_spec()->set_active_deadline_seconds(30);
  create.mutable_spec()->mutable_strategy()->set_min_started_seconds(60);
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  env.KubeletRestarts();
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "r1").status().container_states(0).phase(),
            api::CONTAINER_RECREATE_PHASE_RECREATING);
  env.clock_.Advance(absl::Seconds(30));
  env.Tick();
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(now.status().message(), kDeadlineExceededMessage);
  EXPECT_EQ(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
}

TEST(RecreateEngineTest, IdleTicksMakeNoRuntimeCalls) {
  EngineEnv env;
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r1", {"a"}, "gone");
  create.mutable_spec()->set_ttl_seconds_after_finished(60);
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  ASSERT_EQ(Get(*env.engine_, "r1").status().phase(), api::RECREATE_PHASE_COMPLETED);
  env.runtime_.ClearCalls();
  env.Tick();
  env.clock_.Advance(absl::Seconds(60));
  env.Tick();  // the TTL is enforced without looking at the node
  EXPECT_THAT(env.runtime_.Calls(), IsEmpty());
  api::GetRecreateRequestRequest get;
  get.set_namespace_("default");
  get.set_name("r1");
  EXPECT_THAT(env.engine_->Get(get), StatusIs(absl::StatusCode::kNotFound));
}

TEST(RecreateEngineTest, MissingContainerFailsAndPolicyDecidesTheRest) {
  for (const api::FailurePolicy policy : {api::FAILURE_POLICY_FAIL, api::FAILURE_POLICY_IGNORE}) {
    SCOPED_TRACE(api::FailurePolicy_Name(policy));
    EngineEnv env;
    env.RunPod({});
    env.StartEngine();
    api::CreateRecreateRequestRequest create = NewCreate("r1", {"ghost", "a"});
    create.mutable_spec()->mutable_strategy()->set_failure_policy(policy);
    ASSERT_OK(env.engine_->Create(create).status());
    env.Tick();
    env.KubeletRestarts();
    env.Tick();
    const api::RecreateRequest now = Get(*env.engine_, "r1");
    EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED);
    EXPECT_EQ(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
    EXPECT_EQ(now.status().container_states(0).message(), kContainerNotFoundMessage);
    if (policy == api::FAILURE_POLICY_FAIL) {
      EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
      EXPECT_EQ(now.status().container_states(1).phase(), api::CONTAINER_RECREATE_PHASE_PENDING);
    } else {
      EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
      EXPECT_EQ(now.status().container_states(1).phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
    }
  }
}

TEST(RecreateEngineTest, PollLoopCompletesARecreateWithoutEvents) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.fast_poll = absl::Milliseconds(1);
  options.slow_poll = absl::Milliseconds(1);
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), options);
  env.RunPod({});
  env.StartEngine();
  env.engine_->Start();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  while (env.runtime_.CallCount("StopContainer") == 0 || env.engine_->KillsInFlight() > 0) {
    std::this_thread::yield();
  }
  env.KubeletRestarts();
  while (Get(*env.engine_, "r1").status().phase() != api::RECREATE_PHASE_COMPLETED)
    std::this_thread::yield();
  EXPECT_EQ(Get(*env.engine_, "r1").status().container_states(0).phase(),
            api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  env.engine_->Shutdown();
}

TEST(RecreateEngineTest, PodGoneCompletesTheRequest) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  // Given its status contexts, Create does not read the pod: the first tick judges it.
  ASSERT_OK(env.engine_->Create(env.WithStatusContexts(NewCreate("r1", {"a"}))).status());
  ASSERT_OK(env.kubelet_.RemovePod("default", "web-0"));
  env.Tick();
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(now.status().message(), kPodGoneMessage);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
}

// ---- Pod deletion: kubelet stops the sandbox, then removes containers and sandbox in any order ----

// One step of kubelet deleting pod default/web-0 (containers "a" and "b").
enum class KubeletStep {
  kExitOtherContainer,  // kubelet's graceful kill of the container the request does not name
  kStopSandbox,         // StopPodSandbox: sandbox NOTREADY, its containers stopped
  kRemoveContainers,    // RemoveContainer of every instance
  kRemoveSandbox,       // RemovePodSandbox (the runtime removes what containers are left)
};

struct DeletionOrder {
  std::string name;
  std::vector<KubeletStep> steps;
  // Index in `steps` after which the pod counts as gone (its sandbox stopped or removed).
  size_t gone_after;
};

class PodDeletionTest : public ::testing::TestWithParam<DeletionOrder> {};

void RunKubeletStep(testing::EngineEnv& env, KubeletStep step) {
  ASSERT_OK_AND_ASSIGN(const std::string sandbox, env.kubelet_.SandboxId("default", "web-0"));
  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(env.runtime_));
  const cri::PodInfo* pod = snapshot.FindPodBySandboxId(sandbox);
  switch (step) {
    case KubeletStep::kExitOtherContainer:
      ASSERT_NE(pod, nullptr);
      ASSERT_OK(env.runtime_.ExitContainer(pod->CurrentContainer("b")->id, 0));
      return;
    case KubeletStep::kStopSandbox: {
      ::runtime::v1::StopPodSandboxRequest stop;
      stop.set_pod_sandbox_id(sandbox);
      ASSERT_OK(env.runtime_.StopPodSandbox(stop));
      return;
    }
    case KubeletStep::kRemoveContainers:
      if (pod == nullptr) return;
      for (const cri::ContainerInfo& container : pod->containers) {
        ::runtime::v1::RemoveContainerRequest remove;
        remove.set_container_id(container.id);
        ASSERT_OK(env.runtime_.RemoveContainer(remove));
      }
      return;
    case KubeletStep::kRemoveSandbox: {
      ::runtime::v1::RemovePodSandboxRequest remove;
      remove.set_pod_sandbox_id(sandbox);
      ASSERT_OK(env.runtime_.RemovePodSandbox(remove));
      return;
    }
  }
}

TEST_P(PodDeletionTest, RequestsCompletePodGoneAsSoonAsTheSandboxStops) {
  const DeletionOrder& order = GetParam();
  testing::EngineEnv env;
  PodOptions pod;
  pod.containers = {"a", "b"};
  env.RunPod(pod);
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  env.Tick();  // a is killed; the request waits for kubelet's restart
  ASSERT_EQ(env.runtime_.CallCount("StopContainer"), 1);
  ASSERT_EQ(Get(*env.engine_, "r1").status().phase(), api::RECREATE_PHASE_RECREATING);

  for (size_t i = 0; i < order.steps.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("after step ", i));
    RunKubeletStep(env, order.steps[i]);
    env.Tick();
    const api::RecreateRequest now = Get(*env.engine_, "r1");
    if (i < order.gone_after) {
      EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_RECREATING) << now.DebugString();
      continue;
    }
    EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED) << now.DebugString();
    EXPECT_EQ(now.status().message(), kPodGoneMessage);
    // Never the misleading per-container failure of a pod that is merely being torn down.
    EXPECT_NE(now.status().container_states(0).message(), kContainerNotFoundMessage);
    EXPECT_NE(now.status().container_states(0).phase(), api::CONTAINER_RECREATE_PHASE_FAILED);
  }
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1) << "no kill after the pod stopped";
}

INSTANTIATE_TEST_SUITE_P(
    KubeletOrders, PodDeletionTest,
    ::testing::Values(DeletionOrder{"StopSandboxOnly", {KubeletStep::kStopSandbox}, 0},
                      DeletionOrder{"StopSandboxThenContainersThenSandbox",
                                    {KubeletStep::kStopSandbox, KubeletStep::kRemoveContainers,
                                     KubeletStep::kRemoveSandbox},
                                    0},
                      DeletionOrder{"StopSandboxThenRemoveSandbox",
                                    {KubeletStep::kStopSandbox, KubeletStep::kRemoveSandbox},
                                    0},
                      DeletionOrder{"RemoveSandboxAtOnce", {KubeletStep::kRemoveSandbox}, 0},
                      DeletionOrder{"OtherContainerStoppedFirst",
                                    {KubeletStep::kExitOtherContainer, KubeletStep::kStopSandbox,
                                     KubeletStep::kRemoveContainers, KubeletStep::kRemoveSandbox},
                                    1}),
    [](const ::testing::TestParamInfo<DeletionOrder>& info) { return info.param.name; });

TEST(RecreateEngineTest, ARequestForAStoppedPodCompletesPodGoneWithoutAKill) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  ASSERT_OK_AND_ASSIGN(const std::string sandbox, env.kubelet_.SandboxId("default", "web-0"));
  ::runtime::v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(sandbox);
  ASSERT_OK(env.runtime_.StopPodSandbox(stop));
  ASSERT_OK(env.engine_->Create(NewCreate("r1", {"a"})).status());
  env.Tick();
  const api::RecreateRequest now = Get(*env.engine_, "r1");
  EXPECT_EQ(now.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(now.status().message(), kPodGoneMessage);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
}

TEST(RecreateEngineTest, ShutdownRefusesCalls) {
  EngineEnv env;
  env.StartEngine();
  env.engine_->Shutdown();
  env.engine_->Shutdown();
  EXPECT_THAT(env.engine_->Create(NewCreate("r1", {"a"})),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(env.engine_->TickOnce(), StatusIs(absl::StatusCode::kUnavailable));
}

// ---- Scale ----

TEST(RecreateEngineTest, ListCallsPerTickAreConstantWithAThousandRequests) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.max_open_requests = 1000;
  EngineEnv env(fakes::RuntimeProfile::Containerd20(), options);
  env.runtime_.AddPods(1000, 1);
  env.StartEngine();
  ASSERT_OK_AND_ASSIGN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(env.runtime_));
  for (const cri::PodInfo& pod : snapshot.pods()) {
    api::CreateRecreateRequestRequest create =
        NewCreate(absl::StrCat("r-", pod.name), {"c0"}, pod.name, "bulk");
    create.mutable_spec()->set_pod_uid(pod.uid);
    api::ContainerStatusContext* context =
        create.mutable_spec()->mutable_containers(0)->mutable_status_context();
    context->set_container_id(pod.CurrentContainer("c0")->id);
    ASSERT_OK(env.engine_->Create(create).status());
  }
  env.runtime_.ClearCalls();
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("ListPodSandbox"), 1);
  EXPECT_EQ(env.runtime_.CallCount("ListContainers"), 1);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1000);
  env.runtime_.ClearCalls();
  env.Tick();
  EXPECT_EQ(env.runtime_.CallCount("ListPodSandbox"), 1);
  EXPECT_EQ(env.runtime_.CallCount("ListContainers"), 1);
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0);
}

TEST(RecreateEngineTest, WaitingOnMinStartedSecondsReadsTheNewInstanceOnce) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r", {"a"});
  create.mutable_spec()->mutable_strategy()->set_min_started_seconds(60);
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  env.KubeletRestarts();
  env.runtime_.ClearCalls();
  env.Tick();  // sees the new instance: its start time is read
  EXPECT_EQ(env.runtime_.CallCount("ContainerStatus"), 1);
  EXPECT_TRUE(Get(*env.engine_, "r").status().container_states(0).has_restarted_at());
  env.runtime_.ClearCalls();
  for (int i = 0; i < 10; ++i) {
    env.clock_.Advance(absl::Seconds(1));
    env.Tick();
  }
  EXPECT_EQ(env.runtime_.CallCount("ContainerStatus"), 0) << "read once per instance, not per tick";
  env.clock_.Advance(absl::Seconds(60));
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "r").status().phase(), api::RECREATE_PHASE_COMPLETED);
}

// The loop reads the node every fast poll while a kill or restart is awaited, every slow poll while
// a request waits on the node otherwise, and every resync poll (or at the timer) while every open
// request waits only on a timer: here min_started_seconds, with a second request queued behind.
TEST(RecreateEngineTest, WhileEveryRequestWaitsOnATimerTheLoopReadsTheNodeEveryResyncPoll) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.fast_poll = absl::Milliseconds(100);
  options.slow_poll = absl::Seconds(1);
  options.resync_poll = absl::Seconds(10);
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), options);
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest create = NewCreate("r", {"a"});
  create.mutable_spec()->mutable_strategy()->set_min_started_seconds(60);
  ASSERT_OK(env.engine_->Create(create).status());
  env.Tick();
  EXPECT_EQ(env.engine_->PollInterval(), absl::Milliseconds(100)) << "the restart is awaited";

  env.KubeletRestarts();
  env.Tick();
  ASSERT_TRUE(Get(*env.engine_, "r").status().container_states(0).has_restarted_at());
  EXPECT_EQ(env.engine_->PollInterval(), absl::Seconds(10)) << "min_started_seconds is a timer";

  // The new instance crashes: its next instance is awaited from the node.
  ASSERT_OK(env.runtime_.ExitContainer(env.CurrentId("default", "web-0", "a"), 1));
  env.Tick();
  EXPECT_EQ(env.engine_->PollInterval(), absl::Seconds(1));
  env.KubeletRestarts();
  env.Tick();
  EXPECT_EQ(env.engine_->PollInterval(), absl::Seconds(10));
  ASSERT_OK(env.engine_->Create(NewCreate("queued", {"a"})).status());
  env.Tick();
  EXPECT_EQ(env.engine_->PollInterval(), absl::Seconds(10)) << "queued behind a timer";

  // Never past the timer.
  env.clock_.Advance(absl::Seconds(55));
  env.Tick();
  EXPECT_LE(env.engine_->PollInterval(), absl::Seconds(5));
  env.clock_.Advance(absl::Seconds(10));
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "r").status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(Get(*env.engine_, "queued").status().phase(), api::RECREATE_PHASE_RECREATING);
  EXPECT_EQ(env.engine_->PollInterval(), absl::Milliseconds(100)) << "the queued one kills now";
}

// A tick runs a request through the state machine only when its pod, its queue or its record
// changed, or its timer came: the cost of a tick follows the changes, not the open requests.
TEST(RecreateEngineTest, TicksAdvanceOnlyRequestsWhoseInputsChangedOrWhoseTimerCame) {
  EngineEnv env;
  PodOptions web0;
  PodOptions web1;
  web1.name = "web-1";
  env.RunPod(web0);
  env.RunPod(web1);
  env.StartEngine();
  for (const std::string pod : {"web-0", "web-1"}) {
    api::CreateRecreateRequestRequest create = NewCreate("r-" + pod, {"a"}, pod);
    create.mutable_spec()->mutable_strategy()->set_min_started_seconds(60);
    ASSERT_OK(env.engine_->Create(create).status());
  }
  env.Tick();  // kills both
  env.KubeletRestarts();
  env.Tick();  // sees both new instances; both now wait on min_started_seconds
  env.Tick();
  const uint64_t settled = env.engine_->GetStats().advances;
  for (int i = 0; i < 10; ++i) {
    env.clock_.Advance(absl::Seconds(1));
    env.Tick();
  }
  EXPECT_EQ(env.engine_->GetStats().advances, settled) << "nothing changed, no timer came";

  // web-1's new container crashes and kubelet restarts it: only r-web-1 is advanced, and it sees
  // the newer instance.
  const std::string crashed = env.CurrentId("default", "web-1", "a");
  ASSERT_OK(env.runtime_.ExitContainer(crashed, 1));
  env.KubeletRestarts();
  env.Tick();
  EXPECT_EQ(env.engine_->GetStats().advances, settled + 1);
  EXPECT_NE(Get(*env.engine_, "r-web-1").status().container_states(0).new_container_id(), crashed);

  // min_started_seconds' timer: r-web-0 completes when it comes, without anything else changing.
  env.clock_.Advance(absl::Seconds(60));
  env.Tick();
  EXPECT_EQ(Get(*env.engine_, "r-web-0").status().phase(), api::RECREATE_PHASE_COMPLETED);
}

// Group commit: the tick decides under the engine's lock and writes outside it; the kill it decided
// starts only once the decision is durable.
TEST(RecreateEngineTest, AKillStartsOnlyOnceItsDecisionIsDurableAndReadsDoNotWaitForTheStore) {
  EngineEnv env;
  fakes::FlakyStore& store = env.UseFlakyStore();
  env.RunPod({});
  env.StartEngine();
  // Given its status contexts, Create leaves the first step (the kill) to the tick.
  ASSERT_OK(env.engine_->Create(env.WithStatusContexts(NewCreate("r", {"a"}))).status());
  env.runtime_.ClearCalls();
  store.fail_writes = true;  // a full disk: the tick's decision cannot be made durable
  std::thread tick([&] { EXPECT_OK(env.engine_->TickOnce()); });  // returns once durable
  // The decision is made (memory, watchers) and the engine answers meanwhile: the store is written
  // outside its lock.
  while (Get(*env.engine_, "r").status().phase() != api::RECREATE_PHASE_RECREATING) {
    std::this_thread::yield();
  }
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 0) << "stopped before the step was durable";
  store.fail_writes = false;
  tick.join();
  env.engine_->WaitForKills();
  EXPECT_EQ(env.runtime_.CallCount("StopContainer"), 1);
  // What is stored is what the engine holds.
  ASSERT_OK_AND_ASSIGN(store::Record stored, store.Get(kRecreateStoreKind, "default/r"));
  ::inplaced::internal::RecreateRecord record;
  ASSERT_TRUE(record.ParseFromString(stored.value));
  EXPECT_EQ(record.request().metadata().resource_version(),
            Get(*env.engine_, "r").metadata().resource_version());
}

// CreateAsync's answer (waited for), as a status.
absl::Status CreateAsyncStatus(RecreateEngine& engine,
                               const api::CreateRecreateRequestRequest& request) {
  absl::Notification answered;
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string message;
  engine.CreateAsync(request, [&](absl::StatusOr<api::CreateRecreateRequestResponse> result) {
    // Copied out, not shared: a Status's reference count lives in the (uninstrumented) abseil
    // library, where TSan cannot see it.
    code = result.status().code();
    message = std::string(result.status().message());
    answered.Notify();
  });
  answered.WaitForNotification();
  return absl::Status(code, message);
}

// Create waits for durability, CreateAsync chains its answer to it: both answer UNAVAILABLE at the
// bound.
TEST(RecreateEngineTest, ACallAnswersUnavailableWhenItsChangeIsNotDurableInTime) {
  RecreateEngineOptions options = EngineEnv::DefaultOptions();
  options.store_write_timeout = absl::Milliseconds(50);
  EngineEnv env(fakes::RuntimeProfile::Containerd16(), options);
  fakes::FlakyStore& store = env.UseFlakyStore();
  env.RunPod({});
  env.StartEngine();
  store.fail_writes = true;
  EXPECT_THAT(env.engine_->Create(NewCreate("r", {"a"})),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("state store")));
  EXPECT_THAT(CreateAsyncStatus(*env.engine_, NewCreate("r2", {"a"})),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("state store")));
  store.fail_writes = false;
  // Kept and written once the store recovers: the same Creates find them.
  env.engine_->WaitForKills();
  for (const std::string name : {"r", "r2"}) {
    ASSERT_OK_AND_ASSIGN(api::CreateRecreateRequestResponse again,
                         env.engine_->Create(NewCreate(name, {"a"})));
    EXPECT_FALSE(again.created()) << name;
    EXPECT_OK(store.Get(kRecreateStoreKind, "default/" + name).status());
  }
}

// CreateAsync answers through its callback, not by holding the caller: while the store cannot take
// the request the call has returned and nothing is answered; once it can, the callback gets what
// Create would have answered.
TEST(RecreateEngineTest, CreateAsyncReturnsAtOnceAndAnswersOnceTheRequestIsDurable) {
  EngineEnv env;
  fakes::FlakyStore& store = env.UseFlakyStore();
  env.RunPod({});
  env.StartEngine();
  store.fail_writes = true;
  absl::Notification answered;
  absl::StatusOr<api::CreateRecreateRequestResponse> answer;
  env.engine_->CreateAsync(NewCreate("r", {"a"}),
                           [&](absl::StatusOr<api::CreateRecreateRequestResponse> result) {
                             answer = std::move(result);
                             answered.Notify();
                           });
  // Accepted (its watchers see it) but not durable: not answered yet.
  api::GetRecreateRequestRequest get;
  get.set_namespace_("default");
  get.set_name("r");
  while (!env.engine_->Get(get).ok()) std::this_thread::yield();
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(answered.HasBeenNotified());
  store.fail_writes = false;
  answered.WaitForNotification();
  ASSERT_OK(answer.status());
  EXPECT_TRUE(answer->created());
  EXPECT_EQ(answer->recreate_request().metadata().name(), "r");
  EXPECT_OK(store.Get(kRecreateStoreKind, "default/r").status());
}

TEST(RecreateEngineTest, CreateAsyncAnswersTheErrorsCreateWould) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  api::CreateRecreateRequestRequest nameless = NewCreate("r", {"a"});
  nameless.clear_name();
  EXPECT_THAT(CreateAsyncStatus(*env.engine_, nameless),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  env.engine_->Shutdown();
  EXPECT_THAT(CreateAsyncStatus(*env.engine_, NewCreate("r", {"a"})),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
}

// No acceptance worker waits for durability: with the store holding every write back, a burst
// larger than the workers is read, decided and recorded all the same, and answered once durable.
TEST(RecreateEngineTest, CreatesWaitingForDurabilityHoldNoAcceptanceWorker) {
  EngineEnv env;
  fakes::FlakyStore& store = env.UseFlakyStore();
  env.RunPod({});
  env.StartEngine();
  store.fail_writes = true;
  constexpr int kCreates = 20;  // more than the engine's acceptance workers
  absl::Mutex mu;
  int answered_ok = 0;
  for (int i = 0; i < kCreates; ++i) {
    env.engine_->CreateAsync(NewCreate(absl::StrCat("r", i), {"a"}),
                             [&](absl::StatusOr<api::CreateRecreateRequestResponse> result) {
                               absl::MutexLock lock(&mu);
                               answered_ok += result.ok() ? 1 : 0;
                             });
  }
  api::ListRecreateRequestsRequest list;
  list.set_namespace_("default");
  // Not a timing: workers that waited for durability would keep the rest queued for the whole
  // store_write_timeout (10 s).
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  int accepted = 0;
  while (accepted < kCreates && absl::Now() < give_up) {
    ASSERT_OK_AND_ASSIGN(api::ListRecreateRequestsResponse listed, env.engine_->List(list));
    accepted = listed.recreate_requests_size();
    std::this_thread::yield();
  }
  ASSERT_EQ(accepted, kCreates) << "Creates queued behind workers waiting for durability";
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(answered_ok, 0) << "answered before durable";
  }
  store.fail_writes = false;
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* n) { return *n == kCreates; }, &answered_ok));
}

TEST(RecreateEngineTest, ResourceVersionsKeepIncreasingAcrossARestart) {
  EngineEnv env;
  env.RunPod({});
  env.StartEngine();
  ASSERT_OK(env.engine_->Create(NewCreate("r", {"a"})).status());
  env.Tick();
  const uint64_t before = Get(*env.engine_, "r").metadata().resource_version();
  env.StartEngine();  // the restarted daemon
  EXPECT_GE(Get(*env.engine_, "r").metadata().resource_version(), before);
  env.KubeletRestarts();
  env.Tick();
  EXPECT_GT(Get(*env.engine_, "r").metadata().resource_version(), before);
}

}  // namespace
}  // namespace inplaced::daemon
