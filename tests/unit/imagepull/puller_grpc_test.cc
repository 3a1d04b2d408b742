// The puller over a real CRI gRPC connection: GrpcRuntime on a unix socket to the fake runtime
// served by CriServer in this process, so the fake clock still drives everything. Checks what the
// in-memory tests cannot: the concurrency limit as the runtime sees it over the wire, and that a
// timed-out attempt cancels the RPC (the runtime's pull ends) before the retry.

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cri/connect.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/puller.h"
#include "tests/fakes/cri_service.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/memory_store.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;
using ::testing::HasSubstr;

namespace criv1 = ::runtime::v1;

// Serves the fake runtime and lets the test wait until N PullImage calls have returned on the
// server side (a client-side cancel reaches the server asynchronously).
class PullTrackingRuntime final : public cri::Runtime {
 public:
  explicit PullTrackingRuntime(cri::Runtime& inner) : inner_(inner) {}

  absl::StatusOr<criv1::PullImageResponse> PullImage(const criv1::PullImageRequest& request,
                                                     Cancellation* cancel) override {
    absl::StatusOr<criv1::PullImageResponse> result = inner_.PullImage(request, cancel);
    Returned(result.status());
    return result;
  }
  void PullImageAsync(const criv1::PullImageRequest& request, Cancellation* cancel,
                      std::function<void(absl::StatusOr<criv1::PullImageResponse>)> done) override {
    inner_.PullImageAsync(
        request, cancel,
        [this, done = std::move(done)](absl::StatusOr<criv1::PullImageResponse> result) {
          Returned(result.status());
          done(std::move(result));
        });
  }
  void Returned(const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    ++returned_;
    if (absl::IsCancelled(status)) ++cancelled_;
  }
  // Blocks until `count` PullImage calls have returned; returns how many of them were CANCELLED.
  int AwaitReturnedPulls(int count) {
    absl::MutexLock lock(&mu_);
    auto done = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return returned_ >= count; };
    mu_.Await(absl::Condition(&done));
    return cancelled_;
  }

  absl::StatusOr<criv1::VersionResponse> Version(const criv1::VersionRequest& r) override {
    return inner_.Version(r);
  }
  absl::StatusOr<criv1::StatusResponse> Status(const criv1::StatusRequest& r) override {
    return inner_.Status(r);
  }
  absl::StatusOr<criv1::PodSandboxStatusResponse> PodSandboxStatus(
      const criv1::PodSandboxStatusRequest& r) override {
    return inner_.PodSandboxStatus(r);
  }
  absl::StatusOr<criv1::ListPodSandboxResponse> ListPodSandbox(
      const criv1::ListPodSandboxRequest& r) override {
    return inner_.ListPodSandbox(r);
  }
  absl::Status StopContainer(const criv1::StopContainerRequest& r) override {
    return inner_.StopContainer(r);
  }
  absl::StatusOr<criv1::ListContainersResponse> ListContainers(
      const criv1::ListContainersRequest& r) override {
    return inner_.ListContainers(r);
  }
  absl::StatusOr<criv1::ContainerStatusResponse> ContainerStatus(
      const criv1::ContainerStatusRequest& r) override {
    return inner_.ContainerStatus(r);
  }
  absl::StatusOr<criv1::ExecSyncResponse> ExecSync(const criv1::ExecSyncRequest& r,
                                                   Cancellation* c) override {
    return inner_.ExecSync(r, c);
  }
  void StopContainerAsync(const criv1::StopContainerRequest& r, Cancellation* c,
                          std::function<void(absl::Status)> done) override {
    inner_.StopContainerAsync(r, c, std::move(done));
  }
  void ExecSyncAsync(const criv1::ExecSyncRequest& r, Cancellation* c,
                     std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) override {
    inner_.ExecSyncAsync(r, c, std::move(done));
  }
  absl::StatusOr<std::unique_ptr<cri::ContainerEventStream>> GetContainerEvents() override {
    return inner_.GetContainerEvents();
  }
  absl::StatusOr<criv1::ImageStatusResponse> ImageStatus(
      const criv1::ImageStatusRequest& r) override {
    return inner_.ImageStatus(r);
  }
  absl::StatusOr<criv1::ImageFsInfoResponse> ImageFsInfo(
      const criv1::ImageFsInfoRequest& r) override {
    return inner_.ImageFsInfo(r);
  }

 private:
  cri::Runtime& inner_;
  absl::Mutex mu_;
  int returned_ ABSL_GUARDED_BY(mu_) = 0;
  int cancelled_ ABSL_GUARDED_BY(mu_) = 0;
};

bool AllFinished(const api::NodeImage& node, int running) {
  return running == 0 &&
         node.status().succeeded() + node.status().failed() == node.status().desired();
}

class PullerGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/pullgrpcXXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    ASSERT_OK_AND_ASSIGN(server_, fakes::CriServer::Start(served_, fake_, dir_ + "/cri.sock"));
    cri::ConnectOptions options;
    options.endpoint = dir_ + "/cri.sock";
    ASSERT_OK_AND_ASSIGN(cri::Connection connection, cri::Connect(options));
    runtime_ = std::move(connection.runtime);
  }

  void TearDown() override {
    puller_.reset();
    runtime_.reset();
    server_.reset();
    rmdir(dir_.c_str());
  }

  void MakePuller() {
    ASSERT_OK_AND_ASSIGN(puller_, ImagePuller::Create(*runtime_, clock_, store_, nullptr));
  }

  void Set(const api::NodeImageSpec& spec) {
    api::SetNodeImageRequest request;
    *request.mutable_spec() = spec;
    request.set_force(true);
    ASSERT_THAT(puller_->SetNodeImage(request), ::inplaced::testing::IsOk());
  }

  api::ImageTagStatus Tag(const std::string& image, const std::string& tag) {
    const api::NodeImage node = puller_->GetNodeImage();
    for (const api::ImageStatus& i : node.status().images()) {
      for (const api::ImageTagStatus& t : i.tags()) {
        if (i.name() == image && t.tag() == tag) return t;
      }
    }
    ADD_FAILURE() << "no status for " << image << ":" << tag;
    return api::ImageTagStatus();
  }

  fakes::FakeClock clock_;
  fakes::FakeRuntime fake_{clock_};
  PullTrackingRuntime served_{fake_};
  fakes::MemoryStore store_;
  std::string dir_;
  std::unique_ptr<fakes::CriServer> server_;
  std::unique_ptr<cri::Runtime> runtime_;
  std::unique_ptr<ImagePuller> puller_;
};

TEST_F(PullerGrpcTest, FiftyTagsNeverExceedThreeInFlightAtTheRuntime) {
  MakePuller();
  api::NodeImageSpec spec;
  api::ImageSpec* image = spec.add_images();
  image->set_name("reg.io/app");
  for (int i = 0; i < 50; ++i) {
    image->add_tags()->set_tag(absl::StrCat("t", i));
    fakes::PullScript script;
    script.duration = absl::Seconds(1);
    fake_.SetPullScript(absl::StrCat("reg.io/app:t", i), script);
  }
  Set(spec);
  for (int remaining = 50; remaining > 0; remaining -= 3) {
    clock_.WaitForSleepers(std::min(3, remaining));
    EXPECT_LE(fake_.InFlightPulls(), 3);
    clock_.Advance(absl::Seconds(1));
  }
  puller_->AwaitState(AllFinished);
  EXPECT_EQ(fake_.MaxConcurrentPulls(), 3);
  EXPECT_EQ(fake_.Pulls().size(), 50u);
  EXPECT_EQ(puller_->GetNodeImage().status().succeeded(), 50);
}

TEST_F(PullerGrpcTest, HangingPullIsCancelledAtItsTimeoutAndRetried) {
  MakePuller();
  fakes::PullScript hang;
  hang.hang = true;
  fake_.SetPullScript("reg.io/stuck:1", hang);
  api::NodeImageSpec spec;
  api::ImageSpec* image = spec.add_images();
  image->set_name("reg.io/stuck");
  api::ImageTagSpec* tag = image->add_tags();
  tag->set_tag("1");
  tag->mutable_pull_policy()->set_timeout_seconds(10);
  tag->mutable_pull_policy()->set_backoff_limit(1);
  Set(spec);

  clock_.WaitForSleepers(1);
  clock_.Advance(absl::Seconds(10));
  puller_->Tick();
  // The RPC was cancelled: the slot came back, and the runtime's pull ended with CANCELLED (the
  // cancel reaches the server asynchronously; a hang would never return otherwise).
  puller_->AwaitState([](const api::NodeImage&, int running) { return running == 0; });
  EXPECT_EQ(served_.AwaitReturnedPulls(1), 1);
  EXPECT_EQ(fake_.InFlightPulls(), 0);
  EXPECT_THAT(Tag("reg.io/stuck", "1").message(), HasSubstr("timed out after 10s"));

  fake_.SetPullScript("reg.io/stuck:1", fakes::PullScript());  // the retry succeeds
  clock_.Advance(absl::Seconds(1));
  puller_->Tick();
  puller_->AwaitState(AllFinished);
  const api::ImageTagStatus status = Tag("reg.io/stuck", "1");
  EXPECT_EQ(status.phase(), api::IMAGE_PULL_PHASE_SUCCEEDED);
  EXPECT_EQ(status.attempts(), 2);
  EXPECT_EQ(fake_.Pulls().size(), 2u);
}

}  // namespace
}  // namespace inplaced::imagepull
