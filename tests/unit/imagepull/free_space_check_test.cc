#include "imagepull/free_space_check.h"

#include <stdlib.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// Answers a fixed space and records the paths asked for.
class RecordingSource : public FreeSpaceSource {
 public:
  RecordingSource(FilesystemSpace space, std::vector<std::string>* paths)
      : space_(space), paths_(paths) {}
  absl::StatusOr<FilesystemSpace> Query(const std::string& path) override {
    paths_->push_back(path);
    if (!error_.ok()) return error_;
    return space_;
  }
  absl::Status error_ = absl::OkStatus();

 private:
  FilesystemSpace space_;
  std::vector<std::string>* paths_;
};

TEST(FreeSpaceCheckTest, FitsUnlessTheImageEatsIntoTheReserve) {
  struct Case {
    const char* name;
    uint64_t available;
    uint64_t total;
    double reserve_percent;
    uint64_t reserve_bytes;
    int64_t image;
    bool fits;
  };
  const Case cases[] = {
      {"plenty", 50 * kGiB, 100 * kGiB, 10, 0, 1 * kGiB, true},
      {"exactly up to the reserve", 20 * kGiB, 100 * kGiB, 10, 0, 10 * kGiB, true},
      {"one byte into the reserve", 20 * kGiB, 100 * kGiB, 10, 0, 10 * kGiB + 1, false},
      {"absolute reserve larger than percent", 20 * kGiB, 100 * kGiB, 10, 15 * kGiB, 6 * kGiB,
       false},
      {"percent reserve larger than absolute", 20 * kGiB, 100 * kGiB, 10, 1 * kGiB, 10 * kGiB,
       true},
      {"no reserve", 1 * kMiB, 100 * kGiB, 0, 0, 1 * kMiB, true},
      {"free below the reserve", 5 * kGiB, 100 * kGiB, 10, 0, 0, true},
      {"free below the reserve, any image", 5 * kGiB, 100 * kGiB, 10, 0, 1, false},
      {"empty image", 0, 0, 10, 0, 0, true},
      {"reserve percent above 100 is clamped", 200, 100, 150, 0, 100, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FreeSpaceCheckOptions options;
    options.reserve_percent = c.reserve_percent;
    options.reserve_bytes = c.reserve_bytes;
    std::vector<std::string> paths;
    FreeSpaceCheck precheck(
        options, std::make_unique<RecordingSource>(FilesystemSpace{c.available, c.total}, &paths));
    const absl::Status status = precheck.Check(c.image);
    if (c.fits) {
      EXPECT_OK(status);
    } else {
      EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted));
    }
  }
}

TEST(FreeSpaceCheckTest, RefusalMessageNamesFilesystemNeedFreeAndReserve) {
  FreeSpaceCheckOptions options;
  options.reserve_percent = 0;
  options.reserve_bytes = 512 * 1024;
  std::vector<std::string> paths;
  FreeSpaceCheck precheck(
      options, std::make_unique<RecordingSource>(FilesystemSpace{kMiB, 10 * kMiB}, &paths));
  const absl::Status status = precheck.Check(
      3 * kMiB + kMiB / 2, "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(
      status.message(),
      "not enough space on the image filesystem "
      "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs: need 3.5 MiB, 1.0 MiB free "
      "(reserve 512.0 KiB)");
}

TEST(FreeSpaceCheckTest, UsesTheMountpointElseTheDefaultPath) {
  FreeSpaceCheckOptions options;
  options.default_path = "/srv/images";
  std::vector<std::string> paths;
  FreeSpaceCheck precheck(options,
                          std::make_unique<RecordingSource>(FilesystemSpace{kGiB, kGiB}, &paths));
  ASSERT_OK(precheck.Check(1, "/mnt/imagefs"));
  ASSERT_OK(precheck.Check(1));
  EXPECT_THAT(paths, ::testing::ElementsAre("/mnt/imagefs", "/srv/images"));
}

// Where the runtime's image filesystem is not in this daemon's mount namespace (a DaemonSet mounts
// it at image_fs_path), the default path is read instead.
TEST(FreeSpaceCheckTest, ARuntimePathNotVisibleHereFallsBackToTheDefaultPath) {
  FreeSpaceCheckOptions options;
  options.default_path = "/var/lib/containerd";
  std::vector<std::string> paths;
  class HostOnly : public RecordingSource {
   public:
    using RecordingSource::RecordingSource;
    absl::StatusOr<FilesystemSpace> Query(const std::string& path) override {
      absl::StatusOr<FilesystemSpace> space = RecordingSource::Query(path);
      if (path != "/var/lib/containerd") return absl::NotFoundError("statvfs: no such file");
      return space;
    }
  };
  FreeSpaceCheck precheck(options, std::make_unique<HostOnly>(FilesystemSpace{kGiB, kGiB}, &paths));
  ASSERT_OK(precheck.Check(1, "/data/containerd/io.containerd.snapshotter.v1.overlayfs"));
  EXPECT_THAT(paths,
              ::testing::ElementsAre("/data/containerd/io.containerd.snapshotter.v1.overlayfs",
                                     "/var/lib/containerd"));
}

TEST(FreeSpaceCheckTest, SourceErrorsKeepTheirCodeAndNameThePath) {
  std::vector<std::string> paths;
  auto source = std::make_unique<RecordingSource>(FilesystemSpace{}, &paths);
  source->error_ = absl::NotFoundError("statvfs /nope: No such file or directory");
  FreeSpaceCheck precheck(FreeSpaceCheckOptions{}, std::move(source));
  EXPECT_THAT(precheck.Check(1, "/nope"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("image filesystem /nope (not visible here) nor at "
                                 "/var/lib/containerd")));
}

TEST(FreeSpaceCheckTest, NegativeImageSizeIsInvalid) {
  FreeSpaceCheck precheck(FreeSpaceCheckOptions{},
                          std::make_unique<FixedFreeSpace>(FilesystemSpace{kGiB, kGiB}));
  EXPECT_THAT(precheck.Check(-1), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FreeSpaceCheckTest, AssumedFreeSpaceReplacesStatvfs) {
  FreeSpaceCheckOptions options;
  options.assume_available_bytes = kMiB;
  options.reserve_percent = 0;
  options.default_path = "/definitely/not/there";
  FreeSpaceCheck precheck(options);
  EXPECT_OK(precheck.Check(kMiB));
  EXPECT_THAT(precheck.Check(kMiB + 1),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("1.0 MiB free")));
}

TEST(StatvfsFreeSpaceTest, ReadsARealDirectoryAndFailsOnAMissingOne) {
  char dir[] = "/tmp/inplaced-disk-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  StatvfsFreeSpace source;
  ASSERT_OK_AND_ASSIGN(FilesystemSpace space, source.Query(dir));
  EXPECT_GT(space.total_bytes, 0u);
  EXPECT_LE(space.available_bytes, space.total_bytes);
  EXPECT_THAT(source.Query(std::string(dir) + "/missing"), StatusIs(absl::StatusCode::kNotFound));
  rmdir(dir);
}

TEST(HumanBytesTest, BinaryUnitsWithOneDecimal) {
  struct Case {
    uint64_t bytes;
    const char* text;
  };
  for (const Case& c : {Case{0, "0 B"}, Case{1023, "1023 B"}, Case{1024, "1.0 KiB"},
                        Case{1536, "1.5 KiB"}, Case{5 * kMiB + kMiB / 4, "5.2 MiB"},
                        Case{10 * kGiB, "10.0 GiB"}, Case{uint64_t{1} << 50, "1.0 PiB"}}) {
    EXPECT_EQ(HumanBytes(c.bytes), c.text) << c.bytes;
  }
}

}  // namespace
}  // namespace inplaced::imagepull
