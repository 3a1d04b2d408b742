#include "tests/fakes/call_log.h"

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace inplaced::fakes {

absl::StatusOr<std::unique_ptr<CallLog>> CallLog::Open(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--call-log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<CallLog>(new CallLog(file));
}

CallLog::~CallLog() {
  absl::MutexLock lock(&mu_);
  std::fclose(file_);
}

void CallLog::Record(absl::string_view method, absl::string_view phase,
                     absl::string_view container_id, absl::string_view detail) {
  const std::string line = absl::StrCat(absl::ToUnixNanos(absl::Now()), "\t", method, "\t", phase,
                                        "\t", container_id, "\t", detail, "\n");
  absl::MutexLock lock(&mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace inplaced::fakes
