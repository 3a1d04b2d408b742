#include "cli/recreate_watch.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/exit_codes.h"
#include "cli/recreate_view.h"
#include "cli/terminal.h"

namespace inplaced::cli {

void RecreateTracker::Apply(const v1::WatchRecreateRequestsResponse& event) {
  if (event.type() == v1::WATCH_EVENT_TYPE_SYNCED) {
    synced_ = true;
    return;
  }
  const v1::RecreateRequest& request = event.recreate_request();
  Entry& entry = entries_[{request.metadata().namespace_(), request.metadata().name()}];
  entry.request = request;
  entry.deleted = event.type() == v1::WATCH_EVENT_TYPE_DELETED;
}

bool RecreateTracker::AllDone() const {
  if (!synced_ || entries_.empty()) return false;
  for (const auto& [key, entry] : entries_) {
    if (!entry.deleted && OutcomeOf(entry.request) == RecreateOutcome::kRunning) return false;
  }
  return true;
}

int RecreateTracker::ExitCode() const {
  for (const auto& [key, entry] : entries_) {
    // A request deleted before it completed did not succeed.
    if (OutcomeOf(entry.request) != RecreateOutcome::kSucceeded) return kExitFailed;
  }
  return kExitOk;
}

std::vector<v1::RecreateRequest> RecreateTracker::Requests() const {
  std::vector<v1::RecreateRequest> requests;
  for (const auto& [key, entry] : entries_) requests.push_back(entry.request);
  return requests;
}

absl::StatusOr<int> FollowRecreates(DaemonClient& client, const FollowOptions& options,
                                    std::ostream& out) {
  RecreateTracker tracker;
  LiveBlock block(out);
  std::map<std::string, std::string> last_lines;  // by namespace/name
  const absl::Status status = client.WatchRecreates(
      options.filter, options.deadline, [&](const v1::WatchRecreateRequestsResponse& event) {
        tracker.Apply(event);
        if (options.live) {
          if (tracker.synced()) {
            block.Draw(RecreateTable(tracker.Requests(), options.show_namespace, options.wide,
                                     absl::Now()));
          }
        } else if (event.type() != v1::WATCH_EVENT_TYPE_SYNCED) {
          // A change of fields the line does not show (times, IDs) would repeat the line: skip it.
          const v1::RecreateMetadata& metadata = event.recreate_request().metadata();
          std::string line = WatchEventLine(event.type(), event.recreate_request());
          std::string& last = last_lines[absl::StrCat(metadata.namespace_(), "/", metadata.name())];
          if (line != last) out << line << std::endl;
          last = std::move(line);
        }
        return !(options.until_done && tracker.AllDone());
      });
  if (status.code() == absl::StatusCode::kDeadlineExceeded && absl::Now() >= options.deadline) {
    std::cerr << "inplacectl: timed out; last seen:\n";
    for (const v1::RecreateRequest& request : tracker.Requests())
      std::cerr << "  " << OutcomeLine(request) << "\n";
    return kExitFailed;
  }
  if (!status.ok()) return status;
  if (!options.until_done) return kExitOk;
  for (const v1::RecreateRequest& request : tracker.Requests()) out << OutcomeLine(request) << "\n";
  return tracker.ExitCode();
}

}  // namespace inplaced::cli
