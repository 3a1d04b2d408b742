#pragma once

// ContainerEvents: the recreate engine's subscription to the runtime's container events
// (GetContainerEvents: containerd 1.7+, CRI-O with pod events), read only to wake the engine's loop
// early; the node snapshot a tick takes stays the source of truth.
//
// A stream that breaks (runtime restart) or ends is resubscribed with backoff (100 ms doubling to 1
// s, waited in real time) while the engine keeps polling; UNIMPLEMENTED (containerd 1.6) ends the
// subscription for good. Logs `container_events_streaming` at the first event,
// `container_events_stream_broken` once per outage, `container_events_resubscribed down_ms=N` when
// a stream is open again, `container_events_unsupported fallback=polling`.
//
// Thread-safe. The runtime and clock must outlive the object; the callbacks run on its thread and
// must not block.

#include <atomic>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "cri/runtime.h"

namespace inplaced::daemon {

// Where the subscription stands, for the node's capabilities (NodeService).
enum class EventStreamState {
  kDisabled,      // no subscription (the engine runs without the event stream)
  kSubscribed,    // subscribing or subscribed; no event and no refusal yet
  kStreaming,     // events arrived on the open stream
  kUnsupported,   // the runtime answered UNIMPLEMENTED: never retried
  kReconnecting,  // the stream ended; resubscribing with backoff
};

class ContainerEvents {
 public:
  struct Callbacks {
    std::function<void()> on_event;         // a runtime container event arrived
    std::function<void()> on_resubscribed;  // a stream is open again after a previous one ended:
                                            // events were missed meanwhile
    // The subscription's state for metrics: "subscribed" (a stream is open), "broken" (it ended
    // with an error; resubscribing), "unsupported" (the runtime has no event stream). May be null.
    std::function<void(absl::string_view state)> on_state;
  };

  ContainerEvents(cri::Runtime& runtime, Clock& clock, Callbacks callbacks);
  // Shutdown().
  ~ContainerEvents();
  ContainerEvents(const ContainerEvents&) = delete;
  ContainerEvents& operator=(const ContainerEvents&) = delete;

  // Starts the subscription thread. Idempotent; does nothing after Shutdown().
  void Start();
  // Cancels the open stream, ends a backoff wait and joins the thread. Idempotent.
  void Shutdown();

  // The subscription's state now (kSubscribed before Start). Lock-free.
  EventStreamState state() const { return state_.load(std::memory_order_relaxed); }

 private:
  void Run();
  // Waits up to `backoff` (real time) unless stopping; returns whether to go on.
  bool WaitBackoff(absl::Duration backoff);
  void ReportState(absl::string_view state) {
    if (callbacks_.on_state) callbacks_.on_state(state);
  }

  cri::Runtime& runtime_;
  Clock& clock_;
  const Callbacks callbacks_;
  std::atomic<EventStreamState> state_{EventStreamState::kSubscribed};

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream, to cancel it on Shutdown.
  cri::ContainerEventStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;

  // Serialises Start() and Shutdown(); never held by the subscription thread.
  absl::Mutex thread_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  bool started_ ABSL_GUARDED_BY(thread_mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(thread_mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace inplaced::daemon
