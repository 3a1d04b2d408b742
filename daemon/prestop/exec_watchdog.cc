#include "daemon/prestop/exec_watchdog.h"

#include <utility>

namespace inplaced::daemon {

ExecWatchdogTimer::ExecWatchdogTimer() : thread_([this] { Run(); }) {}

ExecWatchdogTimer::~ExecWatchdogTimer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  thread_.join();
}

uint64_t ExecWatchdogTimer::Schedule(absl::Duration limit, std::function<void()> fire) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  auto at = by_time_.emplace(absl::Now() + limit, id);
  entries_.emplace(id, Entry{at, std::move(fire)});
  changed_.SignalAll();
  return id;
}

void ExecWatchdogTimer::Cancel(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    by_time_.erase(it->second.at);
    entries_.erase(it);
    return;
  }
  if (std::this_thread::get_id() == thread_.get_id()) return;
  while (firing_ == id) changed_.Wait(&mu_);
}

void ExecWatchdogTimer::Run() {
  mu_.Lock();
  while (!stopping_) {
    if (by_time_.empty()) {
      changed_.Wait(&mu_);
      continue;
    }
    const auto first = by_time_.begin();
    if (absl::Now() < first->first) {
      changed_.WaitWithDeadline(&mu_, first->first);
      continue;
    }
    const uint64_t id = first->second;
    by_time_.erase(first);
    auto entry = entries_.find(id);
    std::function<void()> fire = std::move(entry->second.fire);
    entries_.erase(entry);
    firing_ = id;
    mu_.Unlock();
    fire();
    mu_.Lock();
    firing_ = 0;
    changed_.SignalAll();
  }
  mu_.Unlock();
}

}  // namespace inplaced::daemon
