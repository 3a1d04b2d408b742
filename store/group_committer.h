#pragma once

// GroupCommitter: durable writes without holding the caller's lock for an fsync.
//
// The engines decide changes under their own lock and Submit() the writes here, which only queues
// them. One committer thread takes everything queued at that moment and writes it with one
// Store::Apply (one transaction, one fsync: group commit), then runs each write's `done` callback in
// submission order. A caller starts the side effect a write announces ("stop sent", "hook started")
// from its `done`, so the effect starts only once its step is durable, and an fsync is shared by
// every change that was ready at the same time instead of being paid one by one under a lock.
//
// Failures: a write the store refuses on its own (ALREADY_EXISTS, NOT_FOUND, ABORTED,
// INVALID_ARGUMENT) gets that error in its `done`. A batch the store cannot write at all (I/O error,
// full disk, locked database) is not dropped and not reordered: the committer logs it and retries
// the same batch with backoff (retry_initial doubling up to retry_max), holding back every later
// write, until it is written or Shutdown() gives up on it (then each `done` gets UNAVAILABLE and
// nothing of it is durable). Callers waiting for a write bound their own wait.
//
// Thread-safe. `done` callbacks run on the committer thread without its lock held: they may call
// Submit() but must not block on Flush().

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "store/store.h"

namespace inplaced::store {

struct GroupCommitterOptions {
  // The most writes in one batch (a bound on one transaction's size and on a callback burst).
  int max_batch = 1024;
  absl::Duration retry_initial = absl::Milliseconds(50);
  absl::Duration retry_max = absl::Seconds(2);
};

class GroupCommitter {
 public:
  using Done = std::function<void(const WriteResult&)>;

  // Starts the committer thread. `store` must outlive the committer.
  explicit GroupCommitter(Store& store, GroupCommitterOptions options = {});
  // Shutdown(absl::ZeroDuration()) after writing what was queued (one attempt).
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Queues `write`; never blocks on the store. `done` (may be empty) runs once, on the committer
  // thread, when the batch holding the write was applied (with the write's revision or refusal) or
  // abandoned by Shutdown (UNAVAILABLE). After Shutdown began, `done` runs at once, on the caller's
  // thread, with UNAVAILABLE.
  void Submit(Write write, Done done);

  // Blocks until every write submitted before the call is done (its callback returned). Not from a
  // `done` callback, nor under a Hold.
  void Flush();

  // While a Hold lives the committer starts no new batch, so the writes submitted under it (the
  // parts of one decision, a tick's changes) go out in one batch and one fsync instead of the
  // first one alone as soon as it is queued. Keep it to a short section that never waits for a
  // write (it holds back every writer); not from a `done` callback.
  class Hold {
   public:
    explicit Hold(GroupCommitter& committer);
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    GroupCommitter& committer_;
  };

  // Refuses new writes, lets the committer write what is queued, retrying a failing batch for up to
  // `retry_bound`, then abandons the rest (UNAVAILABLE) and joins the thread. Idempotent.
  void Shutdown(absl::Duration retry_bound);

  // Totals since the start: batches written (one fsync each) and writes in them. For metrics and
  // benchmarks.
  struct Stats {
    int64_t batches = 0;
    int64_t writes = 0;
  };
  Stats stats();

 private:
  struct Pending {
    Write write;
    Done done;
  };

  void Run();
  // Applies `batch`, retrying a failed batch while allowed; the results (one per write), or the last
  // batch error once Shutdown's bound passed.
  absl::StatusOr<std::vector<WriteResult>> ApplyWithRetry(const std::vector<Write>& batch);

  Store& store_;
  const GroupCommitterOptions options_;

  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;  // Holds alive
  // When the shutdown's retry bound ends (InfiniteFuture while running).
  absl::Time give_up_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // Writes submitted and writes done (callbacks returned): Flush waits for done >= its ticket.
  uint64_t submitted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);

  absl::Mutex join_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread thread_;  // joined under join_mu_
};

}  // namespace inplaced::store
