// E2e tests of the CRI client (cri/) against the real containerd of the e2e environment
// (tests/e2e/env/e2e-env.sh), run once per containerd version of the matrix: connection and
// version, image service calls against the local registries, and the version differences the client
// absorbs or passes on (E2eEnv::differences). Pod and container tests are in
// cri_client_pods_e2e_test.cc.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.grpc.pb.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/connect.h"
#include "cri/grpc_runtime.h"
#include "cri/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/e2e_runtime.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace criv1 = ::runtime::v1;
using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

class CriClientE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv());
    ASSERT_OK_AND_ASSIGN(connection_, ConnectToE2eRuntime(env_));
  }

  cri::Runtime& runtime() { return *connection_.runtime; }
  fakes::PodLifecycle& lifecycle() { return *connection_.lifecycle; }

  absl::StatusOr<criv1::ImageStatusResponse> ImageStatus(const std::string& image) {
    criv1::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    return runtime().ImageStatus(request);
  }

  absl::Status RemoveImage(const std::string& image) {
    criv1::RemoveImageRequest request;
    request.mutable_image()->set_image(image);
    return lifecycle().RemoveImage(request);
  }

  absl::StatusOr<criv1::PullImageResponse> Pull(const std::string& image,
                                                const std::string& user = "",
                                                const std::string& password = "") {
    criv1::PullImageRequest request;
    request.mutable_image()->set_image(image);
    if (!user.empty()) {
      request.mutable_auth()->set_username(user);
      request.mutable_auth()->set_password(password);
    }
    return runtime().PullImage(request, /*cancel=*/nullptr);
  }

  E2eEnv env_;
  E2eConnection connection_;
};

TEST_F(CriClientE2eTest, ConnectReportsContainerdSpeakingCriV1) {
  EXPECT_EQ(connection_.endpoint, env_.containerd_endpoint);
  EXPECT_EQ(connection_.version.runtime_name(), "containerd");
  EXPECT_EQ(connection_.version.runtime_api_version(), "v1");
  EXPECT_EQ(connection_.version.runtime_version(), env_.containerd_version);
  // The fixture started the version this suite was registered for (e2e.containerd-<major.minor>.*).
  ASSERT_OK_AND_ASSIGN(ContainerdVersion reported,
                       ParseContainerdVersion(connection_.version.runtime_version()));
  EXPECT_EQ(reported.major, env_.containerd.major);
  EXPECT_EQ(reported.minor, env_.containerd.minor);

  ASSERT_OK_AND_ASSIGN(criv1::VersionResponse version, runtime().Version(criv1::VersionRequest()));
  EXPECT_EQ(version.runtime_name(), "containerd");
  EXPECT_EQ(version.runtime_api_version(), "v1");
  std::cout << "runtime: " << version.runtime_name() << " " << version.runtime_version() << " (CRI "
            << version.runtime_api_version() << ", version " << version.version() << ")"
            << std::endl;
  RecordProperty("runtime_version", version.runtime_version());
}

TEST_F(CriClientE2eTest, StatusReportsRuntimeReady) {
  ASSERT_OK_AND_ASSIGN(criv1::StatusResponse status, runtime().Status(criv1::StatusRequest()));
  bool runtime_ready = false;
  for (const auto& condition : status.status().conditions()) {
    if (condition.type() == "RuntimeReady") runtime_ready = condition.status();
  }
  EXPECT_TRUE(runtime_ready) << status.DebugString();
}

TEST_F(CriClientE2eTest, ImageStatusOfLocalImageIsPresent) {
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse status, ImageStatus(env_.busybox_image));
  ASSERT_TRUE(status.has_image());
  EXPECT_THAT(status.image().id(), StartsWith("sha256:"));
  EXPECT_GT(status.image().size(), 0u);
  EXPECT_THAT(status.image().repo_tags(), Contains(env_.busybox_image));
}

TEST_F(CriClientE2eTest, ImageStatusOfMissingImageLeavesImageUnset) {
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse status,
                       ImageStatus(env_.registry + "/never-pushed:1"));
  EXPECT_FALSE(status.has_image()) << status.DebugString();
}

TEST_F(CriClientE2eTest, PullFromLocalRegistryMakesImagePresent) {
  const std::string image = env_.registry_busybox2_image;
  ASSERT_OK(RemoveImage(image));  // idempotent: absent is fine
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse before, ImageStatus(image));
  ASSERT_FALSE(before.has_image());

  ASSERT_OK_AND_ASSIGN(criv1::PullImageResponse pulled, Pull(image));
  EXPECT_THAT(pulled.image_ref(), StartsWith("sha256:"));

  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse after, ImageStatus(image));
  ASSERT_TRUE(after.has_image());
  EXPECT_EQ(after.image().id(), pulled.image_ref());
  EXPECT_THAT(after.image().repo_tags(), Contains(image));
  EXPECT_GT(after.image().size(), 0u);

  // A different image from busybox:1: the variant's own id.
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse local, ImageStatus(env_.busybox_image));
  ASSERT_TRUE(local.has_image());
  EXPECT_NE(local.image().id(), after.image().id());

  ASSERT_OK(RemoveImage(image));
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse removed, ImageStatus(image));
  EXPECT_FALSE(removed.has_image());
}

TEST_F(CriClientE2eTest, PullFromAuthRegistryWithCredentialsSucceeds) {
  const std::string image = env_.auth_busybox_image;
  ASSERT_OK(RemoveImage(image));
  ASSERT_OK_AND_ASSIGN(criv1::PullImageResponse pulled,
                       Pull(image, env_.auth_user, env_.auth_password));
  EXPECT_THAT(pulled.image_ref(), StartsWith("sha256:"));
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse after, ImageStatus(image));
  ASSERT_TRUE(after.has_image());
  EXPECT_EQ(after.image().id(), pulled.image_ref());
  ASSERT_OK(RemoveImage(image));
}

TEST_F(CriClientE2eTest, PullFromAuthRegistryWithoutCredentialsIsUnauthorized) {
  // UNKNOWN in every version; the text differs: 1.6 quotes the registry's 401, 1.7/2.x say that no
  // credentials were sent.
  EXPECT_THAT(Pull(env_.auth_busybox_image),
              StatusIs(absl::StatusCode::kUnknown,
                       AllOf(HasSubstr("PullImage"),
                             HasSubstr(env_.differences.pull_without_credentials_message))));
}

TEST_F(CriClientE2eTest, PullFromAuthRegistryWithWrongPasswordIsUnauthorized) {
  // The same in every version: UNKNOWN, quoting the registry's 401.
  EXPECT_THAT(Pull(env_.auth_busybox_image, env_.auth_user, env_.auth_password + "-wrong"),
              StatusIs(absl::StatusCode::kUnknown, HasSubstr("401 Unauthorized")));
}

TEST_F(CriClientE2eTest, PullOfMissingTagIsNotFound) {
  EXPECT_THAT(Pull(env_.registry + "/busybox:never-pushed"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found")));
}

TEST_F(CriClientE2eTest, PullOfMissingRepositoryIsNotFound) {
  EXPECT_THAT(Pull(env_.registry + "/never-pushed:1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CriClientE2eTest, ImageFsInfoReportsTheImageFilesystem) {
  ASSERT_OK_AND_ASSIGN(criv1::ImageFsInfoResponse info,
                       runtime().ImageFsInfo(criv1::ImageFsInfoRequest()));
  ASSERT_THAT(info.image_filesystems(), Not(IsEmpty()));
  const criv1::FilesystemUsage& fs = info.image_filesystems(0);
  // The private containerd keeps its snapshots under the environment directory.
  EXPECT_THAT(fs.fs_id().mountpoint(), StartsWith(env_.dir + "/"));
  EXPECT_GT(fs.timestamp(), 0);
}

TEST_F(CriClientE2eTest, ListImagesShowsTheSandboxImage) {
  ASSERT_OK_AND_ASSIGN(criv1::ListImagesResponse images,
                       lifecycle().ListImages(criv1::ListImagesRequest()));
  const criv1::Image* pause = nullptr;
  for (const auto& image : images.images()) {
    for (const auto& tag : image.repo_tags()) {
      if (tag == env_.pause_image) pause = &image;
    }
  }
  ASSERT_NE(pause, nullptr) << images.DebugString();
  EXPECT_EQ(pause->pinned(), env_.differences.pins_sandbox_image);
}

TEST_F(CriClientE2eTest, SandboxImageIsPinnedWhereTheRuntimePinsIt) {
  // 1.7+ pin the configured sandbox image by themselves (kubelet's image GC skips it); 1.6 does
  // not.
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse pause, ImageStatus(env_.pause_image));
  ASSERT_TRUE(pause.has_image());
  EXPECT_EQ(pause.image().pinned(), env_.differences.pins_sandbox_image)
      << "containerd " << env_.containerd_version;
  // Any other image is not pinned unless labelled so.
  ASSERT_OK_AND_ASSIGN(criv1::ImageStatusResponse busybox, ImageStatus(env_.busybox_image));
  ASSERT_TRUE(busybox.has_image());
  EXPECT_FALSE(busybox.image().pinned());
}

TEST_F(CriClientE2eTest, StopOfUnknownContainerOnTheWireDependsOnVersionButNotThroughTheClient) {
  const std::string unknown(64, 'e');
  // The raw answer: NOT_FOUND on 1.6.20 (and 1.7.0-1.7.20), OK from 1.7.21 and on 2.x.
  auto stub = criv1::RuntimeService::NewStub(
      cri::CreateCriChannel(env_.containerd_endpoint, /*max_receive_message_bytes=*/4 << 20));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  criv1::StopContainerRequest request;
  request.set_container_id(unknown);
  request.set_timeout(2);
  criv1::StopContainerResponse response;
  const grpc::Status raw = stub->StopContainer(&context, request, &response);
  if (env_.differences.stop_unknown_container_is_not_found) {
    EXPECT_EQ(raw.error_code(), grpc::StatusCode::NOT_FOUND) << raw.error_message();
  } else {
    EXPECT_TRUE(raw.ok()) << raw.error_code() << ": " << raw.error_message();
  }
  // The CRI client gives one behaviour: StopContainer is idempotent for absent containers.
  EXPECT_OK(runtime().StopContainer(request));
}

}  // namespace
}  // namespace inplaced::e2e
