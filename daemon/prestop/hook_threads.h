#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace inplaced::daemon {

// The threads of the preStop hooks that have no asynchronous form (httpGet over libcurl, tcpSocket,
// sleep): one thread per running hook of those kinds. They are bounded by the engine's kill limit
// (max_concurrent_kills) and rare in practice (exec hooks, the common case, hold no thread), so a
// thread each is simpler than an event loop. Finished threads are joined by the next Spawn; the
// destructor joins the rest (their hooks end by their deadline or cancellation).
class HookThreads {
 public:
  HookThreads() = default;
  ~HookThreads() {
    std::map<uint64_t, std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (auto& [serial, thread] : threads) thread.join();
  }
  HookThreads(const HookThreads&) = delete;
  HookThreads& operator=(const HookThreads&) = delete;

  void Spawn(std::function<void()> work) {
    std::vector<std::thread> finished;
    {
      absl::MutexLock lock(&mu_);
      for (const uint64_t serial : finished_) {
        auto it = threads_.find(serial);
        if (it == threads_.end()) continue;
        finished.push_back(std::move(it->second));
        threads_.erase(it);
      }
      finished_.clear();
      const uint64_t serial = next_++;
      // Inserted before the thread can take mu_ to report its end.
      threads_.emplace(serial, std::thread([this, serial, work = std::move(work)] {
                         work();
                         absl::MutexLock lock(&mu_);
                         finished_.push_back(serial);
                       }));
    }
    for (std::thread& thread : finished) thread.join();
  }

 private:
  absl::Mutex mu_;
  std::map<uint64_t, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> finished_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace inplaced::daemon
