// The daemon's settings from the YAML config file (daemon/config), their precedence against flags
// and the environment (daemon/options), --print-config, and the README's settings table
// (daemon/settings).

#include "daemon/config.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/options.h"
#include "daemon/settings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/daemon/command_line_test_util.h"

namespace inplaced::daemon {
namespace {

using ::inplaced::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ConfigFileTest : public ::testing::Test {
 protected:
  // Writes `text` as the config file and returns its path.
  std::string Write(const std::string& text) {
    const std::string path = dir_.Join("config.yaml");
    std::ofstream(path) << text;
    return path;
  }

  testing::TempDir dir_;
};

TEST_F(ConfigFileTest, EverySettingIsReadFromTheFile) {
  const std::string path = Write(
      "runtime_endpoint: unix:///run/k3s/containerd/containerd.sock\n"
      "discovery_root: /host/run\n"
      "socket: /run/ipd/ctl.sock\n"
      "socket_group: inplaced\n"
      "state_dir: /data/inplaced\n"
      "max_open_requests: 50\n"
      "max_containers: 8\n"
      "max_watch_streams: 30\n"
      "fast_poll_ms: 20\n"
      "slow_poll_ms: 2000\n"
      "resync_poll_ms: 30000\n"
      "shutdown_hook_timeout_ms: 3000\n"
      "max_concurrent_kills: 200\n"
      "log_level: debug\n"
      "node_name: worker-7\n"
      "no_event_stream: true\n"
      "probe_address: 0.0.0.0:10254\n"
      "max_concurrent_pulls: 5\n"
      "insecure_registry: [reg.lan:5000, mirror.lan]\n"
      "image_fs_path: /data/containerd\n"
      "image_fs_reserve_percent: 12.5\n"
      "image_fs_assume_free_bytes: 4096\n"
      "tcp_address: 0.0.0.0:9443\n"
      "tcp_tls_cert: /etc/inplaced-tls.crt\n"
      "tcp_tls_key: /etc/inplaced-tls.key\n"
      "tcp_tls_client_ca: /etc/inplaced/clients.crt\n"
      "tcp_insecure: true\n");
  DaemonOptions o;
  ASSERT_THAT(ApplyConfigFile(path, o), IsOk());
  EXPECT_EQ(o.runtime_endpoint, "unix:///run/k3s/containerd/containerd.sock");
  EXPECT_EQ(o.discovery_root, "/host/run");
  EXPECT_EQ(o.socket_path, "/run/ipd/ctl.sock");
  EXPECT_EQ(o.socket_group, "inplaced");
  EXPECT_EQ(o.state_dir, "/data/inplaced");
  EXPECT_EQ(o.max_open_requests, 50);
  EXPECT_EQ(o.max_containers, 8);
  EXPECT_EQ(o.max_watch_streams, 30);
  EXPECT_EQ(o.fast_poll_ms, 20);
  EXPECT_EQ(o.slow_poll_ms, 2000);
  EXPECT_EQ(o.resync_poll_ms, 30000);
  EXPECT_EQ(o.shutdown_hook_timeout_ms, 3000);
  EXPECT_EQ(o.max_concurrent_kills, 200);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.node_name, "worker-7");
  EXPECT_FALSE(o.use_event_stream);
  EXPECT_EQ(o.probe_address, "0.0.0.0:10254");
  EXPECT_EQ(o.max_concurrent_pulls, 5);
  EXPECT_THAT(o.insecure_registries, ElementsAre("reg.lan:5000", "mirror.lan"));
  EXPECT_EQ(o.image_fs_path, "/data/containerd");
  EXPECT_DOUBLE_EQ(o.image_fs_reserve_percent, 12.5);
  EXPECT_EQ(o.image_fs_assume_free_bytes, 4096u);
  EXPECT_EQ(o.tcp_address, "0.0.0.0:9443");
  EXPECT_EQ(o.tcp_tls_cert, "/etc/inplaced-tls.crt");
  EXPECT_EQ(o.tcp_tls_key, "/etc/inplaced-tls.key");
  EXPECT_EQ(o.tcp_tls_client_ca, "/etc/inplaced/clients.crt");
  EXPECT_TRUE(o.tcp_insecure);
}

TEST_F(ConfigFileTest, TheTableCoversEveryKeyTheFirstTestSets) {
  // The test above names every setting: a setting added to the table must be added there too.
  EXPECT_EQ(AllSettings().size(), 27u);
}

TEST_F(ConfigFileTest, EmptyFileAndCommentsOnlyChangeNothing) {
  for (const std::string& text : {std::string(""), std::string("# nothing set\n")}) {
    DaemonOptions o;
    ASSERT_THAT(ApplyConfigFile(Write(text), o), IsOk());
    EXPECT_EQ(o.max_open_requests, DaemonOptions().max_open_requests);
    EXPECT_EQ(o.socket_path, DaemonOptions().socket_path);
  }
}

TEST_F(ConfigFileTest, NullUnsetsAnOptionalSetting) {
  DaemonOptions o;
  o.image_fs_assume_free_bytes = 7;
  ASSERT_THAT(ApplyConfigFile(Write("image_fs_assume_free_bytes: ~\n"), o), IsOk());
  EXPECT_FALSE(o.image_fs_assume_free_bytes.has_value());
}

// Bad files: the error names the file, the line and the key, and says what is wrong.
TEST_F(ConfigFileTest, BadFilesAreErrorsNamingLineAndKey) {
  struct Case {
    std::string text;
    std::string expected;  // after "<path>:"
  };
  const std::vector<Case> cases = {
      {"log_level: info\nmax_open_request: 5\n", "2: max_open_request: unknown setting"},
      {"max_open_requests: many\n", "1: max_open_requests: must be an integer, got \"many\""},
      {"\n\nmax_open_requests: 0\n", "3: max_open_requests: must be between 1 and 1000000, got 0"},
      {"max_containers: 1001\n", "1: max_containers: must be between 1 and 1000, got 1001"},
      {"max_watch_streams: 0\n", "1: max_watch_streams: must be between 1 and 100000, got 0"},
      {"image_fs_reserve_percent: 100.5\n",
       "1: image_fs_reserve_percent: must be between 0 and 100, got 100.5"},
      {"fast_poll_ms: [1, 2]\n", "1: fast_poll_ms: must be a scalar, got a list"},
      {"socket:\n  path: /x\n", "2: socket: must be a scalar, got a map"},
      {"state_dir:\n", "1: state_dir: must be a scalar, got no value"},
      {"no_event_stream: maybe\n", "1: no_event_stream: must be true or false, got \"maybe\""},
      {"log_level: loud\n", "1: log_level: must be one of trace"},
      {"socket: relative.sock\n", "1: socket: must be an absolute path"},
      {"socket_group: \"wheel users\"\n", "1: socket_group: must be a group name or a numeric gid"},
      {"insecure_registry: reg.lan\n", "1: insecure_registry: must be a list, got a scalar"},
      {"insecure_registry:\n  - a.lan\n  - [b]\n",
       "3: insecure_registry: every item must be a scalar, got a list"},
      {"insecure_registry: [a.lan, \"\"]\n", "1: insecure_registry: every item must not be empty"},
      {"image_fs_assume_free_bytes: -1\n",
       "1: image_fs_assume_free_bytes: must be a non-negative integer"},
      {"log_level: info\nlog_level: debug\n", "2: log_level: given twice"},
      {"- log_level\n", "1: must be a map of settings, got a list"},
      {"log_level: [info\n", "2: invalid YAML"},  // where the parser gave up
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string path = Write(c.text);
    DaemonOptions o;
    const absl::Status status = ApplyConfigFile(path, o);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(path + ":" + c.expected));
  }
}

TEST_F(ConfigFileTest, MissingFileIsAnErrorNamingIt) {
  DaemonOptions o;
  const absl::Status status = ApplyConfigFile(dir_.Join("absent.yaml"), o);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("absent.yaml: cannot read"));
}

TEST_F(ConfigFileTest, CommandLineRefusesABadFileWithUsageError) {
  const std::string path = Write("max_containers: 0\n");
  const CommandLine parsed = ParseArgs({"--config", path});
  EXPECT_FALSE(parsed.run);
  EXPECT_EQ(parsed.exit_code, kUsageExitCode);
  EXPECT_THAT(parsed.output, HasSubstr(path + ":1: max_containers: must be between 1 and 1000"));
}

TEST_F(ConfigFileTest, PrecedenceIsFlagThenEnvironmentThenFileThenDefault) {
  const std::string path = Write(
      "max_open_requests: 10\n"
      "max_containers: 20\n"
      "fast_poll_ms: 30\n");
  ScopedEnv env_containers("INPLACED_MAX_CONTAINERS", "21");
  ScopedEnv env_poll("INPLACED_FAST_POLL_MS", "31");
  const CommandLine parsed = ParseArgs({"--config", path, "--fast-poll-ms", "32"});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_EQ(parsed.options.max_open_requests, 10);  // file over default
  EXPECT_EQ(parsed.options.max_containers, 21);     // environment over file
  EXPECT_EQ(parsed.options.fast_poll_ms, 32);       // flag over environment and file
  EXPECT_EQ(parsed.options.slow_poll_ms, DaemonOptions().slow_poll_ms);  // default
}

TEST_F(ConfigFileTest, ConfigPathFromTheEnvironment) {
  ScopedEnv config("INPLACED_CONFIG", Write("max_containers: 9\n").c_str());
  const CommandLine parsed = ParseArgs({});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_EQ(parsed.options.max_containers, 9);
}

TEST_F(ConfigFileTest, ListFromTheEnvironmentReplacesTheFilesList) {
  const std::string path = Write("insecure_registry: [a.lan, b.lan]\n");
  ScopedEnv env("INPLACED_INSECURE_REGISTRY", "c.lan");
  const CommandLine parsed = ParseArgs({"--config", path});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_THAT(parsed.options.insecure_registries, ElementsAre("c.lan"));
}

TEST_F(ConfigFileTest, ABadEnvironmentValueNamesTheVariable) {
  ScopedEnv env("INPLACED_MAX_CONCURRENT_PULLS", "65");
  const CommandLine parsed = ParseArgs({});
  EXPECT_FALSE(parsed.run);
  EXPECT_EQ(parsed.exit_code, kUsageExitCode);
  EXPECT_THAT(parsed.output,
              HasSubstr("INPLACED_MAX_CONCURRENT_PULLS: must be between 1 and 64, got 65"));
}

TEST_F(ConfigFileTest, CrossSettingCheckSeesTheMergedValues) {
  // Each value is fine alone; slow below fast is not, wherever they came from.
  const std::string path = Write("slow_poll_ms: 50\n");
  const CommandLine parsed = ParseArgs({"--config", path, "--fast-poll-ms", "60"});
  EXPECT_FALSE(parsed.run);
  EXPECT_THAT(parsed.output, HasSubstr("slow_poll_ms (--slow-poll-ms) is 50"));
}

TEST_F(ConfigFileTest, PrintConfigPrintsTheEffectiveSettingsAndExitsZero) {
  const std::string path = Write("max_open_requests: 10\ninsecure_registry: [a.lan]\n");
  const CommandLine parsed = ParseArgs({"--config", path, "--log-level", "warn", "--print-config"});
  EXPECT_FALSE(parsed.run);
  EXPECT_EQ(parsed.exit_code, 0);
  EXPECT_THAT(parsed.output, HasSubstr("\nmax_open_requests: 10\n"));
  EXPECT_THAT(parsed.output, HasSubstr("\nlog_level: warn\n"));
  EXPECT_THAT(parsed.output, HasSubstr("\ninsecure_registry: [a.lan]\n"));
  EXPECT_THAT(parsed.output, HasSubstr("\nruntime_endpoint: \"\"\n"));
  EXPECT_THAT(parsed.output, HasSubstr("\nimage_fs_assume_free_bytes: ~\n"));
}

TEST_F(ConfigFileTest, PrintedConfigReadsBackToTheSameSettings) {
  DaemonOptions original;
  original.runtime_endpoint = "unix:///run/containerd/containerd.sock";
  original.socket_group = "1234";
  original.max_open_requests = 77;
  original.use_event_stream = false;
  original.insecure_registries = {"a.lan:5000", "b.lan"};
  original.image_fs_reserve_percent = 0.25;
  original.image_fs_assume_free_bytes = 0;
  DaemonOptions read_back;
  ASSERT_THAT(ApplyConfigFile(Write(FormatConfig(original)), read_back), IsOk());
  for (const Setting& setting : AllSettings()) {
    EXPECT_EQ(SettingItems(setting, read_back), SettingItems(setting, original)) << setting.key;
  }
}

TEST_F(ConfigFileTest, PrintConfigRedactsSecretSettings) {
  std::vector<Setting> settings(AllSettings().begin(), AllSettings().end());
  for (Setting& setting : settings) setting.secret = setting.key == "runtime_endpoint";
  DaemonOptions options;
  options.runtime_endpoint = "unix:///secret/path.sock";
  const std::string printed = FormatConfig(options, settings);
  EXPECT_THAT(printed, HasSubstr("\nruntime_endpoint: <redacted>\n"));
  EXPECT_THAT(printed, Not(HasSubstr("secret/path")));
}

TEST_F(ConfigFileTest, TheExampleConfigInDeployLoads) {
  const CommandLine parsed = ParseArgs({"--config", INPLACED_EXAMPLE_CONFIG});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_EQ(parsed.options.runtime_endpoint, "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(parsed.options.state_dir, "/var/lib/inplaced");
}

TEST(SettingsTableTest, NamesAreUniqueAndConsistent) {
  std::vector<std::string> seen;
  for (const Setting& setting : AllSettings()) {
    SCOPED_TRACE(setting.key);
    for (absl::string_view name : {setting.key, setting.flag, setting.env}) {
      EXPECT_THAT(seen, Not(::testing::Contains(std::string(name))));
      seen.emplace_back(name);
    }
    EXPECT_EQ(setting.flag.substr(0, 2), "--");
    EXPECT_EQ(setting.env.substr(0, 9), "INPLACED_");
    EXPECT_THAT(setting.help, Not(IsEmpty()));
    EXPECT_EQ(FindSetting(setting.key), &setting);
  }
}

TEST(SettingsTableTest, TheReadmeHasTheGeneratedTable) {
  const std::string readme = ReadFile(INPLACED_README);
  const std::string begin = "<!-- settings table: generated by SettingsMarkdownTable() -->\n";
  const std::string end = "<!-- end of settings table -->";
  const size_t from = readme.find(begin);
  const size_t to = readme.find(end);
  ASSERT_NE(from, std::string::npos) << "README.md lacks " << begin;
  ASSERT_NE(to, std::string::npos) << "README.md lacks " << end;
  EXPECT_EQ(readme.substr(from + begin.size(), to - from - begin.size()), SettingsMarkdownTable())
      << "README.md's settings table is out of date: replace it with the expected text";
}

}  // namespace
}  // namespace inplaced::daemon
