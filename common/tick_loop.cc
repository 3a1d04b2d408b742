#include "common/tick_loop.h"

#include <utility>

namespace inplaced {

TickLoop::TickLoop(Clock& clock, TickFn tick) : clock_(clock), tick_(std::move(tick)) {}

TickLoop::~TickLoop() { Shutdown(); }

void TickLoop::Start() {
  absl::MutexLock thread_lock(&thread_mu_);
  if (started_ || shut_down_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void TickLoop::Wake(uint32_t reasons) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  woken_ = true;
  reasons_ |= reasons;
}

void TickLoop::Shutdown() {
  absl::MutexLock thread_lock(&thread_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Time TickLoop::last_tick() const {
  absl::MutexLock lock(&mu_);
  return last_tick_;
}

uint64_t TickLoop::ticks() const {
  absl::MutexLock lock(&mu_);
  return ticks_;
}

void TickLoop::WaitForTicks(uint64_t count) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ticks_ >= count; };
  mu_.Await(absl::Condition(&reached));
}

void TickLoop::Run() {
  uint32_t reasons = 0;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    woken_ = false;
    reasons = std::exchange(reasons_, 0);
  }
  while (true) {
    const absl::Duration wait = tick_(reasons);
    absl::MutexLock lock(&mu_);
    last_tick_ = clock_.Now();
    ++ticks_;
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
    if (stopping_) return;
    woken_ = false;
    reasons = std::exchange(reasons_, 0);
  }
}

}  // namespace inplaced
