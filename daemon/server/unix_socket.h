#pragma once

// Preparing the path of the control API's unix socket before binding it, and cleaning up after.

#include <string>

#include "absl/status/status.h"

namespace inplaced::daemon {

// Unix socket paths must fit sockaddr_un.sun_path (108 bytes with the terminating NUL).
inline constexpr size_t kMaxUnixSocketPathLength = 107;

// Makes `path` ready to bind:
//   * its directory is created if missing (parents included) with mode 0750; an existing directory
//     is left as it is;
//   * a stale socket (nothing accepts on it: a previous daemon died) is removed.
// Errors: INVALID_ARGUMENT (empty, not absolute, too long, or a directory), FAILED_PRECONDITION (a
// non-socket file is in the way, or a live server accepts on the socket: another daemon runs),
// PERMISSION_DENIED / UNAVAILABLE (the directory cannot be created, the stale socket not removed).
absl::Status PrepareUnixSocketPath(const std::string& path);

// Sets the socket file's mode to 0660 (owner and group may connect; the group is the caller's
// choice, e.g. via the directory's setgid bit).
absl::Status RestrictUnixSocket(const std::string& path);

// Removes the socket file if it is still a socket; missing is fine. Never fails (logs a warning).
void RemoveUnixSocket(const std::string& path);

}  // namespace inplaced::daemon
