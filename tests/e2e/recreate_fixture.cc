#include "tests/e2e/recreate_fixture.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/e2e/e2e_runtime.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {

namespace cri_v1 = ::runtime::v1;
namespace api = ::inplaced::v1;
using ::inplaced::testing::ChildProcess;

// A TCP port on 127.0.0.1 that nothing listens on now (the pods are host-network: they share the
// host's ports, and other tests run beside this one).
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

std::vector<std::string> PoliteSleeper() {
  return {"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done"};
}

void ExpectRecreatedOnce(const api::ContainerRecreateState& state, const std::string& old_id) {
  SCOPED_TRACE(state.DebugString());
  EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED);
  EXPECT_TRUE(state.is_killed());
  EXPECT_EQ(state.old_container_id(), old_id);
  EXPECT_FALSE(state.new_container_id().empty());
  EXPECT_NE(state.new_container_id(), old_id);
  EXPECT_EQ(state.old_restart_count(), 0);
  EXPECT_EQ(state.restart_count(), 1);
  EXPECT_TRUE(state.has_killed_at());
  EXPECT_TRUE(state.has_restarted_at());
  EXPECT_GT(FromProtoTime(state.restarted_at()), FromProtoTime(state.killed_at()));
}

void ExpectAllRecreatedOnce(const api::RecreateRequest& done,
                            const std::vector<std::string>& old_ids) {
  EXPECT_EQ(done.status().phase(), api::RECREATE_PHASE_COMPLETED);
  EXPECT_EQ(done.status().message(), "");
  ASSERT_EQ(done.status().container_states_size(), static_cast<int>(old_ids.size()))
      << done.DebugString();
  for (size_t i = 0; i < old_ids.size(); ++i) {
    ExpectRecreatedOnce(done.status().container_states(static_cast<int>(i)), old_ids[i]);
  }
}

std::string LogField(const std::string& line, const std::string& key) {
  const std::string prefix = " " + key + "=";
  const size_t start = line.find(prefix);
  if (start == std::string::npos) return "";
  const size_t value = start + prefix.size();
  return line.substr(value, line.find(' ', value) - value);
}

void RecreateE2eTest::SetUp() {
  ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv());
  ASSERT_OK_AND_ASSIGN(connection_, ConnectToE2eRuntime(env_));
  fakes::KubeletStandInOptions standin_options;
  standin_options.restart_backoff = absl::Milliseconds(300);
  standin_ = std::make_unique<fakes::KubeletStandIn>(*connection_.runtime, *connection_.lifecycle,
                                                     clock_, standin_options);

  char dir[] = "/tmp/ipe-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  dir_ = dir;
  socket_ = dir_ + "/inplaced.sock";
  daemon_log_ = dir_ + "/inplaced.log";
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
}

void RecreateE2eTest::StartDaemon() {
  // Probe port 0: the suites run in parallel.
  std::vector<std::string> argv = {
      INPLACED_PATH, "--runtime-endpoint", env_.containerd_endpoint, "--socket",   socket_,
      "--state-dir", dir_ + "/state",      "--probe-address",        "127.0.0.1:0"};
  for (std::string& flag : DaemonPollFlags()) argv.push_back(std::move(flag));
  ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Start(argv, daemon_log_));
  daemon_ = std::make_unique<ChildProcess>(std::move(child));
  ASSERT_OK(daemon_->WaitForLine("inplaced ready", absl::Seconds(60)).status());
  // A new channel per daemon process: no reconnect backoff left from the previous one.
  stub_ = api::RecreateService::NewStub(
      grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
}

void RecreateE2eTest::KillAndRestartDaemon() {
  ASSERT_NE(daemon_, nullptr);
  ASSERT_OK(daemon_->Stop(SIGKILL, absl::Seconds(10)).status());
  daemon_.reset();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
}

void RecreateE2eTest::TearDown() {
  if (daemon_ != nullptr) {
    absl::StatusOr<int> status = daemon_->Stop(SIGTERM, absl::Seconds(20));
    EXPECT_OK(status.status());
    if (status.ok()) {
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
    }
    daemon_.reset();
  }
  // INPLACED_E2E_DAEMON_LOG=1 prints it for passing tests too.
  const char* show_log = getenv("INPLACED_E2E_DAEMON_LOG");
  if ((HasFailure() || (show_log != nullptr && std::string(show_log) == "1")) &&
      !daemon_log_.empty()) {
    std::ifstream log(daemon_log_);
    std::cerr << "---- inplaced log ----\n"
              << log.rdbuf() << "---- end of inplaced log ----" << std::endl;
  }
  if (standin_ != nullptr) {
    standin_->Stop();
    // A shim busy with an exiting container may drop one StopPodSandbox ("ttrpc: closed");
    // kubelet retries it on its next sync, and so does the teardown.
    absl::Status removed = standin_->RemoveAll();
    for (int attempt = 1; !removed.ok() && attempt < 3; ++attempt) {
      absl::SleepFor(absl::Seconds(1));
      removed = standin_->RemoveAll();
    }
    EXPECT_OK(removed);
    if (!pod_name_.empty()) {
      auto snapshot = cri::TakeSnapshot(runtime());
      ASSERT_OK(snapshot.status());
      EXPECT_EQ(snapshot->FindPod(kRecreateNamespace, pod_name_), nullptr)
          << "pod " << pod_name_ << " left over";
    }
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

fakes::ContainerSpec RecreateE2eTest::Container(const std::string& name,
                                                std::vector<std::string> command) const {
  fakes::ContainerSpec container;
  container.name = name;
  container.image = env_.busybox_image;
  container.command = std::move(command);
  return container;
}

void RecreateE2eTest::RunPod(std::vector<fakes::ContainerSpec> containers,
                             int64_t termination_grace_period_seconds) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  pod_name_ = absl::StrCat("rc-", info->name(), "-", getpid());
  for (char& c : pod_name_) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  fakes::PodSpec pod;
  pod.namespace_ = kRecreateNamespace;
  pod.name = pod_name_;
  pod.uid = absl::StrCat("uid-", pod_name_);
  pod.labels["app"] = "inplaced-e2e";
  pod.termination_grace_period_seconds = termination_grace_period_seconds;
  pod.log_directory =
      absl::StrCat(env_.log_dir, "/", kRecreateNamespace, "_", pod_name_, "_", pod.uid);
  pod_log_directory_ = pod.log_directory;
  pod.host_network = true;
  pod.containers = std::move(containers);
  ASSERT_OK(standin_->RunPod(pod).status());
  standin_->Start(absl::Milliseconds(100));
}

std::optional<cri::ContainerInfo> RecreateE2eTest::Current(const std::string& container) {
  auto snapshot = cri::TakeSnapshot(runtime());
  if (!snapshot.ok()) return std::nullopt;
  const cri::PodInfo* pod = snapshot->FindPod(kRecreateNamespace, pod_name_);
  if (pod == nullptr) return std::nullopt;
  const cri::ContainerInfo* info = pod->CurrentContainer(container);
  if (info == nullptr) return std::nullopt;
  return *info;
}

std::optional<cri::ContainerInfo> RecreateE2eTest::Instance(const std::string& container_id) {
  auto snapshot = cri::TakeSnapshot(runtime());
  EXPECT_OK(snapshot.status());
  if (!snapshot.ok()) return std::nullopt;
  EXPECT_OK(cri::FillStatus(runtime(), {container_id}, &*snapshot));
  const cri::ContainerInfo* info = snapshot->FindContainer(container_id);
  if (info == nullptr || !info->has_status) return std::nullopt;
  return *info;
}

absl::StatusOr<cri_v1::ExecSyncResponse> RecreateE2eTest::Exec(const std::string& container_id,
                                                               std::vector<std::string> cmd) {
  cri_v1::ExecSyncRequest request;
  request.set_container_id(container_id);
  for (std::string& part : cmd) request.add_cmd(std::move(part));
  request.set_timeout(30);
  return runtime().ExecSync(request, /*cancel=*/nullptr);
}

bool RecreateE2eTest::ExecSucceedsWithin(const std::string& container_id,
                                         const std::vector<std::string>& cmd,
                                         absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    absl::StatusOr<cri_v1::ExecSyncResponse> result = Exec(container_id, cmd);
    if (result.ok() && result->exit_code() == 0) return true;
    absl::SleepFor(kPollInterval);
  }
  return false;
}

api::CreateRecreateRequestRequest RecreateE2eTest::Request(
    const std::string& name, std::vector<std::string> containers) const {
  api::CreateRecreateRequestRequest request;
  request.set_namespace_(kRecreateNamespace);
  request.set_name(name);
  request.mutable_spec()->set_pod_name(pod_name_);
  for (const std::string& container : containers)
    request.mutable_spec()->add_containers()->set_name(container);
  return request;
}

void RecreateE2eTest::Create(const api::CreateRecreateRequestRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  api::CreateRecreateRequestResponse response;
  const grpc::Status status = stub_->CreateRecreateRequest(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_TRUE(response.created());
}

std::optional<api::RecreateRequest> RecreateE2eTest::Get(const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  api::GetRecreateRequestRequest request;
  request.set_namespace_(kRecreateNamespace);
  request.set_name(name);
  api::GetRecreateRequestResponse response;
  const grpc::Status status = stub_->GetRecreateRequest(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  if (!status.ok()) return std::nullopt;
  return response.recreate_request();
}

api::RecreateRequest RecreateE2eTest::PollUntil(
    const std::string& name, const std::function<bool(const api::RecreateRequest&)>& done,
    const std::function<void(const api::RecreateRequest&, absl::Time)>& on_poll) {
  api::RecreateRequest last;
  const absl::Time deadline = absl::Now() + kWaitLimit;
  while (absl::Now() < deadline) {
    std::optional<api::RecreateRequest> request = Get(name);
    const absl::Time read_at = absl::Now();
    if (request.has_value()) {
      last = *std::move(request);
      if (on_poll) on_poll(last, read_at);
      if (done(last)) return last;
    }
    absl::SleepFor(kPollInterval);
  }
  ADD_FAILURE() << "request " << name << " never reached the awaited state: " << last.DebugString();
  return last;
}

api::RecreateRequest RecreateE2eTest::WaitCompleted(
    const std::string& name,
    const std::function<void(const api::RecreateRequest&, absl::Time)>& on_poll) {
  return PollUntil(
      name,
      [](const api::RecreateRequest& r) {
        return r.status().phase() == api::RECREATE_PHASE_COMPLETED;
      },
      on_poll);
}

std::string RecreateE2eTest::ContainerLog(const std::string& container, int attempt) const {
  // The kubelet stand-in's layout: <pod log directory>/<container>/<attempt>.log.
  std::ifstream file(absl::StrCat(pod_log_directory_, "/", container, "/", attempt, ".log"));
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

std::vector<std::string> RecreateE2eTest::DaemonLogLines(const std::string& needle) const {
  std::ifstream file(daemon_log_);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) {
    if (line.find(needle) != std::string::npos) lines.push_back(line);
  }
  return lines;
}

}  // namespace inplaced::e2e
