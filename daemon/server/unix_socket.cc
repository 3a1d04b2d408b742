#include "daemon/server/unix_socket.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace inplaced::daemon {
namespace {

absl::Status ErrnoError(int error, const std::string& what) {
  const std::string message = absl::StrCat(what, ": ", std::strerror(error));
  if (error == EACCES || error == EPERM || error == EROFS)
    return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

// mkdir -p with mode 0750 for the directories it creates.
absl::Status MakeDirectories(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("socket directory ", dir, " is not a directory"));
    }
    return absl::OkStatus();
  }
  const size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (absl::Status parent = MakeDirectories(dir.substr(0, slash)); !parent.ok()) return parent;
  }
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return ErrnoError(errno, absl::StrCat("cannot create socket directory ", dir));
  }
  // mkdir's mode went through the umask; the directory we create is exactly 0750.
  if (::chmod(dir.c_str(), 0750) != 0) return ErrnoError(errno, absl::StrCat("cannot chmod ", dir));
  return absl::OkStatus();
}

// True when a server accepts connections on the socket at `path`.
bool SomeoneListens(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return connected;
}

}  // namespace

absl::Status PrepareUnixSocketPath(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path must be absolute, got \"", path, "\""));
  }
  if (path.size() > kMaxUnixSocketPathLength) {
    return absl::InvalidArgumentError(absl::StrCat("socket path is ", path.size(),
                                                   " bytes, at most ", kMaxUnixSocketPathLength,
                                                   " fit a unix socket: ", path));
  }
  if (path.back() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("socket path is a directory: ", path));
  }
  const std::string dir = path.substr(0, path.find_last_of('/'));
  if (!dir.empty()) {
    if (absl::Status made = MakeDirectories(dir); !made.ok()) return made;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError(errno, absl::StrCat("cannot stat ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; not replacing it"));
  }
  if (SomeoneListens(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("another server is listening on ", path, " (is inplaced already running?)"));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(errno, absl::StrCat("cannot remove stale socket ", path));
  }
  spdlog::info("socket_stale_removed path={}", path);
  return absl::OkStatus();
}

absl::Status RestrictUnixSocket(const std::string& path) {
  if (::chmod(path.c_str(), 0660) != 0)
    return ErrnoError(errno, absl::StrCat("cannot chmod 0660 ", path));
  return absl::OkStatus();
}

void RemoveUnixSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("socket_remove_failed path={} error=\"{}\"", path, std::strerror(errno));
  }
}

}  // namespace inplaced::daemon
