#pragma once

// A child process for integration tests, owned by PID (never found or killed by name).

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace inplaced::testing {

// Starts `argv` with stdout on a pipe, and stderr inherited (its logs land in the test's output) or
// appended to `stderr_path` (created if missing, for tests that read the child's log; a restarted
// child adds to the same file). The destructor sends SIGTERM, waits up to 5 s, then SIGKILLs and
// reaps: no process outlives its test.
class ChildProcess {
 public:
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv,
                                            const std::string& stderr_path = "");

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Reads stdout until a line containing `needle` arrives (returns that line), or fails with
  // DEADLINE_EXCEEDED after `timeout`, or NOT_FOUND when stdout closes first.
  absl::StatusOr<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);

  // Everything read from stdout so far plus whatever arrives until it closes or `timeout` passes.
  std::string ReadAll(absl::Duration timeout);

  // Sends `signal` and reaps the process; returns its exit status as from waitpid (WIFEXITED etc.).
  // Escalates to SIGKILL after `grace`.
  absl::StatusOr<int> Stop(int signal, absl::Duration grace);

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  bool ReadSome(absl::Time deadline);  // false on EOF or deadline

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  size_t consumed_ = 0;
};

}  // namespace inplaced::testing
