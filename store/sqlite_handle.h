#pragma once

// RAII owners of SQLite's C handles, and a guard that resets a cached prepared statement after use.
// Not thread-safe by themselves: a connection and its statements are used under the owner's lock.

#include <sqlite3.h>

#include <memory>

namespace inplaced::store {

struct DatabaseCloser {
  // sqlite3_close_v2 defers the close until the last statement is finalized, so destruction order
  // of a connection and its statements cannot leak the connection.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// Resets a prepared statement and clears its bindings when the scope ends, so a cached statement is
// always ready for the next use, whichever path left the scope, and holds no read transaction open.
class StatementScope {
 public:
  explicit StatementScope(sqlite3_stmt* statement) : statement_(statement) {}
  ~StatementScope() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  StatementScope(const StatementScope&) = delete;
  StatementScope& operator=(const StatementScope&) = delete;

  sqlite3_stmt* get() const { return statement_; }

 private:
  sqlite3_stmt* statement_;
};

}  // namespace inplaced::store
