#include "daemon/recreate/kill_pool.h"

#include <utility>

namespace inplaced::daemon {

KillPool::KillPool(int workers) {
  if (workers < 1) workers = 1;
  threads_.reserve(workers);
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

KillPool::~KillPool() { Shutdown(); }

bool KillPool::Submit(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(job));
  return true;
}

void KillPool::WaitIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](KillPool* pool) {
        return pool->queue_.empty() && pool->running_ == 0;
      },
      this));
}

size_t KillPool::Pending() {
  absl::MutexLock lock(&mu_);
  return queue_.size() + running_;
}

void KillPool::Shutdown() {
  absl::MutexLock join_lock(&join_mu_);
  if (joined_) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
  joined_ = true;
}

void KillPool::Work() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](KillPool* pool) {
            return !pool->queue_.empty() || pool->stopping_;
          },
          this));
      // The queue is drained before the workers exit.
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    job();
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace inplaced::daemon
