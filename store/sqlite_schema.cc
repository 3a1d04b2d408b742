#include "store/sqlite_schema.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "store/sqlite_errors.h"
#include "store/sqlite_handle.h"

namespace inplaced::store {
namespace {

// kMigrations[i] moves the schema from version i to i + 1. Append only.
constexpr const char* kMigrations[] = {
    // 0 -> 1: the records table. A rowid table with the (kind, key) key as a separate index, rather
    // than WITHOUT ROWID: values can be megabytes and WITHOUT ROWID suits small rows.
    "CREATE TABLE records ("
    "  kind BLOB NOT NULL,"
    "  key BLOB NOT NULL,"
    "  value BLOB NOT NULL,"
    "  revision INTEGER NOT NULL,"
    "  create_revision INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, key));"
    "INSERT OR IGNORE INTO meta(name, value) VALUES ('last_revision', 0);",
};

absl::Status Exec(sqlite3* db, absl::string_view path, const char* sql, absl::string_view what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, path, what);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadSchemaVersion(sqlite3* db, absl::string_view path) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = 'schema_version'", -1, &raw,
                              nullptr);
  StatementHandle statement(raw);
  if (rc != SQLITE_OK) return SqliteError(db, rc, path, "read schema version");
  rc = sqlite3_step(statement.get());
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return SqliteError(db, rc, path, "read schema version");
  return sqlite3_column_int64(statement.get(), 0);
}

absl::Status WriteSchemaVersion(sqlite3* db, absl::string_view path, int64_t version) {
  const std::string sql =
      absl::StrCat("INSERT INTO meta(name, value) VALUES ('schema_version', ", version,
                   ") ON CONFLICT(name) DO UPDATE SET value = excluded.value");
  return Exec(db, path, sql.c_str(), "write schema version");
}

absl::Status MigrateInTransaction(sqlite3* db, absl::string_view path) {
  RETURN_IF_ERROR(Exec(db, path,
                       "CREATE TABLE IF NOT EXISTS meta ("
                       "  name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
                       "create meta table"));
  ASSIGN_OR_RETURN(const int64_t version, ReadSchemaVersion(db, path));
  const int64_t current = CurrentSchemaVersion();
  if (version > current) {
    return absl::FailedPreconditionError(
        absl::StrCat("state store ", path, ": schema version ", version,
                     " is newer than this inplaced supports (", current,
                     "); refusing to open it (downgrade the state or upgrade inplaced)"));
  }
  if (version < 0) {
    return absl::DataLossError(
        absl::StrCat("state store ", path, ": invalid schema version ", version));
  }
  for (int64_t step = version; step < current; ++step) {
    RETURN_IF_ERROR(
        Exec(db, path, kMigrations[step], absl::StrCat("migrate schema to version ", step + 1)));
  }
  if (version != current) RETURN_IF_ERROR(WriteSchemaVersion(db, path, current));
  return absl::OkStatus();
}

}  // namespace

int64_t CurrentSchemaVersion() { return static_cast<int64_t>(std::size(kMigrations)); }

absl::Status MigrateSchema(sqlite3* db, absl::string_view path) {
  // IMMEDIATE takes the write lock up front: two processes opening a new file cannot both create
  // it.
  RETURN_IF_ERROR(Exec(db, path, "BEGIN IMMEDIATE", "begin schema transaction"));
  absl::Status status = MigrateInTransaction(db, path);
  if (status.ok()) status = Exec(db, path, "COMMIT", "commit schema transaction");
  if (!status.ok()) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

}  // namespace inplaced::store
