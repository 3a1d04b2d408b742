// httpGet and tcpSocket hooks against servers on 127.0.0.1 (real sockets; time and deadlines on the
// FakeClock, so nothing here waits for a timeout in real time).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "daemon/prestop/cri_prestop_runner.h"
#include "daemon/prestop/hook_endpoint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/daemon/prestop/loopback_http_server.h"
#include "tests/unit/daemon/prestop/loopback_tls_server.h"
#include "tests/unit/daemon/prestop/prestop_test_env.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::LoopbackHttpServer;
using ::inplaced::testing::LoopbackTlsServer;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

api::LifecycleHandler HttpGet(int port, const std::string& path = "/") {
  api::LifecycleHandler handler;
  handler.mutable_http_get()->set_host("127.0.0.1");
  handler.mutable_http_get()->set_port_number(port);
  handler.mutable_http_get()->set_path(path);
  return handler;
}

api::LifecycleHandler TcpSocket(int port) {
  api::LifecycleHandler handler;
  handler.mutable_tcp_socket()->set_host("127.0.0.1");
  handler.mutable_tcp_socket()->set_port_number(port);
  return handler;
}

api::ContainerPort NamedPort(const std::string& name, int port) {
  api::ContainerPort out;
  out.set_name(name);
  out.set_container_port(port);
  return out;
}

// A TCP socket bound to a loopback port, listening or not; closed on destruction.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(bool listening) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        (!listening || listen(fd_, 4) == 0) &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~LoopbackSocket() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class NetworkHookTest : public ::testing::Test {
 protected:
  PreStopResult Run(const api::LifecycleHandler& handler, Cancellation* cancel = nullptr) {
    return env_.runner.Run(handler, env_.target, env_.DeadlineIn(absl::Seconds(30)), cancel);
  }
  PreStopTestEnv env_;
};

TEST_F(NetworkHookTest, HttpGetSendsPathAndHeadersAndSucceedsOn200) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(200, "ok"));
  ASSERT_NE(server.port(), 0);
  api::LifecycleHandler handler = HttpGet(server.port(), "/shutdown?now=1");
  api::HttpHeader* header = handler.mutable_http_get()->add_http_headers();
  header->set_name("X-Token");
  header->set_value("s3cret");
  const PreStopResult result = Run(handler);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
  EXPECT_EQ(result.message, "HTTP 200");
  const std::vector<std::string> requests = server.Requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_THAT(requests[0], StartsWith("GET /shutdown?now=1 HTTP/1.1\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("\r\nX-Token: s3cret\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("\r\nUser-Agent: inplaced-lifecycle/"));
  EXPECT_THAT(requests[0], HasSubstr(absl::StrCat("\r\nHost: 127.0.0.1:", server.port(), "\r\n")));
}

TEST_F(NetworkHookTest, HttpGetEmptyPathIsRootAndHostHeaderCanBeSet) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(204));
  api::LifecycleHandler handler = HttpGet(server.port(), "");
  api::HttpHeader* header = handler.mutable_http_get()->add_http_headers();
  header->set_name("Host");
  header->set_value("app.example");
  EXPECT_EQ(Run(handler).outcome, api::PRE_STOP_OUTCOME_SUCCEEDED);
  ASSERT_THAT(server.Requests(), SizeIs(1));
  EXPECT_THAT(server.Requests()[0], StartsWith("GET / HTTP/1.1\r\n"));
  EXPECT_THAT(server.Requests()[0], HasSubstr("\r\nHost: app.example\r\n"));
}

TEST_F(NetworkHookTest, HttpGetStatusDecidesTheOutcome) {
  struct Case {
    int status;
    api::PreStopOutcome outcome;
  };
  for (const Case& c :
       {Case{200, api::PRE_STOP_OUTCOME_SUCCEEDED}, Case{399, api::PRE_STOP_OUTCOME_SUCCEEDED},
        Case{404, api::PRE_STOP_OUTCOME_FAILED}, Case{500, api::PRE_STOP_OUTCOME_FAILED}}) {
    SCOPED_TRACE(c.status);
    LoopbackHttpServer server(LoopbackHttpServer::Response(c.status));
    const PreStopResult result = Run(HttpGet(server.port()));
    EXPECT_EQ(result.outcome, c.outcome);
    EXPECT_EQ(result.message, absl::StrCat("HTTP ", c.status));
  }
}

TEST_F(NetworkHookTest, HttpGetFollowsNoRedirect) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(302, "", "Location: /elsewhere\r\n"));
  const PreStopResult result = Run(HttpGet(server.port()));
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED);
  EXPECT_EQ(result.message, "HTTP 302");
  EXPECT_THAT(server.Requests(), SizeIs(1));
}

TEST_F(NetworkHookTest, HttpGetLongBodyIsCutWithoutFailing) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(200, std::string(200 * 1024, 'x')));
  const PreStopResult result = Run(HttpGet(server.port()));
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
}

TEST_F(NetworkHookTest, HttpGetNamedPortIsResolvedThroughTheTargetPorts) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(200));
  env_.target.ports = {NamedPort("metrics", 1), NamedPort("admin", server.port())};
  api::LifecycleHandler handler = HttpGet(0);
  handler.mutable_http_get()->set_port_name("admin");
  EXPECT_EQ(Run(handler).outcome, api::PRE_STOP_OUTCOME_SUCCEEDED);
  EXPECT_THAT(server.Requests(), SizeIs(1));
}

TEST_F(NetworkHookTest, KubeletAnnotationsDriveANamedPortHttpGet) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(200));
  ASSERT_OK_AND_ASSIGN(
      std::optional<api::LifecycleHandler> handler,
      ParseKubeletPreStopHandler(
          R"({"httpGet":{"path":"/quit","port":"admin","host":"127.0.0.1","scheme":"HTTP",)"
          R"("httpHeaders":[{"name":"X-Reason","value":"recreate"}]}})"));
  ASSERT_TRUE(handler.has_value());
  ASSERT_OK_AND_ASSIGN(env_.target.ports,
                       ParseKubeletPorts(absl::StrCat(R"([{"name":"admin","containerPort":)",
                                                      server.port(), R"(,"protocol":"TCP"}])")));
  const PreStopResult result = Run(*handler);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
  ASSERT_THAT(server.Requests(), SizeIs(1));
  EXPECT_THAT(server.Requests()[0], StartsWith("GET /quit HTTP/1.1\r\n"));
  EXPECT_THAT(server.Requests()[0], HasSubstr("\r\nX-Reason: recreate\r\n"));
}

TEST_F(NetworkHookTest, HttpGetUnknownPortNameFailsNamingIt) {
  env_.target.ports = {NamedPort("admin", 8080)};
  api::LifecycleHandler handler = HttpGet(0);
  handler.mutable_http_get()->set_port_name("web");
  const PreStopResult result = Run(handler);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(result.message, "httpGet: no container port named \"web\"");
}

TEST_F(NetworkHookTest, HttpGetWithoutHostOnHostNetworkPodFails) {
  PreStopTestEnv host_network(fakes::RuntimeProfile::Containerd16(), /*host_network=*/true);
  api::LifecycleHandler handler = HttpGet(8080);
  handler.mutable_http_get()->clear_host();
  const PreStopResult result = host_network.runner.Run(
      handler, host_network.target, host_network.DeadlineIn(absl::Seconds(30)), nullptr);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(result.message, "httpGet: no pod IP (host-network pod): set httpGet.host");
}

TEST_F(NetworkHookTest, HttpGetUnsupportedSchemeFails) {
  api::LifecycleHandler handler = HttpGet(8080);
  handler.mutable_http_get()->set_scheme("ftp");
  const PreStopResult result = Run(handler);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_THAT(result.message, HasSubstr("unsupported scheme \"ftp\""));
}

TEST_F(NetworkHookTest, HttpGetConnectionRefusedFails) {
  int port = 0;
  {
    LoopbackSocket closed(/*listening=*/false);
    port = closed.port();
  }
  const PreStopResult result = Run(HttpGet(port));
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_THAT(result.message, StartsWith(absl::StrCat("httpGet 127.0.0.1:", port, ": ")));
}

TEST_F(NetworkHookTest, HttpsAcceptsASelfSignedCertificateAndKeepsTheHeaders) {
  LoopbackTlsServer server(LoopbackHttpServer::Response(200, "bye"));
  ASSERT_NE(server.port(), 0);
  api::LifecycleHandler handler = HttpGet(server.port(), "/stop");
  handler.mutable_http_get()->set_scheme("https");
  api::HttpHeader* auth = handler.mutable_http_get()->add_http_headers();
  auth->set_name("Authorization");
  auth->set_value("Bearer s3cret");
  const PreStopResult result = Run(handler);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
  EXPECT_EQ(result.message, "HTTP 200");
  const std::vector<std::string> requests = server.Requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_THAT(requests[0], StartsWith("GET /stop HTTP/1.1\r\n"));
  EXPECT_THAT(requests[0], HasSubstr("\r\nAuthorization: Bearer s3cret\r\n"));
}

TEST_F(NetworkHookTest, HttpsAgainstPlainHttpFallsBackToHttpWithoutAuthorization) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(200));
  api::LifecycleHandler handler = HttpGet(server.port(), "/stop");
  handler.mutable_http_get()->set_scheme("HTTPS");
  api::HttpHeader* auth = handler.mutable_http_get()->add_http_headers();
  auth->set_name("Authorization");
  auth->set_value("Bearer s3cret");
  api::HttpHeader* other = handler.mutable_http_get()->add_http_headers();
  other->set_name("X-Keep");
  other->set_value("1");
  const PreStopResult result = Run(handler);
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
  EXPECT_THAT(result.message, HasSubstr("fell back to HTTP"));
  EXPECT_THAT(result.message, Not(HasSubstr("s3cret")));
  const std::vector<std::string> requests = server.Requests();
  ASSERT_THAT(requests, SizeIs(2));
  EXPECT_EQ(requests[0], "<TLS>");
  EXPECT_THAT(requests[1], StartsWith("GET /stop HTTP/1.1\r\n"));
  EXPECT_THAT(requests[1], HasSubstr("X-Keep: 1"));
  EXPECT_THAT(requests[1], Not(HasSubstr("Authorization")));
}

TEST_F(NetworkHookTest, HttpGetWithoutAnswerTimesOutAtTheClockDeadline) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(200), /*respond=*/false);
  BackgroundRun run([&] { return Run(HttpGet(server.port())); });
  server.WaitForRequests(1);
  env_.clock.Advance(absl::Seconds(31));
  const PreStopResult result = run.Join();
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_TIMED_OUT) << result.message;
}

TEST_F(NetworkHookTest, HttpGetIsCancellable) {
  LoopbackHttpServer server(LoopbackHttpServer::Response(200), /*respond=*/false);
  Cancellation cancel;
  BackgroundRun run([&] { return Run(HttpGet(server.port()), &cancel); });
  server.WaitForRequests(1);
  cancel.Cancel();
  const PreStopResult result = run.Join();
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_EQ(result.message, "cancelled");
}

TEST_F(NetworkHookTest, TcpSocketSucceedsOnAListeningPort) {
  LoopbackSocket listening(/*listening=*/true);
  ASSERT_NE(listening.port(), 0);
  const PreStopResult result = Run(TcpSocket(listening.port()));
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_SUCCEEDED) << result.message;
  EXPECT_EQ(result.message, absl::StrCat("connected to 127.0.0.1:", listening.port()));
}

TEST_F(NetworkHookTest, TcpSocketFailsOnAClosedPort) {
  LoopbackSocket bound_only(/*listening=*/false);  // Bound, not listening: connections are refused.
  const PreStopResult result = Run(TcpSocket(bound_only.port()));
  EXPECT_EQ(result.outcome, api::PRE_STOP_OUTCOME_FAILED);
  EXPECT_THAT(result.message, HasSubstr("Connection refused"));
}

TEST_F(NetworkHookTest, TcpSocketNamedPort) {
  LoopbackSocket listening(/*listening=*/true);
  env_.target.ports = {NamedPort("db", listening.port())};
  api::LifecycleHandler handler = TcpSocket(0);
  handler.mutable_tcp_socket()->set_port_name("db");
  EXPECT_EQ(Run(handler).outcome, api::PRE_STOP_OUTCOME_SUCCEEDED);
}

TEST(HookEndpointTest, HostIsTheActionHostElseThePodIp) {
  PreStopTestEnv env;
  cri::criv1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(env.target.pod_sandbox_id);
  const std::string pod_ip = env.runtime.PodSandboxStatus(request).value().status().network().ip();
  ASSERT_THAT(pod_ip, StartsWith("10.88."));
  ASSERT_OK_AND_ASSIGN(std::string host, ResolveHookHost(env.runtime, "", "httpGet", env.target));
  EXPECT_EQ(host, pod_ip);
  ASSERT_OK_AND_ASSIGN(host, ResolveHookHost(env.runtime, "db.local", "httpGet", env.target));
  EXPECT_EQ(host, "db.local");
}

TEST(HookEndpointTest, HostErrors) {
  PreStopTestEnv env;
  PreStopTarget unknown = env.target;
  unknown.pod_sandbox_id = "feedface";
  EXPECT_THAT(ResolveHookHost(env.runtime, "", "tcpSocket", unknown),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("pod IP of sandbox feedface")));
  PreStopTarget no_sandbox = env.target;
  no_sandbox.pod_sandbox_id.clear();
  EXPECT_THAT(ResolveHookHost(env.runtime, "", "tcpSocket", no_sandbox),
              StatusIs(absl::StatusCode::kInvalidArgument));
  PreStopTestEnv host_network(fakes::RuntimeProfile::CriO(), /*host_network=*/true);
  EXPECT_THAT(ResolveHookHost(host_network.runtime, "", "tcpSocket", host_network.target),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "no pod IP (host-network pod): set tcpSocket.host"));
}

TEST(HookEndpointTest, PortResolution) {
  const std::vector<api::ContainerPort> ports = {NamedPort("http", 8080), NamedPort("admin", 9000)};
  ASSERT_OK_AND_ASSIGN(int port, ResolveHookPort(443, "", ports));
  EXPECT_EQ(port, 443);
  ASSERT_OK_AND_ASSIGN(port, ResolveHookPort(0, "admin", ports));
  EXPECT_EQ(port, 9000);
  EXPECT_THAT(ResolveHookPort(0, "web", ports),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"web\"")));
  EXPECT_THAT(ResolveHookPort(0, "", ports), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ResolveHookPort(70000, "", ports), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HookEndpointTest, HostPortBracketsIpv6) {
  EXPECT_EQ(HostPort("10.0.0.1", 80), "10.0.0.1:80");
  EXPECT_EQ(HostPort("fd00::1", 80), "[fd00::1]:80");
  EXPECT_EQ(HostPort("[fd00::1]", 80), "[fd00::1]:80");
}

}  // namespace
}  // namespace inplaced::daemon
