#include "imagepull/free_space_check.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace inplaced::imagepull {

absl::StatusOr<FilesystemSpace> StatvfsFreeSpace::Query(const std::string& path) {
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0) {
    const int err = errno;
    const std::string message = absl::StrCat("statvfs ", path, ": ", std::strerror(err));
    if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  FilesystemSpace space;
  // f_bavail, not f_bfree: the blocks root reserves are not for the runtime's images either.
  space.available_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  space.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  return space;
}

namespace {

std::unique_ptr<FreeSpaceSource> DefaultSource(const FreeSpaceCheckOptions& options) {
  if (options.assume_available_bytes) {
    return std::make_unique<FixedFreeSpace>(
        FilesystemSpace{*options.assume_available_bytes, *options.assume_available_bytes});
  }
  return std::make_unique<StatvfsFreeSpace>();
}

}  // namespace

FreeSpaceCheck::FreeSpaceCheck(FreeSpaceCheckOptions options)
    : options_(std::move(options)), source_(DefaultSource(options_)) {}

FreeSpaceCheck::FreeSpaceCheck(FreeSpaceCheckOptions options,
                               std::unique_ptr<FreeSpaceSource> source)
    : options_(std::move(options)), source_(std::move(source)) {}

uint64_t FreeSpaceCheck::ReserveFor(uint64_t total_bytes) const {
  double percent = options_.reserve_percent;
  if (!(percent > 0)) percent = 0;  // also NaN
  if (percent > 100) percent = 100;
  const uint64_t by_percent =
      static_cast<uint64_t>(static_cast<long double>(total_bytes) * percent / 100.0L);
  return std::max(by_percent, options_.reserve_bytes);
}

absl::Status FreeSpaceCheck::Check(int64_t image_bytes, absl::string_view mountpoint) const {
  if (image_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative image size ", image_bytes));
  }
  std::string path = mountpoint.empty() ? options_.default_path : std::string(mountpoint);
  absl::StatusOr<FilesystemSpace> space = source_->Query(path);
  if (absl::IsNotFound(space.status()) && !mountpoint.empty() && !options_.default_path.empty()) {
    // The runtime's path is not in this daemon's mount namespace (a DaemonSet mounts the image
    // filesystem at image_fs_path, whatever the runtime's root is on the host): read that instead.
    space = source_->Query(options_.default_path);
    path = absl::StrCat(path, " (not visible here) nor at ", options_.default_path);
    if (space.ok()) path = options_.default_path;
  }
  if (!space.ok()) {
    return absl::Status(space.status().code(), absl::StrCat("free space of the image filesystem ",
                                                            path, ": ", space.status().message()));
  }
  const uint64_t reserve = ReserveFor(space->total_bytes);
  const uint64_t usable = space->available_bytes > reserve ? space->available_bytes - reserve : 0;
  const uint64_t need = static_cast<uint64_t>(image_bytes);
  if (need <= usable) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "not enough space on the image filesystem ", path, ": need ", HumanBytes(need), ", ",
      HumanBytes(space->available_bytes), " free (reserve ", HumanBytes(reserve), ")"));
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  long double value = static_cast<long double>(bytes) / 1024.0L;
  size_t unit = 0;
  while (value >= 1024.0L && unit + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    value /= 1024.0L;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", static_cast<double>(value), kUnits[unit]);
}

}  // namespace inplaced::imagepull
