// The daemon's image pre-pull flags (daemon/options): defaults, flags, INPLACED_* environment,
// ranges.

#include <string>
#include <vector>

#include "daemon/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/daemon/command_line_test_util.h"

namespace inplaced::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(OptionsNodeImageTest, DefaultsWithoutFlags) {
  const CommandLine parsed = ParseArgs({});
  ASSERT_TRUE(parsed.run) << parsed.output;
  const DaemonOptions& o = parsed.options;
  EXPECT_EQ(o.max_concurrent_pulls, 3);
  EXPECT_THAT(o.insecure_registries, IsEmpty());
  EXPECT_EQ(o.image_fs_path, "/var/lib/containerd");
  EXPECT_DOUBLE_EQ(o.image_fs_reserve_percent, 10.0);
  EXPECT_FALSE(o.image_fs_assume_free_bytes.has_value());
}

TEST(OptionsNodeImageTest, FlagsSetEveryField) {
  const CommandLine parsed =
      ParseArgs({"--max-concurrent-pulls", "7", "--insecure-registry", "reg.local:5000",
                 "--insecure-registry", "mirror.lan", "--image-fs-path", "/data/images",
                 "--image-fs-reserve-percent", "0", "--image-fs-assume-free-bytes", "1024"});
  ASSERT_TRUE(parsed.run) << parsed.output;
  const DaemonOptions& o = parsed.options;
  EXPECT_EQ(o.max_concurrent_pulls, 7);
  EXPECT_THAT(o.insecure_registries, ElementsAre("reg.local:5000", "mirror.lan"));
  EXPECT_EQ(o.image_fs_path, "/data/images");
  EXPECT_DOUBLE_EQ(o.image_fs_reserve_percent, 0.0);
  ASSERT_TRUE(o.image_fs_assume_free_bytes.has_value());
  EXPECT_EQ(*o.image_fs_assume_free_bytes, 1024u);
}

TEST(OptionsNodeImageTest, AssumeFreeBytesZeroIsSetNotUnset) {
  const CommandLine parsed = ParseArgs({"--image-fs-assume-free-bytes", "0"});
  ASSERT_TRUE(parsed.run) << parsed.output;
  ASSERT_TRUE(parsed.options.image_fs_assume_free_bytes.has_value());
  EXPECT_EQ(*parsed.options.image_fs_assume_free_bytes, 0u);
}

TEST(OptionsNodeImageTest, EnvironmentSetsFields) {
  ScopedEnv pulls("INPLACED_MAX_CONCURRENT_PULLS", "5");
  ScopedEnv insecure("INPLACED_INSECURE_REGISTRY", "a.lan,b.lan:8080");
  ScopedEnv path("INPLACED_IMAGE_FS_PATH", "/srv/images");
  ScopedEnv reserve("INPLACED_IMAGE_FS_RESERVE_PERCENT", "25.5");
  ScopedEnv assume("INPLACED_IMAGE_FS_ASSUME_FREE_BYTES", "4096");
  const CommandLine parsed = ParseArgs({});
  ASSERT_TRUE(parsed.run) << parsed.output;
  const DaemonOptions& o = parsed.options;
  EXPECT_EQ(o.max_concurrent_pulls, 5);
  EXPECT_THAT(o.insecure_registries, ElementsAre("a.lan", "b.lan:8080"));
  EXPECT_EQ(o.image_fs_path, "/srv/images");
  EXPECT_DOUBLE_EQ(o.image_fs_reserve_percent, 25.5);
  ASSERT_TRUE(o.image_fs_assume_free_bytes.has_value());
  EXPECT_EQ(*o.image_fs_assume_free_bytes, 4096u);
}

TEST(OptionsNodeImageTest, FlagWinsOverEnvironment) {
  ScopedEnv pulls("INPLACED_MAX_CONCURRENT_PULLS", "5");
  const CommandLine parsed = ParseArgs({"--max-concurrent-pulls", "2"});
  ASSERT_TRUE(parsed.run) << parsed.output;
  EXPECT_EQ(parsed.options.max_concurrent_pulls, 2);
}

struct BadValueCase {
  std::vector<std::string> args;
  std::string names;  // what the error mentions
};

class OptionsNodeImageBadValueTest : public ::testing::TestWithParam<BadValueCase> {};

TEST_P(OptionsNodeImageBadValueTest, ExitsWithUsageErrorNamingTheFlag) {
  const CommandLine parsed = ParseArgs(GetParam().args);
  EXPECT_FALSE(parsed.run);
  EXPECT_EQ(parsed.exit_code, kUsageExitCode);
  EXPECT_THAT(parsed.output, HasSubstr(GetParam().names));
}

INSTANTIATE_TEST_SUITE_P(
    Values, OptionsNodeImageBadValueTest,
    ::testing::Values(
        BadValueCase{{"--max-concurrent-pulls", "0"}, "--max-concurrent-pulls"},
        BadValueCase{{"--max-concurrent-pulls", "65"}, "--max-concurrent-pulls"},
        BadValueCase{{"--max-concurrent-pulls", "x"}, "--max-concurrent-pulls"},
        BadValueCase{{"--image-fs-reserve-percent", "-1"}, "--image-fs-reserve-percent"},
        BadValueCase{{"--image-fs-reserve-percent", "101"}, "--image-fs-reserve-percent"},
        BadValueCase{{"--image-fs-assume-free-bytes", "-5"}, "--image-fs-assume-free-bytes"},
        BadValueCase{{"--image-fs-path", ""}, "--image-fs-path"},
        BadValueCase{{"--insecure-registry", ""}, "--insecure-registry"}));

}  // namespace
}  // namespace inplaced::daemon
