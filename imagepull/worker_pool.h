#pragma once

// A fixed set of threads running submitted jobs in FIFO order: where the puller's CRI pulls run.
//
// Thread-safe: Submit() may be called from any thread, including a worker. The destructor finishes
// the jobs already submitted (callers cancel long jobs first) and joins the threads; it must not be
// called from a worker.

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace inplaced::imagepull {

class WorkerPool {
 public:
  // Starts `threads` (>= 1) threads.
  explicit WorkerPool(int threads);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool();

  // Queues `job`; a free worker runs it.
  void Submit(std::function<void()> job);

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace inplaced::imagepull
