#include "daemon/server/stream_canceller.h"

#include <utility>

namespace inplaced::daemon {

StreamCanceller::StreamCanceller(absl::Duration period) : period_(period) {
  thread_ = std::thread([this] { PollLoop(); });
}

StreamCanceller::~StreamCanceller() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

int StreamCanceller::Register(grpc::ServerContextBase* context, std::function<void()> cancel) {
  absl::MutexLock lock(&mu_);
  const int id = next_id_++;
  if (cancelled_all_) {
    cancel();
    return id;
  }
  entries_.emplace(id, Entry{context, std::move(cancel)});
  return id;
}

void StreamCanceller::Unregister(int id) {
  absl::MutexLock lock(&mu_);
  entries_.erase(id);
}

void StreamCanceller::CancelAll() {
  absl::MutexLock lock(&mu_);
  cancelled_all_ = true;
  for (auto& [id, entry] : entries_) entry.cancel();
  entries_.clear();
}

bool StreamCanceller::cancelled_all() {
  absl::MutexLock lock(&mu_);
  return cancelled_all_;
}

void StreamCanceller::PollLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    // Idle (no streams): sleep until one registers or the canceller stops.
    auto has_work = [this]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !entries_.empty(); };
    mu_.Await(absl::Condition(&has_work));
    if (stop_) return;
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), period_);
    if (stop_) return;
    // Cancel functions run under mu_, so that Unregister returning means "not running, never will".
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.context->IsCancelled()) {
        it->second.cancel();
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace inplaced::daemon
