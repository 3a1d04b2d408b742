#pragma once

// A bounded pool of worker threads for the recreate engine's kills (preStop hook + StopContainer), so
// that a long hook or grace period of one pod never delays the kills of another pod, and the number of
// concurrent kills on the node stays bounded.
//
// Thread-safe. Jobs run in submission order on `workers` threads; the destructor calls Shutdown().

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace inplaced::daemon {

class KillPool {
 public:
  explicit KillPool(int workers);
  ~KillPool();
  KillPool(const KillPool&) = delete;
  KillPool& operator=(const KillPool&) = delete;

  // Queues `job` and returns true; never blocks. After Shutdown() the job is dropped (false).
  bool Submit(std::function<void()> job);

  // Blocks until no job is queued or running.
  void WaitIdle();

  // Runs the queued jobs to their end, then joins the workers. Idempotent.
  void Shutdown();

  // Jobs queued or running.
  size_t Pending();

 private:
  void Work();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
  absl::Mutex join_mu_;
  bool joined_ ABSL_GUARDED_BY(join_mu_) = false;
};

}  // namespace inplaced::daemon
