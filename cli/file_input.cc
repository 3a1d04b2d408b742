#include "cli/file_input.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace inplaced::cli {

absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path, absl::string_view flag) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace inplaced::cli
