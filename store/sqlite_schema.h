#pragma once

// The SqliteStore schema and its migrations.
//
// The database holds:
//   meta(name TEXT PRIMARY KEY, value INTEGER): "schema_version" and "last_revision" (the store-wide
//     revision sequence, kept in the database so it never goes back after a restart or a deletion);
//   records(kind BLOB, key BLOB, value BLOB, revision INTEGER, create_revision INTEGER,
//     PRIMARY KEY (kind, key)): the records; BLOB columns so keys compare bytewise.
//
// A migration moves the schema from version N-1 to N; kMigrations[N-1] is that step, so the current
// version is the number of steps. A new schema version appends a step (never edits an old one). An
// empty database is version 0.
//
// Not thread-safe: called once per connection while opening, before the store is shared.

#include <sqlite3.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inplaced::store {

// The schema version this build writes.
int64_t CurrentSchemaVersion();

// Brings the database at `db` (path `path`, for messages) to CurrentSchemaVersion() inside one
// transaction: creates it when empty, runs the pending migration steps otherwise.
// FAILED_PRECONDITION when the database has a newer schema than this build knows (refuse rather
// than misread it); DATA_LOSS when the file is not a database or is corrupt; other SqliteError
// codes for I/O failures.
absl::Status MigrateSchema(sqlite3* db, absl::string_view path);

}  // namespace inplaced::store
