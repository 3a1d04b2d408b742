#pragma once

// Reads a CRI container event stream (cri::Runtime::GetContainerEvents) on its own thread and keeps
// every event with its arrival time, so an e2e test can wait for one event without blocking on
// Read().
//
//   ASSERT_OK_AND_ASSIGN(auto stream, runtime.GetContainerEvents());
//   EventRecorder recorder(stream.get());
//   ... act ...
//   auto stopped = recorder.WaitFor(id, criv1::CONTAINER_STOPPED_EVENT, absl::Seconds(60));
//
// Thread safety: all methods may be called from any thread. Ownership: the stream is borrowed and
// must outlive the recorder; the destructor cancels it and joins the reader thread, then the owner
// may destroy the stream.

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/runtime.h"

namespace inplaced::e2e {

class EventRecorder {
 public:
  explicit EventRecorder(cri::ContainerEventStream* stream);
  ~EventRecorder();

  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Waits up to `limit` for an event of `type` about `container_id` (already received ones count);
  // nullopt when the stream ended first or the time was up.
  std::optional<::runtime::v1::ContainerEventResponse> WaitFor(
      const std::string& container_id, ::runtime::v1::ContainerEventType type,
      absl::Duration limit);

  // When the first such event arrived; InfiniteFuture() if none did.
  absl::Time ArrivalOf(const std::string& container_id, ::runtime::v1::ContainerEventType type);

  // Waits up to `limit` for the stream to end (Read() returned false); then returns the stream's
  // Finish() status. DEADLINE_EXCEEDED when it is still open after `limit`.
  absl::Status WaitForEnd(absl::Duration limit);

 private:
  void ReadAll();

  cri::ContainerEventStream* const stream_;
  absl::Mutex mu_;
  std::vector<::runtime::v1::ContainerEventResponse> events_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> arrivals_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status finish_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;  // last: starts once the members it uses exist
};

}  // namespace inplaced::e2e
