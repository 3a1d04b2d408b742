#pragma once

// Prepares the filesystem for a state database before SQLite opens it: the missing parent
// directories are created with mode 0700 and the file itself is created (or fixed) with mode 0600,
// so the state, which can hold image pull secrets, is never readable by other users, whatever the
// umask. SQLite gives its -wal and -shm files the database file's mode.
//
// Stateless and thread-safe.

#include <string>

#include "absl/status/status.h"

namespace inplaced::store {

// Creates the missing parent directories of `path` (mode 0700; existing ones are left alone).
// INVALID_ARGUMENT for an empty path, one ending in '/', naming an existing directory or running
// through a regular file; PERMISSION_DENIED when a directory cannot be created (EACCES, EPERM,
// EROFS); UNAVAILABLE for other errors. Messages name the path and the errno text.
absl::Status PrepareStateDirectory(const std::string& path);

// Creates the file at `path` if missing and sets its mode to 0600. Refuses a symlink
// (INVALID_ARGUMENT), so a link planted at the state path cannot redirect the daemon's writes; a
// directory is INVALID_ARGUMENT; errno errors as for PrepareStateDirectory. It opens and closes the
// file: call it before any SQLite connection to the same file exists in this process (closing any
// descriptor of a file drops the process's POSIX locks on it, SQLite's included).
absl::Status PrepareStateFile(const std::string& path);

}  // namespace inplaced::store
