#pragma once

#include <cstddef>
#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/runtime.h"

namespace inplaced::fakes {

// A bounded queue of container events between FakeRuntime (producer) and its event streams
// (readers). Events pushed while the queue is full are dropped (like containerd 1.7's channel).
// Thread-safe.
class EventQueue {
 public:
  explicit EventQueue(size_t capacity) : capacity_(capacity) {}

  // Returns false when the event was dropped (queue full or closed).
  bool Push(const ::runtime::v1::ContainerEventResponse& event);
  // Blocks until an event is available (true), or the queue is closed or `*cancelled` is true
  // (false). `cancelled` is read and written only under the queue's lock (see CancelReader).
  bool Pop(::runtime::v1::ContainerEventResponse* event, const bool* cancelled);
  void CancelReader(bool* cancelled);
  bool IsReaderCancelled(const bool* cancelled) const;
  // Ends every reader once the buffered events are read; their Finish() answers `end` (a runtime
  // that went away ends its streams with UNAVAILABLE).
  void Close(absl::Status end = absl::OkStatus());
  absl::Status EndStatus() const;
  size_t Size() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<::runtime::v1::ContainerEventResponse> events_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_ ABSL_GUARDED_BY(mu_);
};

// A ContainerEventStream reading from an EventQueue (its own, or one shared with other streams).
class FakeEventStream final : public cri::ContainerEventStream {
 public:
  explicit FakeEventStream(std::shared_ptr<EventQueue> queue) : queue_(std::move(queue)) {}

  bool Read(::runtime::v1::ContainerEventResponse* event) override;
  // The queue's end status (OK after a clean end), CANCELLED after Cancel().
  absl::Status Finish() override;
  void Cancel() override;

 private:
  std::shared_ptr<EventQueue> queue_;
  // Guarded by the queue's lock.
  bool cancelled_ = false;
};

}  // namespace inplaced::fakes
