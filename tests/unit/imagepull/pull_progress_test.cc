// The byte progress model (pure) and the tracker over a fake content store and resolver.
#include "imagepull/pull_progress.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/pull_progress_tracker.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_content_store.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');
const std::string kOther = "sha256:" + std::string(64, 'f');

Descriptor Layer(const std::string& digest, int64_t size) {
  Descriptor d;
  d.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
  d.digest = digest;
  d.size = size;
  return d;
}

cri::Ingest LayerIngest(const std::string& digest, int64_t offset, int64_t total) {
  return cri::Ingest{"layer-" + digest, offset, total};
}

std::vector<api::LayerState> States(const api::PullProgress& p) {
  std::vector<api::LayerState> out;
  for (const api::LayerProgress& l : p.layers()) out.push_back(l.state());
  return out;
}

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(IngestDigestTest, NamesTheDigestOfContainerdRefs) {
  EXPECT_EQ(IngestDigest("layer-" + kA), kA);
  EXPECT_EQ(IngestDigest("config-" + kB), kB);
  EXPECT_EQ(IngestDigest(kC), kC);
  EXPECT_EQ(IngestDigest("layer-"), "");
  EXPECT_EQ(IngestDigest("unknown-thing"), "");
  EXPECT_EQ(IngestDigest("layer-sha256:"), "");
}

TEST(ProgressModelTest, MatchesIngestsToLayersAndIgnoresOtherBlobs) {
  ProgressModel model = NewProgressModel({Layer(kA, 1000), Layer(kB, 3000)});
  ApplySample(model,
              {LayerIngest(kA, 250, 1000), LayerIngest(kOther, 999999, 999999),
               cri::Ingest{"config-" + kC, 10, 10}},
              {}, kT0);
  api::PullProgress p = ToPullProgress(model, kT0);
  EXPECT_EQ(p.source(), api::PROGRESS_SOURCE_BYTES);
  EXPECT_EQ(p.bytes_total(), 4000);
  EXPECT_EQ(p.bytes_done(), 250);
  EXPECT_THAT(States(p), ElementsAre(api::LAYER_STATE_DOWNLOADING, api::LAYER_STATE_WAITING));
  EXPECT_EQ(PullingPercent(p), 6);  // 250 * 100 / 4000

  // A's ingest is gone and its blob committed; B downloads.
  ApplySample(model, {LayerIngest(kB, 1000, 3000)}, {kA}, kT0 + absl::Seconds(1));
  p = ToPullProgress(model, kT0 + absl::Seconds(1));
  EXPECT_THAT(States(p), ElementsAre(api::LAYER_STATE_DONE, api::LAYER_STATE_DOWNLOADING));
  EXPECT_EQ(p.bytes_done(), 2000);
  EXPECT_EQ(p.layers(0).offset(), 1000);
  EXPECT_EQ(p.bytes_per_second(), 1750);  // (2000 - 250) bytes in 1 s
  EXPECT_EQ(PullingPercent(p), 50);
}

TEST(ProgressModelTest, ALayerListedTwiceIsOneLayer) {
  ProgressModel model = NewProgressModel({Layer(kA, 1000), Layer(kB, 500), Layer(kA, 1000)});
  ApplySample(model, {LayerIngest(kA, 400, 1000)}, {}, kT0);
  const api::PullProgress p = ToPullProgress(model, kT0);
  ASSERT_EQ(p.layers_size(), 2);
  EXPECT_EQ(p.layers(0).digest(), kA);
  EXPECT_EQ(p.layers(1).digest(), kB);
  EXPECT_EQ(p.bytes_total(), 1500);
  EXPECT_EQ(p.bytes_done(), 400);
}

TEST(ProgressModelTest, ALayerAlreadyPresentCountsAsDoneButNotInTheRate) {
  ProgressModel model = NewProgressModel({Layer(kA, 1000), Layer(kB, 1000)});
  MarkAlreadyPresent(model, {kA});
  EXPECT_THAT(LayersWithoutIngest(model, {}), ElementsAre(kB));
  ApplySample(model, {}, {}, kT0);
  ApplySample(model, {LayerIngest(kB, 500, 1000)}, {}, kT0 + absl::Seconds(2));
  const api::PullProgress p = ToPullProgress(model, kT0 + absl::Seconds(2));
  EXPECT_THAT(States(p),
              ElementsAre(api::LAYER_STATE_ALREADY_PRESENT, api::LAYER_STATE_DOWNLOADING));
  EXPECT_EQ(p.bytes_done(), 1500);
  EXPECT_EQ(p.bytes_per_second(), 250);  // only B's 500 bytes in 2 s
  EXPECT_EQ(PullingPercent(p), 75);
}

TEST(ProgressModelTest, ASmallLayerMissedBetweenSamplesIsDoneOnceCommitted) {
  ProgressModel model = NewProgressModel({Layer(kA, 10), Layer(kB, 1000)});
  ApplySample(model, {LayerIngest(kB, 100, 1000)}, {}, kT0);
  EXPECT_THAT(LayersWithoutIngest(model, {LayerIngest(kB, 100, 1000)}), ElementsAre(kA));
  ApplySample(model, {LayerIngest(kB, 200, 1000)}, {kA}, kT0 + absl::Milliseconds(250));
  EXPECT_THAT(States(ToPullProgress(model, kT0)),
              ElementsAre(api::LAYER_STATE_DONE, api::LAYER_STATE_DOWNLOADING));
}

TEST(ProgressModelTest, AnUnknownTotalIsTakenFromTheIngestOrLeavesThePercentAtZero) {
  ProgressModel model = NewProgressModel({Layer(kA, 0)});
  ApplySample(model, {LayerIngest(kA, 100, 0)}, {}, kT0);  // neither knows the size yet
  api::PullProgress p = ToPullProgress(model, kT0);
  EXPECT_EQ(p.bytes_total(), 0);
  EXPECT_EQ(p.bytes_done(), 100);
  EXPECT_EQ(PullingPercent(p), 0);
  ApplySample(model, {LayerIngest(kA, 300, 1200)}, {}, kT0 + absl::Seconds(1));
  p = ToPullProgress(model, kT0);
  EXPECT_EQ(p.bytes_total(), 1200);
  EXPECT_EQ(PullingPercent(p), 25);
}

TEST(ProgressModelTest, AnOffsetBeyondTheSizeIsCappedAndPercentStaysBelowHundred) {
  ProgressModel model = NewProgressModel({Layer(kA, 1000)});
  ApplySample(model, {LayerIngest(kA, 5000, 5000)}, {}, kT0);
  const api::PullProgress p = ToPullProgress(model, kT0);
  EXPECT_EQ(p.bytes_done(), 1000);
  EXPECT_EQ(PullingPercent(p), 99);  // 100 is SUCCEEDED's
}

TEST(ProgressModelTest, TheRateIsMeasuredOverTheLastWindow) {
  ProgressModel model = NewProgressModel({Layer(kA, 1 << 30)});
  ApplySample(model, {LayerIngest(kA, 0, 1 << 30)}, {}, kT0);
  ApplySample(model, {LayerIngest(kA, 10000, 1 << 30)}, {}, kT0 + absl::Seconds(1));
  // Stalled for longer than the window: the rate falls to 0.
  ApplySample(model, {LayerIngest(kA, 10000, 1 << 30)}, {}, kT0 + absl::Seconds(10));
  ApplySample(model, {LayerIngest(kA, 10000, 1 << 30)}, {}, kT0 + absl::Seconds(11));
  EXPECT_EQ(model.bytes_per_second, 0);
}

TEST(ProgressModelTest, FinishedProgressCompletesTheLayersOnlyOnSuccess) {
  ProgressModel model = NewProgressModel({Layer(kA, 1000), Layer(kB, 1000)});
  MarkAlreadyPresent(model, {kB});
  ApplySample(model, {LayerIngest(kA, 10, 1000)}, {}, kT0);
  ApplySample(model, {LayerIngest(kA, 510, 1000)}, {}, kT0 + absl::Seconds(1));
  const api::PullProgress running = ToPullProgress(model, kT0);
  EXPECT_GT(running.bytes_per_second(), 0);

  const api::PullProgress done = FinishedProgress(running, true);
  EXPECT_THAT(States(done), ElementsAre(api::LAYER_STATE_DONE, api::LAYER_STATE_ALREADY_PRESENT));
  EXPECT_EQ(done.bytes_done(), 2000);
  EXPECT_EQ(done.bytes_per_second(), 0);

  const api::PullProgress failed = FinishedProgress(running, false);
  EXPECT_EQ(failed.bytes_done(), 1510);
  EXPECT_EQ(failed.bytes_per_second(), 0);
}

// ---- the tracker ----

class FixedResolver final : public ImageResolver {
 public:
  absl::StatusOr<ResolvedImage> Resolve(const ImageReference&,
                                        const std::vector<RegistryCredential>&,
                                        const Cancellation*) override {
    return result;
  }
  absl::StatusOr<ResolvedImage> result;
};

PullJob Job(const std::string& reference) {
  return PullJob{*ImageReference::Parse(reference), {}, false, {}};
}

class TrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ResolvedImage image;
    image.layers = {Layer(kA, 1000), Layer(kB, 3000)};
    resolver_.result = image;
  }
  fakes::FakeClock clock_;
  fakes::FakeContentStore content_;
  FixedResolver resolver_;
  PullProgressTracker tracker_{content_, resolver_, clock_};
};

TEST_F(TrackerTest, NothingTrackedMakesNoCall) {
  EXPECT_TRUE(tracker_.Sample().empty());
  EXPECT_EQ(content_.ListCalls(), 0);
}

TEST_F(TrackerTest, ReportsTheBytesOfEachTrackedPull) {
  content_.Commit(kA);  // shared with an image the node has
  tracker_.Begin(7, Job("reg.io/app:1"), nullptr);
  content_.SetIngests({LayerIngest(kB, 1500, 3000), LayerIngest(kOther, 10, 20)});
  std::map<uint64_t, api::PullProgress> sampled = tracker_.Sample();
  ASSERT_EQ(sampled.count(7), 1u);
  const api::PullProgress& p = sampled[7];
  EXPECT_EQ(p.source(), api::PROGRESS_SOURCE_BYTES);
  EXPECT_THAT(States(p),
              ElementsAre(api::LAYER_STATE_ALREADY_PRESENT, api::LAYER_STATE_DOWNLOADING));
  EXPECT_EQ(p.bytes_done(), 2500);
  EXPECT_EQ(p.bytes_total(), 4000);

  tracker_.End(7);
  EXPECT_TRUE(tracker_.Sample().empty());
}

TEST_F(TrackerTest, AnUnreadableManifestGivesPhaseOnlyWithTheReason) {
  resolver_.result = absl::UnavailableError("reg.io/app:1: connection refused");
  tracker_.Begin(1, Job("reg.io/app:1"), nullptr);
  const api::PullProgress p = tracker_.Sample()[1];
  EXPECT_EQ(p.source(), api::PROGRESS_SOURCE_PHASE_ONLY);
  EXPECT_THAT(p.note(), HasSubstr("connection refused"));
  EXPECT_EQ(p.layers_size(), 0);
}

TEST_F(TrackerTest, ARuntimeWithoutContentServiceGivesPhaseOnly) {
  content_.SetUnimplemented(true);
  tracker_.Begin(1, Job("reg.io/app:1"), nullptr);
  const api::PullProgress p = tracker_.Sample()[1];
  EXPECT_EQ(p.source(), api::PROGRESS_SOURCE_PHASE_ONLY);
  EXPECT_EQ(p.note(), kNoContentServiceNote);
}

TEST_F(TrackerTest, LayersMoveFromDownloadingToDoneAcrossSamples) {
  tracker_.Begin(1, Job("reg.io/app:1"), nullptr);
  content_.SetIngests({LayerIngest(kA, 600, 1000)});
  EXPECT_EQ(tracker_.Sample()[1].bytes_done(), 600);
  // A's ingest is gone and its blob committed; B's started.
  content_.SetIngests({LayerIngest(kB, 300, 3000)});
  content_.Commit(kA);
  const api::PullProgress p = tracker_.Sample()[1];
  EXPECT_THAT(States(p), ElementsAre(api::LAYER_STATE_DONE, api::LAYER_STATE_DOWNLOADING));
  EXPECT_EQ(p.bytes_done(), 1300);
}

}  // namespace
}  // namespace inplaced::imagepull
