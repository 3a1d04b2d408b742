#pragma once

// SqliteStore: the durable Store (store.h) in one SQLite database file.
//
// Durability contract: when a write (Apply, or Create, Update, Delete) returns OK, it is on stable
// storage as far as the filesystem honours fsync: it survives kill -9 of the daemon at any point
// and a power loss. Callers rely on this to persist their intent before each side effect (write
// "killing container X", then kill). A write that returns an error was not applied (the
// transaction is rolled back), except that an I/O error while committing can leave the outcome
// unknown: re-read the record before retrying. How: WAL journal with synchronous=FULL (every commit
// fsyncs the log), one transaction per batch (a single write is a batch of one; Apply is group
// commit, one fsync); the revision sequence lives in the same transaction, so it never goes back.
//
// Files: the database at `path` and SQLite's `path`-wal and `path`-shm beside it, all mode 0600
// (the state can hold image pull secrets); missing parent directories are created with mode 0700.
// ":memory:" opens a private in-memory database (tests; nothing is durable then).
//
// Exclusive: one SqliteStore per database file at a time, across processes (StateLock, the file
// `path`.lock beside it); a second Open fails with FAILED_PRECONDITION until the first store is
// destroyed or its process dies.
//
// Thread-safe: calls are serialized on one connection.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "store/sqlite_handle.h"
#include "store/state_lock.h"
#include "store/store.h"

namespace inplaced::store {

struct SqliteStoreOptions {
  // How long a write waits for a lock held by another connection before UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if missing) the store at `path` and migrates its schema to the current version.
  // Errors name the path:
  //   INVALID_ARGUMENT     empty path, a directory, a symlink, a path through a regular file;
  //   PERMISSION_DENIED    the file or a parent directory cannot be created/opened for writing;
  //   DATA_LOSS            the file is not a SQLite database or is corrupt;
  //   FAILED_PRECONDITION  another SqliteStore has it open (this process or another), or its schema
  //                        is newer than this build knows (see sqlite_schema.h);
  //   UNAVAILABLE          other I/O failures, or the database stayed locked past busy_timeout.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           const SqliteStoreOptions& options = {});

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override = default;

  absl::StatusOr<Record> Get(absl::string_view kind, absl::string_view key) override;
  absl::StatusOr<std::vector<WriteResult>> Apply(const std::vector<Write>& writes) override;
  absl::StatusOr<ListPage> List(absl::string_view kind, const ListOptions& options) override;
  absl::StatusOr<std::vector<Record>> ListAll(absl::string_view kind) override;
  absl::StatusOr<int64_t> Count(absl::string_view kind) override;
  absl::StatusOr<int64_t> CurrentRevision() override;

  // Runs SQLite's full integrity check (reads the whole file: for diagnostics, not the startup
  // path). DATA_LOSS with SQLite's findings when the database is damaged.
  absl::Status CheckIntegrity();

  const std::string& path() const { return path_; }

 private:
  // Prepared once at Open, reused by every call (under mu_).
  struct Statements {
    StatementHandle begin;
    StatementHandle commit;
    StatementHandle rollback;
    StatementHandle next_revision;
    StatementHandle current_revision;
    StatementHandle select_revision;
    StatementHandle get;
    StatementHandle insert;
    StatementHandle update;
    StatementHandle remove;
    StatementHandle list;
    StatementHandle list_all;
    StatementHandle count;
  };

  SqliteStore(std::string path, std::optional<StateLock> lock, DatabaseHandle db,
              Statements statements);

  static absl::StatusOr<Statements> Prepare(sqlite3* db, const std::string& path);

  // One write inside Apply's transaction: reads the record's current revision (0 when absent),
  // lets CheckWrite refuse it (the inner status), else takes the next store revision and writes.
  // The outer status is a failed statement: the whole batch fails.
  absl::StatusOr<WriteResult> ApplyOneLocked(const Write& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> SelectRevisionLocked(absl::string_view kind, absl::string_view key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StepDone(sqlite3_stmt* statement, absl::string_view operation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(int rc, absl::string_view operation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  // Released last, after the connection is closed (absent for ":memory:").
  std::optional<StateLock> lock_;
  absl::Mutex mu_;
  // Declared before statements_ so the statements are finalized first.
  DatabaseHandle db_ ABSL_GUARDED_BY(mu_);
  Statements statements_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::store
