// E2e tests of the registry client (imagepull/registry_client.h, http_curl_client.h) and the disk
// precheck against the real local registries of the e2e environment (tests/e2e/env/e2e-env.sh): the
// open registry holding busybox:1/:2 pushed by skopeo, and the htpasswd registry holding
// private/busybox:3. containerd is used only to cross-check a resolved digest with what a CRI pull
// records.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/connect.h"
#include "cri/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/free_space_check.h"
#include "imagepull/registry/docker_config.h"
#include "imagepull/registry/http_curl_client.h"
#include "imagepull/registry/image_reference.h"
#include "imagepull/registry/registry_client.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/e2e_runtime.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace criv1 = ::runtime::v1;
using ::inplaced::imagepull::ComputeDigest;
using ::inplaced::imagepull::CredentialKeyring;
using ::inplaced::imagepull::CurlHttpClient;
using ::inplaced::imagepull::FreeSpaceCheck;
using ::inplaced::imagepull::FreeSpaceCheckOptions;
using ::inplaced::imagepull::HttpRequest;
using ::inplaced::imagepull::HttpResponse;
using ::inplaced::imagepull::ImageReference;
using ::inplaced::imagepull::RegistryClient;
using ::inplaced::imagepull::RegistryCredential;
using ::inplaced::imagepull::ResolvedImage;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class RegistryClientE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv()); }

  absl::StatusOr<ResolvedImage> Resolve(const std::string& image,
                                        const std::vector<RegistryCredential>& credentials = {}) {
    absl::StatusOr<ImageReference> ref = ImageReference::Parse(image);
    if (!ref.ok()) return ref.status();
    return client_.Resolve(*ref, credentials);
  }

  // The keyring of one docker config JSON pull secret for the auth registry.
  std::vector<RegistryCredential> AuthCredentials(const std::string& password) {
    const std::string secret =
        absl::StrCat(R"({"auths":{")", env_.auth_registry, R"(":{"username":")", env_.auth_user,
                     R"(","password":")", password, R"("}}})");
    absl::StatusOr<CredentialKeyring> keyring = CredentialKeyring::FromDockerConfigs({secret});
    EXPECT_OK(keyring.status());
    if (!keyring.ok()) return {};
    return keyring->Lookup(ImageReference::Parse(env_.auth_busybox_image).value());
  }

  E2eEnv env_;
  CurlHttpClient http_;
  RegistryClient client_{http_};
};

TEST_F(RegistryClientE2eTest, ResolvesTagOfOpenRegistry) {
  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve(env_.registry_busybox_image));
  EXPECT_THAT(image.digest, StartsWith("sha256:"));
  EXPECT_TRUE(imagepull::ValidateDigest(image.digest).ok()) << image.digest;
  EXPECT_GT(image.total_size, 0);
  ASSERT_FALSE(image.layers.empty());
  int64_t sum = image.config.size;
  for (const auto& layer : image.layers) sum += layer.size;
  EXPECT_EQ(image.total_size, sum);
  std::cout << "resolved " << env_.registry_busybox_image << " -> " << image.digest << " ("
            << image.media_type << ", " << image.total_size << " bytes, " << image.layers.size()
            << " layers)" << std::endl;

  // The config blob the manifest names is there, with that digest and size.
  HttpRequest request;
  request.url = absl::StrCat("http://", env_.registry, "/v2/busybox/blobs/", image.config.digest);
  ASSERT_OK_AND_ASSIGN(HttpResponse blob, http_.Send(request));
  ASSERT_EQ(blob.status_code, 200) << blob.body;
  EXPECT_EQ(static_cast<int64_t>(blob.body.size()), image.config.size);
  EXPECT_EQ(ComputeDigest("sha256", blob.body).value(), image.config.digest);
}

TEST_F(RegistryClientE2eTest, DigestMatchesWhatContainerdRecordsAfterACriPull) {
  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve(env_.registry_busybox_image));

  ASSERT_OK_AND_ASSIGN(E2eConnection connection, ConnectToE2eRuntime(env_));
  // Never removed by any suite (the same image as busybox_image, which pods use): pulling it only
  // adds a tag and a repo digest.
  criv1::PullImageRequest pull;
  pull.mutable_image()->set_image(env_.registry_busybox_image);
  ASSERT_OK(connection.runtime->PullImage(pull, /*cancel=*/nullptr).status());
  criv1::ImageStatusRequest status_request;
  status_request.mutable_image()->set_image(env_.registry_busybox_image);
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse status,
                       connection.runtime->ImageStatus(status_request));
  ASSERT_TRUE(status.has_image());
  EXPECT_THAT(status.image().repo_digests(),
              Contains(absl::StrCat(env_.registry, "/busybox@", image.digest)))
      << status.DebugString();
}

TEST_F(RegistryClientE2eTest, DigestReferenceResolvesToTheSameImage) {
  ASSERT_OK_AND_ASSIGN(ResolvedImage by_tag, Resolve(env_.registry_busybox_image));
  const std::string name = absl::StrCat(env_.registry, "/busybox");
  for (const std::string& reference :
       {absl::StrCat(name, "@", by_tag.digest), absl::StrCat(name, ":1@", by_tag.digest)}) {
    SCOPED_TRACE(reference);
    ASSERT_OK_AND_ASSIGN(ResolvedImage by_digest, Resolve(reference));
    EXPECT_EQ(by_digest.digest, by_tag.digest);
    EXPECT_EQ(by_digest.manifest_digest, by_tag.manifest_digest);
    EXPECT_EQ(by_digest.total_size, by_tag.total_size);
  }
  // Another tag is another image.
  ASSERT_OK_AND_ASSIGN(ResolvedImage other, Resolve(env_.registry_busybox2_image));
  EXPECT_NE(other.digest, by_tag.digest);
}

TEST_F(RegistryClientE2eTest, UnknownDigestIsNotFound) {
  const std::string reference =
      absl::StrCat(env_.registry, "/busybox@sha256:", std::string(64, '0'));
  EXPECT_THAT(Resolve(reference),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("404 Not Found")));
}

TEST_F(RegistryClientE2eTest, MissingTagAndRepositoryAreNotFound) {
  for (const std::string& image : {absl::StrCat(env_.registry, "/busybox:no-such-tag"),
                                   absl::StrCat(env_.registry, "/no-such-repo:1")}) {
    SCOPED_TRACE(image);
    EXPECT_THAT(Resolve(image),
                StatusIs(absl::StatusCode::kNotFound, AllOf(HasSubstr(image), HasSubstr("404"))));
  }
}

TEST_F(RegistryClientE2eTest, AuthRegistryWithRightCredentialsResolves) {
  const std::vector<RegistryCredential> credentials = AuthCredentials(env_.auth_password);
  ASSERT_EQ(credentials.size(), 1u);
  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve(env_.auth_busybox_image, credentials));
  EXPECT_THAT(image.digest, StartsWith("sha256:"));
  EXPECT_GT(image.total_size, 0);
}

TEST_F(RegistryClientE2eTest, AuthRegistryWithWrongPasswordIsUnauthorizedWithoutThePassword) {
  const std::string wrong = env_.auth_password + "-wrong-Zq9";
  const absl::StatusOr<ResolvedImage> result =
      Resolve(env_.auth_busybox_image, AuthCredentials(wrong));
  ASSERT_THAT(result,
              StatusIs(absl::StatusCode::kUnauthenticated,
                       AllOf(HasSubstr("401 Unauthorized"), HasSubstr("private/busybox:3"))));
  std::cout << "message: " << result.status().message() << std::endl;
  EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr(wrong)));
  EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr(env_.auth_password)));
}

TEST_F(RegistryClientE2eTest, AuthRegistryWithoutCredentialsIsUnauthorized) {
  EXPECT_THAT(Resolve(env_.auth_busybox_image),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("401 Unauthorized")));
}

TEST_F(RegistryClientE2eTest, RegistryThatIsDownIsUnavailable) {
  // A loopback port nobody listens on: bind to port 0, read it, close.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  close(fd);
  const std::string image = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port), "/busybox:1");
  EXPECT_THAT(Resolve(image), StatusIs(absl::StatusCode::kUnavailable, HasSubstr(image)));
}

TEST_F(RegistryClientE2eTest, CurlClientBoundsTheResponseSize) {
  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve(env_.registry_busybox_image));
  ASSERT_GT(image.layers.front().size, 1024);
  HttpRequest request;
  request.url =
      absl::StrCat("http://", env_.registry, "/v2/busybox/blobs/", image.layers.front().digest);
  request.max_response_bytes = 1024;
  EXPECT_THAT(http_.Send(request),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("larger than 1024 bytes")));
}

TEST_F(RegistryClientE2eTest, DiskPrecheckRefusesTheImageWhenFreeSpaceIsTooSmall) {
  ASSERT_OK_AND_ASSIGN(ResolvedImage image, Resolve(env_.registry_busybox_image));
  FreeSpaceCheckOptions tiny;
  tiny.assume_available_bytes = 1 << 10;
  tiny.reserve_percent = 0;
  EXPECT_THAT(FreeSpaceCheck(tiny).Check(image.total_size, env_.dir),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("not enough space on the image filesystem " + env_.dir),
                             HasSubstr("1.0 KiB free"))));
  // The real filesystem of the environment (statvfs) has room for busybox.
  FreeSpaceCheckOptions real;
  real.reserve_percent = 0;
  EXPECT_OK(FreeSpaceCheck(real).Check(image.total_size, env_.dir));
}

}  // namespace
}  // namespace inplaced::e2e
