#include "daemon/server/open_watch_streams.h"

#include <utility>
#include <vector>

namespace inplaced::daemon {

int OpenWatchStreams::Add(std::function<void()> stop) {
  int id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    if (!stopped_) {
      stops_.emplace(id, std::move(stop));
      return id;
    }
  }
  stop();
  return id;
}

void OpenWatchStreams::Remove(int id) {
  absl::MutexLock lock(&mu_);
  stops_.erase(id);
}

void OpenWatchStreams::StopAll() {
  std::vector<std::function<void()>> stops;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    stops.reserve(stops_.size());
    for (auto& [id, stop] : stops_) stops.push_back(std::move(stop));
    stops_.clear();
  }
  for (const auto& stop : stops) stop();
}

absl::Status OpenWatchStreams::EndStatus(const absl::Status& watch_status) {
  if (!watch_status.ok()) return watch_status;
  absl::MutexLock lock(&mu_);
  if (stopped_)
    return absl::UnavailableError("inplaced is shutting down: watch again after restart");
  return absl::CancelledError("watch cancelled by the client");
}

}  // namespace inplaced::daemon
