#pragma once

// Runs the inplacectl binary to completion for the CLI integration suite: on pipes (stdin text in,
// stdout and stderr captured) or on a pseudo-terminal (forkpty: stdout is a tty, as for a person).
// The child is owned by PID: killed with SIGKILL and reaped if it outlives `timeout`.

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace inplaced::testing {

struct CliResult {
  int exit_code = -1;  // -1: killed by a signal (or at the timeout)
  std::string out;     // stdout (on a pty: everything the terminal received)
  std::string err;     // stderr (empty on a pty: merged into out)
};

// `path` with `args`, stdin from `input`.
CliResult RunCli(const std::string& path, const std::vector<std::string>& args,
                 const std::string& input = "", absl::Duration timeout = absl::Seconds(120));

// `path` with `args` on a new pseudo-terminal of 120 columns.
CliResult RunCliOnTerminal(const std::string& path, const std::vector<std::string>& args,
                           absl::Duration timeout = absl::Seconds(120));

}  // namespace inplaced::testing
