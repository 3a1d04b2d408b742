#include "store/state_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "store/errno_status.h"

namespace inplaced::store {

absl::StatusOr<StateLock> StateLock::Acquire(const std::string& database_path) {
  const std::string lock_path = database_path + ".lock";
  // O_CLOEXEC: a child the daemon execs (an exec preStop helper, say) must not inherit and keep the
  // lock.
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoStatus(errno, lock_path, "open lock file");
  StateLock lock(fd);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("state store ", database_path,
                                                        ": in use by another inplaced (", lock_path,
                                                        " is locked)"));
    }
    return ErrnoStatus(errno, lock_path, "lock");
  }
  return lock;
}

StateLock::StateLock(StateLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

StateLock& StateLock::operator=(StateLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace inplaced::store
