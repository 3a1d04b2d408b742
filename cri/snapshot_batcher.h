#pragma once

// SnapshotBatcher: concurrent node reads served by one read, the way GroupCommitter serves
// concurrent writes with one fsync.
//
// A Create that was given no status context reads its pod (two List calls) to record which
// container instances it will recreate. 200 Creates at once would cost the runtime 400 List calls
// in a burst, and the kills already decided queue behind them at the runtime. Instead, callers that
// arrive while a read is running wait for it to end and then share one whole-node read (two calls,
// whatever their number); a caller that is alone does its own targeted read (O(pod), not O(node)).
//
// Freshness is what each caller's own read would give: a caller gets a read that started after it
// called, never one already running when it arrived (that read may predate a container the caller
// knows of). Errors are shared by the round that met them.
//
// Thread-safe. Read blocks the caller for at most two reads (the running one, then its own).

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

  // `runtime` must outlive the batcher.
  explicit SnapshotBatcher(Runtime& runtime) : runtime_(runtime) {}
  SnapshotBatcher(const SnapshotBatcher&) = delete;
  SnapshotBatcher& operator=(const SnapshotBatcher&) = delete;

  // A snapshot whose List calls started after this call: `alone`'s when the caller's round has no
  // other caller, else one TakeSnapshot shared by the round.
  absl::StatusOr<std::shared_ptr<const NodeSnapshot>> Read(const TargetedRead& alone);

  struct Stats {
    int64_t rounds = 0;        // reads made (targeted or whole-node)
    int64_t whole_node = 0;    // of them, whole-node reads shared by several callers
    int64_t callers = 0;       // Read calls served
  };
  Stats stats();
  // Callers waiting for their round to start or end (for tests).
  int waiting();

 private:
  // The callers of one read. Callers join the round that has not started yet (next_).
  struct Round {
    int callers = 0;
    bool done = false;
    absl::StatusOr<std::shared_ptr<const NodeSnapshot>> result;
  };

  Runtime& runtime_;
  absl::Mutex mu_;
  std::shared_ptr<Round> next_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::cri
