#include "store/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "store/errno_status.h"

namespace inplaced::store {

absl::Status PrepareStateDirectory(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("state store path: empty");
  const std::filesystem::path file(path);
  if (!file.has_filename()) {
    return absl::InvalidArgumentError(absl::StrCat("state store ", path, ": names a directory"));
  }
  std::filesystem::path partial;
  for (const auto& component : file.parent_path()) {
    partial /= component;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, path, "create directory");
    }
  }
  // Refused here, before the caller creates "<path>.lock" beside it: a failed open leaves nothing
  // behind.
  struct stat existing;
  if (::lstat(path.c_str(), &existing) == 0 && S_ISDIR(existing.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("state store ", path, ": names a directory"));
  }
  return absl::OkStatus();
}

absl::Status PrepareStateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoStatus(errno, path, "open");
  const int chmod_result = ::fchmod(fd, 0600);
  const int chmod_errno = errno;
  ::close(fd);
  if (chmod_result != 0) return ErrnoStatus(chmod_errno, path, "chmod 0600");
  return absl::OkStatus();
}

}  // namespace inplaced::store
