#include "imagepull/registry/www_authenticate.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using Params = std::vector<std::pair<std::string, std::string>>;

struct Want {
  std::string scheme;
  Params params;
  std::string token68;
};

TEST(WwwAuthenticateTest, ParsesChallenges) {
  struct Case {
    std::string description;
    std::string header;
    std::vector<Want> want;
  };
  const std::vector<Case> cases = {
      {"docker hub bearer",
       R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")",
       {{"bearer",
         {{"realm", "https://auth.docker.io/token"},
          {"service", "registry.docker.io"},
          {"scope", "repository:library/busybox:pull"}},
         ""}}},
      {"basic", R"(Basic realm="Registry Realm")", {{"basic", {{"realm", "Registry Realm"}}, ""}}},
      {"scheme and names are case-insensitive",
       R"(BEARER Realm="r", SERVICE="s")",
       {{"bearer", {{"realm", "r"}, {"service", "s"}}, ""}}},
      {"whitespace around = and ,",
       "Bearer  realm = \"r\" ,\tservice= \"s\"  ",
       {{"bearer", {{"realm", "r"}, {"service", "s"}}, ""}}},
      {"token values",
       "Basic realm=simple, charset=UTF-8",
       {{"basic", {{"realm", "simple"}, {"charset", "UTF-8"}}, ""}}},
      {"escapes in quoted strings",
       R"(Bearer realm="a \"quoted\" \\ back\slash")",
       {{"bearer", {{"realm", R"(a "quoted" \ backslash)"}}, ""}}},
      {"commas and equals inside quotes",
       R"(Bearer realm="x,y=z", scope="a b")",
       {{"bearer", {{"realm", "x,y=z"}, {"scope", "a b"}}, ""}}},
      {"empty quoted value", R"(Basic realm="")", {{"basic", {{"realm", ""}}, ""}}},
      {"two challenges in one value",
       R"(Bearer realm="a",service="s", Basic realm="b")",
       {{"bearer", {{"realm", "a"}, {"service", "s"}}, ""}, {"basic", {{"realm", "b"}}, ""}}},
      {"scheme without params then another",
       "Negotiate, Basic realm=\"b\"",
       {{"negotiate", {}, ""}, {"basic", {{"realm", "b"}}, ""}}},
      {"token68", "Negotiate YII/xyz+ab==", {{"negotiate", {}, "YII/xyz+ab=="}}},
      {"token68 then another challenge",
       "Negotiate abc=, Basic realm=\"b\"",
       {{"negotiate", {}, "abc="}, {"basic", {{"realm", "b"}}, ""}}},
      {"empty list elements",
       " , Bearer realm=\"a\",, ,service=\"s\" ,",
       {{"bearer", {{"realm", "a"}, {"service", "s"}}, ""}}},
      {"space-separated params (lenient)",
       R"(Bearer realm="a" service="s")",
       {{"bearer", {{"realm", "a"}, {"service", "s"}}, ""}}},
      {"repeated name keeps the first",
       R"(Bearer realm="a",realm="b")",
       {{"bearer", {{"realm", "a"}}, ""}}},
      {"error params from a registry",
       R"(Bearer realm="https://a/token",service="reg",scope="repository:x:pull",error="insufficient_scope")",
       {{"bearer",
         {{"realm", "https://a/token"},
          {"service", "reg"},
          {"scope", "repository:x:pull"},
          {"error", "insufficient_scope"}},
         ""}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description + ": " + c.header);
    ASSERT_OK_AND_ASSIGN(const std::vector<AuthChallenge> got, ParseWwwAuthenticate(c.header));
    ASSERT_EQ(got.size(), c.want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      SCOPED_TRACE(i);
      EXPECT_EQ(got[i].scheme, c.want[i].scheme);
      EXPECT_EQ(got[i].params, c.want[i].params);
      EXPECT_EQ(got[i].token68, c.want[i].token68);
    }
  }
}

TEST(WwwAuthenticateTest, RejectsMalformedHeaders) {
  struct Case {
    std::string description;
    std::string header;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"empty", "", "empty header at offset 0"},
      {"only separators", " , ", "empty header"},
      {"unterminated quote", R"(Bearer realm="abc)", "unterminated quoted string at offset 13"},
      {"dangling escape", "Bearer realm=\"abc\\", "unterminated quoted string"},
      {"second param without value", R"(Bearer realm="a",service=)",
       "parameter \"service\" has no value"},
      {"quoted scheme", R"("Bearer" realm="a")", "expected an auth scheme at offset 0"},
      {"junk after scheme", "Bearer=realm",
       "unexpected character after the auth scheme at offset 6"},
      {"unquoted value with slash", "Bearer realm=https://a/token", "expected ',' or a parameter"},
      {"junk after token68", "Negotiate abc== def", "unexpected character after token68"},
      {"quoted value without a name", R"(Bearer "a")", "expected a parameter or token68"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description + ": " + c.header);
    EXPECT_THAT(ParseWwwAuthenticate(c.header),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.reason)));
  }
}

TEST(WwwAuthenticateTest, AccessorsAndFindChallenge) {
  ASSERT_OK_AND_ASSIGN(
      const std::vector<AuthChallenge> got,
      ParseWwwAuthenticate(
          R"(Basic realm="basic-realm", Bearer Realm="https://auth/token",Service="svc",scope="repository:a:pull  repository:b:pull,push")"));
  const AuthChallenge* bearer = FindChallenge(got, "BEARER");
  ASSERT_NE(bearer, nullptr);
  EXPECT_EQ(bearer->realm(), "https://auth/token");
  EXPECT_EQ(bearer->service(), "svc");
  EXPECT_THAT(bearer->Scopes(), ElementsAre("repository:a:pull", "repository:b:pull,push"));
  EXPECT_EQ(bearer->Param("SERVICE"), "svc");
  EXPECT_EQ(bearer->Param("missing"), std::nullopt);

  const AuthChallenge* basic = FindChallenge(got, "basic");
  ASSERT_NE(basic, nullptr);
  EXPECT_EQ(basic->realm(), "basic-realm");
  EXPECT_EQ(basic->service(), "");
  EXPECT_EQ(basic->scope(), "");
  EXPECT_TRUE(basic->Scopes().empty());
  EXPECT_THAT(basic->params, ElementsAre(Pair("realm", "basic-realm")));

  EXPECT_EQ(FindChallenge(got, "negotiate"), nullptr);
}

}  // namespace
}  // namespace inplaced::imagepull
