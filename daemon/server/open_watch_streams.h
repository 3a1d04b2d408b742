#pragma once

// The open watch streams of one service, so that StopStreams() can end them all (the daemon stops
// them before grpc::Server::Shutdown, which waits for every call to finish), and the status a
// stream ends with once its watch ended.

#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace inplaced::daemon {

// Thread-safe.
class OpenWatchStreams {
 public:
  OpenWatchStreams() = default;
  OpenWatchStreams(const OpenWatchStreams&) = delete;
  OpenWatchStreams& operator=(const OpenWatchStreams&) = delete;

  // Adds an open stream; `stop` ends it (cancels its watch). After StopAll(), `stop` runs at once on
  // this thread. Returns the id for Remove.
  int Add(std::function<void()> stop);

  // Removes a stream. Its `stop` may still be running, or run once, on a thread in StopAll(): it
  // must be safe to call after the stream is gone (hold the stream weakly).
  void Remove(int id);

  // Runs `stop` of every open stream, outside the lock (a stop may finish its stream, whose end
  // removes it), and of every stream added later. Idempotent.
  void StopAll();

  // What a stream returns once its watch ended with `watch_status`: that status when the watch
  // ended by itself (not OK: its engine shut down); otherwise UNAVAILABLE after StopAll() (the
  // daemon stops), else CANCELLED (the client went away).
  absl::Status EndStatus(const absl::Status& watch_status);

 private:
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, std::function<void()>> stops_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::daemon
