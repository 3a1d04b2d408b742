#include "store/group_committer.h"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace inplaced::store {
namespace {

absl::Status Abandoned() {
  return absl::UnavailableError(
      "state store: write abandoned at shutdown (the store kept failing)");
}

}  // namespace

GroupCommitter::GroupCommitter(Store& store, GroupCommitterOptions options)
    : store_(store), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

GroupCommitter::~GroupCommitter() { Shutdown(absl::ZeroDuration()); }

void GroupCommitter::Submit(Write write, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      ++submitted_;
      queue_.push_back(Pending{std::move(write), std::move(done)});
      return;
    }
  }
  if (done) done(WriteResult(absl::UnavailableError("state store: shutting down")));
}

GroupCommitter::Hold::Hold(GroupCommitter& committer) : committer_(committer) {
  absl::MutexLock lock(&committer_.mu_);
  ++committer_.holds_;
}

GroupCommitter::Hold::~Hold() {
  absl::MutexLock lock(&committer_.mu_);
  --committer_.holds_;
}

void GroupCommitter::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t ticket = submitted_;
  const auto reached = [this, ticket]()
                           ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= ticket; };
  mu_.Await(absl::Condition(&reached));
}

void GroupCommitter::Shutdown(absl::Duration retry_bound) {
  absl::MutexLock join_lock(&join_mu_);
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    give_up_at_ = absl::Now() + retry_bound;
  }
  thread_.join();
}

GroupCommitter::Stats GroupCommitter::stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::StatusOr<std::vector<WriteResult>> GroupCommitter::ApplyWithRetry(
    const std::vector<Write>& batch) {
  absl::Duration backoff = options_.retry_initial;
  std::string last_error;
  while (true) {
    absl::StatusOr<std::vector<WriteResult>> results = store_.Apply(batch);
    if (results.ok()) {
      if (!last_error.empty()) spdlog::info("state_store_writable_again writes={}", batch.size());
      return results;
    }
    const std::string error = results.status().ToString();
    if (error != last_error) {
      // Once per distinct error: a full disk would otherwise flood the log.
      spdlog::error(
          "state_store_write_failed writes={} error=\"{}\" (retrying; nothing later is "
          "written or acted on before it)",
          batch.size(), error);
      last_error = error;
    }
    absl::MutexLock lock(&mu_);
    const absl::Time retry_at = absl::Now() + backoff;
    if (retry_at > give_up_at_) return results.status();
    // Woken early only by a shutdown (give_up_at_ moves from InfiniteFuture).
    const absl::Time give_up_at = give_up_at_;
    const auto shutdown_moved = [this, give_up_at]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return give_up_at_ != give_up_at;
    };
    mu_.AwaitWithDeadline(absl::Condition(&shutdown_moved), retry_at);
    backoff = std::min(backoff * 2, options_.retry_max);
  }
}

void GroupCommitter::Run() {
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return (!queue_.empty() && holds_ == 0) || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything is written
      const size_t take = std::min(queue_.size(), static_cast<size_t>(options_.max_batch));
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<Write> writes;
    writes.reserve(batch.size());
    for (Pending& pending : batch) writes.push_back(std::move(pending.write));
    const absl::StatusOr<std::vector<WriteResult>> results = ApplyWithRetry(writes);
    {
      absl::MutexLock lock(&mu_);
      if (results.ok()) {
        ++stats_.batches;
        stats_.writes += static_cast<int64_t>(writes.size());
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].done) continue;
      batch[i].done(results.ok() ? (*results)[i] : WriteResult(Abandoned()));
    }
    absl::MutexLock lock(&mu_);
    done_ += batch.size();
  }
}

}  // namespace inplaced::store
