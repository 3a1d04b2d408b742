#pragma once

// ReadinessSlot<T>: where a service finds the engine it forwards to once the engine is ready.
//
// The control server starts before the engines have loaded their state, so that health answers
// NOT_SERVING and calls answer UNAVAILABLE meanwhile instead of "connection refused". A service
// holds a slot; the daemon Set()s the engine into it before it turns SERVING; each call takes the
// engine from the slot or answers NotReadyError().
//
// Thread-safe (lock-free). The slot does not own the target: the target must outlive every call
// that got it from Get().

#include <atomic>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace inplaced {

// UNAVAILABLE: the engine behind a service is not ready yet; the client retries.
inline absl::Status NotReadyError() {
  return absl::UnavailableError("inplaced is starting: retry");
}

template <typename T>
class ReadinessSlot {
 public:
  ReadinessSlot() = default;
  // A slot that is ready from the start (a service built over an engine that already runs).
  explicit ReadinessSlot(T* target) : target_(target) {}
  ReadinessSlot(const ReadinessSlot&) = delete;
  ReadinessSlot& operator=(const ReadinessSlot&) = delete;

  // Publishes `target` to every later Get(). Called once, when the target is ready.
  void Set(T* target) { target_.store(target, std::memory_order_release); }

  // The target, or null before Set().
  T* Get() const { return target_.load(std::memory_order_acquire); }

  // The target, or NotReadyError() before Set().
  absl::StatusOr<T*> GetOrNotReady() const {
    if (T* target = Get()) return target;
    return NotReadyError();
  }

 private:
  std::atomic<T*> target_{nullptr};
};

}  // namespace inplaced
