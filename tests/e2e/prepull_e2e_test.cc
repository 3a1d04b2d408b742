// E2e tests of image pre-pull: the inplaced daemon on the environment's real containerd pulls from
// the environment's real registries (tests/e2e/env/e2e-env.sh), driven through NodeImageService:
// several images under a concurrency limit, the auth registry with a right and a wrong secret, a
// digest reference, a missing image, and the disk precheck refusing an image larger than the free
// space.
//
// Images: the open registry's busybox:1 is the same image as localhost/busybox:1 (which pods use)
// and busybox:2 and the auth registry's private/busybox:3 are distinct images. TearDown removes
// only the latter two (CRI RemoveImage removes every tag of an image: never busybox:1 or the pause
// image). The daemon runs with --no-event-stream so that it takes no container events from other
// suites.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/cri/runtime_v1.pb.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
#include "cri/connect.h"
#include "cri/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/registry/http_curl_client.h"
#include "imagepull/registry/image_reference.h"
#include "imagepull/registry/registry_client.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/e2e_runtime.h"
#include "tests/support/child_process.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace api = ::inplaced::v1;
namespace cri_v1 = ::runtime::v1;
using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::IsOk;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Options of one spec image.
struct ImageOptions {
  int backoff_limit = 3;
  std::vector<std::string> secrets;
};

ImageOptions Options(int backoff_limit, std::vector<std::string> secrets = {}) {
  ImageOptions options;
  options.backoff_limit = backoff_limit;
  options.secrets = std::move(secrets);
  return options;
}

// Adds `repository` with `tags`, pulled ALWAYS (a real pull even when containerd has the image).
void AddImage(api::NodeImageSpec& spec, const std::string& repository,
              const std::vector<std::string>& tags, const ImageOptions& options = {}) {
  api::ImageSpec* image = spec.add_images();
  image->set_name(repository);
  for (const std::string& secret : options.secrets) image->add_pull_secrets(secret);
  for (const std::string& tag : tags) {
    api::ImageTagSpec* t = image->add_tags();
    t->set_tag(tag);
    t->set_image_pull_policy(api::IMAGE_PULL_POLICY_ALWAYS);
    t->mutable_pull_policy()->set_backoff_limit(options.backoff_limit);
    t->mutable_pull_policy()->set_timeout_seconds(120);
  }
}

// "host:port/path:tag" -> {"host:port/path", "tag"}.
std::pair<std::string, std::string> SplitTag(const std::string& image) {
  const size_t colon = image.rfind(':');
  return {image.substr(0, colon), image.substr(colon + 1)};
}

const api::ImageTagStatus* FindTag(const api::NodeImage& node, const std::string& image,
                                   const std::string& tag) {
  for (const api::ImageStatus& i : node.status().images()) {
    if (i.name() != image) continue;
    for (const api::ImageTagStatus& t : i.tags()) {
      if (t.tag() == tag) return &t;
    }
  }
  return nullptr;
}

class PrepullE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv());
    ASSERT_OK_AND_ASSIGN(connection_, ConnectToE2eRuntime(env_));
    char dir[] = "/tmp/ipp-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/inplaced.sock";
  }

  void TearDown() override {
    if (daemon_ != nullptr) {
      absl::StatusOr<int> status = daemon_->Stop(SIGTERM, absl::Seconds(30));
      EXPECT_THAT(status.status(), IsOk());
      daemon_.reset();
    }
    // Only the distinct registry images; never busybox:1 (= localhost/busybox:1) or the pause
    // image.
    for (const std::string& image : {env_.registry_busybox2_image, env_.auth_busybox_image}) {
      if (pulled_.count(image) == 0 || connection_.lifecycle == nullptr) continue;
      cri_v1::RemoveImageRequest request;
      request.mutable_image()->set_image(image);
      EXPECT_THAT(connection_.lifecycle->RemoveImage(request), IsOk()) << image;
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void StartDaemon(std::vector<std::string> extra_flags = {}) {
    std::vector<std::string> argv = {
        INPLACED_PATH,     "--runtime-endpoint", env_.containerd_endpoint, "--socket",
        socket_,           "--state-dir",        dir_ + "/state",          "--no-event-stream",
        "--probe-address", "127.0.0.1:0"};  // port 0: the suites run in parallel
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Start(argv));
    daemon_ = std::make_unique<ChildProcess>(std::move(child));
    ASSERT_THAT(daemon_->WaitForLine("inplaced ready", absl::Seconds(60)), IsOk());
    stub_ = api::NodeImageService::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

  grpc::Status Set(const api::NodeImageSpec& spec, api::NodeImage* out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    api::SetNodeImageRequest request;
    *request.mutable_spec() = spec;
    request.set_force(true);
    api::SetNodeImageResponse response;
    grpc::Status status = stub_->SetNodeImage(&context, request, &response);
    if (out != nullptr) *out = response.node_image();
    return status;
  }

  grpc::Status Get(api::GetNodeImageResponse* out) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->GetNodeImage(&context, api::GetNodeImageRequest(), out);
  }

  // Polls until every spec tag finished (SUCCEEDED or FAILED); returns the last GetNodeImage
  // answer.
  api::GetNodeImageResponse WaitAllFinished(absl::Duration timeout = absl::Seconds(150)) {
    const absl::Time deadline = absl::Now() + timeout;
    api::GetNodeImageResponse response;
    while (absl::Now() < deadline) {
      response.Clear();
      const grpc::Status status = Get(&response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      const api::NodeImageStatus& s = response.node_image().status();
      if (status.ok() && s.desired() > 0 && s.succeeded() + s.failed() == s.desired()) {
        return response;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "not finished: " << response.DebugString();
    return response;
  }

  std::string AuthSecret(const std::string& password) const {
    return absl::StrCat(R"({"auths":{")", env_.auth_registry, R"(":{"username":")", env_.auth_user,
                        R"(","password":")", password, R"("}}})");
  }

  // The containerd image of `reference` (NOT_FOUND when it has none).
  absl::StatusOr<cri_v1::Image> RuntimeImage(const std::string& reference) {
    cri_v1::ImageStatusRequest request;
    request.mutable_image()->set_image(reference);
    absl::StatusOr<cri_v1::ImageStatusResponse> status = connection_.runtime->ImageStatus(request);
    if (!status.ok()) return status.status();
    if (!status->has_image()) return absl::NotFoundError(reference);
    return status->image();
  }

  E2eEnv env_;
  E2eConnection connection_;
  std::string dir_;
  std::string socket_;
  std::unique_ptr<ChildProcess> daemon_;
  std::unique_ptr<api::NodeImageService::Stub> stub_;
  std::set<std::string> pulled_;  // images TearDown removes (when distinct registry images)
};

TEST_F(PrepullE2eTest, PrePullsSeveralImagesFromTheOpenRegistryWithALimit) {
  StartDaemon({"--max-concurrent-pulls", "1"});
  const auto [repository, tag1] = SplitTag(env_.registry_busybox_image);
  const auto [repository2, tag2] = SplitTag(env_.registry_busybox2_image);
  ASSERT_EQ(repository, repository2);
  api::NodeImageSpec spec;
  AddImage(spec, repository, {tag1, tag2});
  pulled_.insert(env_.registry_busybox2_image);

  // Watch from before the spec is set: no snapshot may show more than one tag pulling (limit 1; no
  // retry waits in this test, so every PULLING tag holds a slot).
  grpc::ClientContext watch_context;
  auto watch = stub_->WatchNodeImage(&watch_context, api::WatchNodeImageRequest());
  api::WatchNodeImageResponse message;
  ASSERT_TRUE(watch->Read(&message));

  ASSERT_TRUE(Set(spec).ok());
  int max_pulling = 0;
  bool finished = false;
  while (!finished && watch->Read(&message)) {
    const api::NodeImageStatus& s = message.node_image().status();
    max_pulling = std::max(max_pulling, s.pulling());
    finished = s.desired() == 2 && s.succeeded() + s.failed() == 2;
  }
  watch_context.TryCancel();
  while (watch->Read(&message)) {
  }
  watch->Finish();
  EXPECT_TRUE(finished);
  EXPECT_LE(max_pulling, 1);

  const api::GetNodeImageResponse got = WaitAllFinished();
  EXPECT_EQ(got.node_image().status().succeeded(), 2) << got.DebugString();
  for (const std::string& tag : {tag1, tag2}) {
    const api::ImageTagStatus* status = FindTag(got.node_image(), repository, tag);
    ASSERT_NE(status, nullptr) << tag;
    EXPECT_EQ(status->phase(), api::IMAGE_PULL_PHASE_SUCCEEDED) << status->message();
    EXPECT_THAT(status->image_id(), StartsWith(repository + "@sha256:"));
    EXPECT_EQ(status->progress(), 100);
  }
  EXPECT_THAT(RuntimeImage(env_.registry_busybox2_image).status(), IsOk());
}

TEST_F(PrepullE2eTest, AuthRegistryRightSecretSucceedsWrongSecretFailsWith401WithoutTheSecret) {
  StartDaemon();
  const auto [repository, tag] = SplitTag(env_.auth_busybox_image);
  pulled_.insert(env_.auth_busybox_image);

  api::NodeImageSpec right;
  AddImage(right, repository, {tag}, Options(0, {AuthSecret(env_.auth_password)}));
  ASSERT_TRUE(Set(right).ok());
  api::GetNodeImageResponse got = WaitAllFinished();
  const api::ImageTagStatus* status = FindTag(got.node_image(), repository, tag);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->phase(), api::IMAGE_PULL_PHASE_SUCCEEDED) << status->message();
  EXPECT_THAT(status->image_id(), StartsWith(repository + "@sha256:"));

  // The wrong password, as a new version of the tag (a re-pull), after removing the image so that
  // containerd really asks the registry.
  cri_v1::RemoveImageRequest remove;
  remove.mutable_image()->set_image(env_.auth_busybox_image);
  ASSERT_THAT(connection_.lifecycle->RemoveImage(remove), IsOk());
  const std::string wrong_password = env_.auth_password + "-wrong";
  api::NodeImageSpec wrong;
  AddImage(wrong, repository, {tag}, Options(0, {AuthSecret(wrong_password)}));
  wrong.mutable_images(0)->mutable_tags(0)->set_version(1);
  ASSERT_TRUE(Set(wrong).ok());
  got = WaitAllFinished();
  status = FindTag(got.node_image(), repository, tag);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->version(), 1);
  EXPECT_EQ(status->phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status->message(), HasSubstr("401"));
  // Neither password appears anywhere in the response, in clear or base64.
  const std::string whole = got.DebugString();
  for (const std::string& secret :
       {env_.auth_password, wrong_password,
        absl::Base64Escape(absl::StrCat(env_.auth_user, ":", env_.auth_password)),
        absl::Base64Escape(absl::StrCat(env_.auth_user, ":", wrong_password))}) {
    EXPECT_THAT(whole, Not(HasSubstr(secret)));
  }
  EXPECT_EQ(got.node_image().spec().images(0).pull_secrets_size(), 0);
  EXPECT_EQ(got.node_image().spec().images(0).pull_secret_count(), 1);
  std::cout << "wrong secret: " << status->message() << std::endl;
}

TEST_F(PrepullE2eTest, DigestReferenceSucceeds) {
  imagepull::CurlHttpClient http;
  imagepull::RegistryClient registry(http);
  ASSERT_OK_AND_ASSIGN(imagepull::ImageReference ref,
                       imagepull::ImageReference::Parse(env_.registry_busybox2_image));
  ASSERT_OK_AND_ASSIGN(imagepull::ResolvedImage resolved, registry.Resolve(ref, {}));
  ASSERT_THAT(resolved.digest, StartsWith("sha256:"));

  StartDaemon();
  const auto [repository, tag] = SplitTag(env_.registry_busybox2_image);
  pulled_.insert(env_.registry_busybox2_image);
  api::NodeImageSpec spec;
  AddImage(spec, repository, {resolved.digest});
  ASSERT_TRUE(Set(spec).ok());
  const api::GetNodeImageResponse got = WaitAllFinished();
  const api::ImageTagStatus* status = FindTag(got.node_image(), repository, resolved.digest);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->phase(), api::IMAGE_PULL_PHASE_SUCCEEDED) << status->message();
  EXPECT_EQ(status->image_id(), absl::StrCat(repository, "@", resolved.digest));
  EXPECT_THAT(RuntimeImage(absl::StrCat(repository, "@", resolved.digest)).status(), IsOk());
}

TEST_F(PrepullE2eTest, MissingImageFailsAfterBackoffLimitWithNotFound) {
  StartDaemon();
  const std::string repository = absl::StrCat(env_.registry, "/does-not-exist");
  api::NodeImageSpec spec;
  AddImage(spec, repository, {"1"}, Options(1));
  ASSERT_TRUE(Set(spec).ok());
  const api::GetNodeImageResponse got = WaitAllFinished();
  const api::ImageTagStatus* status = FindTag(got.node_image(), repository, "1");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_EQ(status->attempts(), 2);  // backoff_limit 1: the first attempt and one retry
  EXPECT_THAT(status->message(), AnyOf(HasSubstr("NOT_FOUND"), HasSubstr("not found")));
  std::cout << "missing image: " << status->message() << std::endl;
}

TEST_F(PrepullE2eTest, DiskPrecheckRefusesAnImageLargerThanTheFreeSpace) {
  StartDaemon({"--image-fs-assume-free-bytes", "1024", "--image-fs-reserve-percent", "0"});
  const auto [repository, tag] = SplitTag(env_.registry_busybox2_image);
  api::NodeImageSpec spec;
  AddImage(spec, repository, {tag}, Options(0));
  ASSERT_TRUE(Set(spec).ok());
  const api::GetNodeImageResponse got = WaitAllFinished();
  const api::ImageTagStatus* status = FindTag(got.node_image(), repository, tag);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->phase(), api::IMAGE_PULL_PHASE_FAILED);
  EXPECT_THAT(status->message(), HasSubstr("not enough space on the image filesystem"));
  EXPECT_THAT(status->message(), HasSubstr("1.0 KiB free"));
  std::cout << "disk precheck: " << status->message() << std::endl;
}

}  // namespace
}  // namespace inplaced::e2e
