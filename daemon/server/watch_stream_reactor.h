#pragma once

// One server-streaming watch call (WatchRecreateRequests, WatchNodeImage) on gRPC's callback API:
// no thread waits for the next event. The watch's ready callback (run by the publisher) and the
// stream's own reactions (a write done, the client cancelled) each "pump" the stream: take the next
// event with TryNext and start its write, or Finish once the watch ended. At most one write is in
// flight; Finish is called exactly once, never while a write is in flight, and nothing touches gRPC
// after it.
//
// End statuses are those of the sync handlers this replaces: the watch's own status when it ended
// by itself (UNAVAILABLE: the engine shut down), UNAVAILABLE after StopStreams(), CANCELLED when the
// client went away (OnCancel, or a failed write).
//
// Lifetime: gRPC holds the reactor until OnDone; the reactor also owns itself (self_) until then,
// and the ready callback holds it weakly, so a publisher that races with OnDone either keeps it
// alive for the one pump (which then sees done_) or finds it gone. Lock order: the engine's and the
// fan-out's locks, then mu_, then the watch's own lock; gRPC is never called under mu_ (and the
// watch is never cancelled under mu_: Cancel runs the ready callback, which takes mu_).

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/watch_fanout.h"
#include "daemon/server/open_watch_streams.h"
#include "daemon/server/rpc_scope.h"
#include "daemon/server/serving_state.h"

namespace inplaced::daemon {

// `Source`: the watch the stream sends, with `WatchPoll TryNext(Response*)`,
// `void SetReadyCallback(std::function<void()>)`, `absl::Status Status()` and `void Cancel()`
// (RecreateWatch; an adapter over Watch<T>).
template <typename Response, typename Source>
class WatchStreamReactor final
    : public grpc::ServerWriteReactor<Response>,
      public std::enable_shared_from_this<WatchStreamReactor<Response, Source>> {
 public:
  // Starts the call `method`: as the sync handlers did, it counts as an active call for its whole
  // life, answers UNAVAILABLE unless `get_manager()` returns a manager, RESOURCE_EXHAUSTED without
  // a free watch stream slot (held until the call is done), else `open_watch(manager)`'s error or
  // the stream of its watch. Returns the reactor for the callback method to return.
  template <typename GetManager, typename OpenWatch>
  static grpc::ServerWriteReactor<Response>* Start(absl::string_view method, ServingState& state,
                                                   OpenWatchStreams& streams,
                                                   GetManager get_manager, OpenWatch open_watch) {
    std::shared_ptr<WatchStreamReactor> stream(new WatchStreamReactor(method, state, streams));
    stream->self_ = stream;
    auto manager = get_manager();
    if (!manager.ok()) return stream->FinishNow(manager.status());
    stream->slot_.emplace(state);
    if (!stream->slot_->status().ok()) return stream->FinishNow(stream->slot_->status());
    absl::StatusOr<std::unique_ptr<Source>> watch = open_watch(*manager);
    if (!watch.ok()) return stream->FinishNow(watch.status());
    stream->Open(*std::move(watch));
    return stream.get();
  }

  // The client went away (or the server shuts down): end the watch, which finishes the stream
  // (once the write in flight, if any, is done).
  void OnCancel() override {
    CancelWatch();
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
    }
    if (!ok) CancelWatch();  // the client is gone
    Pump();
  }

  void OnDone() override {
    std::shared_ptr<Source> watch;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      watch = std::move(watch_);
    }
    watch.reset();  // ends the watch if still open; its ready callback then finds done_
    if (registered_) streams_.Remove(registration_);
    slot_.reset();
    active_.reset();
    // Last: may destroy this reactor (unless a ready callback holds it for a moment).
    std::shared_ptr<WatchStreamReactor> self = std::move(self_);
  }

 private:
  WatchStreamReactor(absl::string_view method, ServingState& state, OpenWatchStreams& streams)
      : streams_(streams), scope_(method) {
    active_.emplace(state);
  }

  // Finishes at once with `status` (before any watch exists).
  grpc::ServerWriteReactor<Response>* FinishNow(const absl::Status& status) {
    grpc::Status finish;
    {
      absl::MutexLock lock(&mu_);
      finished_ = true;
      finish = scope_.Finish(status);
    }
    this->Finish(finish);
    return this;
  }

  void Open(std::unique_ptr<Source> watch) {
    std::shared_ptr<Source> shared(std::move(watch));
    {
      absl::MutexLock lock(&mu_);
      watch_ = shared;
    }
    std::weak_ptr<WatchStreamReactor> weak = this->weak_from_this();
    // After StopStreams() the watch is cancelled right here; the ready callback then finishes.
    registration_ = streams_.Add([weak] {
      if (auto stream = weak.lock()) stream->CancelWatch();
    });
    registered_ = true;
    shared->SetReadyCallback([weak] {
      if (auto stream = weak.lock()) stream->Pump();
    });
  }

  void CancelWatch() {
    std::shared_ptr<Source> watch;
    {
      absl::MutexLock lock(&mu_);
      watch = watch_;
    }
    if (watch != nullptr) watch->Cancel();  // outside mu_: runs the ready callback
  }

  // Starts the next write, or finishes once the watch ended; nothing while a write is in flight
  // (OnWriteDone pumps again) or the queue is empty (the ready callback pumps again).
  void Pump() {
    bool write = false;
    grpc::Status finish;
    {
      absl::MutexLock lock(&mu_);
      if (done_ || finished_ || writing_ || watch_ == nullptr) return;
      switch (watch_->TryNext(&message_)) {
        case WatchPoll::kEmpty:
          return;
        case WatchPoll::kEvent:
          writing_ = write = true;
          break;
        case WatchPoll::kEnded:
          finished_ = true;
          finish = scope_.Finish(streams_.EndStatus(watch_->Status()));
          break;
      }
    }
    // No other thread starts a write or finishes while writing_ or finished_ is set, and OnDone
    // comes only after Finish: message_ and the call are ours here.
    if (write) {
      this->StartWrite(&message_);
    } else {
      this->Finish(finish);
    }
  }

  OpenWatchStreams& streams_;
  std::optional<ServingState::ActiveCall> active_;     // released in OnDone
  std::optional<ServingState::WatchStreamSlot> slot_;  // likewise
  int registration_ = 0;                               // in streams_, when registered_
  bool registered_ = false;
  std::shared_ptr<WatchStreamReactor> self_;  // released in OnDone

  absl::Mutex mu_;
  RpcScope scope_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;              // OnDone ran: never touch gRPC again
  bool finished_ ABSL_GUARDED_BY(mu_) = false;          // Finish called (or being called)
  bool writing_ ABSL_GUARDED_BY(mu_) = false;           // a write is in flight
  std::shared_ptr<Source> watch_ ABSL_GUARDED_BY(mu_);  // shared: cancelled outside mu_
  Response message_;  // the write in flight; touched only by the one who set writing_
};

}  // namespace inplaced::daemon
