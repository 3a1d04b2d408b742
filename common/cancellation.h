#pragma once

#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace inplaced {

// A one-shot, thread-safe cancellation signal for long calls (PullImage, ExecSync, event streams).
// The owner calls Cancel(); the callee polls IsCancelled() or registers a callback (for example one
// that calls grpc::ClientContext::TryCancel()).
//
// Callbacks run once, under the token's lock, on the thread that calls Cancel() (or at once on the
// registering thread if the token is already cancelled). They must be short and must not call back
// into the token. Because they run under the lock, Unregister() returning guarantees the callback
// is neither running nor will run, so the callee may then destroy what the callback touches.
class Cancellation {
 public:
  using Callback = std::function<void()>;

  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  void Cancel() {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    for (auto& [id, callback] : callbacks_) callback();
    callbacks_.clear();
  }

  bool IsCancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  // Returns an id for Unregister().
  int Register(Callback callback) {
    absl::MutexLock lock(&mu_);
    if (cancelled_) {
      callback();
      return -1;
    }
    const int id = next_id_++;
    callbacks_.emplace(id, std::move(callback));
    return id;
  }

  void Unregister(int id) {
    absl::MutexLock lock(&mu_);
    callbacks_.erase(id);
  }

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, Callback> callbacks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced
