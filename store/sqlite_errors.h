#pragma once

// Maps SQLite result codes to absl::Status with a message naming the database path, the operation
// and SQLite's own explanation (plus errno for I/O failures):
//   SQLITE_CORRUPT, SQLITE_NOTADB           -> DATA_LOSS
//   SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH -> PERMISSION_DENIED
//   SQLITE_CANTOPEN, SQLITE_IOERR           -> PERMISSION_DENIED when errno is EACCES/EPERM/EROFS,
//                                              else UNAVAILABLE
//   SQLITE_BUSY, SQLITE_LOCKED              -> UNAVAILABLE
//   SQLITE_FULL                             -> RESOURCE_EXHAUSTED
//   SQLITE_TOOBIG                           -> INVALID_ARGUMENT
//   anything else                           -> INTERNAL
// Stateless and thread-safe (reads the connection's last error: call under the connection's lock).

#include <sqlite3.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inplaced::store {

// The status for result code `rc` of `operation` on the database at `path`; `db` (may be null)
// supplies the detailed message and errno.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view path, absl::string_view operation);

}  // namespace inplaced::store
