// inplacectl: the command-line client of inplaced.

#include "CLI/CLI.hpp"
#include "cli/apply_commands.h"
#include "cli/completion.h"
#include "cli/daemon_client.h"
#include "cli/exit_codes.h"
#include "cli/images_commands.h"
#include "cli/recreate_commands.h"
#include "cli/runtime_commands.h"
#include "cli/status_commands.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"inplacectl: drive inplaced and inspect the node's container runtime", "inplacectl"};
  app.require_subcommand(1);
  app.fallthrough();  // inherited by the subcommands: global flags may follow them
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log what the libraries do (to stderr)");
  // stdout carries the command's answer only; library logs go to stderr, and only when asked for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("inplacectl"));
  spdlog::set_level(spdlog::level::warn);
  app.parse_complete_callback([&verbose] {
    if (verbose) spdlog::set_level(spdlog::level::debug);
  });
  int exit_code = inplaced::cli::kExitOk;
  inplaced::cli::DaemonFlags daemon_flags;
  inplaced::cli::RuntimeFlags runtime_flags;
  inplaced::cli::AddDaemonOptions(app, &daemon_flags);
  inplaced::cli::AddRecreateCommands(app, &daemon_flags, &runtime_flags, &exit_code);
  inplaced::cli::AddApplyCommand(app, &daemon_flags, &exit_code);
  inplaced::cli::AddImagesCommands(app, &daemon_flags, &exit_code);
  inplaced::cli::AddStatusCommands(app, &daemon_flags, &runtime_flags, &exit_code);
  inplaced::cli::AddRuntimeCommands(app, &runtime_flags, &exit_code);
  inplaced::cli::AddCompletionCommand(app, &exit_code);
  // CLI11 reports bad flags by exception; this is the adapter that turns it into an exit code.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? inplaced::cli::kExitOk : inplaced::cli::kExitUsage;
  }
  return exit_code;
}
