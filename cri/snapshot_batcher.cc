#include "cri/snapshot_batcher.h"

#include <algorithm>
#include <utility>

namespace inplaced::cri {
namespace {

absl::StatusOr<std::shared_ptr<const NodeSnapshot>> Shared(absl::StatusOr<NodeSnapshot> read) {
  if (!read.ok()) return read.status();
  return std::make_shared<const NodeSnapshot>(*std::move(read));
}

}  // namespace

SnapshotBatcher::SnapshotBatcher(Runtime& runtime, int max_targeted_reads)
    : runtime_(runtime), max_targeted_reads_(std::max(1, max_targeted_reads)) {}

absl::StatusOr<std::shared_ptr<const NodeSnapshot>> SnapshotBatcher::Read(
    const TargetedRead& alone) {
  {
    absl::MutexLock lock(&mu_);
    ++stats_.callers;
    // A round already forming is joined even if a slot freed meanwhile: its callers came first.
    if (next_ != nullptr || targeted_running_ >= max_targeted_reads_) return ReadInRound();
    ++targeted_running_;
    ++stats_.targeted;
  }
  absl::StatusOr<NodeSnapshot> read = alone();
  absl::MutexLock lock(&mu_);
  --targeted_running_;
  return Shared(std::move(read));
}

absl::StatusOr<std::shared_ptr<const NodeSnapshot>> SnapshotBatcher::ReadInRound() {
  if (next_ == nullptr) next_ = std::make_shared<Round>();
  const std::shared_ptr<Round> round = next_;
  ++waiting_;
  // Until no whole-node read runs (the first of the round to see it reads for all of them) or the
  // round was read.
  const auto startable_or_done = [this, &round]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return round->done || !whole_node_running_;
  };
  mu_.Await(absl::Condition(&startable_or_done));
  --waiting_;
  if (round->done) return round->result;
  // Later callers form the next round.
  whole_node_running_ = true;
  next_ = nullptr;
  ++stats_.whole_node;
  mu_.Unlock();
  absl::StatusOr<std::shared_ptr<const NodeSnapshot>> result = Shared(TakeSnapshot(runtime_));
  mu_.Lock();
  round->result = result;
  round->done = true;
  whole_node_running_ = false;
  return result;
}

SnapshotBatcher::Stats SnapshotBatcher::stats() {
  absl::MutexLock lock(&mu_);
  return stats_;
}

int SnapshotBatcher::waiting() {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace inplaced::cri
