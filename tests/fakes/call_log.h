#pragma once

// CallLog: the fake CRI server's record of the calls that change a container (StopContainer, and
// ExecSync: the exec preStop hooks), one tab-separated line per event, flushed at once, so that a
// test judges what reached the runtime across daemon crashes from the file alone:
//   <unix_nanos>\tStopContainer\tbegin\t<container_id>\t<timeout>
//   <unix_nanos>\tStopContainer\tend\t<container_id>\t<grpc code>
//   <unix_nanos>\tExecSync\tbegin\t<container_id>\t<cmd joined by spaces>
//   <unix_nanos>\tExecSync\tend\t<container_id>\t<grpc code>
// Thread-safe.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace inplaced::fakes {

class CallLog {
 public:
  // Opens (appends to) `path`.
  static absl::StatusOr<std::unique_ptr<CallLog>> Open(const std::string& path);
  ~CallLog();
  CallLog(const CallLog&) = delete;
  CallLog& operator=(const CallLog&) = delete;

  // Appends "<now>\t<method>\t<phase>\t<container_id>\t<detail>\n" and flushes.
  void Record(absl::string_view method, absl::string_view phase, absl::string_view container_id,
              absl::string_view detail);

 private:
  explicit CallLog(FILE* file) : file_(file) {}

  absl::Mutex mu_;
  FILE* file_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::fakes
