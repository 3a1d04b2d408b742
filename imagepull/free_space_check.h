#pragma once

// The free-space arithmetic of the disk-space precheck (DiskSpacePrecheck): does an image of a
// given size fit on the image filesystem, keeping a reserve free? The size the precheck passes is
// the compressed (download) size from the registry manifest, a lower bound of what the unpacked
// image takes: a refusal is certain, a pass is not a promise that the unpacked image fits.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::imagepull {

// Free and total bytes of a filesystem, as an unprivileged process may use them.
struct FilesystemSpace {
  uint64_t available_bytes = 0;
  uint64_t total_bytes = 0;
};

// Where free space comes from: statvfs(3) in production, a fixed answer in tests. Implementations
// are thread-safe.
class FreeSpaceSource {
 public:
  virtual ~FreeSpaceSource() = default;
  // The space of the filesystem holding `path`. NOT_FOUND when the path does not exist; UNAVAILABLE
  // (or the errno's code) when it cannot be queried.
  virtual absl::StatusOr<FilesystemSpace> Query(const std::string& path) = 0;
};

// statvfs(3): available = f_bavail * f_frsize, total = f_blocks * f_frsize.
class StatvfsFreeSpace : public FreeSpaceSource {
 public:
  absl::StatusOr<FilesystemSpace> Query(const std::string& path) override;
};

// The same answer for every path (tests, and the daemon's "pretend free space" setting that the e2e
// test uses to provoke a refusal).
class FixedFreeSpace : public FreeSpaceSource {
 public:
  explicit FixedFreeSpace(FilesystemSpace space) : space_(space) {}
  absl::StatusOr<FilesystemSpace> Query(const std::string&) override { return space_; }

 private:
  const FilesystemSpace space_;
};

struct FreeSpaceCheckOptions {
  // The image filesystem when the runtime's ImageFsInfo names no mountpoint.
  std::string default_path = "/var/lib/containerd";
  // Kept free: the larger of reserve_percent of the filesystem's size and reserve_bytes.
  double reserve_percent = 10.0;
  uint64_t reserve_bytes = 0;
  // When set, every filesystem is taken to have this many bytes available (and as its size),
  // instead of asking statvfs. For tests and for provoking the refusal on purpose.
  std::optional<uint64_t> assume_available_bytes;
};

// Checks image sizes against the image filesystem's free space. Thread-safe; stateless between
// calls (free space is queried on every Check, since pulls change it).
class FreeSpaceCheck {
 public:
  // statvfs, or FixedFreeSpace when options.assume_available_bytes is set.
  explicit FreeSpaceCheck(FreeSpaceCheckOptions options);
  // With an explicit source (tests).
  FreeSpaceCheck(FreeSpaceCheckOptions options, std::unique_ptr<FreeSpaceSource> source);

  // OK when `image_bytes` fit into the free space of the filesystem at `mountpoint` (the mountpoint
  // of CRI ImageFsInfo's first image filesystem; empty, or a path that does not exist here (a
  // container with the image filesystem mounted at default_path): options.default_path) minus the
  // reserve.
  // Errors:
  //   RESOURCE_EXHAUSTED "not enough space on the image filesystem <path>: need <X>, <Y> free
  //     (reserve <Z>)";
  //   INVALID_ARGUMENT for a negative image_bytes;
  //   the source's error, with the path, when free space cannot be read.
  absl::Status Check(int64_t image_bytes, absl::string_view mountpoint = "") const;

  // The reserve for a filesystem of `total_bytes`.
  uint64_t ReserveFor(uint64_t total_bytes) const;

 private:
  const FreeSpaceCheckOptions options_;
  const std::unique_ptr<FreeSpaceSource> source_;
};

// "1.5 GiB", "512 B", "3.2 MiB": a size for messages (binary units, one decimal).
std::string HumanBytes(uint64_t bytes);

}  // namespace inplaced::imagepull
