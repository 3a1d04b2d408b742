#include "daemon/recreate/name_syntax.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::daemon {
namespace {

using ::inplaced::testing::StatusIs;

struct Case {
  std::string value;
  bool valid;
};

// Runs `check` on every case; the value is the trace.
template <typename Check>
void ExpectVerdicts(Check check, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    if (c.valid) {
      EXPECT_OK(check(c.value));
    } else {
      EXPECT_THAT(check(c.value), StatusIs(absl::StatusCode::kInvalidArgument));
    }
  }
}

TEST(NameSyntaxTest, Dns1123LabelFollowsKubernetes) {
  ExpectVerdicts(CheckDns1123Label, {{"a", true},
                                     {"0", true},
                                     {"my-name-1", true},
                                     {std::string(63, 'a'), true},
                                     {"", false},
                                     {std::string(64, 'a'), false},
                                     {"-a", false},
                                     {"a-", false},
                                     {"A", false},
                                     {"a.b", false},
                                     {"a_b", false},
                                     {"a b", false}});
}

TEST(NameSyntaxTest, Dns1123SubdomainFollowsKubernetes) {
  // Kubernetes limits the whole subdomain to 253 characters, not each part to 63.
  ExpectVerdicts(CheckDns1123Subdomain, {{"a", true},
                                         {"a.b-c.d", true},
                                         {std::string(100, 'a') + ".b", true},
                                         {std::string(253, 'a'), true},
                                         {std::string(254, 'a'), false},
                                         {"", false},
                                         {".a", false},
                                         {"a.", false},
                                         {"a..b", false},
                                         {"a.-b", false},
                                         {"a.B", false}});
}

TEST(NameSyntaxTest, IanaSvcNameFollowsKubernetes) {
  ExpectVerdicts(CheckIanaSvcName, {{"http", true},
                                    {"h2c", true},
                                    {"a-b", true},
                                    {"1a", true},
                                    {std::string(15, 'p'), true},
                                    {std::string(16, 'p'), false},
                                    {"", false},
                                    {"80", false},
                                    {"-a", false},
                                    {"a-", false},
                                    {"a--b", false},
                                    {"Http", false},
                                    {"a.b", false}});
}

TEST(NameSyntaxTest, ContainerIdAcceptsBareAndKubernetesForms) {
  ExpectVerdicts(CheckContainerId, {{std::string(64, 'f'), true},
                                    {"containerd://abc", true},
                                    {"cri-o://abc", true},
                                    {"docker://a.b_c-d", true},
                                    {std::string(128, 'a'), true},
                                    {std::string(129, 'a'), false},
                                    {"", false},
                                    {"containerd://", false},
                                    {"://abc", false},
                                    {"Containerd://abc", false},
                                    {"abc def", false},
                                    {"a/b", false}});
}

TEST(NameSyntaxTest, BareContainerIdStripsTheRuntimeScheme) {
  EXPECT_EQ(BareContainerId("containerd://abc"), "abc");
  EXPECT_EQ(BareContainerId("abc"), "abc");
  EXPECT_EQ(BareContainerId(""), "");
}

TEST(NameSyntaxTest, PodUidIsSane) {
  ExpectVerdicts(CheckPodUid, {{"0f5e7c1a-2b3c-4d5e-8f90-123456789abc", true},
                               {"6f0a1c4ee8b5b4e2c1f0d9a8b7c6d5e4", true},
                               {"uid-web", true},
                               {std::string(128, 'a'), true},
                               {std::string(129, 'a'), false},
                               {"", false},
                               {"a b", false},
                               {"a/b", false}});
}

TEST(NameSyntaxTest, HostRefusesUrlSyntax) {
  ExpectVerdicts(CheckHost, {{"10.0.0.1", true},
                             {"svc.ns.svc.cluster.local", true},
                             {"::1", true},
                             {"[::1]", true},
                             {"fe80::1%eth0", true},
                             {"", false},
                             {"a/b", false},
                             {"user@host", false},
                             {"h?x", false},
                             {"h#x", false},
                             {"a b", false},
                             {std::string(254, 'a'), false}});
}

TEST(NameSyntaxTest, HttpHeaderNameIsAToken) {
  ExpectVerdicts(CheckHttpHeaderName, {{"X-Reason", true},
                                       {"a!#$%&'*+-.^_`|~z", true},
                                       {"", false},
                                       {"X Reason", false},
                                       {"X:Y", false},
                                       {"X\r\n", false}});
}

TEST(NameSyntaxTest, HttpHeaderValueRefusesLineBreaks) {
  ExpectVerdicts(CheckHttpHeaderValue, {{"", true},
                                        {"text with spaces\tand tabs", true},
                                        {"a\rb", false},
                                        {"a\nb", false},
                                        {std::string("a\0b", 3), false}});
}

TEST(NameSyntaxTest, HttpPathRefusesWhitespaceAndControls) {
  ExpectVerdicts(CheckHttpPath, {{"", true},
                                 {"/", true},
                                 {"/a/b?c=d&e=%20", true},
                                 {"relative", true},
                                 {"/a b", false},
                                 {"/a\tb", false},
                                 {"/a\x7f", false}});
}

TEST(NameSyntaxTest, MessagesQuoteAndShortenTheValue) {
  EXPECT_THAT(CheckDns1123Label("Bad"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::EndsWith(": \"Bad\"")));
  EXPECT_THAT(CheckDns1123Label(std::string(300, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::EndsWith(std::string(64, 'x') + "...\"")));
  EXPECT_THAT(CheckDns1123Label("a\x01"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::EndsWith("\"a\\x01\"")));
}

}  // namespace
}  // namespace inplaced::daemon
