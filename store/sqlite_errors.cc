#include "store/sqlite_errors.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace inplaced::store {
namespace {

absl::StatusCode CodeFor(int primary, int system_errno) {
  switch (primary) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      return system_errno == EACCES || system_errno == EPERM || system_errno == EROFS
                 ? absl::StatusCode::kPermissionDenied
                 : absl::StatusCode::kUnavailable;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_TOOBIG:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view path, absl::string_view operation) {
  const int primary = rc & 0xFF;
  // The connection's message is more specific than sqlite3_errstr (it names the failing object),
  // but only when it belongs to this result code.
  std::string detail = sqlite3_errstr(rc);
  int system_errno = 0;
  if (db != nullptr && (sqlite3_extended_errcode(db) & 0xFF) == primary) {
    detail = sqlite3_errmsg(db);
    system_errno = sqlite3_system_errno(db);
  }
  std::string message = absl::StrCat("state store ", path, ": ", operation, ": ", detail);
  if (system_errno != 0 && (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR ||
                            primary == SQLITE_FULL || primary == SQLITE_READONLY)) {
    absl::StrAppend(&message, " (", std::strerror(system_errno), ")");
  }
  return absl::Status(CodeFor(primary, system_errno), message);
}

}  // namespace inplaced::store
