#include "common/executor.h"

#include <utility>

namespace inplaced {

ThreadPoolExecutor::ThreadPoolExecutor(int workers)
    : max_workers_(static_cast<size_t>(workers < 1 ? 1 : workers)) {}

ThreadPoolExecutor::~ThreadPoolExecutor() { Shutdown(); }

bool ThreadPoolExecutor::Submit(Job job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(job));
  // Each queued job needs a worker of its own, up to the bound.
  if (queue_.size() > idle_ && threads_.size() < max_workers_) {
    ++idle_;
    threads_.emplace_back([this] { Work(); });
  }
  return true;
}

size_t ThreadPoolExecutor::Workers() {
  absl::MutexLock lock(&mu_);
  return threads_.size();
}

void ThreadPoolExecutor::WaitIdle() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return IdleLocked(); };
  mu_.Await(absl::Condition(&idle));
}

size_t ThreadPoolExecutor::Pending() {
  absl::MutexLock lock(&mu_);
  return queue_.size() + running_;
}

void ThreadPoolExecutor::Shutdown() {
  absl::MutexLock join_lock(&join_mu_);
  if (joined_) return;
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
  joined_ = true;
}

void ThreadPoolExecutor::Work() {
  // Counted idle from its start (Submit) until it takes a job, and again from the end of each job.
  absl::MutexLock lock(&mu_);
  while (true) {
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
    mu_.Await(absl::Condition(&ready));
    // The queue is drained before the workers exit: a queued job may hold state its submitter
    // waits for (a kill's bookkeeping, a pull's waiters).
    if (queue_.empty()) {
      --idle_;
      return;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    --idle_;
    ++running_;
    mu_.Unlock();
    job();
    job = nullptr;  // its captures are released before the job counts as done
    mu_.Lock();
    --running_;
    ++idle_;
  }
}

}  // namespace inplaced
