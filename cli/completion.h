#pragma once

// `inplacectl completion bash`: a bash completion script generated from the CLI11 command tree, so
// that it never falls behind the commands and flags.

#include <string>

#include "CLI/CLI.hpp"

namespace inplaced::cli {

// The script for `program`: completes subcommands and flags at every level of `app`'s tree (the
// flags of the parents too, since subcommands fall through to them), skips the value of a flag that
// takes one, and completes file names after -f/--filename. Source it, or drop it in
// /etc/bash_completion.d/.
std::string BashCompletion(const CLI::App& app, const std::string& program);

// Adds `completion bash` to `app`, printing BashCompletion(app, app's name) to stdout.
void AddCompletionCommand(CLI::App& app, int* exit_code);

}  // namespace inplaced::cli
