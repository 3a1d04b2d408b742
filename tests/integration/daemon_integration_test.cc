// The inplaced binary against the fake_cri_server binary over real unix sockets, driven through the
// control API (generated gRPC stub), plus one manual recreate with `buf curl` and server
// reflection, exactly as the README shows it.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/grpc/health/v1/health.grpc.pb.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "cri/connect.h"
#include "cri/kubelet_labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/buf_curl.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::DaemonHarness;
using ::inplaced::testing::Eventually;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::SetDeadline;
using ::testing::HasSubstr;

// The fake server's pre-created pods (FakeRuntime::AddPods): namespace "bulk", pods "pod-00000"...,
// containers "c0", "c1".
constexpr char kNamespace[] = "bulk";
std::string Pod(int i) { return absl::StrCat("pod-0000", i); }

api::CreateRecreateRequestRequest RecreateOf(const std::string& name, const std::string& pod,
                                             std::vector<std::string> containers) {
  api::CreateRecreateRequestRequest request;
  request.set_namespace_(kNamespace);
  request.set_name(name);
  request.mutable_spec()->set_pod_name(pod);
  for (const std::string& container : containers)
    request.mutable_spec()->add_containers()->set_name(container);
  return request;
}

class DaemonIntegrationTest : public DaemonHarness {
 protected:
  // 4 pods of 2 containers; an exited container comes back after 200 ms, as kubelet would restart
  // it.
  std::vector<std::string> FakeRuntimeFlags() const override {
    return {"--pods", "4", "--containers-per-pod", "2", "--restart-backoff-ms", "200"};
  }
  std::vector<std::string> DaemonFlags() const override {
    return {"--fast-poll-ms", "50", "--slow-poll-ms", "200"};
  }
  void MakeStubs() override { stub_ = api::RecreateService::NewStub(channel_); }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health() {
    auto health = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    SetDeadline(&context);
    context.set_wait_for_ready(true);  // the socket may not exist yet
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status =
        health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  void KillDaemon() {
    ASSERT_OK_AND_ASSIGN(int status, daemon_->Stop(SIGKILL, absl::Seconds(5)));
    EXPECT_TRUE(WIFSIGNALED(status));
    daemon_.reset();
  }

  grpc::Status Create(const api::CreateRecreateRequestRequest& request,
                      api::CreateRecreateRequestResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub_->CreateRecreateRequest(&context, request, response);
  }

  grpc::Status Get(const std::string& name, api::RecreateRequest* out) {
    grpc::ClientContext context;
    SetDeadline(&context);
    api::GetRecreateRequestRequest request;
    request.set_namespace_(kNamespace);
    request.set_name(name);
    api::GetRecreateRequestResponse response;
    grpc::Status status = stub_->GetRecreateRequest(&context, request, &response);
    *out = response.recreate_request();
    return status;
  }

  grpc::Status Delete(const std::string& name, bool allow_missing = false) {
    grpc::ClientContext context;
    SetDeadline(&context);
    api::DeleteRecreateRequestRequest request;
    request.set_namespace_(kNamespace);
    request.set_name(name);
    request.set_allow_missing(allow_missing);
    api::DeleteRecreateRequestResponse response;
    return stub_->DeleteRecreateRequest(&context, request, &response);
  }

  // Waits until the request's phase is COMPLETED and returns it.
  api::RecreateRequest WaitCompleted(const std::string& name) {
    api::RecreateRequest request;
    const bool completed = Eventually([&] {
      return Get(name, &request).ok() && request.status().phase() == api::RECREATE_PHASE_COMPLETED;
    });
    EXPECT_TRUE(completed) << "not completed: " << request.DebugString();
    return request;
  }

  // The attempts (CRI metadata.attempt) of every instance of `container` of `pod` the fake runtime
  // holds.
  std::vector<uint32_t> Attempts(const std::string& pod, const std::string& container) {
    cri::ConnectOptions options;
    options.endpoint = "unix://" + cri_socket_;
    absl::StatusOr<cri::Connection> connection = cri::Connect(options);
    EXPECT_THAT(connection.status(), IsOk());
    if (!connection.ok()) return {};
    absl::StatusOr<::runtime::v1::ListContainersResponse> list =
        connection->runtime->ListContainers(::runtime::v1::ListContainersRequest());
    EXPECT_THAT(list.status(), IsOk());
    std::vector<uint32_t> attempts;
    if (!list.ok()) return attempts;
    for (const ::runtime::v1::Container& c : list->containers()) {
      const auto& labels = c.labels();
      auto pod_label = labels.find(std::string(cri::kubelet::kPodName));
      auto name_label = labels.find(std::string(cri::kubelet::kContainerName));
      if (pod_label != labels.end() && pod_label->second == pod && name_label != labels.end() &&
          name_label->second == container) {
        attempts.push_back(c.metadata().attempt());
      }
    }
    std::sort(attempts.begin(), attempts.end());
    return attempts;
  }

  std::unique_ptr<api::RecreateService::Stub> stub_;
};

void ExpectRecreatedOnce(const api::ContainerRecreateState& state) {
  SCOPED_TRACE(state.DebugString());
  EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_TRUE(state.is_killed());
  EXPECT_FALSE(state.old_container_id().empty());
  EXPECT_FALSE(state.new_container_id().empty());
  EXPECT_NE(state.new_container_id(), state.old_container_id());
  EXPECT_EQ(state.restart_count(), state.old_restart_count() + 1);
}

TEST_F(DaemonIntegrationTest, RecreatesAContainerThroughTheApi) {
  StartFakeRuntime();
  StartDaemon();
  api::CreateRecreateRequestResponse created;
  ASSERT_TRUE(Create(RecreateOf("r1", Pod(0), {"c0"}), &created).ok());
  EXPECT_TRUE(created.created());
  EXPECT_FALSE(created.recreate_request().metadata().uid().empty());

  const api::RecreateRequest done = WaitCompleted("r1");
  EXPECT_EQ(done.status().message(), "");
  ASSERT_EQ(done.status().container_states_size(), 1);
  ExpectRecreatedOnce(done.status().container_states(0));
  EXPECT_TRUE(done.status().container_states(0).has_killed_at());
  EXPECT_TRUE(done.status().container_states(0).has_restarted_at());
  // c1 was not touched: still its first instance.
  EXPECT_THAT(Attempts(Pod(0), "c1"), ::testing::ElementsAre(0u));
}

TEST_F(DaemonIntegrationTest, CreateIsIdempotentAndAnotherSpecIsAlreadyExists) {
  StartFakeRuntime();
  StartDaemon();
  const api::CreateRecreateRequestRequest request = RecreateOf("same", Pod(1), {"c0"});
  api::CreateRecreateRequestResponse first;
  ASSERT_TRUE(Create(request, &first).ok());
  api::CreateRecreateRequestResponse again;
  ASSERT_TRUE(Create(request, &again).ok());
  EXPECT_TRUE(first.created());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.recreate_request().metadata().uid(), first.recreate_request().metadata().uid());

  api::CreateRecreateRequestResponse other;
  EXPECT_EQ(Create(RecreateOf("same", Pod(1), {"c1"}), &other).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(DaemonIntegrationTest, ListGetAndDelete) {
  StartFakeRuntime();
  StartDaemon();
  api::CreateRecreateRequestResponse created;
  ASSERT_TRUE(Create(RecreateOf("a", Pod(0), {"c0"}), &created).ok());
  ASSERT_TRUE(Create(RecreateOf("b", Pod(1), {"c1"}), &created).ok());

  {
    grpc::ClientContext context;
    SetDeadline(&context);
    api::ListRecreateRequestsRequest request;
    request.set_namespace_(kNamespace);
    api::ListRecreateRequestsResponse response;
    ASSERT_TRUE(stub_->ListRecreateRequests(&context, request, &response).ok());
    ASSERT_EQ(response.recreate_requests_size(), 2);
    EXPECT_EQ(response.recreate_requests(0).metadata().name(), "a");
    EXPECT_EQ(response.recreate_requests(1).metadata().name(), "b");
  }
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    api::ListRecreateRequestsRequest request;
    request.set_pod_name(Pod(1));
    api::ListRecreateRequestsResponse response;
    ASSERT_TRUE(stub_->ListRecreateRequests(&context, request, &response).ok());
    ASSERT_EQ(response.recreate_requests_size(), 1);
    EXPECT_EQ(response.recreate_requests(0).metadata().name(), "b");
  }
  api::RecreateRequest got;
  ASSERT_TRUE(Get("a", &got).ok());
  EXPECT_EQ(got.spec().pod_name(), Pod(0));

  EXPECT_TRUE(Delete("a").ok());
  EXPECT_EQ(Get("a", &got).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete("a").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(Delete("a", /*allow_missing=*/true).ok());
}

TEST_F(DaemonIntegrationTest, ValidationErrorNamesTheField) {
  StartFakeRuntime();
  StartDaemon();
  api::CreateRecreateRequestResponse response;
  const grpc::Status status = Create(RecreateOf("dup", Pod(0), {"c0", "c0"}), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec.containers[1].name"));

  api::CreateRecreateRequestRequest short_deadline = RecreateOf("deadline", Pod(0), {"c0"});
  short_deadline.mutable_spec()->set_active_deadline_seconds(2);
  const grpc::Status deadline_status = Create(short_deadline, &response);
  EXPECT_EQ(deadline_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(deadline_status.error_message(), HasSubstr("spec.active_deadline_seconds"));
}

TEST_F(DaemonIntegrationTest, OpenRequestsOverTheCapAreResourceExhausted) {
  StartFakeRuntime();
  StartDaemon({"--max-open-requests", "1"});
  // An unready step keeps the request open until AcknowledgeUnready, which never comes.
  api::CreateRecreateRequestRequest waiting = RecreateOf("waits", Pod(0), {"c0"});
  waiting.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(0);
  api::CreateRecreateRequestResponse response;
  ASSERT_TRUE(Create(waiting, &response).ok());
  const grpc::Status over = Create(RecreateOf("over", Pod(1), {"c0"}), &response);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << over.error_message();
  // Repeating the open one is still answered (idempotent), not refused by the cap.
  EXPECT_TRUE(Create(waiting, &response).ok());
}

TEST_F(DaemonIntegrationTest, WatchStreamsTheRecreateToCompletion) {
  StartFakeRuntime();
  StartDaemon();
  grpc::ClientContext context;
  api::WatchRecreateRequestsRequest filter;
  filter.set_name("watched");
  auto reader = stub_->WatchRecreateRequests(&context, filter);
  api::WatchRecreateRequestsResponse event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.type(), api::WATCH_EVENT_TYPE_SYNCED);

  api::CreateRecreateRequestResponse created;
  ASSERT_TRUE(Create(RecreateOf("watched", Pod(2), {"c0", "c1"}), &created).ok());
  ASSERT_TRUE(Create(RecreateOf("other", Pod(3), {"c0"}), &created).ok());
  bool added = false;
  uint64_t last_version = 0;
  while (reader->Read(&event)) {
    const api::RecreateRequest& request = event.recreate_request();
    EXPECT_EQ(request.metadata().name(), "watched");  // the filter holds
    EXPECT_GT(request.metadata().resource_version(), last_version);
    last_version = request.metadata().resource_version();
    if (event.type() == api::WATCH_EVENT_TYPE_ADDED) added = true;
    if (request.status().phase() == api::RECREATE_PHASE_COMPLETED) break;
  }
  EXPECT_TRUE(added);
  ASSERT_EQ(event.recreate_request().status().phase(), api::RECREATE_PHASE_COMPLETED);
  ExpectRecreatedOnce(event.recreate_request().status().container_states(0));
  ExpectRecreatedOnce(event.recreate_request().status().container_states(1));
  context.TryCancel();
  reader->Finish();
}

TEST_F(DaemonIntegrationTest, UnreadyWindowWaitsForAcknowledgeUnready) {
  StartFakeRuntime();
  StartDaemon();
  api::CreateRecreateRequestRequest request = RecreateOf("unready", Pod(0), {"c0"});
  request.mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(0);
  api::CreateRecreateRequestResponse created;
  ASSERT_TRUE(Create(request, &created).ok());
  // Nothing is killed before the acknowledgement: a few poll periods later it still waits.
  absl::SleepFor(absl::Milliseconds(500));
  api::RecreateRequest waiting;
  ASSERT_TRUE(Get("unready", &waiting).ok());
  EXPECT_EQ(waiting.status().phase(), api::RECREATE_PHASE_PENDING);
  EXPECT_FALSE(waiting.status().container_states(0).is_killed());

  grpc::ClientContext context;
  SetDeadline(&context);
  api::AcknowledgeUnreadyRequest ack;
  ack.set_namespace_(kNamespace);
  ack.set_name("unready");
  ack.mutable_unready_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  api::AcknowledgeUnreadyResponse acknowledged;
  ASSERT_TRUE(stub_->AcknowledgeUnready(&context, ack, &acknowledged).ok());
  EXPECT_EQ(acknowledged.recreate_request().status().unready_acknowledged_at().seconds(),
            ack.unready_at().seconds());

  const api::RecreateRequest done = WaitCompleted("unready");
  ExpectRecreatedOnce(done.status().container_states(0));
}

TEST_F(DaemonIntegrationTest, ShutdownEndsOpenWatchesWithUnavailable) {
  StartFakeRuntime();
  StartDaemon();
  grpc::ClientContext context;
  auto reader = stub_->WatchRecreateRequests(&context, api::WatchRecreateRequestsRequest());
  api::WatchRecreateRequestsResponse event;
  ASSERT_TRUE(reader->Read(&event));  // SYNCED: the stream is open
  StopDaemon();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(DaemonIntegrationTest, SecondDaemonOnTheSameSocketFailsToStart) {
  StartFakeRuntime();
  StartDaemon();
  ASSERT_OK_AND_ASSIGN(
      ChildProcess second,
      ChildProcess::Start({INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket_, "--socket",
                           socket_, "--state-dir", dir_.Join("state2"), "--probe-address",
                           "127.0.0.1:0"}));
  ASSERT_OK_AND_ASSIGN(int status,
                       second.Stop(0, absl::Seconds(30)));  // signal 0: wait for its exit
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  // The first one still serves.
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(DaemonIntegrationTest, HealthIsServing) {
  StartFakeRuntime();
  StartDaemon();
  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (const char* service : {"", "inplaced.v1.RecreateService"}) {
    grpc::ClientContext context;
    SetDeadline(&context);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
}

// libcurl (and its 26 libraries) is loaded on the first HTTP request (a preStop httpGet, the
// registry client), not with the daemon: an idle daemon has not mapped it.
TEST_F(DaemonIntegrationTest, ADaemonThatMadeNoHttpRequestHasNotLoadedLibcurl) {
  StartFakeRuntime();
  StartDaemon();
  ASSERT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  std::ifstream maps(absl::StrCat("/proc/", daemon_->pid(), "/maps"));
  ASSERT_TRUE(maps.is_open());
  std::string line;
  int mapped_files = 0;
  while (std::getline(maps, line)) {
    if (line.find(".so") != std::string::npos) ++mapped_files;
    EXPECT_EQ(line.find("libcurl"), std::string::npos) << line;
  }
  EXPECT_GT(mapped_files, 0) << "read the daemon's own mappings";
}

TEST_F(DaemonIntegrationTest, AnswersUnavailableUntilTheRuntimeIsUp) {
  // The runtime socket does not exist yet: the daemon serves health (NOT_SERVING) and refuses API
  // calls (UNAVAILABLE) while it waits for the runtime, then turns SERVING once it answers.
  LaunchDaemon();
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  api::CreateRecreateRequestResponse response;
  EXPECT_EQ(Create(RecreateOf("early", Pod(0), {"c0"}), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  StartFakeRuntime();
  WaitDaemonReady();
  EXPECT_EQ(Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(Create(RecreateOf("early", Pod(0), {"c0"}), &response).ok());
}

TEST_F(DaemonIntegrationTest, SocketIsGroupOnlyAndRemovedOnSigterm) {
  StartFakeRuntime();
  StartDaemon();
  struct stat st;
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat(dir_.Join("run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);

  StopDaemon();
  EXPECT_NE(::stat(socket_.c_str(), &st), 0);
}

TEST_F(DaemonIntegrationTest, InvalidFlagExitsWithUsageError) {
  ASSERT_OK_AND_ASSIGN(ChildProcess child,
                       ChildProcess::Start({INPLACED_PATH, "--fast-poll-ms", "0"}));
  ASSERT_OK_AND_ASSIGN(int status, child.Stop(0, absl::Seconds(20)));  // signal 0: just wait
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

// kill -9 of the daemon at several points of recreates; each restarted daemon finishes them, and no
// container is killed twice (each recreated container is at attempt 1, never 2).
TEST_F(DaemonIntegrationTest, KillNineMidRecreateLosesNothingAndKillsOnce) {
  // Containers ignore SIGTERM: each kill takes the whole (2 s) grace period, a window to crash in.
  StartFakeRuntime({"--ignore-term"});
  StartDaemon();
  auto recreate = [](const std::string& name, const std::string& pod) {
    api::CreateRecreateRequestRequest request = RecreateOf(name, pod, {"c0"});
    request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(2);
    return request;
  };
  api::CreateRecreateRequestResponse created;

  // 1. Right after the request was accepted.
  ASSERT_TRUE(Create(recreate("crash-accepted", Pod(0)), &created).ok());
  KillDaemon();
  StartDaemon();

  // 2. While StopContainer is in flight (the kill is recorded, the container not dead yet).
  ASSERT_TRUE(Create(recreate("crash-killing", Pod(1)), &created).ok());
  api::RecreateRequest seen;
  ASSERT_TRUE(Eventually([&] {
    return Get("crash-killing", &seen).ok() && seen.status().container_states(0).is_killed();
  })) << seen.DebugString();
  KillDaemon();
  StartDaemon();

  for (const auto& [name, pod] : {std::pair<std::string, std::string>{"crash-accepted", Pod(0)},
                                  std::pair<std::string, std::string>{"crash-killing", Pod(1)}}) {
    SCOPED_TRACE(name);
    const api::RecreateRequest done = WaitCompleted(name);
    ASSERT_EQ(done.status().container_states_size(), 1);
    ExpectRecreatedOnce(done.status().container_states(0));
    // One dead instance (attempt 0) and its replacement (attempt 1): a second kill would show
    // attempt 2.
    EXPECT_THAT(Attempts(pod, "c0"), ::testing::ElementsAre(0u, 1u));
  }
}

// The manual recreate of the README, with `buf curl` (grpcurl's stand-in here) and server
// reflection.
class BufCurlTest : public DaemonIntegrationTest {
 protected:
  void SetUp() override {
    DaemonIntegrationTest::SetUp();
    // The manual-recreate walkthrough must run for real: a missing buf is a failed set-up, not a
    // skip.
    ASSERT_EQ(::access(BUF_PATH, X_OK), 0)
        << "buf not installed at " << BUF_PATH << " (scripts/install-deps.sh)";
  }

  std::string BufCurl(const std::vector<std::string>& args) {
    return ::inplaced::testing::RunBufCurl(BUF_PATH, socket_, args);
  }
};

TEST_F(BufCurlTest, ManualRecreateWithReflection) {
  StartFakeRuntime();
  StartDaemon();
  const std::string services = BufCurl({"--list-services", "http://localhost"});
  EXPECT_THAT(services, HasSubstr("inplaced.v1.RecreateService"));
  EXPECT_THAT(services, HasSubstr("grpc.health.v1.Health"));
  EXPECT_THAT(services, HasSubstr("grpc.reflection.v1alpha.ServerReflection"));

  const std::string methods = BufCurl({"--list-methods", "http://localhost"});
  EXPECT_THAT(methods, HasSubstr("inplaced.v1.RecreateService/CreateRecreateRequest"));

  EXPECT_THAT(BufCurl({"http://localhost/grpc.health.v1.Health/Check"}), HasSubstr("\"SERVING\""));

  const std::string created = BufCurl(
      {"http://localhost/inplaced.v1.RecreateService/CreateRecreateRequest", "-d",
       R"({"namespace":"bulk","name":"manual-1","spec":{"podName":"pod-00000","containers":[{"name":"c0"}]}})"});
  EXPECT_THAT(created, HasSubstr("\"created\": true"));

  const api::RecreateRequest done = WaitCompleted("manual-1");
  ExpectRecreatedOnce(done.status().container_states(0));
  const std::string got =
      BufCurl({"http://localhost/inplaced.v1.RecreateService/GetRecreateRequest", "-d",
               R"({"namespace":"bulk","name":"manual-1"})"});
  EXPECT_THAT(got, HasSubstr("RECREATE_PHASE_COMPLETED"));
  EXPECT_THAT(got, HasSubstr("CONTAINER_RECREATE_PHASE_SUCCEEDED"));

  const std::string listed =
      BufCurl({"http://localhost/inplaced.v1.RecreateService/ListRecreateRequests", "-d",
               R"({"namespace":"bulk"})"});
  EXPECT_THAT(listed, HasSubstr("manual-1"));
  BufCurl({"http://localhost/inplaced.v1.RecreateService/DeleteRecreateRequest", "-d",
           R"({"namespace":"bulk","name":"manual-1"})"});
  api::RecreateRequest gone;
  EXPECT_EQ(Get("manual-1", &gone).error_code(), grpc::StatusCode::NOT_FOUND);
}

// The node-info call of the README, with reflection: what a controller asks each node.
TEST_F(BufCurlTest, NodeInfoWithReflection) {
  StartFakeRuntime();
  StartDaemon({"--node-name", "worker-7"});
  EXPECT_THAT(BufCurl({"--list-services", "http://localhost"}),
              HasSubstr("inplaced.v1.NodeService"));
  EXPECT_THAT(BufCurl({"http://localhost/grpc.health.v1.Health/Check", "-d",
                       R"({"service":"inplaced.v1.NodeService"})"}),
              HasSubstr("\"SERVING\""));
  const std::string info = BufCurl({"http://localhost/inplaced.v1.NodeService/GetNodeInfo"});
  EXPECT_THAT(info, HasSubstr("\"nodeName\": \"worker-7\""));
  EXPECT_THAT(info, HasSubstr("\"daemonVersion\": \"0."));
  EXPECT_THAT(info, HasSubstr("\"apiVersion\": \"v1\""));
  EXPECT_THAT(info, HasSubstr("\"runtimeName\": \"containerd\""));
  EXPECT_THAT(info, HasSubstr("\"runtimeVersion\": \"1.6."));
  EXPECT_THAT(info, HasSubstr("\"runtimeReachable\": true"));
  EXPECT_THAT(info, HasSubstr("unix://" + cri_socket_));
  // The fake is containerd 1.6: no event stream, found out within one round trip.
  EXPECT_TRUE(::inplaced::testing::Eventually([&] {
    return absl::StrContains(BufCurl({"http://localhost/inplaced.v1.NodeService/GetNodeInfo"}),
                             "EVENT_STREAM_UNSUPPORTED");
  }));
}

}  // namespace
}  // namespace inplaced
