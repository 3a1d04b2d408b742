#include "common/timer_queue.h"

namespace inplaced {

TimerQueue::~TimerQueue() { Shutdown(); }

TimerQueue::Handle TimerQueue::Schedule(absl::Time at, std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  const Handle handle{at, scheduled_++};
  if (stopping_) return handle;
  const auto it = timers_.emplace(std::make_pair(at, handle.order), std::move(callback)).first;
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { Run(); });
  } else if (it == timers_.begin()) {
    changed_.Signal();  // the thread sleeps until a later time
  }
  return handle;
}

void TimerQueue::Cancel(const Handle& handle) {
  std::function<void()> dropped;
  absl::MutexLock lock(&mu_);
  const auto it = timers_.find(std::make_pair(handle.at, handle.order));
  if (it == timers_.end()) return;
  // Not signalled: if it was the earliest, the thread wakes at its time once and finds nothing due.
  dropped = std::move(it->second);
  timers_.erase(it);
}

void TimerQueue::Shutdown() {
  std::thread thread;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    dropped.swap(timers_);
    thread.swap(thread_);
    changed_.Signal();
  }
  // Destroyed outside the lock: a callback's captures may run code of their own.
  dropped.clear();
  if (thread.joinable()) thread.join();
}

size_t TimerQueue::Pending() {
  absl::MutexLock lock(&mu_);
  return timers_.size();
}

void TimerQueue::Run() {
  std::function<void()> due;
  while (true) {
    if (due) {
      due();
      due = nullptr;  // its captures go before the lock is taken again
    }
    absl::MutexLock lock(&mu_);
    while (!stopping_ && !due) {
      if (timers_.empty()) {
        changed_.Wait(&mu_);
        continue;
      }
      const auto first = timers_.begin();
      if (absl::Now() < first->first.first) {
        changed_.WaitWithDeadline(&mu_, first->first.first);
        continue;
      }
      due = std::move(first->second);
      timers_.erase(first);
    }
    if (stopping_) return;
  }
}

}  // namespace inplaced
