#include "daemon/recreate/container_events.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "spdlog/spdlog.h"

namespace inplaced::daemon {
namespace {

// Resubscribing is cheap (one call that fails fast while the runtime is down), and every second
// without a stream is a second of polling only.
constexpr absl::Duration kBackoffStart = absl::Milliseconds(100);
constexpr absl::Duration kBackoffMax = absl::Seconds(1);

}  // namespace

ContainerEvents::ContainerEvents(cri::Runtime& runtime, Clock& clock, Callbacks callbacks)
    : runtime_(runtime), clock_(clock), callbacks_(std::move(callbacks)) {}

ContainerEvents::~ContainerEvents() { Shutdown(); }

void ContainerEvents::Start() {
  absl::MutexLock thread_lock(&thread_mu_);
  if (started_ || shut_down_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void ContainerEvents::Shutdown() {
  absl::MutexLock thread_lock(&thread_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (stream_ != nullptr) stream_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool ContainerEvents::WaitBackoff(absl::Duration backoff) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
  return !stopping_;
}

void ContainerEvents::Run() {
  absl::Duration backoff = kBackoffStart;
  // Since when the stream has been down after a break (an error end), and how many subscriptions
  // failed since; unset while streaming or before the first subscription.
  std::optional<absl::Time> broken_since;
  int failed_attempts = 0;
  bool subscribed_once = false;
  bool streamed = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    absl::StatusOr<std::unique_ptr<cri::ContainerEventStream>> stream =
        runtime_.GetContainerEvents();
    absl::Status end;
    if (stream.ok()) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        stream_ = stream->get();
      }
      ReportState("subscribed");
      state_ = EventStreamState::kSubscribed;
      if (broken_since.has_value()) {
        spdlog::info("container_events_resubscribed down_ms={} failed_attempts={}",
                     absl::ToInt64Milliseconds(clock_.Now() - *broken_since), failed_attempts);
        broken_since.reset();
        failed_attempts = 0;
      }
      // Whatever happened while no stream was open is only in the snapshot: look now.
      if (subscribed_once) callbacks_.on_resubscribed();
      subscribed_once = true;
      ::runtime::v1::ContainerEventResponse event;
      while ((*stream)->Read(&event)) {
        if (!streamed) spdlog::info("container_events_streaming");
        streamed = true;
        state_ = EventStreamState::kStreaming;
        backoff = kBackoffStart;
        callbacks_.on_event();
      }
      end = (*stream)->Finish();
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
    } else {
      end = stream.status();
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;  // the end was ours (Cancel): nothing to log or retry
    }
    if (end.code() == absl::StatusCode::kUnimplemented) {
      state_ = EventStreamState::kUnsupported;
      spdlog::info("container_events_unsupported fallback=polling");
      ReportState("unsupported");
      return;
    }
    state_ = EventStreamState::kReconnecting;
    if (!end.ok() && !broken_since.has_value()) {
      // Once per outage; a stream that ends cleanly (CRI-O without pod events) is no outage.
      spdlog::warn(
          "container_events_stream_broken error=\"{}\" (polling; resubscribing with backoff)",
          end.ToString());
      broken_since = clock_.Now();
      ReportState("broken");
    } else {
      if (broken_since.has_value()) ++failed_attempts;
      spdlog::debug("container_events_resubscribe status=\"{}\" backoff_ms={}", end.ToString(),
                    absl::ToInt64Milliseconds(backoff));
    }
    if (!WaitBackoff(backoff)) return;
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

}  // namespace inplaced::daemon
