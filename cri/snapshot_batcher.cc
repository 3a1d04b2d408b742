#include "cri/snapshot_batcher.h"

#include <utility>

namespace inplaced::cri {

absl::StatusOr<std::shared_ptr<const NodeSnapshot>> SnapshotBatcher::Read(
    const TargetedRead& alone) {
  std::shared_ptr<Round> round;
  bool shared = false;
  {
    absl::MutexLock lock(&mu_);
    if (next_ == nullptr) next_ = std::make_shared<Round>();
    round = next_;
    ++round->callers;
    ++waiting_;
    // Until a read is free (the first caller to see it leads the round) or the round was read.
    const auto startable_or_done = [this, &round]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return round->done || !reading_;
    };
    mu_.Await(absl::Condition(&startable_or_done));
    --waiting_;
    ++stats_.callers;
    if (round->done) return round->result;
    // This caller reads for its round; later callers form the next one.
    reading_ = true;
    next_ = nullptr;
    shared = round->callers > 1;
  }
  absl::StatusOr<std::shared_ptr<const NodeSnapshot>> result;
  absl::StatusOr<NodeSnapshot> read = shared ? TakeSnapshot(runtime_) : alone();
  if (read.ok()) {
    result = std::make_shared<const NodeSnapshot>(*std::move(read));
  } else {
    result = read.status();
  }
  absl::MutexLock lock(&mu_);
  round->result = result;
  round->done = true;
  reading_ = false;
  ++stats_.rounds;
  if (shared) ++stats_.whole_node;
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
