#pragma once

// TimerQueue: runs callbacks at given times on one thread of its own, so that a bounded wait holds
// no thread while it waits. The recreate engine answers a Create once its request is durable (a
// continuation of the group committer) or, when the store does not take it in time, at the bound
// (a timer here), whichever comes first: store::WhenDurableWithin.
//
// Times are real time (absl::Now()): the bounds it serves are on real waits (a store's fsync), like
// absl::Notification::WaitForNotificationWithTimeout. Callbacks run one at a time, in time order
// (equal times in the order scheduled), without the queue's lock held; they must be short, since
// a slow one delays the others. The thread starts with the first Schedule(): a daemon that never
// needs a timer holds no thread for it.
//
// Thread-safe; Schedule() and Cancel() may be called from a callback.

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace inplaced {

class TimerQueue {
 public:
  TimerQueue() = default;
  // Shutdown().
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // A scheduled callback, for Cancel().
  struct Handle {
    absl::Time at;
    uint64_t order = 0;
  };

  // Runs `callback` on the queue's thread at `at` (at once when `at` has passed). After Shutdown()
  // began it is dropped, never run.
  Handle Schedule(absl::Time at, std::function<void()> callback);

  // Drops the callback if it has not begun (a bound whose wait ended otherwise: no wake-up for it,
  // nothing kept until its time). No effect once it began or after Shutdown().
  void Cancel(const Handle& handle);

  // Drops the callbacks not run yet (one running finishes) and joins the thread. Idempotent; must
  // not be called from a callback.
  void Shutdown();

  // Callbacks scheduled and not run yet.
  size_t Pending();

 private:
  void Run();

  absl::Mutex mu_;
  absl::CondVar changed_;  // a new earliest time, or stopping_
  // By (time, order scheduled): begin() is the next to run.
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  uint64_t scheduled_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);  // started by the first Schedule()
};

}  // namespace inplaced
