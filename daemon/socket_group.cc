#include "daemon/socket_group.h"

#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace inplaced::daemon {
namespace {

absl::Status ErrnoError(int error, const std::string& what) {
  const std::string message = absl::StrCat(what, ": ", std::strerror(error));
  if (error == EPERM || error == EACCES || error == EROFS) {
    return absl::PermissionDeniedError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace

absl::StatusOr<gid_t> ResolveGroup(const std::string& group) {
  if (group.empty()) return absl::InvalidArgumentError("socket group: empty");
  uint32_t numeric = 0;
  if (absl::SimpleAtoi(group, &numeric)) return static_cast<gid_t>(numeric);
  // getgrnam_r with a buffer that grows until the entry fits (ERANGE).
  std::vector<char> buffer(1024);
  while (true) {
    struct group entry;
    struct group* found = nullptr;
    const int error = ::getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (error == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (error != 0) return ErrnoError(error, absl::StrCat("socket group \"", group, "\""));
    if (found == nullptr) {
      return absl::NotFoundError(absl::StrCat("socket group \"", group, "\": no such group"));
    }
    return found->gr_gid;
  }
}

absl::Status ShareSocketWithGroup(const std::string& socket_path, gid_t gid) {
  if (::chown(socket_path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return ErrnoError(errno, absl::StrCat("cannot give ", socket_path, " to gid ", gid));
  }
  const std::string dir = socket_path.substr(0, socket_path.find_last_of('/'));
  if (dir.empty()) return absl::OkStatus();  // the socket sits in "/"
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoError(errno, absl::StrCat("cannot stat ", dir));
  if ((st.st_mode & (S_ISVTX | S_IWOTH)) != 0) return absl::OkStatus();
  if (::chown(dir.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    return ErrnoError(errno, absl::StrCat("cannot give ", dir, " to gid ", gid));
  }
  if (::chmod(dir.c_str(), (st.st_mode & 07777) | S_IRGRP | S_IXGRP) != 0) {
    return ErrnoError(errno, absl::StrCat("cannot chmod g+rx ", dir));
  }
  return absl::OkStatus();
}

}  // namespace inplaced::daemon
