#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace inplaced::daemon {

// The last-resort bound of every running exec hook: ONE thread that abandons each ExecSync still
// running `limit` of real time after it started (CriPreStopRunner cancels the call's token).
//
// Why: the runtime's own exec timeout is not a hard bound. containerd waits for the exec's output
// pipes to close after killing the process (a background child that inherited them keeps the call
// open unless drain_exec_sync_io_timeout is set), and the CRI client's deadline is the timeout plus
// the runtime request timeout (minutes). kubelet abandons the hook at the grace deadline; so do we.
//
// The limit is measured in real time, not on the injected Clock: it is a guard against a stuck
// runtime, which only real time can reveal. One thread serves every exec in flight (they hold no
// thread of their own: ExecSyncAsync).
//
// Thread-safe. The destructor drops what is scheduled (nothing fires) and joins the thread.
class ExecWatchdogTimer {
 public:
  ExecWatchdogTimer();
  ~ExecWatchdogTimer();
  ExecWatchdogTimer(const ExecWatchdogTimer&) = delete;
  ExecWatchdogTimer& operator=(const ExecWatchdogTimer&) = delete;

  // Runs `fire` on the timer's thread once `limit` (real time) has passed, unless Cancel(id) came
  // first. `fire` must be short (e.g. Cancellation::Cancel); it runs without the timer's lock.
  uint64_t Schedule(absl::Duration limit, std::function<void()> fire);
  // Once it returns, `fire` of `id` is neither running nor will run (called from `fire` itself, it
  // does not wait for it). Unknown or fired ids are fine.
  void Cancel(uint64_t id);

 private:
  struct Entry {
    std::multimap<absl::Time, uint64_t>::iterator at;
    std::function<void()> fire;
  };

  void Run();

  absl::Mutex mu_;
  absl::CondVar changed_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t firing_ ABSL_GUARDED_BY(mu_) = 0;  // the id whose `fire` runs now, 0: none
  std::multimap<absl::Time, uint64_t> by_time_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace inplaced::daemon
