#include "daemon/options.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/daemon/command_line_test_util.h"

namespace inplaced::daemon {
namespace {

using ::testing::HasSubstr;

TEST(OptionsTest, DefaultsWithoutFlags) {
  const CommandLine parsed = ParseArgs({});
  ASSERT_TRUE(parsed.run) << parsed.output;
  const DaemonOptions& o = parsed.options;
  EXPECT_EQ(o.runtime_endpoint, "");
  EXPECT_EQ(o.discovery_root, "/var/run");
  EXPECT_EQ(o.socket_path, "/run/inplaced/inplaced.sock");
  EXPECT_EQ(o.state_dir, "/var/lib/inplaced");
  EXPECT_EQ(o.StorePath(), "/var/lib/inplaced/inplaced.db");
  EXPECT_EQ(o.max_open_requests, 1000);
  EXPECT_EQ(o.max_containers, 64);
  EXPECT_EQ(o.fast_poll_ms, 100);
  EXPECT_EQ(o.slow_poll_ms, 1000);
  EXPECT_EQ(o.shutdown_hook_timeout_ms, 10000) << "well under Kubernetes' 30 s pod grace";
  EXPECT_EQ(o.log_level, "info");
  EXPECT_TRUE(o.use_event_stream);
}

TEST(OptionsTest, EveryFlagIsParsed) {
  const CommandLine parsed = ParseArgs({"--runtime-endpoint",
                                        "unix:///run/containerd/containerd.sock",
                                        "--discovery-root",
                                        "/x",
                                        "--socket",
                                        "/tmp/i/i.sock",
                                        "--state-dir",
                                        "/tmp/state",
                                        "--max-open-requests",
                                        "5",
                                        "--max-containers",
                                        "3",
                                        "--fast-poll-ms",
                                        "50",
                                        "--slow-poll-ms",
                                        "500",
                                        "--shutdown-hook-timeout-ms",
                                        "2500",
                                        "--log-level",
                                        "debug",
                                        "--no-event-stream"});
  ASSERT_TRUE(parsed.run) << parsed.output;
  const DaemonOptions& o = parsed.options;
  EXPECT_EQ(o.runtime_endpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(o.discovery_root, "/x");
  EXPECT_EQ(o.socket_path, "/tmp/i/i.sock");
  EXPECT_EQ(o.StorePath(), "/tmp/state/inplaced.db");
  EXPECT_EQ(o.max_open_requests, 5);
  EXPECT_EQ(o.max_containers, 3);
  EXPECT_EQ(o.fast_poll_ms, 50);
  EXPECT_EQ(o.slow_poll_ms, 500);
  EXPECT_EQ(o.shutdown_hook_timeout_ms, 2500);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_FALSE(o.use_event_stream);
}

TEST(OptionsTest, EnvironmentVariablesSetOptionsAndFlagsWin) {
  ScopedEnv socket("INPLACED_SOCKET", "/tmp/env/i.sock");
  ScopedEnv cap("INPLACED_MAX_OPEN_REQUESTS", "7");
  ScopedEnv events("INPLACED_NO_EVENT_STREAM", "1");
  const CommandLine from_env = ParseArgs({});
  ASSERT_TRUE(from_env.run) << from_env.output;
  EXPECT_EQ(from_env.options.socket_path, "/tmp/env/i.sock");
  EXPECT_EQ(from_env.options.max_open_requests, 7);
  EXPECT_FALSE(from_env.options.use_event_stream);

  const CommandLine flag_wins = ParseArgs({"--max-open-requests", "9"});
  ASSERT_TRUE(flag_wins.run) << flag_wins.output;
  EXPECT_EQ(flag_wins.options.max_open_requests, 9);
}

TEST(OptionsTest, InvalidValuesExitWithUsageErrorNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {{"--max-open-requests", "0"}, "--max-open-requests"},
      {{"--max-open-requests", "many"}, "--max-open-requests"},
      {{"--max-containers", "1001"}, "--max-containers"},
      {{"--fast-poll-ms", "0"}, "--fast-poll-ms"},
      {{"--fast-poll-ms", "200", "--slow-poll-ms", "100"}, "--slow-poll-ms"},
      {{"--shutdown-hook-timeout-ms", "25001"}, "--shutdown-hook-timeout-ms"},
      {{"--shutdown-hook-timeout-ms", "-1"}, "--shutdown-hook-timeout-ms"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--socket", "relative.sock"}, "--socket"},
      {{"--socket", "/tmp/" + std::string(110, 's')}, "--socket"},
      {{"--state-dir", ""}, "--state-dir"},
      {{"--no-such-flag"}, "--no-such-flag"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flag);
    const CommandLine parsed = ParseArgs(c.args);
    EXPECT_FALSE(parsed.run);
    EXPECT_EQ(parsed.exit_code, kUsageExitCode);
    EXPECT_THAT(parsed.output, HasSubstr(c.flag));
  }
}

TEST(OptionsTest, ProbeAddressDefaultsToLocalhostAndEmptyDisablesIt) {
  EXPECT_EQ(ParseArgs({}).options.probe_address, "127.0.0.1:9478");
  EXPECT_EQ(ParseArgs({"--probe-address", "0.0.0.0:10254"}).options.probe_address, "0.0.0.0:10254");
  EXPECT_EQ(ParseArgs({"--probe-address", "[::1]:0"}).options.probe_address, "[::1]:0");
  const CommandLine disabled = ParseArgs({"--probe-address", ""});
  ASSERT_TRUE(disabled.run) << disabled.output;
  EXPECT_EQ(disabled.options.probe_address, "");
  ScopedEnv env("INPLACED_PROBE_ADDRESS", "127.0.0.1:9999");
  EXPECT_EQ(ParseArgs({}).options.probe_address, "127.0.0.1:9999");
}

TEST(OptionsTest, BadProbeAddressesNameTheSettingAndWhatIsWrong) {
  struct Case {
    std::string value;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"9478", "must be host:port"},
      {"127.0.0.1:65536", "port between 0 and 65535"},
      {"127.0.0.1:http", "port between 0 and 65535"},
      {"::1:9478", "IPv6"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    const CommandLine parsed = ParseArgs({"--probe-address", c.value});
    EXPECT_FALSE(parsed.run);
    EXPECT_EQ(parsed.exit_code, kUsageExitCode);
    EXPECT_THAT(parsed.output, HasSubstr("--probe-address"));
    EXPECT_THAT(parsed.output, HasSubstr(c.problem));
    EXPECT_THAT(parsed.output, HasSubstr(c.value));
  }
  ScopedEnv env("INPLACED_PROBE_ADDRESS", "localhost");
  const CommandLine from_env = ParseArgs({});
  EXPECT_FALSE(from_env.run);
  EXPECT_THAT(from_env.output, HasSubstr("INPLACED_PROBE_ADDRESS"));
}

TEST(OptionsTest, HelpExitsZeroWithTheFlags) {
  const CommandLine parsed = ParseArgs({"--help"});
  EXPECT_FALSE(parsed.run);
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_THAT(parsed.output, HasSubstr("--runtime-endpoint"));
  EXPECT_THAT(parsed.output, HasSubstr("INPLACED_STATE_DIR"));
}

}  // namespace
}  // namespace inplaced::daemon
