#pragma once

// CallLog: the fake CRI server's record of the calls that change a container (StopContainer, and
// ExecSync: the exec preStop hooks), one tab-separated line per event, written at once, so that a
// test judges what reached the runtime across daemon crashes from the file alone:
//   <unix_nanos>\tStopContainer\tbegin\t<container_id>\t<timeout>
//   <unix_nanos>\tStopContainer\tend\t<container_id>\t<grpc code>
//   <unix_nanos>\tExecSync\tbegin\t<container_id>\t<cmd joined by spaces>
//   <unix_nanos>\tExecSync\tend\t<container_id>\t<grpc code>
// Thread-safe without a lock of its own: each line is one write(2) to a file opened O_APPEND, which
// the kernel appends whole. (A mutex held across the write makes every handler that records wait
// while its holder is preempted on a busy machine, and tests/bench/daemon_bench.cc would count the
// fake's late StopContainer handlers as the daemon's dispatch delay.)

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::fakes {

class CallLog {
 public:
  // Opens (appends to) `path`.
  static absl::StatusOr<std::unique_ptr<CallLog>> Open(const std::string& path);
  ~CallLog();
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  // Appends "<now>\t<method>\t<phase>\t<container_id>\t<detail>\n" with one write(2).
  void Record(absl::string_view method, absl::string_view phase, absl::string_view container_id,
              absl::string_view detail);

 private:
  explicit CallLog(int fd) : fd_(fd) {}

  const int fd_;
};

}  // namespace inplaced::fakes
