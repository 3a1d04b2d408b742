#include "daemon/store/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace inplaced::store {
namespace {

absl::Status ErrnoError(int error, const std::string& path, const char* operation) {
  const std::string message =
      absl::StrCat("state store ", path, ": ", operation, ": ", std::strerror(error));
  if (error == EACCES || error == EPERM || error == EROFS) {
    return absl::PermissionDeniedError(message);
  }
  if (error == EISDIR || error == ENOTDIR || error == ELOOP) {
    return absl::InvalidArgumentError(message);
  }
  return absl::UnavailableError(message);
}

// mkdir -p with mode 0700 for the directories it creates; existing ones are left as they are (the
// operator may have chosen their mode).
absl::Status MakeParentDirectories(const std::filesystem::path& directory, const std::string& path) {
  if (directory.empty()) return absl::OkStatus();
  std::filesystem::path partial;
  for (const auto& component : directory) {
    partial /= component;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoError(errno, path, "create directory");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareStateFile(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("state store path: empty");
  const std::filesystem::path file(path);
  if (!file.has_filename()) {
    return absl::InvalidArgumentError(absl::StrCat("state store ", path, ": names a directory"));
  }
  if (absl::Status status = MakeParentDirectories(file.parent_path(), path); !status.ok()) {
    return status;
  }
  // O_NOFOLLOW: a symlink planted at the state path must not redirect the daemon's writes.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError(errno, path, "open");
  const int chmod_result = ::fchmod(fd, 0600);
  const int chmod_errno = errno;
  ::close(fd);
  if (chmod_result != 0) return ErrnoError(chmod_errno, path, "chmod 0600");
  return absl::OkStatus();
}

}  // namespace inplaced::store
