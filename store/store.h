#pragma once

// The state store seam: durable records the recreate engine and the image puller keep across daemon
// restarts (serialized protobuf messages, opaque to the store).
//
// A record is identified by (kind, key): kind names the record type ("recreate", "nodeimage"), key
// the object within it ("namespace/name"). Every successful write (Create, Update, Delete) takes
// the next value of one store-wide, strictly increasing revision sequence, which survives restarts,
// so a caller can order changes across all records and resume a watch from a revision. A record's
// `revision` is the revision of its last write; Update and Delete can be made conditional on it
// (optimistic concurrency).
//
// Input rules, the same for every implementation (INVALID_ARGUMENT, the message starts with the
// field):
//   kind:  1..kMaxKindBytes bytes of [a-z0-9._-]                          "kind: ..."
//   key:   1..kMaxKeyBytes bytes of valid UTF-8 without NUL              "key: ..."
//   value: 0..kMaxValueBytes bytes, any content (empty is a valid value)  "value: ..."
//   expected_revision: kAnyRevision or > 0                                 "expected_revision: ..."
//   ListOptions: prefix and after_key as for keys but may be empty; limit 1..kMaxListLimit.
// Keys compare bytewise (memcmp order, which for UTF-8 is code point order); List pages follow it.
//
// Implementations are thread-safe: every method may be called concurrently; each call is atomic.
// Implementations: SqliteStore (durable, store/sqlite_store.h) and MemoryStore
// (tests/fakes/memory_store.h).

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::store {

// Limits of the inputs (see the rules above).
inline constexpr size_t kMaxKindBytes = 64;
inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxValueBytes = size_t{4} << 20;  // 4 MiB
inline constexpr int kMaxListLimit = 10000;

// expected_revision meaning "whatever the current revision is" (an unconditional write).
inline constexpr int64_t kAnyRevision = 0;

struct Record {
  std::string kind;
  std::string key;
  std::string value;
  // The store revision of the last write of this record (> 0).
  int64_t revision = 0;
  // The store revision at which the record was created (<= revision); orders records by creation.
  int64_t create_revision = 0;

  friend bool operator==(const Record& a, const Record& b) {
    return a.kind == b.kind && a.key == b.key && a.value == b.value && a.revision == b.revision &&
           a.create_revision == b.create_revision;
  }
};

// One page request of List: the records of a kind whose key starts with `prefix` and sorts strictly
// after `after_key`, in key order, at most `limit` of them.
struct ListOptions {
  std::string prefix;     // "" = every key; e.g. "default/" for one namespace
  std::string after_key;  // "" = from the first key; else the next_after_key of the previous page
  int limit = 100;
};

// One write of a batch (Store::Apply).
struct Write {
  enum class Op { kCreate, kUpdate, kDelete };
  Op op = Op::kUpdate;
  std::string kind;
  std::string key;
  std::string value;                         // kCreate, kUpdate
  int64_t expected_revision = kAnyRevision;  // kUpdate, kDelete

  static Write Create(std::string kind, std::string key, std::string value) {
    return Write{Op::kCreate, std::move(kind), std::move(key), std::move(value), kAnyRevision};
  }
  static Write Update(std::string kind, std::string key, std::string value,
                      int64_t expected_revision = kAnyRevision) {
    return Write{Op::kUpdate, std::move(kind), std::move(key), std::move(value), expected_revision};
  }
  static Write Delete(std::string kind, std::string key, int64_t expected_revision = kAnyRevision) {
    return Write{Op::kDelete, std::move(kind), std::move(key), "", expected_revision};
  }
};

// What Apply answers per write: its revision, or its refusal as the single call would give it.
using WriteResult = absl::StatusOr<int64_t>;

struct ListPage {
  std::vector<Record> records;
  // The after_key of the next page; empty when this page is the last one.
  std::string next_after_key;
};

class Store {
 public:
  virtual ~Store() = default;

  // The record (kind, key). NOT_FOUND when absent.
  virtual absl::StatusOr<Record> Get(absl::string_view kind, absl::string_view key) = 0;

  // The single writes are batches of one (Apply), answered with that write's result; an
  // implementation provides Apply only.
  //
  // Creates (kind, key) with `value`; returns its revision. ALREADY_EXISTS when it exists.
  absl::StatusOr<int64_t> Create(absl::string_view kind, absl::string_view key,
                                 absl::string_view value);

  // Replaces the value of (kind, key) if its revision is `expected_revision` (or unconditionally
  // with kAnyRevision); returns the new revision. NOT_FOUND when absent; ABORTED when the revision
  // is stale (the message gives both revisions), nothing written then.
  absl::StatusOr<int64_t> Update(absl::string_view kind, absl::string_view key,
                                 absl::string_view value, int64_t expected_revision);

  // Deletes (kind, key) if its revision is `expected_revision` (or unconditionally with
  // kAnyRevision); returns the revision of the deletion. NOT_FOUND when absent; ABORTED when the
  // revision is stale.
  absl::StatusOr<int64_t> Delete(absl::string_view kind, absl::string_view key,
                                 int64_t expected_revision);

  // Applies `writes` in order as one durable unit (one transaction, one fsync: group commit). Each
  // write succeeds or is refused on its own exactly as its single call would be (INVALID_ARGUMENT,
  // ALREADY_EXISTS, NOT_FOUND, ABORTED: nothing of it written) and sees the writes before it; the
  // accepted ones take consecutive revisions in order and become durable together. Returns one
  // result per write, or, when the batch as a whole could not be written (I/O error, locked
  // database), that error with nothing of the batch applied.
  virtual absl::StatusOr<std::vector<WriteResult>> Apply(const std::vector<Write>& writes) = 0;

  // One page of the records of `kind` (see ListOptions). A kind without records gives an empty
  // page.
  virtual absl::StatusOr<ListPage> List(absl::string_view kind, const ListOptions& options) = 0;

  // Every record of `kind` in key order: the startup reload.
  virtual absl::StatusOr<std::vector<Record>> ListAll(absl::string_view kind) = 0;

  // The number of records of `kind`.
  virtual absl::StatusOr<int64_t> Count(absl::string_view kind) = 0;

  // The revision of the last successful write to the store (0 for a new store). Never decreases,
  // including across restarts and deletions.
  virtual absl::StatusOr<int64_t> CurrentRevision() = 0;

 private:
  absl::StatusOr<int64_t> ApplyOne(Write write);
};

}  // namespace inplaced::store
