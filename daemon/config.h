#pragma once

// The daemon's YAML config file (yaml-cpp stays behind this adapter: its exceptions become
// absl::Status here). The file is a map from setting keys (daemon/settings.h) to values:
//
//   runtime_endpoint: unix:///run/containerd/containerd.sock
//   socket_group: inplaced
//   max_open_requests: 500
//   insecure_registry: [registry.lan:5000]
//
// Scalars for scalar settings, a sequence for list settings (insecure_registry), null for an unset
// optional setting (image_fs_assume_free_bytes: ~). An empty file sets nothing.

#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "daemon/options.h"
#include "daemon/settings.h"

namespace inplaced::daemon {

// Reads the config file at `path` and applies every setting in it to `options` (ApplySetting: the
// same parsing and checks as flags and environment variables).
// Errors, all INVALID_ARGUMENT naming the file and, when there is one, the line and the key
// ("/etc/inplaced/config.yaml:3: max_open_requests: must be between 1 and 1000000, got 0"): the
// file cannot be read, YAML syntax, a top level that is not a map, an unknown or repeated key, a
// value of the wrong shape (a list or map for a scalar setting) or a bad value. `options` may be
// partly changed on error.
absl::Status ApplyConfigFile(const std::string& path, DaemonOptions& options);

// `options` as a config file (every setting, with its help as a comment) that ApplyConfigFile reads
// back to the same options. Secret settings that are set print as "<redacted>". `settings` is the
// table to print (tests hand in their own).
std::string FormatConfig(const DaemonOptions& options,
                         absl::Span<const Setting> settings = AllSettings());

}  // namespace inplaced::daemon
