#pragma once

// The exit codes of inplacectl, a contract with scripts (README "inplacectl").

#include "absl/status/status.h"

namespace inplaced::cli {

// Done: the call succeeded; for --wait and --until-done, every container (or image) Succeeded.
inline constexpr int kExitOk = 0;
// The daemon answered but the outcome is not success: a container or image Failed, a request ended
// early, a --timeout passed, or the daemon refused the call (NOT_FOUND, ALREADY_EXISTS, ...).
inline constexpr int kExitFailed = 1;
// The command could not be carried out as given: bad flags or input (INVALID_ARGUMENT, also when
// the daemon says so), or the daemon could not be reached (UNAVAILABLE, DEADLINE_EXCEEDED).
inline constexpr int kExitUsage = 2;

// The exit code for a command that ended with `status`.
inline int ExitCodeOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUsage;
    default:
      return kExitFailed;
  }
}

}  // namespace inplaced::cli
