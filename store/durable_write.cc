#include "store/durable_write.h"

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

absl::Status AwaitDurable(const DurableRef& write, absl::Duration timeout) {
  if (write == nullptr) return absl::OkStatus();
  if (!write->done_.WaitForNotificationWithTimeout(timeout)) {
    return absl::UnavailableError(absl::StrCat(
        "the state store did not take the change within ", absl::FormatDuration(timeout),
        " (it is retried; call again to see whether it was kept)"));
  }
  absl::MutexLock lock(&write->mu_);
  return write->status_;
}

}  // namespace inplaced::store
