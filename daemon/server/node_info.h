#pragma once

// NodeInfoReporter: what inplaced.v1.NodeService answers about this node: its name, the daemon's and
// the runtime's versions, and the node's capabilities (the recreate engine's event stream, image
// pinning, byte progress of pulls).

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/inplaced/v1/node.pb.h"
#include "cri/runtime.h"
#include "daemon/recreate/container_events.h"

namespace inplaced::daemon {

struct NodeInfoOptions {
  std::string node_name;         // resolved already (daemon/node_name.h)
  std::string runtime_endpoint;  // "unix:///run/containerd/containerd.sock"
  // The runtime's answer when the daemon connected: reported while the runtime does not answer.
  cri::criv1::VersionResponse runtime_version;
  // Whether pulls report byte progress (the runtime serves containerd's content service).
  bool byte_progress = false;
};

// Thread-safe. The runtime must outlive the reporter; `event_stream` is called on the caller's
// thread and must not block (RecreateEngine::event_stream_state).
class NodeInfoReporter {
 public:
  NodeInfoReporter(cri::Runtime& runtime, std::function<EventStreamState()> event_stream,
                   NodeInfoOptions options);

  // The node's info now. Asks the runtime's Version (bounded by the runtime client's call
  // timeout); when that fails the runtime fields are those of the last answer and
  // runtime_reachable is false. Never fails.
  ::inplaced::v1::NodeInfo Collect();

 private:
  cri::Runtime& runtime_;
  const std::function<EventStreamState()> event_stream_;
  const NodeInfoOptions options_;
  absl::Mutex mu_;
  cri::criv1::VersionResponse last_version_ ABSL_GUARDED_BY(mu_);
};

// The proto value of an engine's subscription state.
::inplaced::v1::EventStream ToProto(EventStreamState state);

}  // namespace inplaced::daemon
