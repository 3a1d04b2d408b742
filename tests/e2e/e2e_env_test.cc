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
