#include "daemon/prestop/tcp_socket_action.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/prestop/hook_endpoint.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

// How often a pending connect looks at the cancellation token and the clock.
constexpr absl::Duration kPollSlice = absl::Milliseconds(100);

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

enum class ConnectResult { kConnected, kFailed, kCancelled, kExpired };

// Connects to one address; `error` gets errno's text on kFailed.
ConnectResult ConnectOne(const addrinfo& address, const HookBudget& budget, std::string* error) {
  UniqueFd fd(socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     address.ai_protocol));
  if (fd.get() < 0) {
    *error = std::strerror(errno);
    return ConnectResult::kFailed;
  }
  if (connect(fd.get(), address.ai_addr, address.ai_addrlen) == 0) return ConnectResult::kConnected;
  if (errno != EINPROGRESS && errno != EINTR) {
    *error = std::strerror(errno);
    return ConnectResult::kFailed;
  }
  while (true) {
    if (budget.Cancelled()) return ConnectResult::kCancelled;
    if (budget.Expired()) return ConnectResult::kExpired;
    pollfd entry{fd.get(), POLLOUT, 0};
    const int timeout_ms =
        static_cast<int>(absl::ToInt64Milliseconds(std::min(budget.Remaining(), kPollSlice)));
    const int ready = poll(&entry, 1, std::max(timeout_ms, 1));
    if (ready < 0 && errno != EINTR) {
      *error = std::strerror(errno);
      return ConnectResult::kFailed;
    }
    if (ready <= 0) continue;
    int so_error = 0;
    socklen_t length = sizeof(so_error);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &length) != 0) so_error = errno;
    if (so_error == 0) return ConnectResult::kConnected;
    *error = std::strerror(so_error);
    return ConnectResult::kFailed;
  }
}

}  // namespace

PreStopResult RunTcpSocket(absl::string_view host, int port, const HookBudget& budget) {
  const std::string where = HostPort(host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  const std::string host_text(host);
  const std::string port_text = std::to_string(port);
  const int resolved = getaddrinfo(host_text.c_str(), port_text.c_str(), &hints, &raw);
  std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(raw);
  if (resolved != 0) {
    return PreStopResult{api::PRE_STOP_OUTCOME_FAILED,
                         absl::StrCat("tcpSocket ", where, ": ", gai_strerror(resolved))};
  }
  std::string error = "no address";
  for (const addrinfo* address = addresses.get(); address != nullptr; address = address->ai_next) {
    switch (ConnectOne(*address, budget, &error)) {
      case ConnectResult::kConnected:
        return PreStopResult{api::PRE_STOP_OUTCOME_SUCCEEDED, absl::StrCat("connected to ", where)};
      case ConnectResult::kCancelled:
        return PreStopResult{api::PRE_STOP_OUTCOME_FAILED, "cancelled"};
      case ConnectResult::kExpired:
        return PreStopResult{
            api::PRE_STOP_OUTCOME_TIMED_OUT,
            absl::StrCat("tcpSocket ", where, ": not connected before the deadline")};
      case ConnectResult::kFailed:
        break;
    }
  }
  return PreStopResult{api::PRE_STOP_OUTCOME_FAILED,
                       absl::StrCat("tcpSocket ", where, ": ", error)};
}

}  // namespace inplaced::daemon
