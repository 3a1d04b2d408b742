#pragma once

// StateLock: makes one SqliteStore the only user of a state database, across processes and within
// one. Two daemons writing the same state would each believe they own its requests (and could kill
// the same container twice), so the second one must fail to start instead.
//
// The lock is an exclusive flock(2) on "<database path>.lock" (created with mode 0600), held while
// the StateLock lives and released by the kernel when the process dies, so kill -9 never leaves a
// stale lock. A separate file rather than the database itself: closing any descriptor of the
// database would drop SQLite's POSIX locks on it.
//
// Move-only; not thread-safe (owned by one store).

#include <string>

#include "absl/status/statusor.h"

namespace inplaced::store {

class StateLock {
 public:
  // Takes the lock for the database at `database_path` without waiting. FAILED_PRECONDITION naming
  // the path when another StateLock (this process or another) holds it; errno errors as in
  // errno_status.h when the lock file cannot be created.
  static absl::StatusOr<StateLock> Acquire(const std::string& database_path);

  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace inplaced::store
