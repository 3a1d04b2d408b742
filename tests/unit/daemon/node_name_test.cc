// The node name the daemon reports: the node_name setting (checked like Kubernetes checks node
// names), else $NODE_NAME (a DaemonSet's downward API), else the host name as kubelet lowercases it.

#include "daemon/node_name.h"

#include <limits.h>
#include <unistd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "daemon/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/daemon/command_line_test_util.h"

namespace inplaced::daemon {
namespace {

using ::testing::HasSubstr;

std::string HostNameLowercase() {
  char host[HOST_NAME_MAX + 1] = {};
  EXPECT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  return absl::AsciiStrToLower(host);
}

TEST(NodeNameTest, TheSettingWinsOverTheEnvironmentAndTheHostName) {
  ScopedEnv env("NODE_NAME", "from-env");
  EXPECT_EQ(ResolveNodeName("worker-7"), "worker-7");
}

TEST(NodeNameTest, NodeNameEnvironmentVariableAsADaemonSetSetsIt) {
  ScopedEnv env("NODE_NAME", "ip-10-0-1-17.ec2.internal");
  EXPECT_EQ(ResolveNodeName(""), "ip-10-0-1-17.ec2.internal");
}

TEST(NodeNameTest, TheLowercasedHostNameOtherwise) {
  ScopedEnv env("NODE_NAME", "");  // set but empty counts as unset
  const std::string resolved = ResolveNodeName("");
  EXPECT_FALSE(resolved.empty());
  EXPECT_EQ(resolved, HostNameLowercase());
}

TEST(NodeNameTest, TheSettingFromFlagAndEnvironment) {
  const CommandLine flag = ParseArgs({"--node-name", "worker-7.example.com"});
  ASSERT_TRUE(flag.run) << flag.output;
  EXPECT_EQ(flag.options.node_name, "worker-7.example.com");
  ScopedEnv env("INPLACED_NODE_NAME", "worker-8");
  const CommandLine from_env = ParseArgs({});
  ASSERT_TRUE(from_env.run) << from_env.output;
  EXPECT_EQ(from_env.options.node_name, "worker-8");
  EXPECT_EQ(ParseArgs({}).options.node_name, "worker-8");
}

TEST(NodeNameTest, DefaultIsEmptySoThatItIsResolvedAtStart) {
  EXPECT_EQ(ParseArgs({}).options.node_name, "");
}

TEST(NodeNameTest, ANameKubernetesWouldRefuseIsAUsageErrorNamingTheFlag) {
  for (const std::string& bad :
       {std::string("Worker_7"), std::string("node a"), std::string(254, 'a')}) {
    SCOPED_TRACE(bad);
    const CommandLine parsed = ParseArgs({"--node-name", bad});
    EXPECT_FALSE(parsed.run);
    EXPECT_EQ(parsed.exit_code, kUsageExitCode);
    EXPECT_THAT(parsed.output, HasSubstr("--node-name"));
  }
  ScopedEnv env("INPLACED_NODE_NAME", "UPPER");
  const CommandLine from_env = ParseArgs({});
  EXPECT_FALSE(from_env.run);
  EXPECT_THAT(from_env.output, HasSubstr("INPLACED_NODE_NAME"));
}

}  // namespace
}  // namespace inplaced::daemon
