#include "tests/fakes/fake_runtime.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "cri/kubelet_labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/support/status_matchers.h"

namespace inplaced::fakes {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// RunPodSandbox for pod ns/p (uid u).
criv1::RunPodSandboxRequest SandboxRequest() {
  criv1::RunPodSandboxRequest run;
  run.mutable_config()->mutable_metadata()->set_name("p");
  run.mutable_config()->mutable_metadata()->set_namespace_("ns");
  run.mutable_config()->mutable_metadata()->set_uid("u");
  return run;
}

PullScript PullTaking(absl::Duration duration) {
  PullScript script;
  script.duration = duration;
  return script;
}

PullScript PullFailing(absl::Status failure) {
  PullScript script;
  script.failure = std::move(failure);
  return script;
}

ExecResult Output(std::string out, std::string err, int exit_code) {
  ExecResult result;
  result.stdout_text = std::move(out);
  result.stderr_text = std::move(err);
  result.exit_code = exit_code;
  return result;
}

ExecResult Taking(absl::Duration duration, std::string out) {
  ExecResult result = Output(std::move(out), "", 0);
  result.duration = duration;
  return result;
}

ExecResult Hanging() {
  ExecResult result;
  result.hang = true;
  return result;
}

StopBehaviour IgnoresTerm() {
  StopBehaviour behaviour;
  behaviour.honours_term = false;
  return behaviour;
}

StopBehaviour ExitsAfter(absl::Duration delay, int exit_code) {
  StopBehaviour behaviour;
  behaviour.term_exit_delay = delay;
  behaviour.term_exit_code = exit_code;
  return behaviour;
}

class FakeRuntimeTest : public ::testing::Test {
 protected:
  explicit FakeRuntimeTest(RuntimeProfile profile = RuntimeProfile::Containerd16())
      : runtime_(clock_, std::move(profile)) {}

  std::string RunSandbox(const std::string& name, bool host_network = false) {
    criv1::RunPodSandboxRequest request;
    request.mutable_config()->mutable_metadata()->set_name(name);
    request.mutable_config()->mutable_metadata()->set_namespace_("default");
    request.mutable_config()->mutable_metadata()->set_uid("uid-" + name);
    (*request.mutable_config()->mutable_labels())["app"] = name;
    if (host_network) {
      request.mutable_config()
          ->mutable_linux()
          ->mutable_security_context()
          ->mutable_namespace_options()
          ->set_network(criv1::NODE);
    }
    auto response = runtime_.RunPodSandbox(request);
    EXPECT_OK(response);
    return response.ok() ? response->pod_sandbox_id() : "";
  }

  absl::StatusOr<std::string> Create(const std::string& sandbox, const std::string& name,
                                     uint32_t attempt = 0) {
    criv1::CreateContainerRequest request;
    request.set_pod_sandbox_id(sandbox);
    request.mutable_config()->mutable_metadata()->set_name(name);
    request.mutable_config()->mutable_metadata()->set_attempt(attempt);
    request.mutable_config()->mutable_image()->set_image("busybox:1");
    (*request.mutable_config()->mutable_labels())["name"] = name;
    auto response = runtime_.CreateContainer(request);
    if (!response.ok()) return response.status();
    return response->container_id();
  }

  std::string CreateRunning(const std::string& sandbox, const std::string& name) {
    auto id = Create(sandbox, name);
    EXPECT_OK(id);
    if (!id.ok()) return "";
    criv1::StartContainerRequest start;
    start.set_container_id(*id);
    EXPECT_OK(runtime_.StartContainer(start));
    return *id;
  }

  absl::Status Stop(const std::string& id, int64_t timeout) {
    criv1::StopContainerRequest request;
    request.set_container_id(id);
    request.set_timeout(timeout);
    return runtime_.StopContainer(request);
  }

  criv1::ContainerStatus StatusOf(const std::string& id) {
    criv1::ContainerStatusRequest request;
    request.set_container_id(id);
    auto response = runtime_.ContainerStatus(request);
    EXPECT_OK(response);
    return response.ok() ? response->status() : criv1::ContainerStatus();
  }

  FakeClock clock_;
  FakeRuntime runtime_;
};

// ---- Stop semantics ----

TEST_F(FakeRuntimeTest, StopHonouringTermExitsWith143AtOnce) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  clock_.Advance(absl::Seconds(7));
  ASSERT_OK(Stop(id, 30));
  const criv1::ContainerStatus status = StatusOf(id);
  EXPECT_EQ(status.state(), criv1::CONTAINER_EXITED);
  EXPECT_EQ(status.exit_code(), 143);
  EXPECT_EQ(status.reason(), "Error");
  EXPECT_EQ(status.finished_at(), absl::ToUnixNanos(clock_.Now()));
  EXPECT_THAT(runtime_.SignalsOf(id), ElementsAre("SIGTERM"));
}

TEST_F(FakeRuntimeTest, StopHonouringTermWithDelayReturnsAfterDelay) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  ASSERT_OK(runtime_.SetStopBehaviour(id, ExitsAfter(absl::Seconds(3), 0)));
  const absl::Time start = clock_.Now();
  absl::Status stopped = absl::UnknownError("not run");
  std::thread stopper([&] { stopped = Stop(id, 30); });
  clock_.WaitForSleepers(1);
  EXPECT_EQ(StatusOf(id).state(), criv1::CONTAINER_RUNNING);
  clock_.Advance(absl::Seconds(3));
  stopper.join();
  ASSERT_OK(stopped);
  const criv1::ContainerStatus status = StatusOf(id);
  EXPECT_EQ(status.exit_code(), 0);
  EXPECT_EQ(status.reason(), "Completed");
  EXPECT_EQ(status.finished_at(), absl::ToUnixNanos(start + absl::Seconds(3)));
}

TEST_F(FakeRuntimeTest, StopIgnoringTermKillsWith137AtTimeout) {
  runtime_.SetDefaultStopBehaviour(IgnoresTerm());
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  const absl::Time start = clock_.Now();
  absl::Status stopped = absl::UnknownError("not run");
  std::thread stopper([&] { stopped = Stop(id, 10); });
  clock_.WaitForSleepers(1);
  clock_.Advance(absl::Seconds(9));
  clock_.WaitForSleepers(1);  // Woke at most spuriously; still waiting for the kill deadline.
  EXPECT_EQ(StatusOf(id).state(), criv1::CONTAINER_RUNNING);
  clock_.Advance(absl::Seconds(1));
  stopper.join();
  ASSERT_OK(stopped);
  const criv1::ContainerStatus status = StatusOf(id);
  EXPECT_EQ(status.exit_code(), 137);
  EXPECT_EQ(status.finished_at(), absl::ToUnixNanos(start + absl::Seconds(10)));
  EXPECT_THAT(runtime_.SignalsOf(id), ElementsAre("SIGTERM", "SIGKILL"));
}

TEST_F(FakeRuntimeTest, AsyncStopsAreInFlightTogetherAndEndLikeTheBlockingCall) {
  runtime_.SetDefaultStopBehaviour(IgnoresTerm());
  const std::string sandbox = RunSandbox("p");
  constexpr int kStops = 20;
  absl::Mutex mu;
  std::vector<absl::Status> results;
  Cancellation cancel;
  std::vector<std::string> ids;
  for (int i = 0; i < kStops; ++i) {
    ids.push_back(CreateRunning(sandbox, absl::StrCat("app", i)));
    criv1::StopContainerRequest request;
    request.set_container_id(ids.back());
    request.set_timeout(i == 0 ? 2 : 40);
    runtime_.StopContainerAsync(request, &cancel, [&](absl::Status status) {
      absl::MutexLock lock(&mu);
      results.push_back(status);
    });
  }
  clock_.WaitForSleepers(kStops);
  EXPECT_EQ(runtime_.AsyncCallsInFlight(), kStops);
  EXPECT_EQ(runtime_.CallCount("StopContainer"), kStops) << "each call is logged";
  clock_.Advance(absl::Seconds(2));
  {
    absl::MutexLock lock(&mu);
    const auto one = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return results.size() == 1; };
    mu.Await(absl::Condition(&one));
    EXPECT_OK(results[0]) << "the 2 s stop ends while the others wait";
  }
  EXPECT_THAT(runtime_.SignalsOf(ids[0]), ElementsAre("SIGTERM", "SIGKILL"));
  cancel.Cancel();
  absl::MutexLock lock(&mu);
  const auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return results.size() == kStops; };
  mu.Await(absl::Condition(&all));
  for (int i = 1; i < kStops; ++i) EXPECT_THAT(results[i], StatusIs(absl::StatusCode::kCancelled));
  EXPECT_THAT(runtime_.SignalsOf(ids[1]), ElementsAre("SIGTERM")) << "abandoned, not killed";
}

TEST_F(FakeRuntimeTest, AsyncExecAnswersLikeExecSync) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  runtime_.SetExecHandler(id, {"cat"}, ExecResult{"out", "", 3});
  criv1::ExecSyncRequest request;
  request.set_container_id(id);
  request.add_cmd("cat");
  absl::Notification done;
  absl::StatusOr<criv1::ExecSyncResponse> result;
  runtime_.ExecSyncAsync(request, nullptr, [&](absl::StatusOr<criv1::ExecSyncResponse> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  ASSERT_OK(result.status());
  EXPECT_EQ(result->exit_code(), 3);
  EXPECT_EQ(result->stdout(), "out");
  EXPECT_EQ(runtime_.CallCount("ExecSync"), 1);
}

TEST_F(FakeRuntimeTest, StopWithZeroTimeoutKillsAtOnceWithoutStopSignal) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  ASSERT_OK(Stop(id, 0));
  EXPECT_EQ(StatusOf(id).exit_code(), 137);
  EXPECT_THAT(runtime_.SignalsOf(id), ElementsAre("SIGKILL"));
}

TEST_F(FakeRuntimeTest, SecondConcurrentStopDoesNotResendSignal) {
  runtime_.SetDefaultStopBehaviour(IgnoresTerm());
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  absl::Status first, second;
  std::thread a([&] { first = Stop(id, 30); });
  clock_.WaitForSleepers(1);
  std::thread b([&] { second = Stop(id, 5); });
  clock_.WaitForSleepers(2);
  clock_.Advance(absl::Seconds(5));
  a.join();
  b.join();
  EXPECT_OK(first);
  EXPECT_OK(second);
  EXPECT_EQ(StatusOf(id).exit_code(), 137);
  EXPECT_THAT(runtime_.SignalsOf(id), ElementsAre("SIGTERM", "SIGKILL"));
}

TEST_F(FakeRuntimeTest, StopOfExitedContainerIsNoOp) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  ASSERT_OK(runtime_.ExitContainer(id, 3));
  ASSERT_OK(Stop(id, 30));
  EXPECT_EQ(StatusOf(id).exit_code(), 3);
  EXPECT_THAT(runtime_.SignalsOf(id), IsEmpty());
}

TEST(FakeRuntimeProfileTest, StopOfUnknownContainerPerProfile) {
  struct Case {
    const char* name;
    RuntimeProfile profile;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {"containerd 1.6.20", RuntimeProfile::Containerd16(), absl::StatusCode::kNotFound},
      {"containerd 1.7", RuntimeProfile::Containerd17(), absl::StatusCode::kOk},
      {"containerd 2.0", RuntimeProfile::Containerd20(), absl::StatusCode::kOk},
      {"cri-o", RuntimeProfile::CriO(), absl::StatusCode::kOk},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeClock clock;
    FakeRuntime runtime(clock, c.profile);
    criv1::StopContainerRequest request;
    request.set_container_id("0123456789abcdef");
    request.set_timeout(10);
    EXPECT_THAT(runtime.StopContainer(request), StatusIs(c.code));
    criv1::RemoveContainerRequest remove;
    remove.set_container_id("0123456789abcdef");
    EXPECT_OK(runtime.RemoveContainer(remove));
  }
}

class CriOFakeRuntimeTest : public FakeRuntimeTest {
 protected:
  CriOFakeRuntimeTest() : FakeRuntimeTest(RuntimeProfile::CriO()) {}
};

TEST_F(CriOFakeRuntimeTest, StopWithZeroTimeoutSendsStopSignalFirst) {
  runtime_.SetDefaultStopBehaviour(IgnoresTerm());
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  ASSERT_OK(Stop(id, 0));
  EXPECT_EQ(StatusOf(id).exit_code(), 137);
  EXPECT_THAT(runtime_.SignalsOf(id), ElementsAre("SIGTERM", "SIGKILL"));
}

// ---- Objects, ids, filters ----

TEST_F(FakeRuntimeTest, StatusOfUnknownIdsIsNotFound) {
  criv1::ContainerStatusRequest container;
  container.set_container_id("nope");
  EXPECT_THAT(runtime_.ContainerStatus(container), StatusIs(absl::StatusCode::kNotFound));
  criv1::PodSandboxStatusRequest sandbox;
  sandbox.set_pod_sandbox_id("nope");
  EXPECT_THAT(runtime_.PodSandboxStatus(sandbox), StatusIs(absl::StatusCode::kNotFound));
  criv1::StartContainerRequest start;
  start.set_container_id("nope");
  EXPECT_THAT(runtime_.StartContainer(start), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Create("nope", "app"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FakeRuntimeTest, SandboxesGetUniqueIdsAndIpsExceptHostNetwork) {
  const std::string a = RunSandbox("a");
  const std::string b = RunSandbox("b", /*host_network=*/true);
  EXPECT_NE(a, b);
  EXPECT_THAT(a, SizeIs(64));
  criv1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(a);
  ASSERT_OK_AND_ASSIGN(auto status_a, runtime_.PodSandboxStatus(request));
  EXPECT_FALSE(status_a.status().network().ip().empty());
  EXPECT_EQ(status_a.status().labels().at("app"), "a");
  EXPECT_EQ(status_a.status().created_at(), absl::ToUnixNanos(clock_.Now()));
  request.set_pod_sandbox_id(b);
  ASSERT_OK_AND_ASSIGN(auto status_b, runtime_.PodSandboxStatus(request));
  EXPECT_TRUE(status_b.status().network().ip().empty());
}

TEST_F(FakeRuntimeTest, NameAndAttemptAreUniquePerSandbox) {
  const std::string sandbox = RunSandbox("p");
  ASSERT_OK(Create(sandbox, "app", 0));
  EXPECT_THAT(Create(sandbox, "app", 0),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("failed to reserve container name")));
  EXPECT_OK(Create(sandbox, "app", 1));
  EXPECT_OK(Create(RunSandbox("q"), "app", 0));
}

TEST_F(FakeRuntimeTest, CreatedContainerCarriesImageAndLogFields) {
  const std::string sandbox = RunSandbox("p");
  criv1::CreateContainerRequest request;
  request.set_pod_sandbox_id(sandbox);
  request.mutable_config()->mutable_metadata()->set_name("app");
  request.mutable_config()->mutable_image()->set_image("busybox:1");
  request.mutable_config()->set_log_path("app/0.log");
  (*request.mutable_config()->mutable_annotations())["k"] = "v \x01 bytes";
  request.mutable_sandbox_config()->set_log_directory("/var/log/pods/x");
  ASSERT_OK_AND_ASSIGN(auto created, runtime_.CreateContainer(request));
  const criv1::ContainerStatus status = StatusOf(created.container_id());
  EXPECT_EQ(status.state(), criv1::CONTAINER_CREATED);
  EXPECT_EQ(status.image().image(), "busybox:1");
  EXPECT_FALSE(status.image_ref().empty());
  EXPECT_FALSE(status.image_id().empty());
  EXPECT_EQ(status.log_path(), "/var/log/pods/x/app/0.log");
  EXPECT_EQ(status.annotations().at("k"), "v \x01 bytes");
}

TEST_F(FakeRuntimeTest, ListFiltersAreAnded) {
  const std::string p = RunSandbox("p");
  const std::string q = RunSandbox("q");
  const std::string p_app = CreateRunning(p, "app");
  ASSERT_OK(Create(p, "side"));
  const std::string q_app = CreateRunning(q, "app");
  ASSERT_OK(Stop(q_app, 0));

  criv1::ListContainersRequest request;
  (*request.mutable_filter()->mutable_label_selector())["name"] = "app";
  ASSERT_OK_AND_ASSIGN(auto by_label, runtime_.ListContainers(request));
  EXPECT_THAT(by_label.containers(), SizeIs(2));

  request.mutable_filter()->mutable_state()->set_state(criv1::CONTAINER_RUNNING);
  ASSERT_OK_AND_ASSIGN(auto running, runtime_.ListContainers(request));
  ASSERT_THAT(running.containers(), SizeIs(1));
  EXPECT_EQ(running.containers(0).id(), p_app);

  criv1::ListContainersRequest by_sandbox;
  by_sandbox.mutable_filter()->set_pod_sandbox_id(p);
  ASSERT_OK_AND_ASSIGN(auto of_p, runtime_.ListContainers(by_sandbox));
  EXPECT_THAT(of_p.containers(), SizeIs(2));

  criv1::ListContainersRequest by_id;
  by_id.mutable_filter()->set_id(q_app.substr(0, 12));  // containerd accepts unique prefixes.
  ASSERT_OK_AND_ASSIGN(auto of_id, runtime_.ListContainers(by_id));
  ASSERT_THAT(of_id.containers(), SizeIs(1));
  EXPECT_EQ(of_id.containers(0).state(), criv1::CONTAINER_EXITED);

  criv1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(q);
  ASSERT_OK(runtime_.StopPodSandbox(stop));
  criv1::ListPodSandboxRequest sandboxes;
  sandboxes.mutable_filter()->mutable_state()->set_state(criv1::SANDBOX_READY);
  ASSERT_OK_AND_ASSIGN(auto ready, runtime_.ListPodSandbox(sandboxes));
  ASSERT_THAT(ready.items(), SizeIs(1));
  EXPECT_EQ(ready.items(0).id(), p);
  criv1::ListPodSandboxRequest by_labels;
  (*by_labels.mutable_filter()->mutable_label_selector())["app"] = "q";
  ASSERT_OK_AND_ASSIGN(auto labelled, runtime_.ListPodSandbox(by_labels));
  ASSERT_THAT(labelled.items(), SizeIs(1));
  EXPECT_EQ(labelled.items(0).state(), criv1::SANDBOX_NOTREADY);
}

TEST_F(FakeRuntimeTest, RemovePodSandboxRemovesContainersAndIsIdempotent) {
  const std::string p = RunSandbox("p");
  const std::string id = CreateRunning(p, "app");
  criv1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(p);
  ASSERT_OK(runtime_.RemovePodSandbox(remove));
  ASSERT_OK(runtime_.RemovePodSandbox(remove));
  criv1::ContainerStatusRequest status;
  status.set_container_id(id);
  EXPECT_THAT(runtime_.ContainerStatus(status), StatusIs(absl::StatusCode::kNotFound));
}

// ---- ExecSync ----

TEST_F(FakeRuntimeTest, ExecAnswersFromHandlersByIdOrName) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  runtime_.SetExecHandler("app", {"cat", "/x"}, Output("by-name", "", 0));
  runtime_.SetExecHandler(id, {"false"}, Output("", "failed", 1));
  criv1::ExecSyncRequest request;
  request.set_container_id(id);
  request.add_cmd("cat");
  request.add_cmd("/x");
  ASSERT_OK_AND_ASSIGN(auto cat, runtime_.ExecSync(request, nullptr));
  EXPECT_EQ(cat.stdout(), "by-name");
  request.clear_cmd();
  request.add_cmd("false");
  ASSERT_OK_AND_ASSIGN(auto failed, runtime_.ExecSync(request, nullptr));
  EXPECT_EQ(failed.exit_code(), 1);
  EXPECT_EQ(failed.stderr(), "failed");
  EXPECT_THAT(runtime_.Execs(), SizeIs(2));
}

TEST(FakeRuntimeProfileTest, ExecTimeoutAndNotRunningPerProfile) {
  struct Case {
    const char* name;
    RuntimeProfile profile;
    absl::StatusCode timeout_code;
    absl::StatusCode exited_code;
  };
  const Case cases[] = {
      {"containerd", RuntimeProfile::Containerd16(), absl::StatusCode::kDeadlineExceeded,
       absl::StatusCode::kUnknown},
      {"cri-o", RuntimeProfile::CriO(), absl::StatusCode::kOk, absl::StatusCode::kNotFound},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FakeClock clock;
    FakeRuntime runtime(clock, c.profile);
    const criv1::RunPodSandboxRequest run = SandboxRequest();
    ASSERT_OK_AND_ASSIGN(auto sandbox, runtime.RunPodSandbox(run));
    criv1::CreateContainerRequest create;
    create.set_pod_sandbox_id(sandbox.pod_sandbox_id());
    create.mutable_config()->mutable_metadata()->set_name("app");
    ASSERT_OK_AND_ASSIGN(auto created, runtime.CreateContainer(create));
    criv1::StartContainerRequest start;
    start.set_container_id(created.container_id());
    ASSERT_OK(runtime.StartContainer(start));
    runtime.SetExecHandler("app", {}, Hanging());

    criv1::ExecSyncRequest exec;
    exec.set_container_id(created.container_id());
    exec.add_cmd("sleep");
    exec.set_timeout(2);
    absl::StatusOr<criv1::ExecSyncResponse> result;
    std::thread caller([&] { result = runtime.ExecSync(exec, nullptr); });
    clock.WaitForSleepers(1);
    clock.Advance(absl::Seconds(2));
    caller.join();
    EXPECT_THAT(result, StatusIs(c.timeout_code));
    if (result.ok()) {
      EXPECT_EQ(result->exit_code(), -1);
    }

    ASSERT_OK(runtime.ExitContainer(created.container_id(), 0));
    EXPECT_THAT(runtime.ExecSync(exec, nullptr), StatusIs(c.exited_code));
  }
}

TEST_F(FakeRuntimeTest, ExecWithoutTimeoutEndsOnCancellation) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  runtime_.SetExecHandler(id, {}, Hanging());
  criv1::ExecSyncRequest exec;
  exec.set_container_id(id);
  exec.add_cmd("hang");
  Cancellation cancel;
  absl::StatusOr<criv1::ExecSyncResponse> result;
  std::thread caller([&] { result = runtime_.ExecSync(exec, &cancel); });
  clock_.WaitForSleepers(1);
  cancel.Cancel();
  caller.join();
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(FakeRuntimeTest, ExecWithDurationTakesThatLongOnTheClock) {
  const std::string id = CreateRunning(RunSandbox("p"), "app");
  runtime_.SetExecHandler(id, {}, Taking(absl::Seconds(4), "done"));
  criv1::ExecSyncRequest exec;
  exec.set_container_id(id);
  exec.add_cmd("work");
  exec.set_timeout(10);
  absl::StatusOr<criv1::ExecSyncResponse> result;
  std::thread caller([&] { result = runtime_.ExecSync(exec, nullptr); });
  clock_.WaitForSleepers(1);
  clock_.Advance(absl::Seconds(4));
  caller.join();
  ASSERT_OK(result);
  EXPECT_EQ(result->stdout(), "done");
}

// ---- Events ----

TEST_F(FakeRuntimeTest, EventsUnimplementedOnContainerd16) {
  EXPECT_THAT(runtime_.GetContainerEvents(),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("GetContainerEvents")));
}

TEST(FakeRuntimeEventsTest, BroadcastDeliversEveryEventToEverySubscriber) {
  FakeClock clock;
  FakeRuntime runtime(clock, RuntimeProfile::Containerd20());
  ASSERT_OK_AND_ASSIGN(auto first, runtime.GetContainerEvents());
  ASSERT_OK_AND_ASSIGN(auto second, runtime.GetContainerEvents());
  EXPECT_EQ(runtime.EventSubscribers(), 2);
  const criv1::RunPodSandboxRequest run = SandboxRequest();
  ASSERT_OK_AND_ASSIGN(auto sandbox, runtime.RunPodSandbox(run));
  criv1::CreateContainerRequest create;
  create.set_pod_sandbox_id(sandbox.pod_sandbox_id());
  create.mutable_config()->mutable_metadata()->set_name("app");
  ASSERT_OK_AND_ASSIGN(auto created, runtime.CreateContainer(create));
  criv1::StartContainerRequest start;
  start.set_container_id(created.container_id());
  ASSERT_OK(runtime.StartContainer(start));

  for (auto* stream : {first.get(), second.get()}) {
    std::vector<criv1::ContainerEventType> types;
    criv1::ContainerEventResponse event;
    for (int i = 0; i < 4 && stream->Read(&event); ++i)
      types.push_back(event.container_event_type());
    // Sandbox created + started, then the container created + started.
    EXPECT_THAT(types, ElementsAre(criv1::CONTAINER_CREATED_EVENT, criv1::CONTAINER_STARTED_EVENT,
                                   criv1::CONTAINER_CREATED_EVENT, criv1::CONTAINER_STARTED_EVENT));
    EXPECT_EQ(event.container_id(), created.container_id());
    EXPECT_EQ(event.pod_sandbox_status().id(), sandbox.pod_sandbox_id());
    ASSERT_THAT(event.containers_statuses(), SizeIs(1));
    EXPECT_EQ(event.containers_statuses(0).state(), criv1::CONTAINER_RUNNING);
  }
}

TEST(FakeRuntimeEventsTest, CancelEndsBlockedRead) {
  FakeClock clock;
  FakeRuntime runtime(clock, RuntimeProfile::CriO());
  ASSERT_OK_AND_ASSIGN(auto stream, runtime.GetContainerEvents());
  bool read = true;
  std::thread reader([&] {
    criv1::ContainerEventResponse event;
    read = stream->Read(&event);
  });
  stream->Cancel();
  reader.join();
  EXPECT_FALSE(read);
  EXPECT_THAT(stream->Finish(), StatusIs(absl::StatusCode::kCancelled));
}

TEST(FakeRuntimeEventsTest, SharedChannelSplitsEventsBetweenSubscribers) {
  FakeClock clock;
  FakeRuntime runtime(clock, RuntimeProfile::Containerd17());
  ASSERT_OK_AND_ASSIGN(auto first, runtime.GetContainerEvents());
  ASSERT_OK_AND_ASSIGN(auto second, runtime.GetContainerEvents());
  const criv1::RunPodSandboxRequest run = SandboxRequest();
  ASSERT_OK(runtime.RunPodSandbox(run));  // Two events: sandbox created and started.
  criv1::ContainerEventResponse event;
  ASSERT_TRUE(first->Read(&event));
  EXPECT_EQ(event.container_event_type(), criv1::CONTAINER_CREATED_EVENT);
  ASSERT_TRUE(second->Read(&event));
  EXPECT_EQ(event.container_event_type(), criv1::CONTAINER_STARTED_EVENT);
}

TEST(FakeRuntimeEventsTest, BreakEndsOpenStreamsWithTheStatusAndLaterOnesWork) {
  for (RuntimeProfile profile : {RuntimeProfile::Containerd17(), RuntimeProfile::Containerd20()}) {
    SCOPED_TRACE(profile.runtime_version);
    FakeClock clock;
    FakeRuntime runtime(clock, profile);
    ASSERT_OK_AND_ASSIGN(auto before, runtime.GetContainerEvents());
    runtime.BreakEventStreams(absl::UnavailableError("GetContainerEvents: connection reset"));
    criv1::ContainerEventResponse event;
    EXPECT_FALSE(before->Read(&event));
    EXPECT_THAT(before->Finish(),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connection reset")));

    ASSERT_OK_AND_ASSIGN(auto after, runtime.GetContainerEvents());
    const criv1::RunPodSandboxRequest run = SandboxRequest();
    ASSERT_OK(runtime.RunPodSandbox(run));
    ASSERT_TRUE(after->Read(&event));
    EXPECT_EQ(event.container_event_type(), criv1::CONTAINER_CREATED_EVENT);
  }
}

TEST(FakeRuntimeEventsTest, SilentStreamStaysOpenWithoutEvents) {
  FakeClock clock;
  RuntimeProfile profile = RuntimeProfile::Containerd17();
  profile.events = EventsMode::kSilent;
  FakeRuntime runtime(clock, profile);
  ASSERT_OK_AND_ASSIGN(auto stream, runtime.GetContainerEvents());
  EXPECT_EQ(runtime.EventSubscribers(), 1);
  const criv1::RunPodSandboxRequest run = SandboxRequest();
  ASSERT_OK(runtime.RunPodSandbox(run));
  // Nothing to read: Read would block, so end the stream and check that nothing was queued.
  runtime.BreakEventStreams(absl::OkStatus());
  criv1::ContainerEventResponse event;
  EXPECT_FALSE(stream->Read(&event));
  EXPECT_OK(stream->Finish());
}

// ---- Images ----

TEST_F(FakeRuntimeTest, PullTakesScriptedDurationAndTracksInFlight) {
  runtime_.SetPullScript("registry.local/a:1", PullTaking(absl::Seconds(5)));
  EXPECT_EQ(runtime_.InFlightPulls(), 0);
  criv1::PullImageRequest request;
  request.mutable_image()->set_image("registry.local/a:1");
  absl::StatusOr<criv1::PullImageResponse> pulled;
  std::thread puller([&] { pulled = runtime_.PullImage(request, nullptr); });
  clock_.WaitForSleepers(1);
  EXPECT_EQ(runtime_.InFlightPulls(), 1);
  criv1::ImageStatusRequest status;
  status.mutable_image()->set_image("registry.local/a:1");
  ASSERT_OK_AND_ASSIGN(auto absent, runtime_.ImageStatus(status));
  EXPECT_FALSE(absent.has_image());
  clock_.Advance(absl::Seconds(5));
  puller.join();
  ASSERT_OK(pulled);
  EXPECT_EQ(runtime_.InFlightPulls(), 0);
  ASSERT_OK_AND_ASSIGN(auto present, runtime_.ImageStatus(status));
  ASSERT_TRUE(present.has_image());
  EXPECT_GT(present.image().size(), 0u);
  EXPECT_EQ(pulled->image_ref(), present.image().id());  // containerd: the image id.
}

TEST_F(FakeRuntimeTest, PullCountsMaxConcurrency) {
  std::vector<std::thread> pullers;
  for (int i = 0; i < 3; ++i) {
    const std::string image = "registry.local/img" + std::to_string(i) + ":1";
    runtime_.SetPullScript(image, PullTaking(absl::Seconds(1 + i)));
    pullers.emplace_back([this, image] {
      criv1::PullImageRequest request;
      request.mutable_image()->set_image(image);
      EXPECT_OK(runtime_.PullImage(request, nullptr));
    });
  }
  clock_.WaitForSleepers(3);
  clock_.Advance(absl::Seconds(3));
  for (auto& t : pullers) t.join();
  EXPECT_EQ(runtime_.MaxConcurrentPulls(), 3);
  criv1::ListImagesRequest list;
  ASSERT_OK_AND_ASSIGN(auto images, runtime_.ListImages(list));
  EXPECT_THAT(images.images(), SizeIs(3));
}

TEST_F(FakeRuntimeTest, PullFailsWithScriptedError) {
  runtime_.SetPullScript("registry.local/missing:1", PullFailing(absl::NotFoundError("not found")));
  criv1::PullImageRequest request;
  request.mutable_image()->set_image("registry.local/missing:1");
  EXPECT_THAT(runtime_.PullImage(request, nullptr), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FakeRuntimeTest, PullIsCancellable) {
  PullScript stall;
  stall.hang = true;
  runtime_.SetPullScript("registry.local/slow:1", stall);
  criv1::PullImageRequest request;
  request.mutable_image()->set_image("registry.local/slow:1");
  Cancellation cancel;
  absl::StatusOr<criv1::PullImageResponse> pulled;
  std::thread puller([&] { pulled = runtime_.PullImage(request, &cancel); });
  clock_.WaitForSleepers(1);
  cancel.Cancel();
  puller.join();
  EXPECT_THAT(pulled, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(runtime_.InFlightPulls(), 0);
}

TEST_F(FakeRuntimeTest, PullRecordsAuthAndRejectsWrongCredentials) {
  PullScript script;
  criv1::AuthConfig want;
  want.set_username("u");
  want.set_password("p");
  script.required_auth = want;
  runtime_.SetPullScript("registry.local/private:1", script);
  criv1::PullImageRequest request;
  request.mutable_image()->set_image("registry.local/private:1");
  request.mutable_auth()->set_username("u");
  request.mutable_auth()->set_password("wrong");
  EXPECT_THAT(runtime_.PullImage(request, nullptr),
              StatusIs(absl::StatusCode::kUnknown,
                       HasSubstr("pulling from host registry.local failed with status code "
                                 "[manifests 1]: 401 Unauthorized")));
  request.mutable_auth()->set_password("p");
  EXPECT_OK(runtime_.PullImage(request, nullptr));
  const std::vector<PullRecord> pulls = runtime_.Pulls();
  ASSERT_THAT(pulls, SizeIs(2));
  EXPECT_EQ(pulls[1].auth.password(), "p");
  EXPECT_EQ(pulls[1].image, "registry.local/private:1");
}

TEST_F(FakeRuntimeTest, ImagesAreNormalisedAndRemovalIsIdempotent) {
  runtime_.AddImage("busybox:1");
  criv1::ImageStatusRequest status;
  status.mutable_image()->set_image("docker.io/library/busybox:1");
  ASSERT_OK_AND_ASSIGN(auto present, runtime_.ImageStatus(status));
  ASSERT_TRUE(present.has_image());
  EXPECT_THAT(present.image().repo_tags(), ElementsAre("docker.io/library/busybox:1"));
  criv1::RemoveImageRequest remove;
  remove.mutable_image()->set_image("busybox:1");
  ASSERT_OK(runtime_.RemoveImage(remove));
  ASSERT_OK(runtime_.RemoveImage(remove));
  ASSERT_OK_AND_ASSIGN(auto absent, runtime_.ImageStatus(status));
  EXPECT_FALSE(absent.has_image());
}

TEST(FakeRuntimeProfileTest, ListImagesFilterAndPullRefPerProfile) {
  for (const RuntimeProfile& profile : {RuntimeProfile::Containerd16(), RuntimeProfile::CriO()}) {
    SCOPED_TRACE(profile.runtime_name);
    FakeClock clock;
    FakeRuntime runtime(clock, profile);
    runtime.AddImage("registry.local/a:1");
    criv1::PullImageRequest pull;
    pull.mutable_image()->set_image("registry.local/b:1");
    ASSERT_OK_AND_ASSIGN(auto pulled, runtime.PullImage(pull, nullptr));
    const bool crio = profile.runtime_name == "cri-o";
    EXPECT_EQ(absl::StartsWith(pulled.image_ref(), "registry.local/b@sha256:"), crio);
    criv1::ListImagesRequest list;
    list.mutable_filter()->mutable_image()->set_image("registry.local/a:1");
    ASSERT_OK_AND_ASSIGN(auto images, runtime.ListImages(list));
    EXPECT_THAT(images.images(), SizeIs(crio ? 1 : 2));
  }
}

TEST_F(FakeRuntimeTest, ImageFsInfoReportsConfiguredUsage) {
  runtime_.SetImageFsUsedBytes(12345);
  ASSERT_OK_AND_ASSIGN(auto info, runtime_.ImageFsInfo(criv1::ImageFsInfoRequest()));
  ASSERT_THAT(info.image_filesystems(), SizeIs(1));
  EXPECT_EQ(info.image_filesystems(0).used_bytes().value(), 12345u);
}

// ---- Hooks ----

TEST_F(FakeRuntimeTest, InjectedErrorIsConsumedOnce) {
  runtime_.InjectError("Version", absl::UnavailableError("runtime down"));
  EXPECT_THAT(runtime_.Version(criv1::VersionRequest()), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(auto version, runtime_.Version(criv1::VersionRequest()));
  EXPECT_EQ(version.runtime_name(), "containerd");
  EXPECT_EQ(version.runtime_version(), "1.6.20~ds1");
  EXPECT_EQ(version.runtime_api_version(), "v1");
  EXPECT_THAT(runtime_.Calls(), ElementsAre("Version", "Version"));
  EXPECT_EQ(runtime_.CallCount("Version"), 2);
}

TEST_F(FakeRuntimeTest, InjectedLatencyWaitsOnTheClock) {
  runtime_.SetLatency("Status", absl::Seconds(1));
  absl::StatusOr<criv1::StatusResponse> status;
  std::thread caller([&] { status = runtime_.Status(criv1::StatusRequest()); });
  clock_.WaitForSleepers(1);
  clock_.Advance(absl::Seconds(1));
  caller.join();
  ASSERT_OK(status);
  EXPECT_THAT(status->status().conditions(), SizeIs(2));
}

TEST_F(FakeRuntimeTest, AddPodsBuildsThousandKubeletLabelledPods) {
  const std::vector<std::string> ids = runtime_.AddPods(1000, 2);
  ASSERT_THAT(ids, SizeIs(1000));
  ASSERT_OK_AND_ASSIGN(auto sandboxes, runtime_.ListPodSandbox(criv1::ListPodSandboxRequest()));
  EXPECT_THAT(sandboxes.items(), SizeIs(1000));
  criv1::ListContainersRequest request;
  request.mutable_filter()->mutable_state()->set_state(criv1::CONTAINER_RUNNING);
  ASSERT_OK_AND_ASSIGN(auto containers, runtime_.ListContainers(request));
  ASSERT_THAT(containers.containers(), SizeIs(2000));
  const criv1::Container& c = containers.containers(0);
  EXPECT_EQ(c.labels().size(), 4u);
  EXPECT_TRUE(c.labels().contains(std::string(cri::kubelet::kPodUid)));
  EXPECT_EQ(c.annotations().at(std::string(cri::kubelet::kContainerRestartCount)), "0");
  EXPECT_EQ(runtime_.CallCount("CreateContainer"), 0);
}

}  // namespace
}  // namespace inplaced::fakes
