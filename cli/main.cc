// inplacectl: the command-line client of inplaced.

#include "CLI/CLI.hpp"
#include "cli/runtime_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"inplacectl: drive inplaced and inspect the node's container runtime"};
  app.require_subcommand(1);
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
