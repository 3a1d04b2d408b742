#pragma once

// `inplacectl apply -f FILE|-` and `delete -f FILE|-`: OpenKruise YAML (cli/kruise_yaml.h) sent to
// the daemon. The whole file is mapped before any call is made: a refused field changes nothing.

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "cli/daemon_client.h"

namespace inplaced::cli {

// Adds `apply` to `app`; its exit code lands in *exit_code.
void AddApplyCommand(CLI::App& app, DaemonFlags* daemon, int* exit_code);

// For `delete -f`: deletes every ContainerRecreateRequest the file names, and empties the spec of
// the node's NodeImage when the file has one (the node's NodeImage itself always exists). Returns
// the exit code, or the first error (the objects before it are deleted).
absl::StatusOr<int> DeleteFromFile(const DaemonFlags& daemon, const std::string& file,
                                   const std::string& default_namespace);

}  // namespace inplaced::cli
