#include "tests/integration/cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/time/clock.h"

namespace inplaced::testing {
namespace {

std::vector<char*> Argv(const std::string& path, const std::vector<std::string>& args) {
  std::vector<char*> argv = {const_cast<char*>(path.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  return argv;
}

// Reads `fds` into `outs` until all reach EOF (or EIO: a pty whose slave closed) or the deadline.
bool Drain(std::vector<int> fds, std::vector<std::string*> outs, absl::Time deadline) {
  while (true) {
    std::vector<pollfd> polled;
    for (int fd : fds) {
      if (fd >= 0) polled.push_back({fd, POLLIN, 0});
    }
    if (polled.empty()) return true;
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return false;
    if (poll(polled.data(), polled.size(), static_cast<int>(left)) < 0 && errno != EINTR)
      return false;
    for (const pollfd& p : polled) {
      if (p.revents == 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i] != p.fd) continue;
        char chunk[4096];
        const ssize_t n = read(fds[i], chunk, sizeof(chunk));
        if (n > 0) {
          outs[i]->append(chunk, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          close(fds[i]);
          fds[i] = -1;
        }
      }
    }
  }
}

int Reap(pid_t pid, bool drained) {
  if (!drained) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

CliResult RunCli(const std::string& path, const std::vector<std::string>& args,
                 const std::string& input, absl::Duration timeout) {
  CliResult result;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    return result;
  std::vector<char*> argv = Argv(path, args);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  // The inputs here are small: they fit the pipe buffer, so writing before reading cannot block.
  (void)!write(in[1], input.data(), input.size());
  close(in[1]);
  const bool drained = Drain({out[0], err[0]}, {&result.out, &result.err}, absl::Now() + timeout);
  result.exit_code = Reap(pid, drained);
  return result;
}

CliResult RunCliOnTerminal(const std::string& path, const std::vector<std::string>& args,
                           absl::Duration timeout) {
  CliResult result;
  winsize size{};
  size.ws_row = 40;
  size.ws_col = 120;
  int master = -1;
  std::vector<char*> argv = Argv(path, args);
  const pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid < 0) return result;
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  const bool drained = Drain({master}, {&result.out}, absl::Now() + timeout);
  result.exit_code = Reap(pid, drained);
  return result;
}

}  // namespace inplaced::testing
