// The inplaced binary's NodeImageService against the fake_cri_server binary over real unix sockets:
// generated stub calls, health, the state kept across a restart, and the README's `buf curl` calls
// through server reflection.
//
// Image names use a loopback registry that is not listening (127.0.0.1:9): the daemon's disk
// precheck cannot resolve them (connection refused, no network needed) and lets the pull go ahead,
// and the fake runtime "pulls" any reference.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/grpc/health/v1/health.grpc.pb.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/buf_curl.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::DaemonHarness;
using ::inplaced::testing::Eventually;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::SetDeadline;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRepo[] = "127.0.0.1:9/team/app";

api::NodeImageSpec SpecOf(const std::string& name, const std::vector<std::string>& tags) {
  api::NodeImageSpec spec;
  api::ImageSpec* image = spec.add_images();
  image->set_name(name);
  for (const std::string& tag : tags) image->add_tags()->set_tag(tag);
  return spec;
}

class NodeImageIntegrationTest : public DaemonHarness {
 protected:
  std::vector<std::string> DaemonFlags() const override {
    return {"--max-concurrent-pulls", "2", "--image-fs-path", dir_.path()};
  }
  void MakeStubs() override { stub_ = api::NodeImageService::NewStub(channel_); }

  grpc::Status Set(const api::NodeImageSpec& spec, int64_t expected_generation,
                   api::SetNodeImageResponse* response) {
    grpc::ClientContext context;
    SetDeadline(&context);
    api::SetNodeImageRequest request;
    *request.mutable_spec() = spec;
    request.set_expected_generation(expected_generation);
    return stub_->SetNodeImage(&context, request, response);
  }

  grpc::Status Get(api::NodeImage* out) {
    grpc::ClientContext context;
    SetDeadline(&context);
    api::GetNodeImageResponse response;
    grpc::Status status = stub_->GetNodeImage(&context, api::GetNodeImageRequest(), &response);
    *out = response.node_image();
    return status;
  }

  // Waits until every spec tag succeeded; returns the NodeImage then.
  api::NodeImage WaitAllSucceeded() {
    api::NodeImage node;
    const bool done = Eventually([&] {
      return Get(&node).ok() && node.status().desired() > 0 &&
             node.status().succeeded() == node.status().desired();
    });
    EXPECT_TRUE(done) << node.DebugString();
    return node;
  }

  std::unique_ptr<api::NodeImageService::Stub> stub_;
};

TEST_F(NodeImageIntegrationTest, SeveralTagsAllSucceed) {
  StartFakeRuntime();
  StartDaemon();
  api::SetNodeImageResponse set;
  const std::vector<std::string> tags = {"1", "2", "3", "4", "5"};
  ASSERT_TRUE(Set(SpecOf(kRepo, tags), 0, &set).ok());
  EXPECT_EQ(set.node_image().metadata().generation(), 1);

  const api::NodeImage node = WaitAllSucceeded();
  EXPECT_EQ(node.status().desired(), 5);
  ASSERT_EQ(node.status().images_size(), 1);
  for (int i = 0; i < 5; ++i) {
    const api::ImageTagStatus& tag = node.status().images(0).tags(i);
    EXPECT_EQ(tag.tag(), tags[i]);
    EXPECT_EQ(tag.phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
    EXPECT_EQ(tag.progress(), 100);
    EXPECT_THAT(tag.image_id(), HasSubstr("@"));
    EXPECT_TRUE(tag.has_completion_time());
  }
}

TEST_F(NodeImageIntegrationTest, HealthCoversNodeImageService) {
  StartFakeRuntime();
  StartDaemon();
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  SetDeadline(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("inplaced.v1.NodeImageService");
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(NodeImageIntegrationTest, StaleGenerationIsAborted) {
  StartFakeRuntime();
  StartDaemon();
  api::SetNodeImageResponse set;
  ASSERT_TRUE(Set(SpecOf(kRepo, {"1"}), 0, &set).ok());
  const grpc::Status stale = Set(SpecOf(kRepo, {"2"}), 0, &set);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED) << stale.error_message();
  api::NodeImage node;
  ASSERT_TRUE(Get(&node).ok());
  EXPECT_EQ(node.metadata().generation(), 1);
  EXPECT_EQ(node.spec().images(0).tags(0).tag(), "1");
}

TEST_F(NodeImageIntegrationTest, BadSpecIsInvalidArgumentNamingTheField) {
  StartFakeRuntime();
  StartDaemon();
  api::SetNodeImageResponse set;
  api::NodeImageSpec spec = SpecOf(kRepo, {"1"});
  spec.mutable_images(0)->mutable_tags(0)->mutable_pull_policy()->set_backoff_limit(101);
  const grpc::Status bad = Set(spec, 0, &set);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("spec.images[0].tags[0].pull_policy.backoff_limit"));

  const grpc::Status no_tags = Set(SpecOf(kRepo, {}), 0, &set);
  EXPECT_EQ(no_tags.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_tags.error_message(), HasSubstr("spec.images[0].tags"));
  api::NodeImage node;
  ASSERT_TRUE(Get(&node).ok());
  EXPECT_EQ(node.metadata().generation(), 0);  // nothing accepted
}

TEST_F(NodeImageIntegrationTest, StateSurvivesARestart) {
  StartFakeRuntime();
  StartDaemon();
  api::SetNodeImageResponse set;
  ASSERT_TRUE(Set(SpecOf(kRepo, {"1", "2"}), 0, &set).ok());
  WaitAllSucceeded();
  StopDaemon();
  StartDaemon();
  api::NodeImage node;
  ASSERT_TRUE(Get(&node).ok());
  EXPECT_EQ(node.metadata().generation(), 1);
  EXPECT_EQ(node.status().succeeded(), 2);
}

TEST_F(NodeImageIntegrationTest, AnAcceptedAdHocPullSurvivesADaemonRestart) {
  const std::string image = absl::StrCat(kRepo, ":adhoc");
  // The first pull stalls until the daemon's shutdown cancels it; the one after the restart works.
  StartFakeRuntime({"--hang-first-pull", image});
  StartDaemon();
  {
    grpc::ClientContext context;
    SetDeadline(&context);
    api::PullImageRequest request;
    request.set_image(image);  // no wait: accepted, then the call returns
    api::PullImageResponse response;
    const grpc::Status accepted = stub_->PullImage(&context, request, &response);
    ASSERT_TRUE(accepted.ok()) << accepted.error_message();
    EXPECT_NE(response.pull().status().phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
  }
  api::NodeImage node;
  ASSERT_TRUE(Eventually([&] {
    return Get(&node).ok() && node.status().ad_hoc_pulls_size() == 1 &&
           node.status().ad_hoc_pulls(0).status().phase() == api::IMAGE_PULL_PHASE_PULLING;
  })) << node.DebugString();
  // PULLING comes before the disk precheck and the CRI call: stop only once the pull hangs in the
  // runtime, or the pull after the restart would be the runtime's first, the one that hangs.
  ASSERT_THAT(fake_->WaitForLine("pull_hanging", absl::Seconds(60)), IsOk());
  StopDaemon();  // SIGTERM mid-pull

  StartDaemon();
  // Readable at once after the restart, and not FAILED "interrupted": it is pulled again.
  ASSERT_TRUE(Get(&node).ok());
  ASSERT_EQ(node.status().ad_hoc_pulls_size(), 1) << node.DebugString();
  EXPECT_EQ(node.status().ad_hoc_pulls(0).image(), image);
  EXPECT_NE(node.status().ad_hoc_pulls(0).status().phase(), api::IMAGE_PULL_PHASE_FAILED)
      << node.DebugString();
  ASSERT_TRUE(Eventually([&] {
    return Get(&node).ok() && node.status().ad_hoc_pulls_size() == 1 &&
           node.status().ad_hoc_pulls(0).status().phase() == api::IMAGE_PULL_PHASE_SUCCEEDED;
  })) << node.DebugString();
  EXPECT_EQ(node.status().ad_hoc_pulls(0).status().attempts(), 1) << "started again after restart";
  EXPECT_THAT(node.status().ad_hoc_pulls(0).status().image_id(), HasSubstr("@"));
}

// The README's NodeImage calls with `buf curl` (grpcurl's stand-in here) and server reflection.
class NodeImageBufCurlTest : public NodeImageIntegrationTest {
 protected:
  void SetUp() override {
    NodeImageIntegrationTest::SetUp();
    // Must run for real: a missing buf is a failed set-up, not a skip.
    ASSERT_EQ(::access(BUF_PATH, X_OK), 0)
        << "buf not installed at " << BUF_PATH << " (scripts/install-deps.sh)";
  }

  std::string BufCurl(const std::vector<std::string>& args) {
    return ::inplaced::testing::RunBufCurl(BUF_PATH, socket_, args);
  }
};

TEST_F(NodeImageBufCurlTest, SetGetAndPullWithReflection) {
  StartFakeRuntime();
  StartDaemon();
  EXPECT_THAT(BufCurl({"--list-services", "http://localhost"}),
              HasSubstr("inplaced.v1.NodeImageService"));
  const std::string methods = BufCurl({"--list-methods", "http://localhost"});
  EXPECT_THAT(methods, HasSubstr("inplaced.v1.NodeImageService/SetNodeImage"));
  EXPECT_THAT(methods, HasSubstr("inplaced.v1.NodeImageService/WatchNodeImage"));

  const std::string set = BufCurl(
      {"http://localhost/inplaced.v1.NodeImageService/SetNodeImage", "-d",
       absl::StrCat(
           R"({"spec":{"images":[{"name":")", kRepo,
           R"(","pullSecrets":["{\"auths\":{\"127.0.0.1:9\":{\"auth\":\"dXNlcjpodW50ZXIy\"}}}"],)",
           R"("tags":[{"tag":"1.0"},{"tag":"1.1","pullPolicy":{"backoffLimit":1}}]}]},)",
           R"("expectedGeneration":"0"})")});
  EXPECT_THAT(set, HasSubstr("\"generation\": \"1\""));
  EXPECT_THAT(set, HasSubstr("\"pullSecretCount\": 1"));
  EXPECT_THAT(set, Not(HasSubstr("dXNlcjpodW50ZXIy")));

  WaitAllSucceeded();
  const std::string got = BufCurl({"http://localhost/inplaced.v1.NodeImageService/GetNodeImage"});
  EXPECT_THAT(got, HasSubstr("IMAGE_PULL_PHASE_SUCCEEDED"));
  EXPECT_THAT(got, HasSubstr("\"succeeded\": 2"));
  EXPECT_THAT(got, Not(HasSubstr("dXNlcjpodW50ZXIy")));

  const std::string pulled =
      BufCurl({"http://localhost/inplaced.v1.NodeImageService/PullImage", "-d",
               absl::StrCat(R"({"image":")", kRepo, R"(:adhoc","wait":true})")});
  EXPECT_THAT(pulled, HasSubstr("IMAGE_PULL_PHASE_SUCCEEDED"));
  EXPECT_THAT(BufCurl({"http://localhost/inplaced.v1.NodeImageService/GetNodeImage"}),
              HasSubstr("adHocPulls"));
}

}  // namespace
}  // namespace inplaced
