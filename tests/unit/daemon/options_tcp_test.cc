// The tcp_* settings on the command line, in the environment and in the config file: parsed, and
// their combination rules (daemon/tcp_settings: CheckTcpSettings), which refuse plaintext TCP unless
// tcp_insecure names it.

#include <fstream>
#include <string>
#include <vector>

#include "daemon/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/daemon/command_line_test_util.h"

namespace inplaced::daemon {
namespace {

using ::testing::HasSubstr;

TEST(OptionsTcpTest, NoTcpListenerByDefault) {
  const CommandLine parsed = ParseArgs({});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_EQ(parsed.options.tcp_address, "");
  EXPECT_EQ(parsed.options.tcp_tls_cert, "");
  EXPECT_EQ(parsed.options.tcp_tls_key, "");
  EXPECT_EQ(parsed.options.tcp_tls_client_ca, "");
  EXPECT_FALSE(parsed.options.tcp_insecure);
}

TEST(OptionsTcpTest, FlagsEnvironmentAndConfigFileSetTheListener) {
  CommandLine parsed = ParseArgs({"--tcp-address", "0.0.0.0:9443", "--tcp-tls-cert",
                                  "/etc/inplaced-tls.crt", "--tcp-tls-key", "/etc/inplaced-tls.key",
                                  "--tcp-tls-client-ca", "/etc/inplaced/clients.crt"});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_EQ(parsed.options.tcp_address, "0.0.0.0:9443");
  EXPECT_EQ(parsed.options.tcp_tls_cert, "/etc/inplaced-tls.crt");
  EXPECT_EQ(parsed.options.tcp_tls_key, "/etc/inplaced-tls.key");
  EXPECT_EQ(parsed.options.tcp_tls_client_ca, "/etc/inplaced/clients.crt");

  {
    ScopedEnv address("INPLACED_TCP_ADDRESS", "[::]:0");
    ScopedEnv insecure("INPLACED_TCP_INSECURE", "true");
    parsed = ParseArgs({});
    ASSERT_TRUE(parsed.run) << parsed.output;
    EXPECT_EQ(parsed.options.tcp_address, "[::]:0");
    EXPECT_TRUE(parsed.options.tcp_insecure);
  }

  ::inplaced::testing::TempDir dir;
  const std::string config = dir.Join("config.yaml");
  std::ofstream(config)
      << "tcp_address: 127.0.0.1:9443\ntcp_tls_cert: /c.crt\ntcp_tls_key: /c.key\n";
  parsed = ParseArgs({"--config", config});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_EQ(parsed.options.tcp_address, "127.0.0.1:9443");
  EXPECT_EQ(parsed.options.tcp_tls_key, "/c.key");
}

TEST(OptionsTcpTest, BadCombinationsExitWithUsageErrorNamingTheSettings) {
  struct Case {
    std::string description;
    std::vector<std::string> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"plaintext without tcp_insecure",
       {"--tcp-address", "0.0.0.0:9443"},
       "tcp_address (--tcp-address) is 0.0.0.0:9443 but no TLS is configured: refusing to serve "
       "the control API over plaintext TCP"},
      {"certificate without key",
       {"--tcp-address", "0.0.0.0:9443", "--tcp-tls-cert", "/c.crt"},
       "tcp_tls_cert (--tcp-tls-cert) and tcp_tls_key (--tcp-tls-key) must be set together"},
      {"key without certificate",
       {"--tcp-address", "0.0.0.0:9443", "--tcp-tls-key", "/c.key"},
       "must be set together"},
      {"client CA without server certificate",
       {"--tcp-address", "0.0.0.0:9443", "--tcp-tls-client-ca", "/ca.crt", "--tcp-insecure"},
       "tcp_tls_client_ca (--tcp-tls-client-ca) (mTLS) needs the server's own certificate"},
      {"TLS and insecure",
       {"--tcp-address", "0.0.0.0:9443", "--tcp-tls-cert", "/c.crt", "--tcp-tls-key", "/c.key",
        "--tcp-insecure"},
       "exclude each other"},
      {"insecure without address", {"--tcp-insecure"}, "need tcp_address (--tcp-address)"},
      {"client CA without address",
       {"--tcp-tls-client-ca", "/ca.crt"},
       "need tcp_address (--tcp-address)"},
      {"no port", {"--tcp-address", "0.0.0.0"}, "--tcp-address: must be host:port"},
      {"port out of range", {"--tcp-address", "0.0.0.0:65536"}, "--tcp-address: must be host:port"},
      {"no host", {"--tcp-address", ":9443"}, "--tcp-address: must be host:port"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const CommandLine parsed = ParseArgs(c.args);
    EXPECT_FALSE(parsed.run);
    EXPECT_EQ(parsed.exit_code, kUsageExitCode);
    EXPECT_THAT(parsed.output, HasSubstr(c.error));
  }
}

TEST(OptionsTcpTest, InsecureIsAcceptedWhenAskedForByName) {
  const CommandLine parsed = ParseArgs({"--tcp-address", "127.0.0.1:0", "--tcp-insecure"});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_TRUE(parsed.options.tcp_insecure);
}

}  // namespace
}  // namespace inplaced::daemon
