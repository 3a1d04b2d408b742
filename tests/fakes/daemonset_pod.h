#pragma once

// The DaemonSet of deploy/daemonset.yaml as a kubelet would run it on one node: the pod template's
// image, args, env, hostPath and ConfigMap volumes and probes are read from the manifest, never
// retyped by a test. What the node decides is given: where each hostPath is on this machine (the e2e's
// private directories), where ConfigMap volumes are written, the downward API's node name, and
// settings appended to the ConfigMap's config (a free probe port, so versions run side by side).
// Used by the DaemonSet e2e and by the manifest's consistency test (tests/unit/deploy).

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "tests/fakes/kubelet_standin.h"

namespace inplaced::fakes {

struct DaemonSetNode {
  std::string node_name;
  // hostPath volume path -> the directory that plays it here. A hostPath not listed is an error.
  std::map<std::string, std::string> host_paths;
  // ConfigMap volumes are written to <config_map_dir>/<volume name>/<key>.
  std::string config_map_dir;
  // Secret name -> the directory holding its keys as files. An optional Secret not listed is an
  // empty directory (as kubelet mounts a missing optional Secret); a required one is an error.
  std::map<std::string, std::string> secret_dirs;
  // Appended to every ConfigMap entry named config.yaml (YAML text, e.g. "probe_address: ...\n").
  std::string config_yaml_suffix;
  // Replaces the port of the httpGet probes (0: keep the manifest's).
  int probe_port = 0;
};

struct HttpProbe {
  std::string host;
  std::string path;
  int port = 0;
};

struct DaemonSetPod {
  PodSpec spec;  // one container: the template's first
  std::optional<HttpProbe> readiness;
  std::optional<HttpProbe> liveness;
};

// Reads the DaemonSet (and the ConfigMaps its volumes name) from the multi-document manifest at
// `manifest_path` and makes its pod for `node`. Errors name the manifest field that could not be
// mapped (INVALID_ARGUMENT) or the file that could not be read or written.
absl::StatusOr<DaemonSetPod> ReadDaemonSetPod(const std::string& manifest_path,
                                              const DaemonSetNode& node);

}  // namespace inplaced::fakes
