#pragma once

// Connecting to the node's CRI runtime: the entry point the daemon and the e2e tests use.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/runtime.h"

namespace inplaced::cri {

struct ConnectOptions {
  std::string endpoint;  // "unix:///path" or "/path"; empty = discover under discovery_root
  std::string discovery_root = "/var/run";
  absl::Duration request_timeout = absl::Minutes(2);
  absl::Duration connect_timeout =
      absl::Seconds(10);  // how long Connect waits for the Version probe
  int max_receive_message_bytes = 16 * 1024 * 1024;
};

struct Connection {
  std::unique_ptr<Runtime> runtime;
  std::string endpoint;            // the resolved "unix:///..." endpoint
  criv1::VersionResponse version;  // from the Version probe
};

// Resolves the endpoint (ParseEndpoint, or DiscoverEndpoint under discovery_root when empty),
// creates a GrpcRuntime on it, and probes Version, waiting up to connect_timeout for the socket to
// appear and accept (a runtime that is still starting is waited for). The returned runtime
// reconnects by itself if the runtime restarts later.
//
// Errors:
//   INVALID_ARGUMENT  the endpoint is malformed or not a unix socket;
//   NOT_FOUND         no endpoint configured and no runtime socket under discovery_root (lists them);
//   UNAVAILABLE       nothing answered at the endpoint within connect_timeout (names the endpoint);
//   FAILED_PRECONDITION  the runtime answered UNIMPLEMENTED (no CRI v1 service: the CRI plugin is
//                     disabled, or the runtime predates CRI v1), or a runtime_api_version other than
//                     "v1" (the message names what it answered);
//   other codes       as the runtime answered Version, prefixed with the endpoint.
// Thread-safe (no shared state).
absl::StatusOr<Connection> Connect(const ConnectOptions& options);

}  // namespace inplaced::cri
