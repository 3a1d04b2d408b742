#pragma once

// The Kubernetes node name the daemon reports (NodeService), when the node_name setting leaves it
// empty: the NODE_NAME environment variable (a DaemonSet sets it from the downward API,
// spec.nodeName), else the host name in lowercase, as kubelet derives its default node name.

#include <string>

namespace inplaced::daemon {

// `configured` when non-empty; else $NODE_NAME when non-empty; else the lowercased host name; ""
// when even gethostname fails.
std::string ResolveNodeName(const std::string& configured);

}  // namespace inplaced::daemon
