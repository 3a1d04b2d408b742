#pragma once

// Executors: where the puller runs its pulls, and the recreate engine its Creates' pod reads, off
// the thread that asked for them. (A Create's answer and the recreate engine's kills hold no
// thread: they are continuations of durable writes and asynchronous calls.)
//
// `Executor` is the seam the engines depend on; `ThreadPoolExecutor` is today's implementation, a
// bounded set of worker threads. The interface says nothing about threads, so a later implementation
// may run jobs asynchronously (completion callbacks, a bound on jobs in flight instead of on
// threads) without changing its users.

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace inplaced {

// Runs submitted jobs. Implementations are thread-safe: any method may be called from any thread,
// Submit() also from inside a running job.
class Executor {
 public:
  using Job = std::function<void()>;

  virtual ~Executor() = default;

  // Queues `job` and returns true; never blocks on other jobs. After Shutdown() began, the job is
  // dropped (never run) and false is returned: the caller keeps whatever the job would have done
  // (the engines persist a step before submitting it and resume it on the next start).
  virtual bool Submit(Job job) = 0;

  // Blocks until no job is queued or running. Must not be called from inside a job.
  virtual void WaitIdle() = 0;

  // The number of jobs queued or running.
  virtual size_t Pending() = 0;

  // Refuses new jobs, runs every queued job to its end, then returns once none runs. Callers cancel
  // long jobs first. Idempotent; concurrent callers all return after the end. Must not be called
  // from inside a job.
  virtual void Shutdown() = 0;
};

// An Executor over at most `workers` (>= 1; fewer is taken as 1) threads. Jobs start in submission
// order; at most `workers` run at a time, so a bounded number of blocking calls are in flight. A
// worker is started when a job finds none idle, and then kept until Shutdown(): an idle daemon holds
// no thread it never needed, and a burst does not pay a thread start and exit per job. The
// destructor calls Shutdown().
class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(int workers);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  bool Submit(Job job) override;
  void WaitIdle() override;
  size_t Pending() override;
  void Shutdown() override;

  // The worker threads started so far (at most `workers`).
  size_t Workers();

 private:
  void Work();
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.empty() && running_ == 0;
  }

  const size_t max_workers_;
  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;  // workers waiting for a job
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);  // no longer grows once stopping_

  // Serialises Shutdown() callers: the first joins, the others wait for it.
  absl::Mutex join_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool joined_ ABSL_GUARDED_BY(join_mu_) = false;
};

}  // namespace inplaced
