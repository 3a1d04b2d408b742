#pragma once

// absl::Status for a failed system call on a state store file. Stateless and thread-safe.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inplaced::store {

// "state store <path>: <operation>: <strerror>" with the code:
//   EACCES, EPERM, EROFS        -> PERMISSION_DENIED
//   EISDIR, ENOTDIR, ELOOP      -> INVALID_ARGUMENT (the path is wrong, e.g. a symlink or a directory)
//   anything else               -> UNAVAILABLE
absl::Status ErrnoStatus(int error, absl::string_view path, absl::string_view operation);

}  // namespace inplaced::store
