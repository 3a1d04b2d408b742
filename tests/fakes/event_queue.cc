#include "tests/fakes/event_queue.h"

#include <utility>

namespace inplaced::fakes {

bool EventQueue::Push(const ::runtime::v1::ContainerEventResponse& event) {
  absl::MutexLock lock(&mu_);
  if (closed_ || events_.size() >= capacity_) return false;
  events_.push_back(event);
  return true;
}

bool EventQueue::Pop(::runtime::v1::ContainerEventResponse* event, const bool* cancelled) {
  absl::MutexLock lock(&mu_);
  auto ready = [this, cancelled]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return *cancelled || !events_.empty() || closed_;
  };
  mu_.Await(absl::Condition(&ready));
  if (*cancelled || events_.empty()) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void EventQueue::CancelReader(bool* cancelled) {
  absl::MutexLock lock(&mu_);
  *cancelled = true;
}

bool EventQueue::IsReaderCancelled(const bool* cancelled) const {
  absl::MutexLock lock(&mu_);
  return *cancelled;
}

void EventQueue::Close(absl::Status end) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  closed_ = true;
  end_ = std::move(end);
}

absl::Status EventQueue::EndStatus() const {
  absl::MutexLock lock(&mu_);
  return end_;
}

size_t EventQueue::Size() const {
  absl::MutexLock lock(&mu_);
  return events_.size();
}

bool FakeEventStream::Read(::runtime::v1::ContainerEventResponse* event) {
  return queue_->Pop(event, &cancelled_);
}

absl::Status FakeEventStream::Finish() {
  return queue_->IsReaderCancelled(&cancelled_) ? absl::CancelledError("context canceled")
                                                : queue_->EndStatus();
}

void FakeEventStream::Cancel() { queue_->CancelReader(&cancelled_); }

}  // namespace inplaced::fakes
