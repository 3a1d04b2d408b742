#include "common/executor.h"

#include <utility>

namespace inplaced {

ThreadPoolExecutor::ThreadPoolExecutor(int workers) {
  if (workers < 1) workers = 1;
  threads_.reserve(workers);
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() { Shutdown(); }

bool ThreadPoolExecutor::Submit(Job job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(job));
  return true;
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
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
  joined_ = true;
}

void ThreadPoolExecutor::Work() {
  while (true) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.Await(absl::Condition(&ready));
      // The queue is drained before the workers exit: a queued job may hold state its submitter
      // waits for (a kill's bookkeeping, a pull's waiters).
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    job();
    job = nullptr;  // its captures are released before the job counts as done
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace inplaced
