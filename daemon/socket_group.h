#pragma once

// Sharing the control API's unix socket with a group (the socket_group setting), so that a non-root
// process in that group (a controller's sidecar) may connect.

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace inplaced::daemon {

// The gid of `group`: a group name from the group database, or a numeric gid (taken as it is).
// Errors: NOT_FOUND naming the group when there is no such group; INVALID_ARGUMENT when empty.
absl::StatusOr<gid_t> ResolveGroup(const std::string& group);

// Gives the socket at `socket_path` (already 0660) to group `gid`, and its directory too with group
// read and search permission (g+rx) so that members reach the socket. A shared directory (sticky or
// world-writable, such as /tmp) is left as it is: members can already search it.
// Errors: PERMISSION_DENIED / UNAVAILABLE naming the path (the daemon may only give files to a
// group it is root or a member of).
absl::Status ShareSocketWithGroup(const std::string& socket_path, gid_t gid);

}  // namespace inplaced::daemon
