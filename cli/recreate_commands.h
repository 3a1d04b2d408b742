#pragma once

// The recreate commands of inplacectl, each one call (or a watch) of inplaced.v1.RecreateService:
// recreate, get, list, watch, delete, ack-unready, report-ready.

#include "CLI/CLI.hpp"
#include "cli/daemon_client.h"
#include "cli/runtime_commands.h"

namespace inplaced::cli {

// Adds the commands to `app`. `daemon` and `runtime` (for `recreate --all`) are filled by CLI11;
// the exit code of the command that ran is stored in *exit_code. All three must outlive
// app.parse().
void AddRecreateCommands(CLI::App& app, DaemonFlags* daemon, RuntimeFlags* runtime, int* exit_code);

}  // namespace inplaced::cli
