#pragma once

// How `inplacectl version` and `inplacectl health --node-info` show the daemon's NodeService answer.

#include <string>

#include "absl/strings/string_view.h"
#include "api/inplaced/v1/node.pb.h"

namespace inplaced::cli {

// "inplaced 0.1.0 (git 731a489) api=v1 node=node-a": the daemon's version and node name.
std::string FormatDaemonVersion(const ::inplaced::v1::NodeInfo& info);

// "runtime=containerd version=v1.7.24 api=v1 endpoint=unix:///..." as the daemon sees it, with
// " (not answering: as of its last answer)" when the runtime did not answer the daemon.
std::string FormatDaemonRuntime(const ::inplaced::v1::NodeInfo& info);

// "event-stream=streaming image-pinning=no byte-progress=no".
std::string FormatCapabilities(const ::inplaced::v1::NodeCapabilities& capabilities);

// "streaming", "subscribed", "unsupported", "disabled", "reconnecting", "unknown".
absl::string_view EventStreamName(::inplaced::v1::EventStream event_stream);

}  // namespace inplaced::cli
