#include "tests/support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace inplaced::testing {

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                 const std::string& stderr_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  int stderr_fd = -1;
  if (!stderr_path.empty()) {
    stderr_fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (stderr_fd < 0)
      return absl::InternalError(absl::StrCat("open ", stderr_path, ": ", strerror(errno)));
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    if (stderr_fd >= 0) close(stderr_fd);
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    if (stderr_fd >= 0) close(stderr_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  if (stderr_fd >= 0) close(stderr_fd);
  return ChildProcess(pid, fds[0]);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_),
      stdout_fd_(other.stdout_fd_),
      buffer_(std::move(other.buffer_)),
      consumed_(other.consumed_) {
  other.pid_ = -1;
  other.stdout_fd_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Stop(SIGTERM, absl::Seconds(5)).IgnoreError();
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

bool ChildProcess::ReadSome(absl::Time deadline) {
  if (stdout_fd_ < 0) return false;
  const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (left_ms <= 0) return false;
  pollfd pfd{stdout_fd_, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(left_ms)) <= 0) return false;
  char chunk[4096];
  const ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
  if (n <= 0) {
    close(stdout_fd_);
    stdout_fd_ = -1;
    return false;
  }
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

absl::StatusOr<std::string> ChildProcess::WaitForLine(const std::string& needle,
                                                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    size_t eol;
    while ((eol = buffer_.find('\n', consumed_)) != std::string::npos) {
      std::string line = buffer_.substr(consumed_, eol - consumed_);
      consumed_ = eol + 1;
      if (line.find(needle) != std::string::npos) return line;
    }
    if (!ReadSome(deadline)) {
      if (stdout_fd_ < 0)
        return absl::NotFoundError(absl::StrCat("stdout closed before \"", needle, "\""));
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("no line with \"", needle, "\" within ", absl::FormatDuration(timeout)));
      }
    }
  }
}

std::string ChildProcess::ReadAll(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (ReadSome(deadline)) {
  }
  return buffer_;
}

absl::StatusOr<int> ChildProcess::Stop(int signal, absl::Duration grace) {
  if (pid_ <= 0) return absl::FailedPreconditionError("process already stopped");
  kill(pid_, signal);
  const absl::Time deadline = absl::Now() + grace;
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0) return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
  return status;
}

}  // namespace inplaced::testing
