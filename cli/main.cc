// inplacectl: the command-line client of inplaced.

#include "CLI/CLI.hpp"
#include "cli/runtime_commands.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"inplacectl: drive inplaced and inspect the node's container runtime"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log what the libraries do (to stderr)");
  // stdout carries the command's answer only; library logs go to stderr, and only when asked for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("inplacectl"));
  spdlog::set_level(spdlog::level::warn);
  app.parse_complete_callback([&verbose] {
    if (verbose) spdlog::set_level(spdlog::level::debug);
  });
  int exit_code = 0;
  inplaced::cli::RuntimeFlags runtime_flags;
  inplaced::cli::AddRuntimeCommands(app, &runtime_flags, &exit_code);
  // CLI11 reports bad flags by exception; this is the adapter that turns it into an exit code.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
