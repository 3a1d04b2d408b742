#include "store/sqlite_store.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#include "store/sqlite_errors.h"
#include "store/sqlite_schema.h"
#include "store/state_file.h"
#include "store/state_lock.h"
#include "store/validation.h"

namespace inplaced::store {
namespace {

constexpr char kMemoryPath[] = ":memory:";

// Upper bound of every key: 0xFF never occurs in UTF-8 (validation.h), so prefix + "\xFF" sorts
// after every key starting with prefix and before every greater key without it.
constexpr char kAfterEveryKey[] = "\xFF";

// SQLITE_STATIC: the bound bytes outlive the statement's use (the caller's arguments, reset by
// StatementScope before returning). A zero-length blob needs a non-null pointer, or SQLite binds
// NULL.
int BindBlob(sqlite3_stmt* statement, int index, absl::string_view bytes) {
  return sqlite3_bind_blob64(statement, index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                             SQLITE_STATIC);
}

std::string ColumnBytes(sqlite3_stmt* statement, int column) {
  const void* data = sqlite3_column_blob(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

absl::Status Exec(sqlite3* db, const std::string& path, const char* sql, absl::string_view what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, path, what);
  return absl::OkStatus();
}

// Switches the connection to WAL with synchronous=FULL. journal_mode answers with the mode in
// effect; it is also the first statement to read the file, so a file that is not a database fails
// here.
absl::Status ConfigureDurability(sqlite3* db, const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &raw, nullptr);
  StatementHandle statement(raw);
  if (rc != SQLITE_OK) return SqliteError(db, rc, path, "set journal mode");
  rc = sqlite3_step(statement.get());
  if (rc != SQLITE_ROW) return SqliteError(db, rc, path, "set journal mode");
  const std::string mode = ColumnBytes(statement.get(), 0);
  const std::string expected = path == kMemoryPath ? "memory" : "wal";
  if (mode != expected) {
    return absl::UnavailableError(absl::StrCat("state store ", path, ": journal mode is \"", mode,
                                               "\", want \"", expected, "\""));
  }
  // FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on power loss, and a lost "kill
  // issued" record would let a restarted daemon kill the same container twice.
  return Exec(db, path, "PRAGMA synchronous=FULL", "set synchronous");
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               const SqliteStoreOptions& options) {
  std::optional<StateLock> lock;
  if (path != kMemoryPath) {
    RETURN_IF_ERROR(PrepareStateDirectory(path));
    // Lock before touching the database file: PrepareStateFile closes a descriptor of it, which
    // would drop the POSIX locks of a connection this process already had open on it.
    ASSIGN_OR_RETURN(lock, StateLock::Acquire(path));
    RETURN_IF_ERROR(PrepareStateFile(path));
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: the store serializes every use of the connection on its own mutex.
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
      nullptr);
  DatabaseHandle db(raw);
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, path, "open");
  sqlite3_extended_result_codes(db.get(), 1);
  const int64_t busy_millis = std::clamp<int64_t>(absl::ToInt64Milliseconds(options.busy_timeout),
                                                  0, std::numeric_limits<int>::max());
  sqlite3_busy_timeout(db.get(), static_cast<int>(busy_millis));
  RETURN_IF_ERROR(ConfigureDurability(db.get(), path));
  RETURN_IF_ERROR(MigrateSchema(db.get(), path));
  ASSIGN_OR_RETURN(Statements statements, Prepare(db.get(), path));
  auto store = std::unique_ptr<SqliteStore>(
      new SqliteStore(path, std::move(lock), std::move(db), std::move(statements)));
  ASSIGN_OR_RETURN(const int64_t revision, store->CurrentRevision());
  spdlog::info("state_store_open path={} schema_version={} revision={}", path,
               CurrentSchemaVersion(), revision);
  return store;
}

SqliteStore::SqliteStore(std::string path, std::optional<StateLock> lock, DatabaseHandle db,
                         Statements statements)
    : path_(std::move(path)),
      lock_(std::move(lock)),
      db_(std::move(db)),
      statements_(std::move(statements)) {}

absl::StatusOr<SqliteStore::Statements> SqliteStore::Prepare(sqlite3* db, const std::string& path) {
  Statements statements;
  const std::pair<StatementHandle*, const char*> sources[] = {
      {&statements.begin, "BEGIN IMMEDIATE"},
      {&statements.commit, "COMMIT"},
      {&statements.rollback, "ROLLBACK"},
      {&statements.next_revision,
       "UPDATE meta SET value = value + 1 WHERE name = 'last_revision' RETURNING value"},
      {&statements.current_revision, "SELECT value FROM meta WHERE name = 'last_revision'"},
      {&statements.select_revision, "SELECT revision FROM records WHERE kind = ?1 AND key = ?2"},
      {&statements.get,
       "SELECT value, revision, create_revision FROM records WHERE kind = ?1 AND key = ?2"},
      {&statements.insert,
       "INSERT INTO records(kind, key, value, revision, create_revision) VALUES (?1, ?2, ?3, ?4, "
       "?4)"},
      {&statements.update,
       "UPDATE records SET value = ?3, revision = ?4 WHERE kind = ?1 AND key = ?2"},
      {&statements.remove, "DELETE FROM records WHERE kind = ?1 AND key = ?2"},
      {&statements.list,
       "SELECT key, value, revision, create_revision FROM records"
       " WHERE kind = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4"},
      {&statements.list_all,
       "SELECT key, value, revision, create_revision FROM records WHERE kind = ?1 ORDER BY key"},
      {&statements.count, "SELECT count(*) FROM records WHERE kind = ?1"},
  };
  for (const auto& [handle, sql] : sources) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    handle->reset(raw);
    if (rc != SQLITE_OK) return SqliteError(db, rc, path, absl::StrCat("prepare \"", sql, "\""));
  }
  return statements;
}

absl::Status SqliteStore::Error(int rc, absl::string_view operation) {
  return SqliteError(db_.get(), rc, path_, operation);
}

absl::Status SqliteStore::StepDone(sqlite3_stmt* statement, absl::string_view operation) {
  StatementScope scope(statement);
  const int rc = sqlite3_step(statement);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(rc, operation);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SqliteStore::SelectRevisionLocked(absl::string_view kind,
                                                          absl::string_view key) {
  StatementScope scope(statements_.select_revision.get());
  BindBlob(scope.get(), 1, kind);
  BindBlob(scope.get(), 2, key);
  const int rc = sqlite3_step(scope.get());
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return Error(rc, "read revision");
  return sqlite3_column_int64(scope.get(), 0);
}

absl::StatusOr<WriteResult> SqliteStore::ApplyOneLocked(const Write& write) {
  ASSIGN_OR_RETURN(const int64_t current, SelectRevisionLocked(write.kind, write.key));
  // A refusal is the write's own answer and changes nothing; only a failed statement fails the
  // batch.
  if (absl::Status refused = CheckWrite(write, current); !refused.ok()) return WriteResult(refused);
  int64_t revision = 0;
  {
    // The sequence is read and bumped inside the transaction, not cached: after a commit whose
    // outcome was unknown, the next write still continues from what the file holds.
    StatementScope scope(statements_.next_revision.get());
    const int rc = sqlite3_step(scope.get());
    if (rc != SQLITE_ROW) return Error(rc, "next revision");
    revision = sqlite3_column_int64(scope.get(), 0);
  }
  sqlite3_stmt* statement = nullptr;
  const char* operation = "";
  switch (write.op) {
    case Write::Op::kCreate:
      statement = statements_.insert.get();
      operation = "create";
      break;
    case Write::Op::kUpdate:
      statement = statements_.update.get();
      operation = "update";
      break;
    case Write::Op::kDelete:
      statement = statements_.remove.get();
      operation = "delete";
      break;
  }
  StatementScope scope(statement);
  BindBlob(scope.get(), 1, write.kind);
  BindBlob(scope.get(), 2, write.key);
  if (write.op != Write::Op::kDelete) {
    BindBlob(scope.get(), 3, write.value);
    sqlite3_bind_int64(scope.get(), 4, revision);
  }
  const int rc = sqlite3_step(scope.get());
  if (rc != SQLITE_DONE) return Error(rc, absl::StrCat(operation, " ", write.kind, " ", write.key));
  return WriteResult(revision);
}

absl::StatusOr<std::vector<WriteResult>> SqliteStore::Apply(const std::vector<Write>& writes) {
  std::vector<WriteResult> results;
  results.reserve(writes.size());
  for (const Write& write : writes) {
    absl::Status valid = ValidateWrite(write);
    // 0 stands for "not applied yet" until the write runs below.
    results.push_back(valid.ok() ? WriteResult(0) : WriteResult(std::move(valid)));
  }
  absl::MutexLock lock(&mu_);
  // IMMEDIATE: take the write lock before reading, so each revision check and its write are atomic
  // even against another connection.
  RETURN_IF_ERROR(StepDone(statements_.begin.get(), "begin transaction"));
  auto body = [&]() -> absl::Status {
    for (size_t i = 0; i < writes.size(); ++i) {
      if (!results[i].status().ok()) continue;  // invalid: never reached the database
      ASSIGN_OR_RETURN(results[i], ApplyOneLocked(writes[i]));
    }
    return StepDone(statements_.commit.get(), "commit");
  };
  const absl::Status committed = body();
  if (!committed.ok()) {
    // Still inside the transaction after a failed statement: undo all of it. Its own failure
    // changes nothing for the caller, who already gets the first error.
    if (sqlite3_get_autocommit(db_.get()) == 0) {
      StepDone(statements_.rollback.get(), "rollback").IgnoreError();
    }
    return committed;
  }
  return results;
}

absl::StatusOr<Record> SqliteStore::Get(absl::string_view kind, absl::string_view key) {
  RETURN_IF_ERROR(ValidateId(kind, key));
  absl::MutexLock lock(&mu_);
  StatementScope scope(statements_.get.get());
  BindBlob(scope.get(), 1, kind);
  BindBlob(scope.get(), 2, key);
  const int rc = sqlite3_step(scope.get());
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat(kind, " ", key, ": not found"));
  if (rc != SQLITE_ROW) return Error(rc, absl::StrCat("get ", kind, " ", key));
  return Record{std::string(kind), std::string(key), ColumnBytes(scope.get(), 0),
                sqlite3_column_int64(scope.get(), 1), sqlite3_column_int64(scope.get(), 2)};
}

absl::StatusOr<ListPage> SqliteStore::List(absl::string_view kind, const ListOptions& options) {
  RETURN_IF_ERROR(ValidateKind(kind));
  RETURN_IF_ERROR(ValidateListOptions(options));
  // key > after_key is key >= after_key + "\0" (the smallest longer key), which folds both lower
  // bounds into one range the (kind, key) index serves.
  std::string lower = options.prefix;
  if (!options.after_key.empty()) {
    std::string after = options.after_key + '\0';
    if (after > lower) lower = std::move(after);
  }
  const std::string upper = options.prefix + kAfterEveryKey;
  ListPage page;
  absl::MutexLock lock(&mu_);
  StatementScope scope(statements_.list.get());
  BindBlob(scope.get(), 1, kind);
  BindBlob(scope.get(), 2, lower);
  BindBlob(scope.get(), 3, upper);
  // One row more than the page tells whether another page follows.
  sqlite3_bind_int64(scope.get(), 4, int64_t{options.limit} + 1);
  int rc;
  while ((rc = sqlite3_step(scope.get())) == SQLITE_ROW) {
    if (page.records.size() == static_cast<size_t>(options.limit)) {
      page.next_after_key = page.records.back().key;
      break;
    }
    page.records.push_back(Record{std::string(kind), ColumnBytes(scope.get(), 0),
                                  ColumnBytes(scope.get(), 1), sqlite3_column_int64(scope.get(), 2),
                                  sqlite3_column_int64(scope.get(), 3)});
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error(rc, absl::StrCat("list ", kind));
  return page;
}

absl::StatusOr<std::vector<Record>> SqliteStore::ListAll(absl::string_view kind) {
  RETURN_IF_ERROR(ValidateKind(kind));
  std::vector<Record> records;
  absl::MutexLock lock(&mu_);
  StatementScope scope(statements_.list_all.get());
  BindBlob(scope.get(), 1, kind);
  int rc;
  while ((rc = sqlite3_step(scope.get())) == SQLITE_ROW) {
    records.push_back(Record{std::string(kind), ColumnBytes(scope.get(), 0),
                             ColumnBytes(scope.get(), 1), sqlite3_column_int64(scope.get(), 2),
                             sqlite3_column_int64(scope.get(), 3)});
  }
  if (rc != SQLITE_DONE) return Error(rc, absl::StrCat("list all ", kind));
  return records;
}

absl::StatusOr<int64_t> SqliteStore::Count(absl::string_view kind) {
  RETURN_IF_ERROR(ValidateKind(kind));
  absl::MutexLock lock(&mu_);
  StatementScope scope(statements_.count.get());
  BindBlob(scope.get(), 1, kind);
  const int rc = sqlite3_step(scope.get());
  if (rc != SQLITE_ROW) return Error(rc, absl::StrCat("count ", kind));
  return sqlite3_column_int64(scope.get(), 0);
}

absl::StatusOr<int64_t> SqliteStore::CurrentRevision() {
  absl::MutexLock lock(&mu_);
  StatementScope scope(statements_.current_revision.get());
  const int rc = sqlite3_step(scope.get());
  if (rc == SQLITE_DONE) {
    return absl::DataLossError(absl::StrCat("state store ", path_, ": revision counter missing"));
  }
  if (rc != SQLITE_ROW) return Error(rc, "read current revision");
  return sqlite3_column_int64(scope.get(), 0);
}

absl::Status SqliteStore::CheckIntegrity() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), "PRAGMA integrity_check", -1, &raw, nullptr);
  StatementHandle statement(raw);
  if (rc != SQLITE_OK) return Error(rc, "integrity check");
  std::string findings;
  while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
    const std::string line = ColumnBytes(statement.get(), 0);
    if (line != "ok") absl::StrAppend(&findings, findings.empty() ? "" : "; ", line);
  }
  if (rc != SQLITE_DONE) return Error(rc, "integrity check");
  if (!findings.empty()) {
    return absl::DataLossError(
        absl::StrCat("state store ", path_, ": integrity check failed: ", findings));
  }
  return absl::OkStatus();
}

}  // namespace inplaced::store
