// The puller's byte progress: sampled from a fake content store, matched through a fixed manifest,
// published at most once per progress_interval on the fake clock, completed at the end.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/pull_progress_tracker.h"
#include "imagepull/puller.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_content_store.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/memory_store.h"
#include "tests/support/status_matchers.h"
#include "tests/unit/imagepull/nodeimage_specs.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;
using ::testing::ElementsAre;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

class FixedResolver final : public ImageResolver {
 public:
  absl::StatusOr<ResolvedImage> Resolve(const ImageReference&,
                                        const std::vector<RegistryCredential>&,
                                        const Cancellation*) override {
    ResolvedImage image;
    image.layers = {Descriptor{"", kA, 1000, {}}, Descriptor{"", kB, 3000, {}}};
    return image;
  }
};

cri::Ingest LayerIngest(const std::string& digest, int64_t offset, int64_t total) {
  return cri::Ingest{"layer-" + digest, offset, total};
}

class PullerProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PullerOptions options;
    options.progress = &tracker_;
    options.progress_interval = absl::Milliseconds(250);
    ASSERT_OK_AND_ASSIGN(puller_, ImagePuller::Create(runtime_, clock_, store_, nullptr, options));
  }

  // Sets a spec of one tag whose CRI pull takes 10 s, and waits until that pull is running.
  void StartSlowPull() {
    fakes::PullScript slow;
    slow.duration = absl::Seconds(10);
    runtime_.SetPullScript("reg.io/app:1", slow);
    api::NodeImageSpec spec;
    specs::AddImage(spec, "reg.io/app", {"1"});
    api::SetNodeImageRequest request;
    *request.mutable_spec() = spec;
    ASSERT_OK(puller_->SetNodeImage(request).status());
    clock_.WaitForSleepers(1);  // in PullImage: the tracker's Begin has run
  }

  api::ImageTagStatus Tag() {
    const api::NodeImage node = puller_->GetNodeImage();
    return node.status().images(0).tags(0);
  }
  uint64_t Version() { return puller_->GetNodeImage().metadata().resource_version(); }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_{clock_};
  fakes::MemoryStore store_;
  fakes::FakeContentStore content_;
  FixedResolver resolver_;
  PullProgressTracker tracker_{content_, resolver_, clock_};
  std::unique_ptr<ImagePuller> puller_;  // destroyed first
};

TEST_F(PullerProgressTest, RejectsANonPositiveInterval) {
  PullerOptions options;
  options.progress_interval = absl::ZeroDuration();
  EXPECT_THAT(
      ImagePuller::Create(runtime_, clock_, store_, nullptr, options).status(),
      testing::StatusIs(absl::StatusCode::kInvalidArgument, "progress_interval: must be positive"));
}

TEST_F(PullerProgressTest, BytesMoveThroughTheStatusAndCompleteAtTheEnd) {
  StartSlowPull();
  content_.SetIngests({LayerIngest(kA, 250, 1000)});
  puller_->SampleProgress();
  api::ImageTagStatus tag = Tag();
  EXPECT_EQ(tag.phase(), api::IMAGE_PULL_PHASE_PULLING);
  EXPECT_EQ(tag.pull_progress().source(), api::PROGRESS_SOURCE_BYTES);
  EXPECT_EQ(tag.pull_progress().bytes_done(), 250);
  EXPECT_EQ(tag.pull_progress().bytes_total(), 4000);
  EXPECT_EQ(tag.progress(), 6);

  clock_.Advance(absl::Seconds(1));
  content_.SetIngests({LayerIngest(kB, 1000, 3000)});
  content_.Commit(kA);
  puller_->SampleProgress();
  tag = Tag();
  EXPECT_EQ(tag.pull_progress().bytes_done(), 2000);
  EXPECT_EQ(tag.progress(), 50);
  EXPECT_EQ(tag.pull_progress().bytes_per_second(), 1750);
  ASSERT_EQ(tag.pull_progress().layers_size(), 2);
  EXPECT_EQ(tag.pull_progress().layers(0).state(), api::LAYER_STATE_DONE);
  EXPECT_EQ(tag.pull_progress().layers(1).state(), api::LAYER_STATE_DOWNLOADING);

  clock_.Advance(absl::Seconds(9));  // the CRI pull returns
  puller_->AwaitState([](const api::NodeImage& node, int running) {
    return running == 0 && node.status().succeeded() == 1;
  });
  tag = Tag();
  EXPECT_EQ(tag.progress(), 100);
  EXPECT_EQ(tag.pull_progress().bytes_done(), 4000);
  EXPECT_EQ(tag.pull_progress().bytes_per_second(), 0);
  EXPECT_EQ(tag.pull_progress().layers(1).state(), api::LAYER_STATE_DONE);
  // The tracker let go of the finished pull: nothing more to sample.
  const int calls = content_.ListCalls();
  puller_->SampleProgress();
  EXPECT_EQ(content_.ListCalls(), calls);
}

TEST_F(PullerProgressTest, UpdatesArePublishedAtMostOncePerInterval) {
  StartSlowPull();
  content_.SetIngests({LayerIngest(kA, 100, 1000)});
  puller_->SampleProgress();
  const uint64_t first = Version();
  EXPECT_EQ(Tag().pull_progress().bytes_done(), 100);

  clock_.Advance(absl::Milliseconds(100));
  content_.SetIngests({LayerIngest(kA, 200, 1000)});
  puller_->SampleProgress();  // too soon: dropped
  EXPECT_EQ(Version(), first);
  EXPECT_EQ(Tag().pull_progress().bytes_done(), 100);

  clock_.Advance(absl::Milliseconds(149));
  puller_->SampleProgress();  // 249 ms: still too soon
  EXPECT_EQ(Version(), first);

  clock_.Advance(absl::Milliseconds(1));
  puller_->SampleProgress();  // 250 ms
  EXPECT_EQ(Version(), first + 1);
  EXPECT_EQ(Tag().pull_progress().bytes_done(), 200);

  // Nothing moved (the rate aside, which only falls once the window passed): nothing published.
  clock_.Advance(absl::Seconds(5));
  puller_->SampleProgress();
  const uint64_t after_rate_drop = Version();
  clock_.Advance(absl::Milliseconds(250));
  puller_->SampleProgress();
  EXPECT_EQ(Version(), after_rate_drop);
}

TEST_F(PullerProgressTest, ARuntimeWithoutContentServiceReportsPhaseOnly) {
  content_.SetUnimplemented(true);
  StartSlowPull();
  puller_->SampleProgress();
  const api::ImageTagStatus tag = Tag();
  EXPECT_EQ(tag.pull_progress().source(), api::PROGRESS_SOURCE_PHASE_ONLY);
  EXPECT_EQ(tag.pull_progress().note(), kNoContentServiceNote);
  EXPECT_EQ(tag.progress(), 0);
}

TEST_F(PullerProgressTest, AnImageAlreadyPresentHasNoByteProgress) {
  runtime_.AddImage("reg.io/app:1");
  api::NodeImageSpec spec;
  specs::AddImage(spec, "reg.io/app", {"1"});
  api::SetNodeImageRequest request;
  *request.mutable_spec() = spec;
  ASSERT_OK(puller_->SetNodeImage(request).status());
  puller_->AwaitState([](const api::NodeImage& node, int running) {
    return running == 0 && node.status().succeeded() == 1;
  });
  puller_->SampleProgress();
  EXPECT_FALSE(Tag().has_pull_progress());
  EXPECT_EQ(content_.ListCalls(), 0);
}

}  // namespace
}  // namespace inplaced::imagepull
