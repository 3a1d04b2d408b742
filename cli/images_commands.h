#pragma once

// `inplacectl images set|get|pull|watch`: inplaced.v1.NodeImageService, with the progress display
// of cli/progress_bar.h for pull and watch.

#include "CLI/CLI.hpp"
#include "cli/daemon_client.h"

namespace inplaced::cli {

// Adds `images` and its subcommands to `app`; the exit code of the one that ran lands in
// *exit_code.
void AddImagesCommands(CLI::App& app, DaemonFlags* daemon, int* exit_code);

}  // namespace inplaced::cli
