#pragma once

// TickLoop: an engine's control loop. It runs a tick function on its own thread: once at Start(),
// again at once when woken (Wake), otherwise when the wait the last tick asked for has passed.
//
//   TickLoop loop(clock, [&](uint32_t reasons) { Advance(reasons); return NextWait(); });
//   loop.Start();
//   ...  loop.Wake(kWakeRequest);  // from any thread: something changed, tick now
//   loop.Shutdown();               // the running tick ends, the thread is joined
//
// The wait between ticks is measured in real time (a condition variable with a timeout): the tick
// function computes it from its own Clock. Tests that drive time with a FakeClock call their
// engine's tick directly instead of starting the loop.
//
// Thread-safe. Wake() may be called from any thread, including from inside the tick. Start() and
// Shutdown() must not be called from inside the tick (Shutdown joins the loop's thread).

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace inplaced {

class TickLoop {
 public:
  // Runs one tick. `wake_reasons` is the OR of the reasons passed to Wake() since the previous tick
  // began (0: the wait ran out, or nothing woke the first tick). Returns how long to wait for a
  // Wake() before ticking again: absl::InfiniteDuration() waits for a Wake() only, zero or negative
  // ticks again at once.
  using TickFn = std::function<absl::Duration(uint32_t wake_reasons)>;

  // `clock` stamps last_tick() and must outlive the loop. Nothing runs before Start().
  TickLoop(Clock& clock, TickFn tick);
  // Shutdown().
  ~TickLoop();
  TickLoop(const TickLoop&) = delete;
  TickLoop& operator=(const TickLoop&) = delete;

  // Starts the thread, which ticks at once. Idempotent; does nothing after Shutdown().
  void Start();

  // Makes the loop tick again as soon as the running tick (if any) returns, with `reasons` OR-ed
  // into that tick's wake_reasons. Never blocks on the tick. Before Start() the reasons go to the
  // first tick; after Shutdown() it does nothing.
  void Wake(uint32_t reasons);

  // Stops the loop: a running tick finishes, no new one starts, the thread is joined. Idempotent.
  void Shutdown();

  // The clock's time when the last tick returned; absl::InfinitePast() before the first. For
  // liveness checks (a watchdog: the loop is stuck when this falls behind by much more than the
  // longest wait).
  absl::Time last_tick() const;

  // Ticks that have returned.
  uint64_t ticks() const;

  // Blocks until at least `count` ticks have returned (for tests; waits without a timeout).
  void WaitForTicks(uint64_t count) const;

 private:
  void Run();

  Clock& clock_;
  const TickFn tick_;

  mutable absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t reasons_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t ticks_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_tick_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  // Serialises Start() and Shutdown(); never held by the loop's thread.
  absl::Mutex thread_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool started_ ABSL_GUARDED_BY(thread_mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(thread_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace inplaced
