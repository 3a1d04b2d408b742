#include "daemon/server/node_info.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/status/statusor.h"
#include "common/build_info.h"

namespace inplaced::daemon {

namespace api = ::inplaced::v1;

api::EventStream ToProto(EventStreamState state) {
  switch (state) {
    case EventStreamState::kDisabled:
      return api::EVENT_STREAM_DISABLED;
    case EventStreamState::kSubscribed:
      return api::EVENT_STREAM_SUBSCRIBED;
    case EventStreamState::kStreaming:
      return api::EVENT_STREAM_STREAMING;
    case EventStreamState::kUnsupported:
      return api::EVENT_STREAM_UNSUPPORTED;
    case EventStreamState::kReconnecting:
      return api::EVENT_STREAM_RECONNECTING;
  }
  return api::EVENT_STREAM_UNSPECIFIED;
}

NodeInfoReporter::NodeInfoReporter(cri::Runtime& runtime,
                                   std::function<EventStreamState()> event_stream,
                                   NodeInfoOptions options)
    : runtime_(runtime),
      event_stream_(std::move(event_stream)),
      options_(std::move(options)),
      last_version_(options_.runtime_version) {}

api::NodeInfo NodeInfoReporter::Collect() {
  // Asked each time: the runtime may have been upgraded and restarted under a running daemon.
  absl::StatusOr<cri::criv1::VersionResponse> answered = runtime_.Version({});
  cri::criv1::VersionResponse version;
  {
    absl::MutexLock lock(&mu_);
    if (answered.ok()) last_version_ = *answered;
    version = last_version_;
  }
  if (!answered.ok()) {
    spdlog::warn("node_info_runtime_version_failed error=\"{}\"", answered.status().ToString());
  }
  api::NodeInfo info;
  info.set_node_name(options_.node_name);
  info.set_daemon_version(BuildVersion());
  info.set_daemon_build(BuildGitDescribe());
  info.set_api_version("v1");
  info.set_runtime_name(version.runtime_name());
  info.set_runtime_version(version.runtime_version());
  info.set_runtime_api_version(version.runtime_api_version());
  info.set_runtime_endpoint(options_.runtime_endpoint);
  info.set_runtime_reachable(answered.ok());
  api::NodeCapabilities* capabilities = info.mutable_capabilities();
  capabilities->set_event_stream(ToProto(event_stream_()));
  // Pinning (the CRI Image.pinned label set through containerd's images API) is not implemented:
  // say so rather than what the runtime could do.
  capabilities->set_image_pinning(false);
  capabilities->set_byte_progress(options_.byte_progress);
  return info;
}

}  // namespace inplaced::daemon
