#include "imagepull/registry/docker_config.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string B64(const std::string& s) { return absl::Base64Escape(s); }

// A secret with one entry per key, each with username "user-<key>" and a password.
std::string ConfigJson(const std::vector<std::string>& keys, const std::string& password = "pw") {
  std::string auths;
  for (const std::string& key : keys) {
    if (!auths.empty()) auths += ",";
    absl::StrAppend(&auths, "\"", key, "\":{\"auth\":\"", B64("user-" + key + ":" + password),
                    "\"}");
  }
  return absl::StrCat("{\"auths\":{", auths, "}}");
}

ImageReference Ref(const std::string& text) {
  absl::StatusOr<ImageReference> ref = ImageReference::Parse(text);
  EXPECT_TRUE(ref.ok()) << ref.status();
  return *ref;
}

std::vector<std::string> Servers(const std::vector<RegistryCredential>& credentials) {
  std::vector<std::string> out;
  for (const RegistryCredential& c : credentials) out.push_back(c.server_address);
  return out;
}

TEST(DockerConfigTest, ParsesAuthsFormWithEveryField) {
  const std::string json = absl::StrCat(R"({"auths":{
      "reg.io": {"auth": ")",
                                        B64("alice:pa:ss"), R"(", "email": "a@example.com"},
      "https://tok.io/v2/": {"identitytoken": "id-tok", "registrytoken": "reg-tok"},
      "plain.io": {"username": "bob", "password": "hunter2"},
      "email-only.io": {"email": "x@example.com"}},
    "credHelpers": {"gcr.io": "gcloud"}})");
  ASSERT_OK_AND_ASSIGN(const std::vector<RegistryCredential> got, ParseDockerConfig(json));
  ASSERT_EQ(got.size(), 3u);  // the email-only entry carries no credential
  // nlohmann's object keeps keys sorted.
  EXPECT_EQ(got[0].server_address, "https://tok.io/v2/");
  EXPECT_EQ(got[0].identity_token, "id-tok");
  EXPECT_EQ(got[0].registry_token, "reg-tok");
  EXPECT_EQ(got[1].server_address, "plain.io");
  EXPECT_EQ(got[1].username, "bob");
  EXPECT_EQ(got[1].password, "hunter2");
  EXPECT_EQ(got[2].server_address, "reg.io");
  EXPECT_EQ(got[2].username, "alice");
  EXPECT_EQ(got[2].password, "pa:ss");  // split at the first ':'
  EXPECT_EQ(got[2].auth, B64("alice:pa:ss"));
}

TEST(DockerConfigTest, ParsesLegacyDockercfgForm) {
  const std::string json =
      absl::StrCat(R"({"reg.io": {"auth": ")", B64("u:p"), R"(", "email": "e@example.com"}})");
  ASSERT_OK_AND_ASSIGN(const std::vector<RegistryCredential> got, ParseDockerConfig(json));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].server_address, "reg.io");
  EXPECT_EQ(got[0].username, "u");
  EXPECT_EQ(got[0].password, "p");
}

TEST(DockerConfigTest, AuthOverridesUsernameAndPassword) {
  const std::string json = absl::StrCat(R"({"auths":{"reg.io":{"username":"old","password":"old",)",
                                        R"("auth":")", B64("new:secret"), R"("}}})");
  ASSERT_OK_AND_ASSIGN(const std::vector<RegistryCredential> got, ParseDockerConfig(json));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].username, "new");
  EXPECT_EQ(got[0].password, "secret");
}

TEST(DockerConfigTest, RejectsBadConfigsWithoutEchoingSecrets) {
  const std::string kSecret = "s3cr3t-VALUE";
  struct Case {
    std::string description;
    std::string json;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"not json", "{\"auths\": {\"reg.io\": {\"password\": \"" + kSecret + "\"", "not valid JSON"},
      {"empty text", "", "not valid JSON"},
      {"array", "[\"" + kSecret + "\"]", "top-level value must be a JSON object"},
      {"auths not an object", "{\"auths\": [\"" + kSecret + "\"]}",
       "\"auths\" must be a JSON object"},
      {"entry not an object", "{\"auths\": {\"reg.io\": \"" + kSecret + "\"}}",
       "registry \"reg.io\": entry must be a JSON object"},
      {"password not a string",
       "{\"auths\": {\"reg.io\": {\"username\": \"" + kSecret + "\", \"password\": 12345}}}",
       "registry \"reg.io\": field \"password\" must be a string"},
      {"auth not base64", "{\"auths\": {\"reg.io\": {\"auth\": \"" + kSecret + "!!\"}}}",
       "field \"auth\" is not valid base64"},
      {"auth without colon", "{\"auths\": {\"reg.io\": {\"auth\": \"" + B64(kSecret) + "\"}}}",
       "no ':' found"},
      {"key without host", "{\"auths\": {\"https://\": {\"password\": \"" + kSecret + "\"}}}",
       "empty host"},
      {"key with bad port", "{\"auths\": {\"reg.io:x1\": {\"password\": \"" + kSecret + "\"}}}",
       "bad port"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const absl::StatusOr<std::vector<RegistryCredential>> got = ParseDockerConfig(c.json);
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument,
                              AllOf(HasSubstr(c.reason), Not(HasSubstr(kSecret)),
                                    Not(HasSubstr(B64(kSecret))))));
    // Through the keyring the error names the secret's index.
    const std::vector<std::string> secrets = {ConfigJson({"ok.io"}), c.json};
    EXPECT_THAT(CredentialKeyring::FromDockerConfigs(secrets),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("pull secret 1: "), HasSubstr(c.reason),
                               Not(HasSubstr(kSecret)))));
  }
}

TEST(DockerConfigTest, DebugStringNeverPrintsSecrets) {
  RegistryCredential c;
  c.username = "user-SECRET1";
  c.password = "pass-SECRET2";
  c.auth = "auth-SECRET3";
  c.identity_token = "id-SECRET4";
  c.registry_token = "reg-SECRET5";
  c.server_address = "reg.io";
  std::ostringstream streamed;
  streamed << c;
  for (const std::string& printed :
       {c.DebugString(), streamed.str(), ::testing::PrintToString(c)}) {
    SCOPED_TRACE(printed);
    EXPECT_THAT(printed, Not(HasSubstr("SECRET")));
    EXPECT_THAT(printed, HasSubstr("server=\"reg.io\""));
    EXPECT_THAT(printed, HasSubstr("set=[username,password,auth,identity_token,registry_token]"));
  }
  RegistryCredential token_only;
  token_only.server_address = "tok.io";
  token_only.identity_token = "id-SECRET";
  EXPECT_EQ(token_only.DebugString(), "RegistryCredential{server=\"tok.io\" set=[identity_token]}");
}

TEST(DockerConfigTest, ParsesRegistryKeys) {
  struct Case {
    std::string key;
    std::string host;
    std::string port;
    std::string path;
  };
  const std::vector<Case> cases = {
      {"reg.io", "reg.io", "", ""},
      {"Reg.IO:5000", "reg.io", "5000", ""},
      {"https://reg.io/", "reg.io", "", ""},
      {"http://reg.io:80/team/app", "reg.io", "80", "team/app"},
      {"HTTPS://reg.io/v2/", "reg.io", "", ""},
      {"reg.io/team/v1/", "reg.io", "", "team"},
      {"https://index.docker.io/v1/", "docker.io", "", ""},
      {"index.docker.io", "docker.io", "", ""},
      {"registry-1.docker.io", "docker.io", "", ""},
      {"docker.io/library", "docker.io", "", "library"},
      {"*.example.com", "*.example.com", "", ""},
      {"[::1]:5000/a", "[::1]", "5000", "a"},
      {"localhost//a//", "localhost", "", "a"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    ASSERT_OK_AND_ASSIGN(const RegistryKey key, ParseRegistryKey(c.key));
    EXPECT_EQ(key.host, c.host);
    EXPECT_EQ(key.port, c.port);
    EXPECT_EQ(key.path, c.path);
  }
  EXPECT_THAT(ParseRegistryKey(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty host")));
  EXPECT_THAT(ParseRegistryKey("reg.io:"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty port")));
  EXPECT_THAT(ParseRegistryKey("[::1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'['")));
}

TEST(DockerConfigTest, KeyMatchingTable) {
  struct Case {
    std::string key;
    std::string image;
    bool match;
  };
  const std::vector<Case> cases = {
      {"reg.io", "reg.io/app", true},
      {"reg.io", "reg.io/team/app:1", true},
      {"REG.io", "reg.io/app", true},
      {"reg.io", "other.io/app", false},
      {"reg.io", "sub.reg.io/app", false},
      {"https://reg.io/", "reg.io/app", true},
      {"http://reg.io", "reg.io/app", true},
      // ports: equal or absent on both sides (kubelet)
      {"reg.io:5000", "reg.io:5000/app", true},
      {"reg.io:5000", "reg.io/app", false},
      {"reg.io:5000", "reg.io:5001/app", false},
      {"reg.io", "reg.io:5000/app", false},
      {"localhost:5000", "localhost:5000/a/b", true},
      {"[::1]:5000", "[::1]:5000/a", true},
      // paths: a prefix ending at a component boundary
      {"reg.io/team", "reg.io/team/app", true},
      {"reg.io/team", "reg.io/team", true},
      {"reg.io/team/", "reg.io/team/app", true},
      {"reg.io/team", "reg.io/teammate/app", false},
      {"reg.io/team/app", "reg.io/team", false},
      {"reg.io/team/app", "reg.io/team/app:v1", true},
      {"reg.io/other", "reg.io/team/app", false},
      // globs within one component
      {"*.example.com", "a.example.com/app", true},
      {"*.example.com", "example.com/app", false},
      {"*.example.com", "a.b.example.com/app", false},
      {"*.*.example.com", "a.b.example.com/app", true},
      {"reg-?.io", "reg-1.io/app", true},
      {"reg-?.io", "reg-12.io/app", false},
      {"*.example.com:5000", "a.example.com:5000/app", true},
      {"*.example.com", "a.example.com:5000/app", false},
      {"r*.io", "reg.io/x", true},
      // docker.io aliases all match docker hub images
      {"docker.io", "busybox", true},
      {"index.docker.io", "busybox", true},
      {"https://index.docker.io/v1/", "user/app", true},
      {"registry-1.docker.io", "docker.io/library/nginx", true},
      {"docker.io/library", "nginx", true},
      {"docker.io/user", "nginx", false},
      {"index.docker.io", "reg.io/busybox", false},
      {"docker.io", "localhost/busybox", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key + " vs " + c.image);
    ASSERT_OK_AND_ASSIGN(const RegistryKey key, ParseRegistryKey(c.key));
    EXPECT_EQ(key.Matches(Ref(c.image)), c.match);
  }
}

TEST(DockerConfigTest, LookupOrdersMostSpecificFirstAcrossSecrets) {
  const std::vector<std::string> secrets = {
      ConfigJson({"reg.io", "*.io"}),
      ConfigJson({"reg.io/team/app", "other.io"}),
      ConfigJson({"https://reg.io/team/"}),
  };
  ASSERT_OK_AND_ASSIGN(const CredentialKeyring keyring,
                       CredentialKeyring::FromDockerConfigs(secrets));
  EXPECT_EQ(keyring.size(), 5u);
  EXPECT_THAT(Servers(keyring.Lookup(Ref("reg.io/team/app:1"))),
              ElementsAre("reg.io/team/app", "https://reg.io/team/", "reg.io", "*.io"));
  EXPECT_THAT(Servers(keyring.Lookup(Ref("reg.io/team/other"))),
              ElementsAre("https://reg.io/team/", "reg.io", "*.io"));
  EXPECT_THAT(Servers(keyring.Lookup(Ref("other.io/x"))), ElementsAre("other.io", "*.io"));
  EXPECT_THAT(keyring.Lookup(Ref("reg.io:5000/team/app")), IsEmpty());
  // docker.io is a two-component host like any other.
  EXPECT_THAT(Servers(keyring.Lookup(Ref("busybox"))), ElementsAre("*.io"));
  EXPECT_THAT(keyring.Lookup(Ref("reg.example.com/x")), IsEmpty());
}

TEST(DockerConfigTest, LookupKeepsSecretOrderForEqualKeysAndPrefersExactHosts) {
  const std::vector<std::string> secrets = {
      ConfigJson({"*.reg.io"}, "one"),
      ConfigJson({"a.reg.io"}, "two"),
      ConfigJson({"a.reg.io"}, "three"),
  };
  ASSERT_OK_AND_ASSIGN(const CredentialKeyring keyring,
                       CredentialKeyring::FromDockerConfigs(secrets));
  const std::vector<RegistryCredential> got = keyring.Lookup(Ref("a.reg.io/app"));
  EXPECT_THAT(got, ElementsAre(Field(&RegistryCredential::password, "two"),
                               Field(&RegistryCredential::password, "three"),
                               Field(&RegistryCredential::password, "one")));
}

TEST(DockerConfigTest, LookupReturnsEachDistinctCredentialOnce) {
  const std::string auth = B64("u:p");
  const std::string secret = absl::StrCat(R"({"auths":{"reg.io":{"auth":")", auth,
                                          R"("},"reg.io/team":{"auth":")", auth, R"("}}})");
  ASSERT_OK_AND_ASSIGN(const CredentialKeyring keyring,
                       CredentialKeyring::FromDockerConfigs({secret, secret}));
  EXPECT_EQ(keyring.size(), 4u);
  EXPECT_THAT(Servers(keyring.Lookup(Ref("reg.io/team/app"))), ElementsAre("reg.io/team"));
}

TEST(DockerConfigTest, DockerHubAliasesAllServeDockerHubImages) {
  const std::vector<std::string> secrets = {
      ConfigJson({"https://index.docker.io/v1/"}, "a"), ConfigJson({"index.docker.io"}, "b"),
      ConfigJson({"registry-1.docker.io"}, "c"), ConfigJson({"docker.io"}, "d")};
  ASSERT_OK_AND_ASSIGN(const CredentialKeyring keyring,
                       CredentialKeyring::FromDockerConfigs(secrets));
  for (const std::string image :
       {"busybox", "library/busybox:1", "docker.io/user/app", "index.docker.io/user/app"}) {
    SCOPED_TRACE(image);
    EXPECT_EQ(keyring.Lookup(Ref(image)).size(), 4u);
  }
  EXPECT_THAT(keyring.Lookup(Ref("quay.io/user/app")), IsEmpty());
}

TEST(DockerConfigTest, EmptyKeyringIsAnonymous) {
  const CredentialKeyring keyring;
  EXPECT_EQ(keyring.size(), 0u);
  EXPECT_THAT(keyring.Lookup(Ref("reg.io/app")), IsEmpty());
  ASSERT_OK_AND_ASSIGN(const CredentialKeyring built, CredentialKeyring::FromDockerConfigs({}));
  EXPECT_THAT(built.Lookup(Ref("busybox")), IsEmpty());
}

}  // namespace
}  // namespace inplaced::imagepull
