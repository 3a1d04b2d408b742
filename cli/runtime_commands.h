#pragma once

// `inplacectl runtime ...`: look at the node's container runtime the way inplaced does (CRI client,
// snapshot), without the daemon. For operators checking what inplaced will see, and for the demo.

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "cri/connect.h"

namespace inplaced::cli {

// Flags shared by every command group, filled by CLI11 before a subcommand callback runs.
struct RuntimeFlags {
  std::string endpoint;  // empty = discover under discovery_root, like the daemon
  std::string discovery_root = "/var/run";
  double timeout_seconds = 10;
};

// Adds --runtime-endpoint (env INPLACED_RUNTIME_ENDPOINT) and --discovery-root to `command`.
void AddRuntimeOptions(CLI::App& command, RuntimeFlags* flags);

// Connects to the runtime `flags` name (or discovers it), as the daemon would.
absl::StatusOr<cri::Connection> ConnectRuntime(const RuntimeFlags& flags);

// Adds `runtime version|ps|pull|image` under `app`. A callback writes its result to stdout, an
// error to stderr, and stores the process exit code in *exit_code (0 ok, 1 runtime error). `flags`
// and `exit_code` must outlive app.parse().
void AddRuntimeCommands(CLI::App& app, RuntimeFlags* flags, int* exit_code);

}  // namespace inplaced::cli
