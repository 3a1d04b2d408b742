#include "imagepull/disk_space_precheck.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;
constexpr char kContainerdImageFs[] = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs";

// Answers every Resolve with `result` and records what it was asked.
class FakeResolver final : public ImageResolver {
 public:
  absl::StatusOr<ResolvedImage> Resolve(const ImageReference& ref,
                                        const std::vector<RegistryCredential>& credentials,
                                        const Cancellation*) override {
    images.push_back(ref.Canonical());
    credential_counts.push_back(credentials.size());
    return result;
  }
  absl::StatusOr<ResolvedImage> result;
  std::vector<std::string> images;
  std::vector<size_t> credential_counts;
};

// A fixed free space that records the paths it was asked about.
class PathRecordingSource final : public FreeSpaceSource {
 public:
  PathRecordingSource(FilesystemSpace space, std::vector<std::string>* paths)
      : space_(space), paths_(paths) {}
  absl::StatusOr<FilesystemSpace> Query(const std::string& path) override {
    paths_->push_back(path);
    return space_;
  }

 private:
  FilesystemSpace space_;
  std::vector<std::string>* paths_;
};

ResolvedImage OfSize(int64_t bytes) {
  ResolvedImage image;
  image.digest = "sha256:" + std::string(64, 'a');
  image.total_size = bytes;
  return image;
}

class DiskSpacePrecheckTest : public ::testing::Test {
 protected:
  DiskSpacePrecheck Make(uint64_t available, DiskSpacePrecheckOptions options = {}) {
    FreeSpaceCheckOptions disk_options;
    disk_options.reserve_percent = 0;
    disk_options.default_path = "/fallback";
    disk_ = std::make_unique<FreeSpaceCheck>(
        disk_options,
        std::make_unique<PathRecordingSource>(FilesystemSpace{available, 100 * kMiB}, &paths_));
    return DiskSpacePrecheck(resolver_, runtime_, *disk_, options);
  }
  ImageReference Ref(const std::string& text) { return ImageReference::Parse(text).value(); }

  fakes::FakeClock clock_;
  fakes::FakeRuntime runtime_{clock_};
  FakeResolver resolver_;
  std::unique_ptr<FreeSpaceCheck> disk_;
  std::vector<std::string> paths_;
};

TEST_F(DiskSpacePrecheckTest, ImageThatFitsPassesAndUsesTheImageFsMountpoint) {
  resolver_.result = OfSize(2 * kMiB);
  DiskSpacePrecheck precheck = Make(10 * kMiB);
  RegistryCredential credential;
  credential.username = "u";
  EXPECT_OK(precheck.Check(Ref("reg.io/app:1"), {credential}));
  EXPECT_THAT(resolver_.images, ElementsAre("reg.io/app:1"));
  EXPECT_THAT(resolver_.credential_counts, ElementsAre(1u));
  EXPECT_THAT(paths_, ElementsAre(kContainerdImageFs));
}

TEST_F(DiskSpacePrecheckTest, ImageLargerThanTheFreeSpaceIsRefused) {
  resolver_.result = OfSize(2 * kMiB);
  DiskSpacePrecheck precheck = Make(kMiB);
  EXPECT_THAT(precheck.Check(Ref("reg.io/app:1"), {}),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("not enough space on the image filesystem"),
                             HasSubstr(kContainerdImageFs), HasSubstr("need 2.0 MiB"),
                             HasSubstr("1.0 MiB free"))));
}

TEST_F(DiskSpacePrecheckTest, ResolveErrorLetsThePullGoAheadUnlessConfigured) {
  resolver_.result = absl::UnavailableError("resolving image reg.io/app:1: connection refused");
  EXPECT_OK(Make(0).Check(Ref("reg.io/app:1"), {}));
  EXPECT_TRUE(paths_.empty());
  DiskSpacePrecheckOptions strict;
  strict.fail_on_resolve_error = true;
  EXPECT_THAT(Make(0, strict).Check(Ref("reg.io/app:1"), {}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connection refused")));
}

TEST_F(DiskSpacePrecheckTest, ImageFsInfoFailureFallsBackToTheDefaultPath) {
  resolver_.result = OfSize(1);
  runtime_.InjectError("ImageFsInfo", absl::UnavailableError("runtime down"));
  EXPECT_OK(Make(kMiB).Check(Ref("reg.io/app:1"), {}));
  EXPECT_THAT(paths_, ElementsAre("/fallback"));
}

}  // namespace
}  // namespace inplaced::imagepull
