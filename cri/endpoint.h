#pragma once

// Where the CRI runtime listens: parsing a configured endpoint and finding the runtime's socket
// when none is configured.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::cri {

// The directory searched by DiscoverEndpoint when the caller does not say otherwise.
inline constexpr absl::string_view kDefaultDiscoveryRoot = "/var/run";

// Parses `endpoint` ("unix:///abs/path", or a bare absolute path, which means unix) and returns the
// canonical "unix:///abs/path" form. Like kubelet's cri-client, only unix sockets are supported.
//
// Errors (INVALID_ARGUMENT): empty endpoint; "tcp://..." ("only unix socket endpoints are
// supported"); any other scheme; a relative path; a path too long for sockaddr_un.sun_path.
absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint);

// The socket path of a canonical endpoint returned by ParseEndpoint ("unix:///p" -> "/p").
std::string SocketPathOf(absl::string_view canonical_endpoint);

// The socket paths DiscoverEndpoint tries under `root`, in order (kruise-daemon's order):
// containerd.sock, containerd/containerd.sock, crio.sock, crio/crio.sock, cri-dockerd.sock,
// cri-dockerd/cri-dockerd.sock.
std::vector<std::string> DiscoveryCandidates(absl::string_view root);

// Returns "unix://<path>" for the first candidate under `root` that exists and is a unix socket
// (a regular file or directory of that name is skipped). NOT_FOUND, listing every path tried, when
// none is. Reads the filesystem only (does not connect).
absl::StatusOr<std::string> DiscoverEndpoint(absl::string_view root = kDefaultDiscoveryRoot);

}  // namespace inplaced::cri
