#include "daemon/recreate/watch_hub.h"

#include <functional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

std::string RequestKey(const api::RecreateRequest& request) {
  return absl::StrCat(request.metadata().namespace_(), "/", request.metadata().name());
}

WatchEventKind KindOf(api::WatchEventType type) {
  switch (type) {
    case api::WATCH_EVENT_TYPE_ADDED:
      return WatchEventKind::kAdded;
    case api::WATCH_EVENT_TYPE_DELETED:
      return WatchEventKind::kDeleted;
    default:
      return WatchEventKind::kModified;
  }
}

api::WatchEventType TypeOf(WatchEventKind kind) {
  switch (kind) {
    case WatchEventKind::kAdded:
      return api::WATCH_EVENT_TYPE_ADDED;
    case WatchEventKind::kModified:
      return api::WATCH_EVENT_TYPE_MODIFIED;
    case WatchEventKind::kDeleted:
      return api::WATCH_EVENT_TYPE_DELETED;
    case WatchEventKind::kSynced:
      return api::WATCH_EVENT_TYPE_SYNCED;
  }
  return api::WATCH_EVENT_TYPE_UNSPECIFIED;
}

// A RecreateWatch over one fan-out watch: events become WatchRecreateRequestsResponse messages.
class HubWatch final : public RecreateWatch {
 public:
  explicit HubWatch(std::unique_ptr<Watch<api::RecreateRequest>> watch)
      : watch_(std::move(watch)) {}

  bool Next(api::WatchRecreateRequestsResponse* out) override {
    WatchEvent<api::RecreateRequest> event;
    if (!watch_->Next(&event)) return false;
    ToMessage(event, out);
    return true;
  }
  WatchPoll TryNext(api::WatchRecreateRequestsResponse* out) override {
    WatchEvent<api::RecreateRequest> event;
    const WatchPoll poll = watch_->TryNext(&event);
    if (poll == WatchPoll::kEvent) ToMessage(event, out);
    return poll;
  }
  void SetReadyCallback(std::function<void()> ready) override {
    watch_->SetReadyCallback(std::move(ready));
  }
  absl::Status Status() override { return watch_->Status(); }
  void Cancel() override { watch_->Cancel(); }

 private:
  static void ToMessage(const WatchEvent<api::RecreateRequest>& event,
                        api::WatchRecreateRequestsResponse* out) {
    out->Clear();
    out->set_type(TypeOf(event.kind));
    if (event.object != nullptr) *out->mutable_recreate_request() = *event.object;
  }

  std::unique_ptr<Watch<api::RecreateRequest>> watch_;  // dropping it ends the watch
};

}  // namespace

bool MatchesWatchFilter(const api::WatchRecreateRequestsRequest& filter,
                        const api::RecreateRequest& request) {
  if (!filter.namespace_().empty() && filter.namespace_() != request.metadata().namespace_()) {
    return false;
  }
  if (!filter.name().empty() && filter.name() != request.metadata().name()) return false;
  if (!filter.pod_name().empty() && filter.pod_name() != request.spec().pod_name()) return false;
  return true;
}

WatchHub::WatchHub() : fanout_(&RequestKey) {}

void WatchHub::Publish(api::WatchEventType type, const api::RecreateRequest& request) {
  fanout_.Publish(KindOf(type), request);
}

std::unique_ptr<RecreateWatch> WatchHub::Subscribe(
    const api::WatchRecreateRequestsRequest& request,
    const ForEachObject<api::RecreateRequest>& for_each_request) {
  auto filter = [request](const api::RecreateRequest& candidate) {
    return MatchesWatchFilter(request, candidate);
  };
  if (request.skip_initial_state()) {
    return std::make_unique<HubWatch>(
        fanout_.Subscribe(std::move(filter), nullptr, /*synced=*/false));
  }
  return std::make_unique<HubWatch>(
      fanout_.Subscribe(std::move(filter), for_each_request, /*synced=*/true));
}

}  // namespace inplaced::daemon
