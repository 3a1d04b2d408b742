#pragma once

// How a command callback ends: an exit code, or an error printed to stderr as
// "inplacectl: <gRPC code name>: <message>" with the exit code of exit_codes.h.

#include <functional>
#include <iostream>
#include <utility>

#include "absl/status/statusor.h"
#include "cli/exit_codes.h"

namespace inplaced::cli {

// Wraps `command` (returning the exit code, or an error) as a CLI11 callback that stores the exit
// code in *exit_code. `exit_code` must outlive app.parse().
inline std::function<void()> RunCommand(int* exit_code,
                                        std::function<absl::StatusOr<int>()> command) {
  return [exit_code, command = std::move(command)] {
    const absl::StatusOr<int> result = command();
    if (result.ok()) {
      *exit_code = *result;
      return;
    }
    std::cerr << "inplacectl: " << result.status().ToString() << "\n";
    *exit_code = ExitCodeOf(result.status());
  };
}

}  // namespace inplaced::cli
