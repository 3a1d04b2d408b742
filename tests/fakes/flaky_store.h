#pragma once

// A MemoryStore whose writes fail while fail_writes is set: a full disk, a broken state file. Reads
// always answer. A failing write (a batch, or a single write: a batch of one) fails whole, nothing
// written, like SqliteStore's. Every value written to a key is kept (ValuesWritten): the steps a
// record went through on disk.

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "store/store.h"
#include "tests/fakes/memory_store.h"

namespace inplaced::fakes {

class FlakyStore final : public store::Store {
 public:
  absl::StatusOr<store::Record> Get(absl::string_view kind, absl::string_view key) override {
    return inner_.Get(kind, key);
  }
  absl::StatusOr<std::vector<store::WriteResult>> Apply(
      const std::vector<store::Write>& writes) override {
    if (fail_writes) return Failure();
    absl::StatusOr<std::vector<store::WriteResult>> applied = inner_.Apply(writes);
    if (applied.ok()) {
      absl::MutexLock lock(&mu_);
      for (const store::Write& write : writes) written_[write.key].push_back(write.value);
    }
    return applied;
  }
  // The values written to `key` (any kind), in order; a delete writes "".
  std::vector<std::string> ValuesWritten(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return written_[key];
  }
  absl::StatusOr<store::ListPage> List(absl::string_view kind,
                                       const store::ListOptions& options) override {
    return inner_.List(kind, options);
  }
  absl::StatusOr<std::vector<store::Record>> ListAll(absl::string_view kind) override {
    return inner_.ListAll(kind);
  }
  absl::StatusOr<int64_t> Count(absl::string_view kind) override { return inner_.Count(kind); }
  absl::StatusOr<int64_t> CurrentRevision() override { return inner_.CurrentRevision(); }

  MemoryStore& inner() { return inner_; }

  std::atomic<bool> fail_writes{false};

 private:
  static absl::Status Failure() { return absl::UnavailableError("disk I/O error"); }

  MemoryStore inner_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::string>> written_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::fakes
