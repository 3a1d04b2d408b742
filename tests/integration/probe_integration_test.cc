// The inplaced binary's probe/metrics port against the fake_cri_server binary: /healthz answers
// while the daemon waits for its runtime, /readyz only once the runtime answered and the engine
// ticks, /metrics shows a recreate done through the control API; a bad or taken probe address fails
// the start naming the setting.

#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/http_get.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::DaemonHarness;
using ::inplaced::testing::Eventually;
using ::inplaced::testing::HttpRequest;
using ::inplaced::testing::HttpResponse;
using ::inplaced::testing::SetDeadline;
using ::testing::HasSubstr;

// The value of the series `series` (name and labels exactly as exposed) in a scrape, -1 if absent.
double Sample(const std::string& scrape, const std::string& series) {
  const std::string prefix = series + " ";
  size_t at = 0;
  while ((at = scrape.find(prefix, at)) != std::string::npos) {
    if (at == 0 || scrape[at - 1] == '\n') {
      const size_t end = scrape.find('\n', at);
      double value = -1;
      if (absl::SimpleAtod(scrape.substr(at + prefix.size(), end - at - prefix.size()), &value)) {
        return value;
      }
    }
    at += prefix.size();
  }
  return -1;
}

class ProbeIntegrationTest : public DaemonHarness {
 protected:
  std::vector<std::string> FakeRuntimeFlags() const override {
    return {"--pods", "2", "--containers-per-pod", "2", "--restart-backoff-ms", "200"};
  }
  std::vector<std::string> DaemonFlags() const override {
    return {"--fast-poll-ms", "50", "--slow-poll-ms", "200"};
  }
  void MakeStubs() override { stub_ = api::RecreateService::NewStub(channel_); }

  // The port from the daemon's "inplaced probe listening ... port=N" line (it asked for port 0).
  void ReadProbePort() {
    ASSERT_OK_AND_ASSIGN(std::string line,
                         daemon_->WaitForLine("inplaced probe listening", absl::Seconds(60)));
    const size_t at = line.find("port=");
    ASSERT_NE(at, std::string::npos) << line;
    ASSERT_TRUE(absl::SimpleAtoi(line.substr(at + 5), &port_)) << line;
    ASSERT_GT(port_, 0);
  }

  HttpResponse Get(const std::string& path) {
    absl::StatusOr<HttpResponse> response = HttpRequest(port_, path);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : HttpResponse();
  }

  std::unique_ptr<api::RecreateService::Stub> stub_;
  int port_ = 0;
};

TEST_F(ProbeIntegrationTest, ReadyOnlyOnceTheRuntimeAnsweredAndMetricsFollowARecreate) {
  // The daemon starts before its runtime: alive, not ready.
  LaunchDaemon();
  ReadProbePort();
  const HttpResponse health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const HttpResponse early = Get("/readyz");
  EXPECT_EQ(early.status, 503);
  EXPECT_THAT(early.body, HasSubstr("runtime: not answered yet"));
  EXPECT_THAT(early.body, HasSubstr("api: starting"));

  StartFakeRuntime();
  WaitDaemonReady();
  HttpResponse ready;
  EXPECT_TRUE(Eventually([&] {
    ready = Get("/readyz");
    return ready.status == 200;
  })) << ready.status
      << " " << ready.body;
  EXPECT_THAT(ready.body, HasSubstr("runtime: ok"));
  EXPECT_THAT(ready.body, HasSubstr("store: ok"));
  EXPECT_THAT(ready.body, HasSubstr("engine: last tick"));

  const std::string before = Get("/metrics").body;
  EXPECT_EQ(Sample(before, "inplaced_kills_total{result=\"stopped\"}"), 0) << before;
  EXPECT_EQ(Sample(before, "inplaced_build_info{version=\"0.1.0\"}"), 1) << before;

  api::CreateRecreateRequestRequest request;
  request.set_namespace_("bulk");
  request.set_name("r1");
  request.mutable_spec()->set_pod_name("pod-00000");
  request.mutable_spec()->add_containers()->set_name("c0");
  api::CreateRecreateRequestResponse created;
  grpc::ClientContext context;
  SetDeadline(&context);
  ASSERT_TRUE(stub_->CreateRecreateRequest(&context, request, &created).ok());

  std::string scrape;
  EXPECT_TRUE(Eventually([&] {
    scrape = Get("/metrics").body;
    return Sample(scrape, "inplaced_recreate_requests{phase=\"completed\"}") == 1;
  })) << scrape;
  EXPECT_EQ(Sample(scrape, "inplaced_kills_total{result=\"stopped\"}"), 1) << scrape;
  EXPECT_EQ(Sample(scrape, "inplaced_recreate_duration_seconds_count{result=\"succeeded\"}"), 1)
      << scrape;
  EXPECT_EQ(Sample(scrape, "inplaced_recreate_requests{phase=\"pending\"}"), 0) << scrape;
  EXPECT_EQ(Sample(scrape, "inplaced_recreate_queue_depth"), 0) << scrape;
  EXPECT_EQ(Sample(scrape, "inplaced_restart_detection_delay_seconds_count{source=\"event\"}") +
                Sample(scrape, "inplaced_restart_detection_delay_seconds_count{source=\"poll\"}"),
            1)
      << scrape;
  EXPECT_EQ(Sample(scrape, "inplaced_cri_call_duration_seconds_count{method=\"StopContainer\"}"), 1)
      << scrape;
  EXPECT_GE(Sample(scrape, "inplaced_cri_call_duration_seconds_count{method=\"ListContainers\"}"),
            1)
      << scrape;
  EXPECT_EQ(Sample(scrape, "inplaced_watch_streams{api=\"recreate\"}"), 0) << scrape;

  StopDaemon();
}

TEST_F(ProbeIntegrationTest, ProbeAddressDisabledServesNoPort) {
  StartFakeRuntime();
  // Not through the harness (it asks for port 0): an empty address.
  ASSERT_OK_AND_ASSIGN(
      ChildProcess child,
      ChildProcess::Start({INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket_, "--socket",
                           socket_, "--state-dir", dir_.Join("state"), "--probe-address", ""}));
  ASSERT_OK_AND_ASSIGN(std::string first, child.WaitForLine("inplaced", absl::Seconds(60)));
  EXPECT_THAT(first, HasSubstr("inplaced ready")) << "no probe line before the ready line";
  ASSERT_OK_AND_ASSIGN(int status, child.Stop(SIGTERM, absl::Seconds(30)));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// Runs the daemon with `probe_address` until it exits; returns its exit code and its stderr (the
// usage error or the log).
std::pair<int, std::string> RunToExit(const std::string& dir, const std::string& cri_socket,
                                      const std::string& socket, const std::string& probe_address) {
  const std::string log = dir + "/inplaced-" + std::to_string(::getpid()) + ".log";
  absl::StatusOr<ChildProcess> child =
      ChildProcess::Start({INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket, "--socket",
                           socket, "--state-dir", dir + "/state", "--probe-address", probe_address},
                          log);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return {-1, ""};
  absl::StatusOr<int> status = child->Stop(0, absl::Seconds(30));  // signal 0: wait for exit
  EXPECT_TRUE(status.ok() && WIFEXITED(*status)) << status.status();
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {status.ok() ? WEXITSTATUS(*status) : -1, text};
}

TEST_F(ProbeIntegrationTest, ABadProbeAddressIsAUsageErrorNamingTheFlag) {
  const auto [code, output] = RunToExit(dir_.path(), cri_socket_, socket_, "localhost");
  EXPECT_EQ(code, 2);
  EXPECT_THAT(output, HasSubstr("--probe-address"));
  EXPECT_THAT(output, HasSubstr("must be host:port"));
}

TEST_F(ProbeIntegrationTest, ATakenProbePortFailsTheStartNamingTheSetting) {
  StartFakeRuntime();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string taken = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  const auto [code, output] = RunToExit(dir_.path(), cri_socket_, socket_, taken);
  ::close(fd);
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, HasSubstr("probe_address (--probe-address)"));
  EXPECT_THAT(output, HasSubstr(taken));
}

}  // namespace
}  // namespace inplaced
