#include "cri/status_cache.h"

#include <utility>

namespace inplaced::cri {

absl::Status StatusCache::Fill(Runtime& runtime, const std::vector<std::string>& container_ids,
                               NodeSnapshot* snapshot) {
  absl::flat_hash_map<std::string, Started> known;
  {
    absl::MutexLock lock(&mu_);
    known.swap(running_);
  }
  std::vector<std::string> unknown;
  absl::flat_hash_map<std::string, Started> next;
  for (const std::string& id : container_ids) {
    ContainerInfo* container = snapshot->FindMutableContainer(id);
    if (container == nullptr) continue;
    auto it = known.find(id);
    // Only an instance the list still shows running keeps its cached status.
    if (it == known.end() || container->state != criv1::CONTAINER_RUNNING) {
      unknown.push_back(id);
      continue;
    }
    container->has_status = true;
    container->started_at = it->second.started_at;
    next.emplace(id, it->second);
  }
  const absl::Status filled = FillStatus(runtime, unknown, snapshot);
  for (const std::string& id : unknown) {
    const ContainerInfo* container = snapshot->FindContainer(id);
    if (container == nullptr || !container->has_status) continue;
    if (container->state == criv1::CONTAINER_RUNNING && container->started_at > 0) {
      next.emplace(id, Started{container->started_at});
    }
  }
  absl::MutexLock lock(&mu_);
  running_ = std::move(next);
  return filled;
}

size_t StatusCache::size() {
  absl::MutexLock lock(&mu_);
  return running_.size();
}

}  // namespace inplaced::cri
