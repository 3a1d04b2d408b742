// `inplacectl recreate` flags, parsed by CLI11 as the binary does, and their request.

#include "cli/recreate_args.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cli {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1796454000);  // 2026-12-05T07:00:00Z

// Parses `args` (after "recreate") into a RecreateArgs; throws CLI11's ParseError on bad flags.
RecreateArgs Parse(std::vector<std::string> args) {
  CLI::App app;
  RecreateArgs parsed;
  AddRecreateFlags(app, &parsed);
  std::reverse(args.begin(), args.end());  // CLI11's vector form takes the arguments in reverse
  app.parse(args);
  return parsed;
}

TEST(RecreateArgsTest, EveryFlagLandsInTheRequest) {
  const RecreateArgs args = Parse({"web-0",
                                   "-n",
                                   "shop",
                                   "-c",
                                   "app,sidecar",
                                   "--ordered",
                                   "--grace",
                                   "20",
                                   "--unready-grace",
                                   "5",
                                   "--min-started",
                                   "3",
                                   "--ignore",
                                   "--force",
                                   "--deadline",
                                   "300",
                                   "--ttl",
                                   "60",
                                   "--name",
                                   "r1",
                                   "--wait",
                                   "--timeout",
                                   "90"});
  ASSERT_OK_AND_ASSIGN(v1::CreateRecreateRequestRequest request,
                       BuildRecreateRequest(args, args.containers, kNow));
  EXPECT_EQ(request.namespace_(), "shop");
  EXPECT_EQ(request.name(), "r1");
  const v1::RecreateSpec& spec = request.spec();
  EXPECT_EQ(spec.pod_name(), "web-0");
  ASSERT_EQ(spec.containers_size(), 2);
  EXPECT_EQ(spec.containers(0).name(), "app");
  EXPECT_EQ(spec.containers(1).name(), "sidecar");
  EXPECT_TRUE(spec.strategy().ordered_recreate());
  EXPECT_TRUE(spec.strategy().force_recreate());
  EXPECT_EQ(spec.strategy().failure_policy(), v1::FAILURE_POLICY_IGNORE);
  EXPECT_EQ(spec.strategy().termination_grace_period_seconds(), 20);
  EXPECT_EQ(spec.strategy().unready_grace_period_seconds(), 5);
  EXPECT_EQ(spec.strategy().min_started_seconds(), 3);
  EXPECT_EQ(spec.active_deadline_seconds(), 300);
  EXPECT_EQ(spec.ttl_seconds_after_finished(), 60);
  EXPECT_TRUE(args.wait);
  EXPECT_EQ(args.timeout_seconds, 90);
}

TEST(RecreateArgsTest, UnsetSecondsStayUnsetAndTheNameComesFromThePodAndTime) {
  const RecreateArgs args = Parse({"web-0", "-c", "app"});
  ASSERT_OK_AND_ASSIGN(v1::CreateRecreateRequestRequest request,
                       BuildRecreateRequest(args, args.containers, kNow));
  EXPECT_EQ(request.namespace_(), "default");
  EXPECT_EQ(request.name(), "web-0-20261205-070000");
  EXPECT_FALSE(request.spec().strategy().has_termination_grace_period_seconds());
  EXPECT_FALSE(request.spec().strategy().has_unready_grace_period_seconds());
  EXPECT_FALSE(request.spec().has_active_deadline_seconds());
  EXPECT_FALSE(request.spec().has_ttl_seconds_after_finished());
  EXPECT_EQ(request.spec().strategy().failure_policy(), v1::FAILURE_POLICY_FAIL);
}

TEST(RecreateArgsTest, ZeroGraceIsSetNotUnset) {
  const RecreateArgs args = Parse({"web-0", "-c", "app", "--grace", "0", "--unready-grace", "0"});
  ASSERT_OK_AND_ASSIGN(v1::CreateRecreateRequestRequest request,
                       BuildRecreateRequest(args, args.containers, kNow));
  EXPECT_TRUE(request.spec().strategy().has_termination_grace_period_seconds());
  EXPECT_TRUE(request.spec().strategy().has_unready_grace_period_seconds());
}

TEST(RecreateArgsTest, AllTakesTheContainersGiven) {
  const RecreateArgs args = Parse({"web-0", "--all"});
  EXPECT_TRUE(args.all_containers);
  ASSERT_OK_AND_ASSIGN(v1::CreateRecreateRequestRequest request,
                       BuildRecreateRequest(args, {"app", "sidecar"}, kNow));
  EXPECT_EQ(request.spec().containers_size(), 2);
}

TEST(RecreateArgsTest, NoContainerIsAClearError) {
  const RecreateArgs args = Parse({"web-0"});
  EXPECT_THAT(BuildRecreateRequest(args, {}, kNow).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("-c NAME")));
  const RecreateArgs all = Parse({"web-0", "--all"});
  EXPECT_THAT(
      BuildRecreateRequest(all, {}, kNow).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no container of pod default/web-0")));
}

TEST(RecreateArgsTest, ConflictingAndBadFlagsAreRefusedAtParse) {
  EXPECT_THROW(Parse({"web-0", "-c", "app", "--all"}), CLI::ParseError);
  EXPECT_THROW(Parse({"web-0", "-c", "app", "--fail", "--ignore"}), CLI::ParseError);
  EXPECT_THROW(Parse({"web-0", "-c", "app", "--grace", "-1"}), CLI::ParseError);
  EXPECT_THROW(Parse({"web-0", "-c", "app", "--ttl", "soon"}), CLI::ParseError);
  EXPECT_THROW(Parse({"-c", "app"}), CLI::ParseError);  // no pod
}

TEST(RecreateArgsTest, DefaultNameOfALongPodStaysADnsSubdomain) {
  const std::string name = DefaultRequestName(std::string(250, 'a'), kNow);
  EXPECT_LE(name.size(), 253u);
  EXPECT_EQ(name.substr(name.size() - 16), "-20261205-070000");
}

}  // namespace
}  // namespace inplaced::cli
