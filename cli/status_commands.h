#pragma once

// `inplacectl version` (client, daemon, runtime) and `inplacectl health` (grpc.health.v1).

#include "CLI/CLI.hpp"
#include "cli/daemon_client.h"
#include "cli/runtime_commands.h"

namespace inplaced::cli {

void AddStatusCommands(CLI::App& app, DaemonFlags* daemon, RuntimeFlags* runtime, int* exit_code);

}  // namespace inplaced::cli
