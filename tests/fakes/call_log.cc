#include "tests/fakes/call_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace inplaced::fakes {

absl::StatusOr<std::unique_ptr<CallLog>> CallLog::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--call-log ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<CallLog>(new CallLog(fd));
}

CallLog::~CallLog() { ::close(fd_); }

void CallLog::Record(absl::string_view method, absl::string_view phase,
                     absl::string_view container_id, absl::string_view detail) {
  const std::string line = absl::StrCat(absl::ToUnixNanos(absl::Now()), "\t", method, "\t", phase,
                                        "\t", container_id, "\t", detail, "\n");
  // A test tool: a failed or short write shows as a missing line in the test that reads the file.
  const ssize_t written = ::write(fd_, line.data(), line.size());
  (void)written;
}

}  // namespace inplaced::fakes
