#include "tests/e2e/event_recorder.h"

#include <utility>

namespace inplaced::e2e {

namespace criv1 = ::runtime::v1;

EventRecorder::EventRecorder(cri::ContainerEventStream* stream)
    : stream_(stream), reader_([this] { ReadAll(); }) {}

EventRecorder::~EventRecorder() {
  stream_->Cancel();
  reader_.join();
}

void EventRecorder::ReadAll() {
  criv1::ContainerEventResponse event;
  while (stream_->Read(&event)) {
    absl::MutexLock lock(&mu_);
    events_.push_back(event);
    arrivals_.push_back(absl::Now());
  }
  // Finish() belongs to the reader thread (ContainerEventStream's contract).
  absl::Status finish = stream_->Finish();
  absl::MutexLock lock(&mu_);
  finish_ = std::move(finish);
  ended_ = true;
}

std::optional<criv1::ContainerEventResponse> EventRecorder::WaitFor(const std::string& container_id,
                                                                    criv1::ContainerEventType type,
                                                                    absl::Duration limit) {
  absl::MutexLock lock(&mu_);
  std::optional<criv1::ContainerEventResponse> found;
  auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& event : events_) {
      if (event.container_id() == container_id && event.container_event_type() == type) {
        found = event;
        return true;
      }
    }
    return ended_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&seen), limit);
  return found;
}

absl::Time EventRecorder::ArrivalOf(const std::string& container_id,
                                    criv1::ContainerEventType type) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < events_.size(); ++i) {
    if (events_[i].container_id() == container_id && events_[i].container_event_type() == type) {
      return arrivals_[i];
    }
  }
  return absl::InfiniteFuture();
}

absl::Status EventRecorder::WaitForEnd(absl::Duration limit) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithTimeout(absl::Condition(&ended_), limit)) {
    return absl::DeadlineExceededError("the event stream is still open");
  }
  return finish_;
}

}  // namespace inplaced::e2e
