#pragma once

// An in-memory Store with exactly the contract of store.h (the same contract tests run against it
// and SqliteStore), for unit tests of the modules built on the store. Nothing survives the object.
//
// Thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "store/store.h"

namespace inplaced::fakes {

class MemoryStore final : public store::Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  absl::StatusOr<store::Record> Get(absl::string_view kind, absl::string_view key) override;
  absl::StatusOr<std::vector<store::WriteResult>> Apply(
      const std::vector<store::Write>& writes) override;
  absl::StatusOr<store::ListPage> List(absl::string_view kind,
                                       const store::ListOptions& options) override;
  absl::StatusOr<std::vector<store::Record>> ListAll(absl::string_view kind) override;
  absl::StatusOr<int64_t> Count(absl::string_view kind) override;
  absl::StatusOr<int64_t> CurrentRevision() override;

  // The number of durable units written so far (each Apply batch, single writes included): what
  // would be an fsync each in SqliteStore. Lets tests see group commit.
  int64_t batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  store::WriteResult ApplyLocked(const store::Write& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Keyed by (kind, key); std::string compares bytes as unsigned char, the same order as SQLite's
  // memcmp on BLOBs, so both stores page identically.
  using RecordMap = std::map<std::pair<std::string, std::string>, store::Record>;

  absl::Mutex mu_;
  RecordMap records_ ABSL_GUARDED_BY(mu_);
  int64_t last_revision_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace inplaced::fakes
