#include "cli/node_view.h"

#include "absl/strings/str_cat.h"

namespace inplaced::cli {

namespace v1 = ::inplaced::v1;

std::string FormatDaemonVersion(const v1::NodeInfo& info) {
  std::string out = absl::StrCat("inplaced ", info.daemon_version());
  if (!info.daemon_build().empty()) absl::StrAppend(&out, " (git ", info.daemon_build(), ")");
  absl::StrAppend(&out, " api=", info.api_version(), " node=", info.node_name());
  return out;
}

std::string FormatDaemonRuntime(const v1::NodeInfo& info) {
  std::string out =
      absl::StrCat("runtime=", info.runtime_name(), " version=", info.runtime_version(),
                   " api=", info.runtime_api_version(), " endpoint=", info.runtime_endpoint());
  if (!info.runtime_reachable()) absl::StrAppend(&out, " (not answering: as of its last answer)");
  return out;
}

absl::string_view EventStreamName(v1::EventStream event_stream) {
  switch (event_stream) {
    case v1::EVENT_STREAM_DISABLED:
      return "disabled";
    case v1::EVENT_STREAM_SUBSCRIBED:
      return "subscribed";
    case v1::EVENT_STREAM_STREAMING:
      return "streaming";
    case v1::EVENT_STREAM_UNSUPPORTED:
      return "unsupported";
    case v1::EVENT_STREAM_RECONNECTING:
      return "reconnecting";
    default:
      return "unknown";
  }
}

std::string FormatCapabilities(const v1::NodeCapabilities& capabilities) {
  return absl::StrCat("event-stream=", EventStreamName(capabilities.event_stream()),
                      " image-pinning=", capabilities.image_pinning() ? "yes" : "no",
                      " byte-progress=", capabilities.byte_progress() ? "yes" : "no");
}

}  // namespace inplaced::cli
