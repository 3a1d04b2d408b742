// The control API's TCP listener: the inplaced binary against the fake_cri_server binary, with TLS
// material made at test time by make_test_certs.sh (openssl CLI). TLS serves health and the API;
// mTLS refuses a client without a certificate and one with a certificate of another CA; inplacectl
// and a Python agent (stubs generated from the protos at test time) reach it over mTLS; plaintext
// TCP is refused at start unless tcp_insecure; bad TLS files fail the start naming setting and file.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "api/grpc/health/v1/health.grpc.pb.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/cli_runner.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

namespace api = ::inplaced::v1;
using ::grpc::health::v1::HealthCheckResponse;
using ::inplaced::testing::CliResult;
using ::inplaced::testing::DaemonHarness;
using ::inplaced::testing::RunCli;
using ::inplaced::testing::SetDeadline;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Which certificate a test client presents (mTLS), if any.
enum class ClientCert { kNone, kFromCa, kFromOtherCa };

class TcpListenerTest : public DaemonHarness {
 protected:
  void SetUp() override {
    DaemonHarness::SetUp();
    const CliResult made = RunCli("/bin/bash", {MAKE_TEST_CERTS_PATH, Tls("")});
    ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  }

  // 2 pods ("bulk/pod-00000", "bulk/pod-00001") of one container "c0"; an exited container comes
  // back after 200 ms, as kubelet would restart it.
  std::vector<std::string> FakeRuntimeFlags() const override {
    return {"--pods", "2", "--containers-per-pod", "1", "--restart-backoff-ms", "200"};
  }
  std::vector<std::string> DaemonFlags() const override {
    return {"--fast-poll-ms", "50", "--slow-poll-ms", "200"};
  }
  void MakeStubs() override {}

  // A file of the generated TLS material ("ca.crt", "server.key", ...).
  std::string Tls(const std::string& name) const { return dir_.Join("tls/" + name); }

  std::vector<std::string> ServerTlsFlags() const {
    return {"--tcp-address",   "127.0.0.1:0",   "--tcp-tls-cert",
            Tls("server.crt"), "--tcp-tls-key", Tls("server.key")};
  }
  std::vector<std::string> ServerMutualTlsFlags() const {
    std::vector<std::string> flags = ServerTlsFlags();
    flags.insert(flags.end(), {"--tcp-tls-client-ca", Tls("ca.crt")});
    return flags;
  }

  // Starts fake_cri_server and the daemon with `flags`; returns the TCP listener's host:port from
  // the ready line ("... tcp=127.0.0.1:PORT").
  std::string StartWithTcp(const std::vector<std::string>& flags) {
    StartFakeRuntime();
    LaunchDaemon(flags);
    absl::StatusOr<std::string> ready = daemon_->WaitForLine("inplaced ready", absl::Seconds(60));
    EXPECT_THAT(ready.status(), ::inplaced::testing::IsOk());
    if (!ready.ok()) return "";
    const size_t at = ready->find(" tcp=");
    EXPECT_NE(at, std::string::npos) << *ready;
    if (at == std::string::npos) return "";
    return std::string(absl::StripAsciiWhitespace(ready->substr(at + 5)));
  }

  // A TLS channel to `address` trusting `ca` ("ca.crt"), presenting `client`'s certificate.
  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& address, ClientCert client,
                                            const std::string& ca = "ca.crt") const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(Tls(ca));
    if (client != ClientCert::kNone) {
      const std::string name = client == ClientCert::kFromCa ? "client" : "other-client";
      options.pem_cert_chain = ReadFile(Tls(name + ".crt"));
      options.pem_private_key = ReadFile(Tls(name + ".key"));
    }
    return grpc::CreateChannel(address, grpc::SslCredentials(options));
  }

  // grpc.health.v1.Health/Check over `channel` (the whole server); the status of the call.
  static grpc::Status Health(const std::shared_ptr<grpc::Channel>& channel,
                             HealthCheckResponse* response) {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    SetDeadline(&context);
    return health->Check(&context, grpc::health::v1::HealthCheckRequest(), response);
  }

  static grpc::Status List(const std::shared_ptr<grpc::Channel>& channel,
                           api::ListRecreateRequestsResponse* response) {
    auto stub = api::RecreateService::NewStub(channel);
    grpc::ClientContext context;
    SetDeadline(&context);
    return stub->ListRecreateRequests(&context, api::ListRecreateRequestsRequest(), response);
  }

  // Runs inplaced with `flags` (after the harness' usual ones), which must make it exit; its result.
  CliResult RunDaemonToExit(const std::vector<std::string>& flags) {
    std::vector<std::string> args = {
        "--runtime-endpoint", "unix://" + cri_socket_, "--socket",        socket_,
        "--state-dir",        dir_.Join("state"),      "--probe-address", "127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    return RunCli(INPLACED_PATH, args, "", absl::Seconds(60));
  }
};

TEST_F(TcpListenerTest, TlsServesHealthAndTheApi) {
  const std::string address = StartWithTcp(ServerTlsFlags());
  ASSERT_FALSE(address.empty());

  HealthCheckResponse health;
  const grpc::Status checked = Health(TlsChannel(address, ClientCert::kNone), &health);
  ASSERT_TRUE(checked.ok()) << checked.error_message();
  EXPECT_EQ(health.status(), HealthCheckResponse::SERVING);
  api::ListRecreateRequestsResponse list;
  const grpc::Status listed = List(TlsChannel(address, ClientCert::kNone), &list);
  EXPECT_TRUE(listed.ok()) << listed.error_message();

  // Plaintext to the TLS port, and TLS that does not trust the daemon's CA, get nowhere.
  EXPECT_EQ(Health(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), &health)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Health(TlsChannel(address, ClientCert::kNone, "other-ca.crt"), &health).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TcpListenerTest, MutualTlsAcceptsOnlyClientsWithACertificateOfTheClientCa) {
  const std::string address = StartWithTcp(ServerMutualTlsFlags());
  ASSERT_FALSE(address.empty());

  HealthCheckResponse health;
  const grpc::Status accepted = Health(TlsChannel(address, ClientCert::kFromCa), &health);
  ASSERT_TRUE(accepted.ok()) << accepted.error_message();
  EXPECT_EQ(health.status(), HealthCheckResponse::SERVING);
  api::ListRecreateRequestsResponse list;
  const grpc::Status listed = List(TlsChannel(address, ClientCert::kFromCa), &list);
  EXPECT_TRUE(listed.ok()) << listed.error_message();

  // The handshake fails: no handler runs, health included.
  EXPECT_EQ(Health(TlsChannel(address, ClientCert::kNone), &health).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(List(TlsChannel(address, ClientCert::kNone), &list).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Health(TlsChannel(address, ClientCert::kFromOtherCa), &health).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(List(TlsChannel(address, ClientCert::kFromOtherCa), &list).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// Server reflection is served on the TCP listener too: `buf curl` (grpcurl's stand-in) lists the
// services over mTLS, and is refused without its client certificate.
TEST_F(TcpListenerTest, ReflectionListsTheServicesOverMutualTls) {
  ASSERT_EQ(::access(BUF_PATH, X_OK), 0)
      << "buf not installed at " << BUF_PATH << " (scripts/install-deps.sh)";
  const std::string address = StartWithTcp(ServerMutualTlsFlags());
  ASSERT_FALSE(address.empty());
  CliResult listed = RunCli(BUF_PATH, {"curl", "--protocol", "grpc", "--cacert", Tls("ca.crt"),
                                       "--cert", Tls("client.crt"), "--key", Tls("client.key"),
                                       "--list-services", "https://" + address});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  for (const char* service : {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                              "inplaced.v1.NodeImageService", "inplaced.v1.RecreateService"}) {
    EXPECT_THAT(listed.out, HasSubstr(service));
  }
  listed = RunCli(BUF_PATH, {"curl", "--protocol", "grpc", "--cacert", Tls("ca.crt"),
                             "--list-services", "https://" + address});
  EXPECT_THAT(listed.out, ::testing::Not(HasSubstr("inplaced.v1.RecreateService")));
  // The refused handshake surfaces as unavailable, or as a write on the closed connection,
  // depending on which side the client is on when the server drops it.
  EXPECT_NE(listed.exit_code, 0);
  EXPECT_THAT(listed.err, ::testing::AnyOf(HasSubstr("unavailable"), HasSubstr("broken pipe"),
                                           HasSubstr("connection reset")));
}

TEST_F(TcpListenerTest, InplacectlReachesTheDaemonOverMutualTls) {
  const std::string address = StartWithTcp(ServerMutualTlsFlags());
  ASSERT_FALSE(address.empty());
  const std::vector<std::string> mtls = {"--address",   address,          "--tls-ca",
                                         Tls("ca.crt"), "--tls-cert",     Tls("client.crt"),
                                         "--tls-key",   Tls("client.key")};
  std::vector<std::string> args = {"health"};
  args.insert(args.end(), mtls.begin(), mtls.end());
  CliResult result = RunCli(INPLACECTL_PATH, args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("SERVING"));

  // A recreate through the TCP listener, then read back through it.
  args = {"recreate", "pod-00000", "-n", "bulk", "-c", "c0", "--name", "over-tcp", "--wait"};
  args.insert(args.end(), mtls.begin(), mtls.end());
  result = RunCli(INPLACECTL_PATH, args);
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  args = {"get", "over-tcp", "-n", "bulk"};
  args.insert(args.end(), mtls.begin(), mtls.end());
  result = RunCli(INPLACECTL_PATH, args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("pod-00000"));

  // The same through the environment.
  result =
      RunCli("/usr/bin/env", {"INPLACED_ADDRESS=" + address, "INPLACED_TLS_CA=" + Tls("ca.crt"),
                              "INPLACED_TLS_CERT=" + Tls("client.crt"),
                              "INPLACED_TLS_KEY=" + Tls("client.key"), INPLACECTL_PATH, "health"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("SERVING"));

  // --tls-server-name: the name checked against the daemon's certificate (127.0.0.1, localhost).
  args = {"health", "--tls-server-name", "localhost"};
  args.insert(args.end(), mtls.begin(), mtls.end());
  result = RunCli(INPLACECTL_PATH, args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  args = {"health", "--tls-server-name", "not-the-daemon"};
  args.insert(args.end(), mtls.begin(), mtls.end());
  result = RunCli(INPLACECTL_PATH, args);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE"));

  // Without a client certificate: unreachable (exit 2), the target named.
  result = RunCli(INPLACECTL_PATH, {"health", "--address", address, "--tls-ca", Tls("ca.crt")});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("inplaced at tcp " + address + " (tls)"));
}

TEST_F(TcpListenerTest, InplacectlRejectsBadTlsFlags) {
  struct Case {
    std::string description;
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"missing CA file",
       {"--address", "127.0.0.1:1", "--tls-ca", Tls("missing.crt")},
       "--tls-ca: cannot read " + Tls("missing.crt")},
      {"a key given as the CA",
       {"--address", "127.0.0.1:1", "--tls-ca", Tls("ca.key")},
       "--tls-ca: " + Tls("ca.key") + " holds no PEM CERTIFICATE"},
      {"certificate without key",
       {"--address", "127.0.0.1:1", "--tls-cert", Tls("client.crt")},
       "--tls-cert requires --tls-key"},
      {"TLS without address", {"--tls-ca", Tls("ca.crt")}, "--tls-ca requires --address"},
      {"plaintext and TLS",
       {"--address", "127.0.0.1:1", "--plaintext", "--tls-ca", Tls("ca.crt")},
       "excludes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    std::vector<std::string> args = {"health"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CliResult result = RunCli(INPLACECTL_PATH, args);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_THAT(result.err, HasSubstr(c.error));
  }
}

TEST_F(TcpListenerTest, PlaintextTcpIsRefusedAtStartUnlessInsecure) {
  StartFakeRuntime();
  const CliResult refused = RunDaemonToExit({"--tcp-address", "127.0.0.1:0"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("tcp_address (--tcp-address) is 127.0.0.1:0 but no TLS"));
  EXPECT_THAT(refused.err, HasSubstr("tcp_insecure (--tcp-insecure)"));

  // Asked for by name, plaintext serves (health too).
  LaunchDaemon({"--tcp-address", "127.0.0.1:0", "--tcp-insecure"});
  ASSERT_OK_AND_ASSIGN(std::string ready,
                       daemon_->WaitForLine("inplaced ready", absl::Seconds(60)));
  const size_t at = ready.find(" tcp=");
  ASSERT_NE(at, std::string::npos) << ready;
  const std::string address(absl::StripAsciiWhitespace(ready.substr(at + 5)));
  HealthCheckResponse health;
  const grpc::Status checked =
      Health(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), &health);
  ASSERT_TRUE(checked.ok()) << checked.error_message();
  EXPECT_EQ(health.status(), HealthCheckResponse::SERVING);
  const CliResult cli = RunCli(INPLACECTL_PATH, {"health", "--address", address, "--plaintext"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
}

TEST_F(TcpListenerTest, BadTlsSettingsFailTheStartNamingSettingAndFile) {
  StartFakeRuntime();
  const std::string address = "127.0.0.1:0";
  struct Case {
    std::string description;
    std::vector<std::string> flags;
    int exit_code;
    std::vector<std::string> errors;
  };
  const std::vector<Case> cases = {
      {"missing certificate file",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("missing.crt"), "--tcp-tls-key",
        Tls("server.key")},
       1,
       {"tcp_tls_cert (--tcp-tls-cert): cannot read " + Tls("missing.crt")}},
      {"unreadable key (a directory)",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("server.crt"), "--tcp-tls-key", Tls("")},
       1,
       {"tcp_tls_key (--tcp-tls-key): cannot read " + Tls(""), "Is a directory"}},
      {"key of another certificate",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("server.crt"), "--tcp-tls-key",
        Tls("client.key")},
       1,
       {"tcp_tls_key (--tcp-tls-key): the key in " + Tls("client.key") +
        " does not match the certificate in " + Tls("server.crt")}},
      {"certificate file without a certificate",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("server.key"), "--tcp-tls-key",
        Tls("server.key")},
       1,
       {"tcp_tls_cert (--tcp-tls-cert): " + Tls("server.key") + " holds no PEM certificate"}},
      {"key file without a key",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("server.crt"), "--tcp-tls-key",
        Tls("server.crt")},
       1,
       {"tcp_tls_key (--tcp-tls-key): " + Tls("server.crt") + " holds no PEM private key"}},
      {"client CA file without a certificate",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("server.crt"), "--tcp-tls-key",
        Tls("server.key"), "--tcp-tls-client-ca", Tls("ca.key")},
       1,
       {"tcp_tls_client_ca (--tcp-tls-client-ca): " + Tls("ca.key") + " holds no PEM certificate"}},
      {"certificate without key",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("server.crt")},
       2,
       {"tcp_tls_cert (--tcp-tls-cert) and tcp_tls_key (--tcp-tls-key) must be set together"}},
      {"client CA without a server certificate",
       {"--tcp-address", address, "--tcp-tls-client-ca", Tls("ca.crt")},
       2,
       {"tcp_tls_client_ca (--tcp-tls-client-ca) (mTLS) needs the server's own certificate"}},
      {"TLS and insecure",
       {"--tcp-address", address, "--tcp-tls-cert", Tls("server.crt"), "--tcp-tls-key",
        Tls("server.key"), "--tcp-insecure"},
       2,
       {"tcp_insecure (--tcp-insecure) and tcp_tls_cert (--tcp-tls-cert) exclude each other"}},
      {"TLS without an address",
       {"--tcp-tls-cert", Tls("server.crt"), "--tcp-tls-key", Tls("server.key")},
       2,
       {"need tcp_address (--tcp-address)"}},
      {"address without a port", {"--tcp-address", "127.0.0.1"}, 2, {"--tcp-address: must be"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const CliResult result = RunDaemonToExit(c.flags);
    EXPECT_EQ(result.exit_code, c.exit_code) << result.err;
    for (const std::string& error : c.errors) EXPECT_THAT(result.err, HasSubstr(error));
    EXPECT_THAT(result.out, ::testing::Not(HasSubstr("inplaced ready")));
  }
}

// A controller's agent in another language: Python stubs generated from the protos at test time
// (into the temp dir, never committed), over mTLS, create a recreate and poll it to SUCCEEDED.
TEST_F(TcpListenerTest, PythonClientRecreatesOverMutualTls) {
  const std::string address = StartWithTcp(ServerMutualTlsFlags());
  ASSERT_FALSE(address.empty());
  const CliResult python = RunCli(PYTHON3_PATH, {PYTHON_CLIENT_PATH,
                                                 "--proto-root",
                                                 PROTO_ROOT,
                                                 "--out",
                                                 dir_.Join("python"),
                                                 "--address",
                                                 address,
                                                 "--ca",
                                                 Tls("ca.crt"),
                                                 "--cert",
                                                 Tls("client.crt"),
                                                 "--key",
                                                 Tls("client.key"),
                                                 "--namespace",
                                                 "bulk",
                                                 "--name",
                                                 "from-python",
                                                 "--pod",
                                                 "pod-00001",
                                                 "--container",
                                                 "c0"});
  EXPECT_EQ(python.exit_code, 0) << python.out << python.err;
  EXPECT_THAT(python.out, HasSubstr("recreate succeeded bulk/from-python containers=c0"));

  // The daemon agrees, read over the unix socket.
  auto stub = api::RecreateService::NewStub(
      grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  SetDeadline(&context);
  api::GetRecreateRequestRequest get;
  get.set_namespace_("bulk");
  get.set_name("from-python");
  api::GetRecreateRequestResponse response;
  const grpc::Status status = stub->GetRecreateRequest(&context, get, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.recreate_request().status().phase(), api::RECREATE_PHASE_COMPLETED);
  ASSERT_EQ(response.recreate_request().status().container_states_size(), 1);
  EXPECT_EQ(response.recreate_request().status().container_states(0).phase(),
            api::CONTAINER_RECREATE_PHASE_SUCCEEDED);

  // Without its certificate the same agent is refused.
  const CliResult refused = RunCli(PYTHON3_PATH, {PYTHON_CLIENT_PATH,
                                                  "--proto-root",
                                                  PROTO_ROOT,
                                                  "--out",
                                                  dir_.Join("python"),
                                                  "--address",
                                                  address,
                                                  "--ca",
                                                  Tls("ca.crt"),
                                                  "--cert",
                                                  Tls("other-client.crt"),
                                                  "--key",
                                                  Tls("other-client.key"),
                                                  "--namespace",
                                                  "bulk",
                                                  "--name",
                                                  "refused",
                                                  "--pod",
                                                  "pod-00000",
                                                  "--container",
                                                  "c0"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace inplaced
