#pragma once

// Frees the threads of sync handlers that wait (PullImage with `wait`) once their client went away.
// A sync gRPC handler blocked in a wait does not learn that the client cancelled or disconnected;
// the sync API has no done-callback, only ServerContext::IsCancelled(). One background thread polls
// IsCancelled() of every registered call and runs the call's cancel function, which ends the wait.
// (Watch streams need none of this: they run on the callback API, WatchStreamReactor.)

#include <grpcpp/server_context.h>

#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace inplaced::daemon {

// Thread-safe.
class StreamCanceller {
 public:
  // `period`: how often registered streams are polled (only while there are some).
  explicit StreamCanceller(absl::Duration period = absl::Milliseconds(100));
  StreamCanceller(const StreamCanceller&) = delete;
  StreamCanceller& operator=(const StreamCanceller&) = delete;
  // Stops the polling thread. Every registration must have been removed.
  ~StreamCanceller();

  // Registers a running stream: `cancel` runs once, on the polling thread (or on the thread calling
  // CancelAll, or at once if CancelAll already ran), when `context` is cancelled. `cancel` must be
  // short and must not call into the canceller. `context` must stay valid until Unregister returns.
  // Returns the id for Unregister.
  int Register(grpc::ServerContextBase* context, std::function<void()> cancel);

  // Removes a registration; once it returns, its `cancel` is neither running nor will run.
  void Unregister(int id);

  // Runs the cancel function of every registered stream, and of every stream registered later.
  // For shutdown: a server waits for running handlers before it stops.
  void CancelAll();

  // Whether CancelAll has been called.
  bool cancelled_all();

 private:
  struct Entry {
    grpc::ServerContextBase* context;
    std::function<void()> cancel;
  };

  void PollLoop();

  const absl::Duration period_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_all_ ABSL_GUARDED_BY(mu_) = false;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, Entry> entries_ ABSL_GUARDED_BY(mu_);  // cancelled entries are removed from here
  std::thread thread_;
};

}  // namespace inplaced::daemon
