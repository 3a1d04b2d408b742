#include "tests/fakes/fake_clock.h"

#include <iterator>

namespace inplaced::fakes {

FakeClock::FakeClock(absl::Time start) : now_(start) {}

absl::Time FakeClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

void FakeClock::SleepUntil(absl::Time deadline) { SleepUntilOrWoken(deadline, nullptr); }

bool FakeClock::SleepUntilOrWoken(absl::Time deadline, Cancellation* wake) {
  // `woken` lives on this stack frame and is written by the wake callback under mu_. The callback
  // is registered without holding mu_ because Register() may run it at once (already cancelled),
  // and Unregister() returning guarantees it no longer runs, so the frame may then go away.
  bool woken = false;
  int callback_id = -1;
  if (wake != nullptr) {
    callback_id = wake->Register([this, &woken] {
      absl::MutexLock lock(&mu_);
      woken = true;
    });
  }
  bool reached;
  {
    absl::MutexLock lock(&mu_);
    auto slot = deadlines_.insert(deadline);
    auto done = [this, &woken, deadline]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken || now_ >= deadline; };
    mu_.Await(absl::Condition(&done));
    deadlines_.erase(slot);
    reached = now_ >= deadline;
  }
  if (wake != nullptr && callback_id >= 0) wake->Unregister(callback_id);
  return reached;
}

void FakeClock::Advance(absl::Duration delta) {
  if (delta <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  now_ += delta;
}

void FakeClock::SetTime(absl::Time time) {
  absl::MutexLock lock(&mu_);
  if (time > now_) now_ = time;
}

int FakeClock::SleepersLocked() const {
  return static_cast<int>(std::distance(deadlines_.upper_bound(now_), deadlines_.end()));
}

int FakeClock::Sleepers() const {
  absl::MutexLock lock(&mu_);
  return SleepersLocked();
}

void FakeClock::WaitForSleepers(int count) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return SleepersLocked() >= count; };
  mu_.Await(absl::Condition(&enough));
}

bool SleepUntilOrWoken(Clock& clock, absl::Time deadline, Cancellation* wake) {
  if (auto* fake = dynamic_cast<FakeClock*>(&clock)) return fake->SleepUntilOrWoken(deadline, wake);

  absl::Mutex mu;
  bool woken = false;
  int callback_id = -1;
  if (wake != nullptr) {
    callback_id = wake->Register([&mu, &woken] {
      absl::MutexLock lock(&mu);
      woken = true;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.AwaitWithDeadline(absl::Condition(&woken), deadline);
  }
  if (wake != nullptr && callback_id >= 0) wake->Unregister(callback_id);
  // The real clock may be a little early when the wait returns on its deadline; finish the wait.
  bool was_woken;
  {
    absl::MutexLock lock(&mu);
    was_woken = woken;
  }
  if (was_woken) return false;
  clock.SleepUntil(deadline);
  return true;
}

}  // namespace inplaced::fakes
