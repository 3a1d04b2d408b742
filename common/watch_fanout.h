#pragma once

// WatchFanout<T>: fan-out of changes of keyed objects (recreate requests, the NodeImage) to the
// watches of the control API.
//
// The owning engine publishes every change of an object: ADDED when it appears, MODIFIED on each
// update, DELETED when it goes (with its last state). Each subscriber has a filter and receives the
// changes of the objects that pass it, through a Watch<T> it reads at its own pace.
//
// Publish never blocks on a slow reader: per subscriber, undelivered events of the same key are
// coalesced into the object's latest state, keeping the position of the oldest undelivered one (a
// slow reader gets each object's newest state, never an older one after a newer). An undelivered
// ADDED stays ADDED (the reader has not seen the object yet). A DELETED is never coalesced away: it
// replaces the undelivered event of that key, and an ADDED of an object created again under the
// same key is queued behind it. A subscriber's backlog is therefore bounded by the number of keys
// (plus deletions it has not read). An engine with one object (the NodeImage) uses one key: each
// reader then holds at most one pending state.
//
// A reader either blocks in Watch::Next() (a thread per reader) or polls with Watch::TryNext() and
// is told through its ready callback when to poll again (no thread of its own: the callback API's
// streams).
//
// Thread-safety: every method of WatchFanout and Watch is thread-safe; Watch::Next()/TryNext() are
// called by one thread at a time. The publisher's order is the delivery order: an engine publishes
// under its own lock. A Watch may outlive the fan-out (it has then ended with UNAVAILABLE).

#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace inplaced {

enum class WatchEventKind {
  kAdded,
  kModified,
  kDeleted,
  kSynced,  // the initial state has been sent (no object)
};

// What a non-blocking read found.
enum class WatchPoll {
  kEvent,  // an event was taken
  kEmpty,  // none queued: the ready callback runs when one is
  kEnded,  // the watch ended (Status() says why)
};

// The initial state of a subscription, handed over without copying it first: called once, it
// calls `visit` with each object that exists now.
template <typename T>
using ForEachObject = std::function<void(const std::function<void(const T&)>& visit)>;

template <typename T>
struct WatchEvent {
  WatchEventKind kind = WatchEventKind::kSynced;
  std::shared_ptr<const T> object;  // null for kSynced; shared by every subscriber
};

namespace watch_internal {

// One subscriber's queue. Shared by the fan-out (weak) and the Watch handed out (strong), so either
// may go first.
template <typename T>
class Subscriber {
 public:
  using Filter = std::function<bool(const T&)>;
  using ReadyCallback = std::function<void()>;

  explicit Subscriber(Filter filter) : filter_(std::move(filter)) {}

  bool Matches(const T& object) const { return filter_ == nullptr || filter_(object); }

  // Queues (or coalesces) one change of the object at `key`; the caller has checked the filter.
  void Push(WatchEventKind kind, std::string key, std::shared_ptr<const T> object) {
    std::shared_ptr<const ReadyCallback> ready;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      auto pending = latest_.find(key);
      if (pending != latest_.end()) {
        Event& event = *pending->second;
        event.object = std::move(object);
        if (kind == WatchEventKind::kDeleted) {
          // Replaced in place; anything published later for this key (an object created again)
          // must queue behind the DELETED, so the key leaves the coalescing index.
          event.kind = kind;
          latest_.erase(pending);
        } else if (event.kind != WatchEventKind::kAdded) {
          // A still-undelivered ADDED stays ADDED: the reader has not seen this object yet.
          event.kind = kind;
        }
        return;  // the queue was not empty: the reader has been told already
      }
      if (queue_.empty()) ready = ready_;
      queue_.push_back(Event{kind, key, std::move(object)});
      if (kind != WatchEventKind::kDeleted)
        latest_.emplace(std::move(key), std::prev(queue_.end()));
      cv_.Signal();
    }
    Notify(ready);
  }

  void PushSynced() {
    std::shared_ptr<const ReadyCallback> ready;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      if (queue_.empty()) ready = ready_;
      queue_.push_back(Event{WatchEventKind::kSynced, std::string(), nullptr});
      cv_.Signal();
    }
    Notify(ready);
  }

  bool Next(WatchEvent<T>* out) {
    absl::MutexLock lock(&mu_);
    while (!ended_ && queue_.empty()) cv_.Wait(&mu_);
    if (ended_) return false;
    PopLocked(out);
    return true;
  }

  WatchPoll TryNext(WatchEvent<T>* out) {
    absl::MutexLock lock(&mu_);
    if (ended_) return WatchPoll::kEnded;
    if (queue_.empty()) return WatchPoll::kEmpty;
    PopLocked(out);
    return WatchPoll::kEvent;
  }

  // `ready` runs (outside this subscriber's lock) each time the queue turns non-empty and when the
  // watch ends, and once now if an event is queued or the watch has ended.
  void SetReadyCallback(ReadyCallback ready) {
    std::shared_ptr<const ReadyCallback> now;
    {
      absl::MutexLock lock(&mu_);
      ready_ = std::make_shared<const ReadyCallback>(std::move(ready));
      if (ended_ || !queue_.empty()) now = ready_;
    }
    Notify(now);
  }

  // Ends the watch with `status` unless it already ended; a blocked Next() returns false.
  void End(absl::Status status) {
    std::shared_ptr<const ReadyCallback> ready;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      ended_ = true;
      status_ = std::move(status);
      queue_.clear();
      latest_.clear();
      cv_.SignalAll();
      ready = ready_;
    }
    Notify(ready);
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
    WatchEventKind kind;
    std::string key;                  // empty for kSynced
    std::shared_ptr<const T> object;  // null for kSynced
  };
  using Queue = std::list<Event>;

  // Never under mu_: the callback reads the watch again (TryNext takes mu_), and its own locks come
  // before mu_.
  static void Notify(const std::shared_ptr<const ReadyCallback>& ready) {
    if (ready != nullptr && *ready != nullptr) (*ready)();
  }

  void PopLocked(WatchEvent<T>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Event& front = queue_.front();
    if (front.object != nullptr) {
      auto pending = latest_.find(front.key);
      // Only the index entry of the event taken now is dropped (a DELETED may precede a newer ADDED
      // of the same key, which stays indexed).
      if (pending != latest_.end() && pending->second == queue_.begin()) latest_.erase(pending);
    }
    out->kind = front.kind;
    out->object = std::move(front.object);
    queue_.pop_front();
  }

  const Filter filter_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  Queue queue_ ABSL_GUARDED_BY(mu_);
  // Per key, its undelivered non-DELETED event in queue_, the one later changes merge into.
  absl::flat_hash_map<std::string, typename Queue::iterator> latest_ ABSL_GUARDED_BY(mu_);
  // Shared so that it can be called after mu_ is released, while another thread replaces it.
  std::shared_ptr<const ReadyCallback> ready_ ABSL_GUARDED_BY(mu_);
};

}  // namespace watch_internal

// The reader's end of one subscription. Destroying it ends the watch (the fan-out forgets it).
template <typename T>
class Watch {
 public:
  explicit Watch(std::shared_ptr<watch_internal::Subscriber<T>> subscriber)
      : subscriber_(std::move(subscriber)) {}
  ~Watch() { Cancel(); }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // Blocks until the next event and returns true, or returns false once the watch ended (Cancel(),
  // or the fan-out shut down: Status() says which).
  bool Next(WatchEvent<T>* event) { return subscriber_->Next(event); }
  // Takes the next event if one is queued (kEvent), else says whether the watch is still open
  // (kEmpty) or ended (kEnded). Never blocks.
  WatchPoll TryNext(WatchEvent<T>* event) { return subscriber_->TryNext(event); }
  // For readers that poll with TryNext: `ready` runs whenever the queue turns non-empty and when the
  // watch ends, and right away if an event is already queued or the watch has ended. It runs on
  // the publisher's thread (under the engine's and the fan-out's locks, never under the watch's
  // own), possibly on several threads at once: it must be short, must not publish, and may call
  // TryNext. Replaces an earlier callback.
  void SetReadyCallback(std::function<void()> ready) {
    subscriber_->SetReadyCallback(std::move(ready));
  }
  // Why the watch ended: OK after Cancel(), UNAVAILABLE after the fan-out's Shutdown(); OK while
  // open.
  absl::Status Status() { return subscriber_->status(); }
  // Ends the watch; a blocked Next() returns false, the ready callback runs (on this thread).
  // Idempotent.
  void Cancel() { subscriber_->End(absl::OkStatus()); }

 private:
  std::shared_ptr<watch_internal::Subscriber<T>> subscriber_;
};

template <typename T>
class WatchFanout {
 public:
  // The coalescing key of an object (e.g. "namespace/name"); a constant for a single object.
  using KeyFn = std::function<std::string(const T&)>;
  // Whether a subscriber wants an object's changes; null: every object.
  using Filter = std::function<bool(const T&)>;

  explicit WatchFanout(KeyFn key) : key_(std::move(key)) {}
  // Shutdown(): open watches end with UNAVAILABLE.
  ~WatchFanout() { Shutdown(); }
  WatchFanout(const WatchFanout&) = delete;
  WatchFanout& operator=(const WatchFanout&) = delete;

  // Sends a change of `object` to every open subscriber whose filter passes it. `kind` is kAdded,
  // kModified or kDeleted (for kDeleted, `object` is its last state). Never blocks on readers;
  // copies `object` once, and only when someone wants it.
  void Publish(WatchEventKind kind, const T& object) {
    std::shared_ptr<const T> shared;
    std::string key;
    absl::MutexLock lock(&mu_);
    auto it = subscribers_.begin();
    while (it != subscribers_.end()) {
      std::shared_ptr<watch_internal::Subscriber<T>> subscriber = it->lock();
      if (subscriber == nullptr || subscriber->ended()) {
        it = subscribers_.erase(it);
        continue;
      }
      if (subscriber->Matches(object)) {
        if (shared == nullptr) {
          shared = std::make_shared<const T>(object);
          key = key_(object);
        }
        subscriber->Push(kind, key, shared);
      }
      ++it;
    }
  }

  // Opens a watch with `filter`. The watch first yields one kAdded per object that
  // `for_each_initial` visits and the filter passes (in the visiting order; null visits none), then
  // one kSynced if `synced`. Each such object is filtered and copied once, here. The visitor walks
  // the state now: the engine calls Subscribe under its own lock, so that no change is lost or sent
  // twice between the initial state and the changes. After Shutdown() the watch has already ended
  // with UNAVAILABLE.
  std::unique_ptr<Watch<T>> Subscribe(Filter filter, const ForEachObject<T>& for_each_initial,
                                      bool synced) {
    auto subscriber = std::make_shared<watch_internal::Subscriber<T>>(std::move(filter));
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      subscriber->End(ShuttingDown());
      return std::make_unique<Watch<T>>(std::move(subscriber));
    }
    if (for_each_initial != nullptr) {
      for_each_initial([&](const T& existing) {
        if (!subscriber->Matches(existing)) return;
        subscriber->Push(WatchEventKind::kAdded, key_(existing),
                         std::make_shared<const T>(existing));
      });
    }
    if (synced) subscriber->PushSynced();
    PruneLocked();
    subscribers_.push_back(subscriber);
    return std::make_unique<Watch<T>>(std::move(subscriber));
  }

  // Ends every watch with UNAVAILABLE; later Subscribe calls return an ended watch. Idempotent.
  void Shutdown() {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    for (const auto& weak : subscribers_) {
      if (auto subscriber = weak.lock()) subscriber->End(ShuttingDown());
    }
    subscribers_.clear();
  }

  // Open (not ended, not destroyed) watches. For tests and metrics.
  int ActiveWatches() {
    absl::MutexLock lock(&mu_);
    int active = 0;
    for (const auto& weak : subscribers_) {
      auto subscriber = weak.lock();
      if (subscriber != nullptr && !subscriber->ended()) ++active;
    }
    return active;
  }

 private:
  static absl::Status ShuttingDown() { return absl::UnavailableError("inplaced is shutting down"); }

  void PruneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<std::weak_ptr<watch_internal::Subscriber<T>>> open;
    open.reserve(subscribers_.size());
    for (auto& weak : subscribers_) {
      if (!weak.expired()) open.push_back(std::move(weak));
    }
    subscribers_ = std::move(open);
  }

  const KeyFn key_;
  // Lock order: mu_, then a subscriber's own lock. Gone subscribers are pruned on
  // Publish/Subscribe.
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<watch_internal::Subscriber<T>>> subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced
