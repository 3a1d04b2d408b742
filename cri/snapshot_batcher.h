#pragma once

// SnapshotBatcher: a burst of node reads served by a few reads, the way GroupCommitter serves
// concurrent writes with one fsync.
//
// A Create that was given no status context reads its pod (two List calls, O(pod)) to record which
// container instances it will recreate. 200 Creates at once would cost the runtime 400 List calls,
// and the kills already decided would queue behind them at the runtime. So up to
// `max_targeted_reads` callers read their own pod at once; the callers beyond them share whole-node
// reads: those arriving while one runs wait for it to end, then share the next one (two calls,
// whatever their number).
//
// Freshness is what each caller's own read would give: a caller gets a read that started after it
// called, never one already running when it arrived (that read may predate a container the caller
// knows of). Errors are shared by the round that met them.
//
// Thread-safe. Read blocks the caller for at most two reads (the running one, then its own).

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cri/runtime.h"
#include "cri/snapshot.h"

namespace inplaced::cri {

class SnapshotBatcher {
 public:
  using TargetedRead = std::function<absl::StatusOr<NodeSnapshot>()>;

  // `runtime` must outlive the batcher. Targeted reads past `max_targeted_reads` (at least 1)
  // running at once are batched.
  SnapshotBatcher(Runtime& runtime, int max_targeted_reads);
  SnapshotBatcher(const SnapshotBatcher&) = delete;
  SnapshotBatcher& operator=(const SnapshotBatcher&) = delete;

  // A snapshot whose List calls started after this call: `alone`'s (the caller's own targeted
  // read) while fewer than max_targeted_reads run, else a TakeSnapshot shared by a round.
  absl::StatusOr<std::shared_ptr<const NodeSnapshot>> Read(const TargetedRead& alone);

  struct Stats {
    int64_t callers = 0;     // Read calls answered
    int64_t targeted = 0;    // of them, answered by their own targeted read
    int64_t whole_node = 0;  // whole-node reads made for the others
  };
  Stats stats();
  // Callers waiting for their round's read to start or end (for tests).
  int waiting();

 private:
  // The callers of one whole-node read. Callers join the round that has not started yet (next_).
  struct Round {
    bool done = false;
    absl::StatusOr<std::shared_ptr<const NodeSnapshot>> result;
  };

  // Joins the round that has not started, and reads for it or waits for its read. Unlocks mu_
  // while reading.
  absl::StatusOr<std::shared_ptr<const NodeSnapshot>> ReadInRound()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Runtime& runtime_;
  const int max_targeted_reads_;
  absl::Mutex mu_;
  int targeted_running_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<Round> next_ ABSL_GUARDED_BY(mu_);
  bool whole_node_running_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::cri
