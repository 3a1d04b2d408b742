#include "cli/recreate_view.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/table.h"
#include "common/proto_time.h"

namespace inplaced::cli {

std::string RecreatePhaseName(v1::RecreatePhase phase) {
  switch (phase) {
    case v1::RECREATE_PHASE_PENDING:
      return "Pending";
    case v1::RECREATE_PHASE_RECREATING:
      return "Recreating";
    case v1::RECREATE_PHASE_COMPLETED:
      return "Completed";
    default:
      return "Unknown";
  }
}

std::string ContainerPhaseName(v1::ContainerRecreatePhase phase) {
  switch (phase) {
    case v1::CONTAINER_RECREATE_PHASE_PENDING:
      return "Pending";
    case v1::CONTAINER_RECREATE_PHASE_RECREATING:
      return "Recreating";
    case v1::CONTAINER_RECREATE_PHASE_SUCCEEDED:
      return "Succeeded";
    case v1::CONTAINER_RECREATE_PHASE_FAILED:
      return "Failed";
    default:
      return "Unknown";
  }
}

RecreateOutcome OutcomeOf(const v1::RecreateRequest& request) {
  const v1::RecreateStatus& status = request.status();
  if (status.phase() != v1::RECREATE_PHASE_COMPLETED) return RecreateOutcome::kRunning;
  if (status.container_states_size() == 0) return RecreateOutcome::kFailed;
  for (const v1::ContainerRecreateState& state : status.container_states()) {
    if (state.phase() != v1::CONTAINER_RECREATE_PHASE_SUCCEEDED) return RecreateOutcome::kFailed;
  }
  return RecreateOutcome::kSucceeded;
}

std::string ContainersCell(const v1::RecreateStatus& status) {
  int succeeded = 0;
  int failed = 0;
  for (const v1::ContainerRecreateState& state : status.container_states()) {
    if (state.phase() == v1::CONTAINER_RECREATE_PHASE_SUCCEEDED) ++succeeded;
    if (state.phase() == v1::CONTAINER_RECREATE_PHASE_FAILED) ++failed;
  }
  std::string cell = absl::StrCat(succeeded, "/", status.container_states_size());
  if (failed > 0) absl::StrAppend(&cell, " (", failed, " failed)");
  return cell;
}

namespace {

std::string ContainerStates(const v1::RecreateStatus& status, absl::string_view separator) {
  return absl::StrJoin(status.container_states(), separator,
                       [](std::string* out, const v1::ContainerRecreateState& state) {
                         absl::StrAppend(out, state.name(), "=", ContainerPhaseName(state.phase()));
                       });
}

std::string QualifiedName(const v1::RecreateRequest& request) {
  return absl::StrCat(request.metadata().namespace_(), "/", request.metadata().name());
}

}  // namespace

std::string RecreateTable(const std::vector<v1::RecreateRequest>& requests, bool show_namespace,
                          bool wide, absl::Time now) {
  std::vector<std::string> headers = {"NAME", "POD", "PHASE", "CONTAINERS", "AGE"};
  if (show_namespace) headers.insert(headers.begin(), "NAMESPACE");
  if (wide) headers.insert(headers.end(), {"POD-UID", "STATES", "MESSAGE"});
  Table table(headers);
  for (const v1::RecreateRequest& request : requests) {
    std::vector<std::string> row = {
        request.metadata().name(), request.spec().pod_name(),
        RecreatePhaseName(request.status().phase()), ContainersCell(request.status()),
        FormatAge(now - FromProtoTime(request.metadata().creation_time()))};
    if (show_namespace) row.insert(row.begin(), request.metadata().namespace_());
    if (wide) {
      row.insert(row.end(), {request.status().pod_uid(), ContainerStates(request.status(), ","),
                             request.status().message()});
    }
    table.AddRow(std::move(row));
  }
  return table.Render();
}

std::string WatchEventLine(v1::WatchEventType type, const v1::RecreateRequest& request) {
  std::string type_name = v1::WatchEventType_Name(type);
  type_name.erase(0, std::string("WATCH_EVENT_TYPE_").size());
  std::string line =
      absl::StrCat(type_name, " ", QualifiedName(request), " pod=", request.spec().pod_name(),
                   " phase=", RecreatePhaseName(request.status().phase()));
  if (request.status().container_states_size() > 0) {
    absl::StrAppend(&line, " ", ContainerStates(request.status(), " "));
  }
  if (!request.status().message().empty()) {
    absl::StrAppend(&line, " message=\"", request.status().message(), "\"");
  }
  return line;
}

std::string OutcomeLine(const v1::RecreateRequest& request) {
  const v1::RecreateStatus& status = request.status();
  std::string line = absl::StrCat(QualifiedName(request), ": ", RecreatePhaseName(status.phase()));
  if (OutcomeOf(request) == RecreateOutcome::kSucceeded) {
    absl::StrAppend(&line, ", ", status.container_states_size(), "/",
                    status.container_states_size(), " containers Succeeded");
    return line;
  }
  if (!status.message().empty()) absl::StrAppend(&line, ": ", status.message());
  for (const v1::ContainerRecreateState& state : status.container_states()) {
    if (state.phase() == v1::CONTAINER_RECREATE_PHASE_SUCCEEDED) continue;
    absl::StrAppend(&line, "; ", state.name(), " ", ContainerPhaseName(state.phase()));
    if (!state.message().empty()) absl::StrAppend(&line, ": ", state.message());
  }
  return line;
}

}  // namespace inplaced::cli
