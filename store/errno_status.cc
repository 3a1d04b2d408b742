#include "store/errno_status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace inplaced::store {

absl::Status ErrnoStatus(int error, absl::string_view path, absl::string_view operation) {
  const std::string message =
      absl::StrCat("state store ", path, ": ", operation, ": ", std::strerror(error));
  switch (error) {
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case EISDIR:
    case ENOTDIR:
    case ELOOP:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace inplaced::store
