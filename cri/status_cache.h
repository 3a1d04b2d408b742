#pragma once

// StatusCache: ContainerStatus read once per running container instance, not once per tick.
//
// What the engine needs from ContainerStatus of a running instance (its started_at) never changes
// while that instance runs: a container that exits shows as EXITED in the next ListContainers, and
// a restart is a new instance with a new ID. So Fill asks the runtime only about instances it has
// not seen running before and fills the others from memory; 1,000 requests waiting on
// min_started_seconds then cost no ContainerStatus call per tick.
//
// The cache keeps only the instances of the last Fill (bounded by what the caller tracks).
// Thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "cri/runtime.h"
#include "cri/snapshot.h"

namespace inplaced::cri {

class StatusCache {
 public:
  // cri::FillStatus for the `container_ids` not seen running by an earlier Fill; the rest are
  // filled from the cache. Instances the runtime reports running with a start time are remembered.
  // Errors: FillStatus's (the first ContainerStatus error; those containers stay without status).
  absl::Status Fill(Runtime& runtime, const std::vector<std::string>& container_ids,
                    NodeSnapshot* snapshot);

  // The number of cached instances (for tests).
  size_t size();

 private:
  struct Started {
    int64_t started_at = 0;
  };

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Started> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::cri
