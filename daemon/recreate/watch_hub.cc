#include "daemon/recreate/watch_hub.h"

#include <algorithm>
#include <list>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

std::string RequestKey(const api::RecreateRequest& request) {
  return absl::StrCat(request.metadata().namespace_(), "/", request.metadata().name());
}

}  // namespace

bool MatchesWatchFilter(const api::WatchRecreateRequestsRequest& filter, const api::RecreateRequest& request) {
  if (!filter.namespace_().empty() && filter.namespace_() != request.metadata().namespace_()) return false;
  if (!filter.name().empty() && filter.name() != request.metadata().name()) return false;
  if (!filter.pod_name().empty() && filter.pod_name() != request.spec().pod_name()) return false;
  return true;
}

// The per-watch queue. Shared between the hub (weak) and the RecreateWatch handed out (strong), so
// either may go first.
class WatchSubscriber {
 public:
  explicit WatchSubscriber(api::WatchRecreateRequestsRequest filter) : filter_(std::move(filter)) {}

  const api::WatchRecreateRequestsRequest& filter() const { return filter_; }

  // Queues (or coalesces) one change; the caller has checked the filter.
  void Push(api::WatchEventType type, std::shared_ptr<const api::RecreateRequest> request) {
    absl::MutexLock lock(&mu_);
    if (ended_) return;
    std::string key = RequestKey(*request);
    auto pending = latest_.find(key);
    if (pending != latest_.end()) {
      Event& event = *pending->second;
      event.request = std::move(request);
      if (type == api::WATCH_EVENT_TYPE_DELETED) {
        // Replace in place; anything published later for this key (a recreate under the same name)
        // must queue behind the DELETED, so the key leaves the coalescing index.
        event.type = type;
        latest_.erase(pending);
      } else if (event.type != api::WATCH_EVENT_TYPE_ADDED) {
        // A still-undelivered ADDED stays ADDED: the reader has not seen this request yet.
        event.type = type;
      }
      return;
    }
    queue_.push_back(Event{type, request});
    if (type != api::WATCH_EVENT_TYPE_DELETED) latest_.emplace(std::move(key), std::prev(queue_.end()));
    cv_.Signal();
  }

  void PushSynced() {
    absl::MutexLock lock(&mu_);
    queue_.push_back(Event{api::WATCH_EVENT_TYPE_SYNCED, nullptr});
    cv_.Signal();
  }

  bool Next(api::WatchRecreateRequestsResponse* out) {
    absl::MutexLock lock(&mu_);
    while (!ended_ && queue_.empty()) cv_.Wait(&mu_);
    if (ended_) return false;
    if (queue_.front().request != nullptr) {
      auto pending = latest_.find(RequestKey(*queue_.front().request));
      // Only drop the index entry if it is the event taken now (a DELETED may precede a newer ADDED
      // of the same key, which stays indexed).
      if (pending != latest_.end() && pending->second == queue_.begin()) latest_.erase(pending);
    }
    Event event = std::move(queue_.front());
    queue_.pop_front();
    out->Clear();
    out->set_type(event.type);
    if (event.request != nullptr) *out->mutable_recreate_request() = *event.request;
    return true;
  }

  // Ends the watch with `status` unless it already ended.
  void End(absl::Status status) {
    absl::MutexLock lock(&mu_);
    if (ended_) return;
    ended_ = true;
    status_ = std::move(status);
    queue_.clear();
    latest_.clear();
    cv_.SignalAll();
  }

  bool ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  struct Event {
    api::WatchEventType type;
    std::shared_ptr<const api::RecreateRequest> request;  // null for SYNCED
  };
  using Queue = std::list<Event>;

  const api::WatchRecreateRequestsRequest filter_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  Queue queue_ ABSL_GUARDED_BY(mu_);
  // Per request key, its undelivered non-DELETED event in queue_, the one later changes merge into.
  absl::flat_hash_map<std::string, Queue::iterator> latest_ ABSL_GUARDED_BY(mu_);
};

namespace {

class HubWatch final : public RecreateWatch {
 public:
  explicit HubWatch(std::shared_ptr<WatchSubscriber> subscriber) : subscriber_(std::move(subscriber)) {}
  // Dropping the watch ends it; the hub forgets it on its next Publish.
  ~HubWatch() override { Cancel(); }

  bool Next(api::WatchRecreateRequestsResponse* event) override { return subscriber_->Next(event); }
  absl::Status Status() override { return subscriber_->status(); }
  void Cancel() override { subscriber_->End(absl::OkStatus()); }

 private:
  std::shared_ptr<WatchSubscriber> subscriber_;
};

}  // namespace

WatchHub::~WatchHub() { Shutdown(); }

void WatchHub::Publish(api::WatchEventType type, const api::RecreateRequest& request) {
  std::shared_ptr<const api::RecreateRequest> shared;  // one copy for every subscriber, made lazily
  absl::MutexLock lock(&mu_);
  auto it = subscribers_.begin();
  while (it != subscribers_.end()) {
    std::shared_ptr<WatchSubscriber> subscriber = it->lock();
    if (subscriber == nullptr || subscriber->ended()) {
      it = subscribers_.erase(it);
      continue;
    }
    if (MatchesWatchFilter(subscriber->filter(), request)) {
      if (shared == nullptr) shared = std::make_shared<const api::RecreateRequest>(request);
      subscriber->Push(type, shared);
    }
    ++it;
  }
}

std::unique_ptr<RecreateWatch> WatchHub::Subscribe(const api::WatchRecreateRequestsRequest& request,
                                                   const std::vector<api::RecreateRequest>& initial) {
  auto subscriber = std::make_shared<WatchSubscriber>(request);
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    subscriber->End(absl::UnavailableError("inplaced is shutting down"));
    return std::make_unique<HubWatch>(std::move(subscriber));
  }
  if (!request.skip_initial_state()) {
    for (const api::RecreateRequest& existing : initial) {
      if (MatchesWatchFilter(request, existing)) {
        subscriber->Push(api::WATCH_EVENT_TYPE_ADDED, std::make_shared<const api::RecreateRequest>(existing));
      }
    }
    subscriber->PushSynced();
  }
  subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                    [](const std::weak_ptr<WatchSubscriber>& s) { return s.expired(); }),
                     subscribers_.end());
  subscribers_.push_back(subscriber);
  return std::make_unique<HubWatch>(std::move(subscriber));
}

void WatchHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (const std::weak_ptr<WatchSubscriber>& weak : subscribers_) {
    if (std::shared_ptr<WatchSubscriber> subscriber = weak.lock()) {
      subscriber->End(absl::UnavailableError("inplaced is shutting down"));
    }
  }
  subscribers_.clear();
}

int WatchHub::ActiveWatches() {
  absl::MutexLock lock(&mu_);
  int active = 0;
  for (const std::weak_ptr<WatchSubscriber>& weak : subscribers_) {
    std::shared_ptr<WatchSubscriber> subscriber = weak.lock();
    if (subscriber != nullptr && !subscriber->ended()) ++active;
  }
  return active;
}

}  // namespace inplaced::daemon
