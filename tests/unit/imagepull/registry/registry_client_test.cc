#include "imagepull/registry/registry_client.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/imagepull/registry/fake_registry.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::imagepull::testing::FakeRegistry;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kOrigin[] = "http://127.0.0.1:5000";
const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kDigestC = "sha256:" + std::string(64, 'c');

std::string ImageManifestJson(int64_t config_size, std::vector<int64_t> layer_sizes) {
  std::string layers;
  const std::string digests[] = {kDigestB, kDigestC, kDigestA};
  for (size_t i = 0; i < layer_sizes.size(); ++i) {
    absl::StrAppend(&layers, i ? "," : "",
                    R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")",
                    digests[i % 3], R"(","size":)", layer_sizes[i], "}");
  }
  return absl::StrCat(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)",
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")", kDigestA,
      R"(","size":)", config_size, R"(},"layers":[)", layers, "]}");
}

std::string IndexJson(const std::vector<std::pair<std::string, std::string>>& entries,
                      const std::vector<int64_t>& sizes) {
  // entries: (architecture, digest)
  std::string manifests;
  for (size_t i = 0; i < entries.size(); ++i) {
    absl::StrAppend(&manifests, i ? "," : "",
                    R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")",
                    entries[i].second, R"(","size":)", sizes[i],
                    R"(,"platform":{"os":"linux","architecture":")", entries[i].first, R"("}})");
  }
  return absl::StrCat(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)",
      R"("manifests":[)", manifests, "]}");
}

ImageReference Ref(const std::string& text) { return ImageReference::Parse(text).value(); }

RegistryCredential UserPass(const std::string& user, const std::string& password) {
  RegistryCredential credential;
  credential.username = user;
  credential.password = password;
  credential.server_address = "127.0.0.1:5000";
  return credential;
}

class RegistryClientTest : public ::testing::Test {
 protected:
  RegistryClientTest() : registry_(kOrigin) { options_.platform = Platform{"linux", "amd64", ""}; }

  absl::StatusOr<ResolvedImage> Resolve(const std::string& image,
                                        const std::vector<RegistryCredential>& credentials = {}) {
    RegistryClient client(registry_, options_);
    return client.Resolve(Ref(image), credentials);
  }

  FakeRegistry registry_;
  RegistryClientOptions options_;
};

TEST_F(RegistryClientTest, AnonymousResolvesImageManifest) {
  const std::string body = ImageManifestJson(100, {1000, 2000});
  const std::string digest =
      registry_.Put("team/app", "1", body, std::string(kMediaTypeOciManifest));

  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve("127.0.0.1:5000/team/app:1"));
  EXPECT_EQ(image.digest, digest);
  EXPECT_EQ(image.manifest_digest, digest);
  EXPECT_EQ(image.media_type, kMediaTypeOciManifest);
  EXPECT_EQ(image.total_size, 3100);
  EXPECT_EQ(image.config.digest, kDigestA);
  ASSERT_THAT(image.layers, SizeIs(2));
  EXPECT_EQ(image.layers[0].digest, kDigestB);
  EXPECT_EQ(image.layers[1].size, 2000);

  ASSERT_THAT(registry_.requests, SizeIs(1));
  const HttpRequest& request = registry_.requests[0];
  EXPECT_EQ(request.url, "http://127.0.0.1:5000/v2/team/app/manifests/1");
  EXPECT_EQ(FakeRegistry::HeaderOf(request, "Accept"), ManifestAcceptHeader());
  EXPECT_EQ(FakeRegistry::HeaderOf(request, "Authorization"), "");
  EXPECT_EQ(request.max_response_bytes, options_.max_manifest_bytes);
}

TEST_F(RegistryClientTest, DigestWithoutHeaderIsTheBodyHash) {
  const std::string body = ImageManifestJson(1, {2});
  const std::string digest = registry_.Put("app", "v", body, std::string(kMediaTypeOciManifest));
  registry_.Stored("app", "v").header_digest = "-";
  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve("127.0.0.1:5000/app:v"));
  EXPECT_EQ(image.digest, digest);
}

TEST_F(RegistryClientTest, DigestReferenceResolves) {
  const std::string body = ImageManifestJson(1, {2});
  const std::string digest = registry_.Put("app", "", body, std::string(kMediaTypeOciManifest));
  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve("127.0.0.1:5000/app@" + digest));
  EXPECT_EQ(image.digest, digest);
  EXPECT_EQ(registry_.requests[0].url, "http://127.0.0.1:5000/v2/app/manifests/" + digest);
}

TEST_F(RegistryClientTest, HeaderDigestMismatchIsDataLoss) {
  registry_.Put("app", "v", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.Stored("app", "v").header_digest = kDigestC;
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:v"),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("127.0.0.1:5000/app:v"), HasSubstr("digest mismatch"),
                             HasSubstr(kDigestC))));
}

TEST_F(RegistryClientTest, BodyNotMatchingTheDigestReferenceIsDataLoss) {
  const std::string digest =
      registry_.Put("app", "", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  // The registry serves another body under the digest (and a header claiming the same digest).
  registry_.Stored("app", digest).body = ImageManifestJson(1, {3});
  registry_.Stored("app", digest).header_digest = digest;
  EXPECT_THAT(Resolve("127.0.0.1:5000/app@" + digest),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("asked for " + digest)));
}

TEST_F(RegistryClientTest, IndexIsNarrowedToThePlatform) {
  const std::string amd = ImageManifestJson(10, {100});
  const std::string arm = ImageManifestJson(20, {200, 300});
  const std::string amd_digest = registry_.Put("app", "", amd, std::string(kMediaTypeOciManifest));
  const std::string arm_digest = registry_.Put("app", "", arm, std::string(kMediaTypeOciManifest));
  const std::string index =
      IndexJson({{"amd64", amd_digest}, {"arm64", arm_digest}},
                {static_cast<int64_t>(amd.size()), static_cast<int64_t>(arm.size())});
  const std::string index_digest =
      registry_.Put("app", "1", index, std::string(kMediaTypeOciIndex));
  options_.platform = Platform{"linux", "arm64", "v8"};

  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve("127.0.0.1:5000/app:1"));
  EXPECT_EQ(image.digest, index_digest);
  EXPECT_EQ(image.media_type, kMediaTypeOciIndex);
  EXPECT_EQ(image.manifest_digest, arm_digest);
  EXPECT_EQ(image.manifest_media_type, kMediaTypeOciManifest);
  EXPECT_EQ(image.platform.architecture, "arm64");
  EXPECT_EQ(image.total_size, 520);
  ASSERT_THAT(registry_.requests, SizeIs(2));
  EXPECT_EQ(registry_.requests[1].url, "http://127.0.0.1:5000/v2/app/manifests/" + arm_digest);
}

TEST_F(RegistryClientTest, IndexWithoutTheNodePlatformIsNotFound) {
  const std::string arm = ImageManifestJson(20, {200});
  const std::string arm_digest = registry_.Put("app", "", arm, std::string(kMediaTypeOciManifest));
  registry_.Put("app", "1", IndexJson({{"arm64", arm_digest}}, {static_cast<int64_t>(arm.size())}),
                std::string(kMediaTypeOciIndex));
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:1"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("127.0.0.1:5000/app:1"), HasSubstr("linux/amd64"))));
}

TEST_F(RegistryClientTest, IndexEntryWithWrongSizeIsDataLoss) {
  const std::string amd = ImageManifestJson(20, {200});
  const std::string amd_digest = registry_.Put("app", "", amd, std::string(kMediaTypeOciManifest));
  registry_.Put("app", "1",
                IndexJson({{"amd64", amd_digest}}, {static_cast<int64_t>(amd.size()) + 1}),
                std::string(kMediaTypeOciIndex));
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:1"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("size")));
}

TEST_F(RegistryClientTest, MissingTagIsNotFound) {
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:nope"),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("127.0.0.1:5000/app:nope"), HasSubstr("404 Not Found"),
                             HasSubstr("MANIFEST_UNKNOWN"))));
}

TEST_F(RegistryClientTest, BasicChallengeRetriesWithBasicAuth) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBasic("user", "pw");
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1", {UserPass("user", "pw")}));
  ASSERT_THAT(registry_.requests, SizeIs(2));
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[0], "Authorization"), "");
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[1], "Authorization"),
            "Basic " + absl::Base64Escape("user:pw"));
}

TEST_F(RegistryClientTest, BasicFromTheAuthFieldAlone) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBasic("user", "pw");
  RegistryCredential credential;
  credential.auth = absl::Base64Escape("user:pw");
  EXPECT_OK(Resolve("127.0.0.1:5000/app:1", {credential}));
}

TEST_F(RegistryClientTest, BearerChallengeFetchesTokenThenRetries) {
  registry_.Put("team/app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBearer("https://auth.example.com/token", "user", "pw");
  ASSERT_OK(Resolve("127.0.0.1:5000/team/app:1", {UserPass("user", "pw")}));

  ASSERT_THAT(registry_.requests, SizeIs(3));
  const HttpRequest& token = registry_.requests[1];
  EXPECT_EQ(token.method, HttpMethod::kGet);
  EXPECT_EQ(
      token.url,
      "https://auth.example.com/token?service=fake-registry&scope=repository%3Ateam%2Fapp%3Apull");
  EXPECT_EQ(FakeRegistry::HeaderOf(token, "Authorization"),
            "Basic " + absl::Base64Escape("user:pw"));
  EXPECT_EQ(token.max_response_bytes, options_.max_token_bytes);
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[2], "Authorization"),
            "Bearer " + registry_.token);
}

TEST_F(RegistryClientTest, BearerTokenIsReusedForThePlatformManifest) {
  const std::string amd = ImageManifestJson(10, {100});
  const std::string amd_digest = registry_.Put("app", "", amd, std::string(kMediaTypeOciManifest));
  registry_.Put("app", "1", IndexJson({{"amd64", amd_digest}}, {static_cast<int64_t>(amd.size())}),
                std::string(kMediaTypeOciIndex));
  registry_.RequireBearer("https://auth.example.com/token", "user", "pw");
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1", {UserPass("user", "pw")}));
  // challenge, token, index, platform manifest: one token for both manifests.
  ASSERT_THAT(registry_.requests, SizeIs(4));
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[3], "Authorization"),
            "Bearer " + registry_.token);
}

TEST_F(RegistryClientTest, AnonymousBearerTokenWithoutCredentials) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBearer("https://auth.example.com/token", "user", "pw", /*allow_anonymous=*/true);
  registry_.token_member = "access_token";
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1"));
  ASSERT_THAT(registry_.requests, SizeIs(3));
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[1], "Authorization"), "");
}

TEST_F(RegistryClientTest, IdentityTokenUsesTheRefreshTokenGrant) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBearer("https://auth.example.com/token", "user", "pw");
  RegistryCredential credential;
  credential.identity_token = registry_.identity_token;
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1", {credential}));
  const HttpRequest& token = registry_.requests[1];
  EXPECT_EQ(token.method, HttpMethod::kPost);
  EXPECT_EQ(token.url, "https://auth.example.com/token");
  EXPECT_EQ(token.content_type, "application/x-www-form-urlencoded");
  EXPECT_THAT(
      token.body,
      AllOf(HasSubstr("grant_type=refresh_token"), HasSubstr("scope=repository%3Aapp%3Apull"),
            HasSubstr("service=fake-registry"), HasSubstr("client_id=inplaced")));
}

TEST_F(RegistryClientTest, IdentityTokenFallsBackToBasicGetWithoutOAuthEndpoint) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBearer("https://auth.example.com/token", "user", "identity-refresh-7");
  registry_.token_post_unsupported = true;
  RegistryCredential credential;
  credential.username = "user";
  credential.identity_token = registry_.identity_token;
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1", {credential}));
  // challenge, POST (405), GET with Basic user:identity token, manifest with the token
  ASSERT_THAT(registry_.requests, SizeIs(4));
  EXPECT_EQ(registry_.requests[1].method, HttpMethod::kPost);
  EXPECT_EQ(registry_.requests[2].method, HttpMethod::kGet);
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[2], "Authorization"),
            "Basic " + absl::Base64Escape("user:identity-refresh-7"));
}

TEST_F(RegistryClientTest, RegistryTokenIsSentAsBearerWithoutChallenge) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBearer("https://auth.example.com/token", "user", "pw");
  RegistryCredential credential;
  credential.registry_token = registry_.token;
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1", {credential}));
  ASSERT_THAT(registry_.requests, SizeIs(1));
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[0], "Authorization"),
            "Bearer " + registry_.token);
}

TEST_F(RegistryClientTest, CredentialsAreTriedInOrderThenAnonymous) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBasic("user", "right");
  ASSERT_OK(
      Resolve("127.0.0.1:5000/app:1", {UserPass("user", "wrong1"), UserPass("user", "right")}));
  std::vector<std::string> authorizations;
  for (const HttpRequest& request : registry_.requests) {
    authorizations.push_back(FakeRegistry::HeaderOf(request, "Authorization"));
  }
  EXPECT_THAT(authorizations, ElementsAre("", "Basic " + absl::Base64Escape("user:wrong1"), "",
                                          "Basic " + absl::Base64Escape("user:right")));
}

TEST_F(RegistryClientTest, AnonymousIsTriedAfterFailingCredentials) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBearer("https://auth.example.com/token", "user", "pw", /*allow_anonymous=*/true);
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1", {UserPass("user", "wrong")}));
  // challenge, token 401 (credential); challenge, token, manifest (anonymous)
  ASSERT_THAT(registry_.requests, SizeIs(5));
  EXPECT_EQ(FakeRegistry::HeaderOf(registry_.requests[3], "Authorization"), "");
}

TEST_F(RegistryClientTest, UnauthorizedMessageNamesTheImageAndNoSecret) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  struct Case {
    const char* name;
    bool bearer;
  };
  for (const Case& c : {Case{"basic", false}, Case{"bearer", true}}) {
    SCOPED_TRACE(c.name);
    registry_.requests.clear();
    if (c.bearer) {
      registry_.RequireBearer("https://auth.example.com/token", "user", "pw");
    } else {
      registry_.RequireBasic("user", "pw");
    }
    RegistryCredential wrong = UserPass("user", "hunter2-password");
    wrong.auth = absl::Base64Escape("user:hunter2-password");
    RegistryCredential identity;
    identity.identity_token = "refresh-secret-99";
    RegistryCredential token;
    token.registry_token = "registry-secret-77";
    const absl::StatusOr<ResolvedImage> result =
        Resolve("127.0.0.1:5000/app:1", {wrong, identity, token});
    ASSERT_THAT(result,
                StatusIs(absl::StatusCode::kUnauthenticated,
                         AllOf(HasSubstr("401 Unauthorized"), HasSubstr("127.0.0.1:5000/app:1"),
                               HasSubstr("tried 3 credentials, then anonymous"))));
    const std::string message(result.status().message());
    for (const std::string& secret :
         {std::string("hunter2-password"), wrong.auth, std::string("refresh-secret-99"),
          std::string("registry-secret-77"), registry_.token, absl::Base64Escape("user:pw")}) {
      EXPECT_THAT(message, Not(HasSubstr(secret))) << secret;
    }
  }
}

TEST_F(RegistryClientTest, ReportsTheFirstCredentialsFailureNotTheAnonymousOne) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBasic("user", "pw");
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:1", {UserPass("user", "wrong")}),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("manifest 1: 401 Unauthorized"),
                             Not(HasSubstr("no credential was given")),
                             HasSubstr("tried 1 credential, then anonymous"))));
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:1"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("no credential was given"), HasSubstr("(anonymous)"))));
}

TEST_F(RegistryClientTest, ForbiddenIsPermissionDenied) {
  registry_.override_send = [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return FakeRegistry::Response(403, "");
  };
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:1", {UserPass("u", "p")}),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("403 Forbidden")));
  EXPECT_THAT(registry_.requests, SizeIs(2));  // the credential, then anonymous
}

TEST_F(RegistryClientTest, HttpErrorsMapToCodes) {
  struct Case {
    int http;
    absl::StatusCode code;
  };
  for (const Case& c :
       {Case{500, absl::StatusCode::kUnavailable}, Case{503, absl::StatusCode::kUnavailable},
        Case{429, absl::StatusCode::kUnavailable}, Case{400, absl::StatusCode::kUnknown}}) {
    SCOPED_TRACE(c.http);
    registry_.override_send = [&](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
      return FakeRegistry::Response(c.http, "");
    };
    EXPECT_THAT(Resolve("127.0.0.1:5000/app:1"),
                StatusIs(c.code, HasSubstr("127.0.0.1:5000/app:1")));
  }
}

TEST_F(RegistryClientTest, TransportErrorsNameTheImage) {
  registry_.override_send = [](const HttpRequest& request) -> absl::StatusOr<HttpResponse> {
    return absl::UnavailableError(absl::StrCat("GET ", request.url, ": connection refused"));
  };
  EXPECT_THAT(Resolve("127.0.0.1:5999/app:1", {UserPass("u", "p")}),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("resolving image 127.0.0.1:5999/app:1"),
                             HasSubstr("connection refused"))));
  EXPECT_THAT(registry_.requests, SizeIs(1));  // not an auth failure: no further attempt
}

TEST_F(RegistryClientTest, OversizedManifestIsResourceExhausted) {
  options_.max_manifest_bytes = 64;
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  EXPECT_THAT(Resolve("127.0.0.1:5000/app:1"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("127.0.0.1:5000/app:1")));
  EXPECT_EQ(registry_.requests[0].max_response_bytes, 64);
}

TEST_F(RegistryClientTest, CredentialsAreNotSentToAPlainHttpRealm) {
  registry_.Put("app", "1", ImageManifestJson(1, {2}), std::string(kMediaTypeOciManifest));
  registry_.RequireBearer("http://auth.example.com/token", "user", "pw", /*allow_anonymous=*/true);
  ASSERT_OK(Resolve("127.0.0.1:5000/app:1", {UserPass("user", "pw")}));
  for (const HttpRequest& request : registry_.requests) {
    if (absl::StartsWith(request.url, "http://auth.example.com")) {
      EXPECT_EQ(FakeRegistry::HeaderOf(request, "Authorization"), "");
    }
  }
}

TEST_F(RegistryClientTest, SchemeIsHttpOnlyForLoopbackAndInsecureRegistries) {
  options_.insecure_registries = {"reg.local", "other.local:5000"};
  RegistryClient client(registry_, options_);
  struct Case {
    const char* image;
    const char* scheme;
  };
  for (const Case& c : {Case{"127.0.0.1:5000/a", "http"}, Case{"127.1.2.3/a", "http"},
                        Case{"localhost:5000/a", "http"}, Case{"localhost/a", "http"},
                        Case{"[::1]:5000/a", "http"}, Case{"reg.local/a", "http"},
                        Case{"reg.local:443/a", "http"}, Case{"other.local:5000/a", "http"},
                        Case{"other.local:5001/a", "https"}, Case{"127.example.com/a", "https"},
                        Case{"busybox", "https"}, Case{"quay.io/a/b", "https"}}) {
    SCOPED_TRACE(c.image);
    EXPECT_EQ(client.SchemeFor(Ref(c.image)), c.scheme);
  }
}

TEST_F(RegistryClientTest, DockerHubUsesItsApiHostOverHttps) {
  registry_.override_send = [](const HttpRequest&) -> absl::StatusOr<HttpResponse> {
    return FakeRegistry::Response(404, "");
  };
  EXPECT_THAT(Resolve("busybox:1"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(registry_.requests, SizeIs(1));
  EXPECT_EQ(registry_.requests[0].url,
            "https://registry-1.docker.io/v2/library/busybox/manifests/1");
}

TEST(ComputeDigestTest, KnownVectorsAndUnknownAlgorithm) {
  EXPECT_EQ(ComputeDigest("sha256", "").value(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ComputeDigest("sha256", "abc").value(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_OK_AND_ASSIGN(std::string sha512, ComputeDigest("sha512", "abc"));
  EXPECT_EQ(sha512.size(), 7 + 128);
  EXPECT_THAT(ComputeDigest("md5", "abc"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace inplaced::imagepull
