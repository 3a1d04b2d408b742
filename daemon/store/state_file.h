#pragma once

// Prepares the filesystem for a state database before SQLite opens it: the missing parent directories
// are created with mode 0700 and the file itself is created (or fixed) with mode 0600, so the state,
// which can hold image pull secrets, is never readable by other users, whatever the umask. SQLite gives
// its -wal and -shm files the database file's mode.
//
// Stateless and thread-safe.

#include <string>

#include "absl/status/status.h"

namespace inplaced::store {

// INVALID_ARGUMENT for an empty path or one naming a directory; PERMISSION_DENIED when a directory or
// the file cannot be created or opened for writing (EACCES, EPERM, EROFS); UNAVAILABLE for other errors.
// Messages name the path and the errno text.
absl::Status PrepareStateFile(const std::string& path);

}  // namespace inplaced::store
