#pragma once

// Reading the files a command is given (-f, --pull-secret-file).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::cli {

// The content of `path`, or of stdin when `path` is "-". INVALID_ARGUMENT naming `flag` and the
// reason when it cannot be read.
absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path, absl::string_view flag);

}  // namespace inplaced::cli
