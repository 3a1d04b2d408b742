#include "tests/e2e/e2e_env.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kCompleteEnv[] = R"(# comment
INPLACED_E2E_DIR=/tmp/x
INPLACED_E2E_CONTAINERD_SOCK=/tmp/x/containerd/containerd.sock
INPLACED_E2E_CONTAINERD_ENDPOINT=unix:///tmp/x/containerd/containerd.sock
INPLACED_E2E_CONTAINERD_VERSION=1.6.20~ds1
INPLACED_E2E_REGISTRY=127.0.0.1:40000
INPLACED_E2E_AUTH_REGISTRY=127.0.0.1:40001
INPLACED_E2E_AUTH_USER=u
INPLACED_E2E_AUTH_PASSWORD=p=w
INPLACED_E2E_BUSYBOX_IMAGE=localhost/busybox:1
INPLACED_E2E_PAUSE_IMAGE=localhost/pause:1
INPLACED_E2E_REGISTRY_BUSYBOX_IMAGE=127.0.0.1:40000/busybox:1
INPLACED_E2E_REGISTRY_BUSYBOX2_IMAGE=127.0.0.1:40000/busybox:2

INPLACED_E2E_AUTH_BUSYBOX_IMAGE=127.0.0.1:40001/private/busybox:1
INPLACED_E2E_LOG_DIR=/tmp/x/pod-logs
INPLACED_E2E_EXTRA=kept
)";

TEST(E2eEnvTest, ParsesEveryKeyAndKeepsValuesWithEquals) {
  ASSERT_OK_AND_ASSIGN(E2eEnv env, ParseE2eEnv(kCompleteEnv));
  EXPECT_EQ(env.containerd_endpoint, "unix:///tmp/x/containerd/containerd.sock");
  EXPECT_EQ(env.auth_password, "p=w");
  EXPECT_EQ(env.registry_busybox2_image, "127.0.0.1:40000/busybox:2");
  EXPECT_EQ(env.log_dir, "/tmp/x/pod-logs");
  EXPECT_EQ(env.values.at("INPLACED_E2E_EXTRA"), "kept");
}

TEST(E2eEnvTest, ParsesTheContainerdVersionAndItsDifferences) {
  ASSERT_OK_AND_ASSIGN(E2eEnv env, ParseE2eEnv(kCompleteEnv));
  EXPECT_EQ(env.containerd.ToString(), "1.6.20");
  EXPECT_FALSE(env.differences.streams_container_events);
  EXPECT_TRUE(env.differences.stop_unknown_container_is_not_found);
}

TEST(E2eEnvTest, UnparsableContainerdVersionIsInvalidArgument) {
  std::string text = kCompleteEnv;
  const std::string line = "INPLACED_E2E_CONTAINERD_VERSION=1.6.20~ds1";
  text.replace(text.find(line), line.size(), "INPLACED_E2E_CONTAINERD_VERSION=unknown");
  EXPECT_THAT(ParseE2eEnv(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("INPLACED_E2E_CONTAINERD_VERSION")));
}

TEST(ContainerdVersionTest, ParsesDebianAndUpstreamForms) {
  const struct {
    const char* text;
    std::string want;
  } kCases[] = {
      {"1.6.20~ds1", "1.6.20"}, {"1.7.24~ds1", "1.7.24"}, {"2.1.9+unknown", "2.1.9"},
      {"v1.7.24", "1.7.24"},    {"2.0.0-rc.1", "2.0.0"},  {"1.6.35", "1.6.35"},
  };
  for (const auto& c : kCases) {
    ASSERT_OK_AND_ASSIGN(ContainerdVersion version, ParseContainerdVersion(c.text));
    EXPECT_EQ(version.ToString(), c.want) << c.text;
  }
}

TEST(ContainerdVersionTest, RejectsWhatIsNoVersion) {
  for (const char* text : {"", "1", "1.7", "1.7.", "x1.7.2", "1.x.2", "99999999999.1.1", "v"}) {
    EXPECT_THAT(ParseContainerdVersion(text), StatusIs(absl::StatusCode::kInvalidArgument)) << text;
  }
}

TEST(ContainerdVersionTest, AtLeastComparesMajorMinorPatch) {
  ASSERT_OK_AND_ASSIGN(ContainerdVersion version, ParseContainerdVersion("1.7.24~ds1"));
  EXPECT_TRUE(version.AtLeast(1, 7));
  EXPECT_TRUE(version.AtLeast(1, 7, 24));
  EXPECT_TRUE(version.AtLeast(1, 6, 99));
  EXPECT_FALSE(version.AtLeast(1, 7, 25));
  EXPECT_FALSE(version.AtLeast(1, 8));
  EXPECT_FALSE(version.AtLeast(2, 0));
}

TEST(ContainerdDifferencesTest, FollowTheReleasesThatChangedThem) {
  const struct {
    const char* version;
    bool stop_unknown_not_found;
    bool events;
    bool pinned;
    const char* unauthorized;
  } kCases[] = {
      {"1.6.20~ds1", true, false, false, "401 Unauthorized"},
      {"1.6.35", false, false, false, "401 Unauthorized"},
      {"1.7.20", true, true, true, "no basic auth credentials"},
      {"1.7.24~ds1", false, true, true, "no basic auth credentials"},
      {"2.0.0", false, true, true, "no basic auth credentials"},
      {"2.1.9+unknown", false, true, true, "no basic auth credentials"},
  };
  for (const auto& c : kCases) {
    ASSERT_OK_AND_ASSIGN(ContainerdVersion version, ParseContainerdVersion(c.version));
    const ContainerdDifferences differences = DifferencesOf(version);
    EXPECT_EQ(differences.stop_unknown_container_is_not_found, c.stop_unknown_not_found)
        << c.version;
    EXPECT_EQ(differences.streams_container_events, c.events) << c.version;
    EXPECT_EQ(differences.pins_sandbox_image, c.pinned) << c.version;
    EXPECT_THAT(differences.pull_without_credentials_message, HasSubstr(c.unauthorized))
        << c.version;
  }
}

TEST(E2eEnvTest, RuntimeBannerNamesRuntimeVersionAndEndpoint) {
  EXPECT_EQ(RuntimeBanner("containerd", "1.7.24~ds1", "v1", "unix:///tmp/x.sock"),
            "[ runtime  ] containerd 1.7.24~ds1 (CRI v1) at unix:///tmp/x.sock");
}

TEST(E2eEnvTest, MissingKeyIsInvalidArgument) {
  std::string text = kCompleteEnv;
  const std::string line = "INPLACED_E2E_AUTH_USER=u\n";
  text.erase(text.find(line), line.size());
  EXPECT_THAT(ParseE2eEnv(text),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("INPLACED_E2E_AUTH_USER")));
}

TEST(E2eEnvTest, MalformedLineIsInvalidArgument) {
  EXPECT_THAT(ParseE2eEnv("no equals sign here\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1")));
}

TEST(E2eEnvTest, MissingFileFailsInsteadOfSkipping) {
  ASSERT_EQ(setenv("INPLACED_E2E_ENV_FILE", "/nonexistent/inplaced-e2e/env", 1), 0);
  EXPECT_THAT(LoadE2eEnv(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("missing")));
  ASSERT_EQ(unsetenv("INPLACED_E2E_ENV_FILE"), 0);
  EXPECT_THAT(LoadE2eEnv(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not set")));
}

}  // namespace
}  // namespace inplaced::e2e
