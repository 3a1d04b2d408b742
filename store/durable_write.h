#pragma once

// DurableWrite: one write queued on a GroupCommitter, as the engine that queued it sees it. The
// side effects the write announces are chained to it (WhenDurable) and start once it is durable; an
// API call that changed state waits for it (AwaitDurable) before it answers. Both engines use it,
// so that the rule "a side effect starts only after its step is durable" has one implementation.
//
// A null DurableRef means "nothing was queued": it counts as durable (OK).
//
// Thread-safe. The continuations run on the committer thread (or at once on the caller's thread
// when the write is already done), without any lock of this file held.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/timer_queue.h"
#include "store/group_committer.h"
#include "store/store.h"

namespace inplaced::store {

class DurableWrite {
 public:
  DurableWrite() = default;
  DurableWrite(const DurableWrite&) = delete;
  DurableWrite& operator=(const DurableWrite&) = delete;

  // Records the write's outcome, runs the continuations added so far (in order, on this thread),
  // then wakes the waiters: a caller told "done" finds the side effects already on their way.
  // Called once, by the committer's callback (or by a test).
  void Finish(absl::Status status);

 private:
  friend void WhenDurable(const std::shared_ptr<DurableWrite>& write,
                          std::function<void(absl::Status)> next);
  friend absl::Status AwaitDurable(const std::shared_ptr<DurableWrite>& write,
                                   absl::Duration timeout);

  absl::Notification done_;
  absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void(absl::Status)>> continuations_ ABSL_GUARDED_BY(mu_);
};

using DurableRef = std::shared_ptr<DurableWrite>;

// Queues `write` on `committer`. A write that is refused or abandoned at shutdown is logged as
// `log_event` with the write's key: nothing chained to it starts, and the next daemon resumes from
// what is durable.
DurableRef SubmitDurable(GroupCommitter& committer, Write write, const char* log_event);

// Runs `next` with the write's status once it is done: at once, on this thread, if it already is
// (or `write` is null: OK), else from the committer's callback, on the committer thread. So `next`
// must be short and never block: it takes its engine's lock briefly and starts asynchronous calls.
// Never call it under a lock `next` takes.
void WhenDurable(const DurableRef& write, std::function<void(absl::Status)> next);

// Waits up to `timeout` for `write` (not under the engine's lock): its status, or UNAVAILABLE
// saying the change is retried.
absl::Status AwaitDurable(const DurableRef& write, absl::Duration timeout);

// AwaitDurable without a waiting thread: runs `next` exactly once, with what AwaitDurable would
// return: the write's status once it is done (as WhenDurable: at once, or on the committer thread),
// or, when `timeout` passes first, the same UNAVAILABLE, on `timers`' thread (the write stays
// queued). If `timers` was shut down, only the write's status comes. `next` must be short and never
// block; `timers` must outlive the write's continuations.
void WhenDurableWithin(const DurableRef& write, absl::Duration timeout, TimerQueue& timers,
                       std::function<void(absl::Status)> next);

}  // namespace inplaced::store
