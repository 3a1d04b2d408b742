#include "store/durable_write.h"

#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log_safe.h"
#include "spdlog/spdlog.h"

namespace inplaced::store {

void DurableWrite::Finish(absl::Status status) {
  std::vector<std::function<void(absl::Status)>> continuations;
  {
    absl::MutexLock lock(&mu_);
    status_ = status;
    finished_ = true;
    continuations.swap(continuations_);
  }
  for (auto& next : continuations) next(status);
  done_.Notify();
}

DurableRef SubmitDurable(GroupCommitter& committer, Write write, const char* log_event) {
  auto durable = std::make_shared<DurableWrite>();
  std::string key = write.key;
  committer.Submit(std::move(write),
                   [durable, key = std::move(key), log_event](const WriteResult& result) {
                     // Refused (a bug: each engine is its records' only writer) or abandoned at shutdown.
                     if (!result.ok()) {
                       spdlog::error("{} key={} error=\"{}\"", log_event, LogSafe(key),
                                     LogSafe(result.status().ToString()));
                     }
                     durable->Finish(result.status());
                   });
  return durable;
}

void WhenDurable(const DurableRef& write, std::function<void(absl::Status)> next) {
  if (write == nullptr) {
    next(absl::OkStatus());
    return;
  }
  absl::Status status;
  {
    absl::MutexLock lock(&write->mu_);
    if (!write->finished_) {
      write->continuations_.push_back(std::move(next));
      return;
    }
    status = write->status_;
  }
  next(status);
}

namespace {

absl::Status NotDurableWithin(absl::Duration timeout) {
  return absl::UnavailableError(
      absl::StrCat("the state store did not take the change within ", absl::FormatDuration(timeout),
                   " (it is retried; call again to see whether it was kept)"));
}

// `next` for the first of the write's outcome and its timer.
class FirstOutcome {
 public:
  explicit FirstOutcome(std::function<void(absl::Status)> next) : next_(std::move(next)) {}
  void Give(absl::Status status) {
    if (given_.exchange(true)) return;
    next_(std::move(status));
  }

 private:
  std::atomic<bool> given_{false};
  std::function<void(absl::Status)> next_;
};

}  // namespace

absl::Status AwaitDurable(const DurableRef& write, absl::Duration timeout) {
  if (write == nullptr) return absl::OkStatus();
  if (!write->done_.WaitForNotificationWithTimeout(timeout)) return NotDurableWithin(timeout);
  absl::MutexLock lock(&write->mu_);
  return write->status_;
}

void WhenDurableWithin(const DurableRef& write, absl::Duration timeout, TimerQueue& timers,
                       std::function<void(absl::Status)> next) {
  if (write == nullptr) {
    next(absl::OkStatus());
    return;
  }
  auto outcome = std::make_shared<FirstOutcome>(std::move(next));
  // The timer first, so that the write's continuation, however soon it runs, can cancel it: a bound
  // that no longer matters costs no wake-up (a burst of Creates would otherwise fire a timer each).
  const TimerQueue::Handle timer = timers.Schedule(
      absl::Now() + timeout, [outcome, timeout] { outcome->Give(NotDurableWithin(timeout)); });
  WhenDurable(write, [outcome, &timers, timer](absl::Status status) {
    outcome->Give(std::move(status));
    timers.Cancel(timer);
  });
}

}  // namespace inplaced::store
