#include "tests/e2e/throttling_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace inplaced::e2e {
namespace {

// Small chunks keep the rate smooth at the sample period of the daemon (250 ms).
constexpr size_t kChunkBytes = 16 * 1024;

int ConnectTo(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ThrottlingProxy>> ThrottlingProxy::Start(const std::string& upstream,
                                                                        int64_t bytes_per_second) {
  const size_t colon = upstream.rfind(':');
  int upstream_port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(upstream.substr(colon + 1), &upstream_port)) {
    return absl::InvalidArgumentError(absl::StrCat("upstream: want host:port, got ", upstream));
  }
  std::string host = upstream.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return absl::InternalError(absl::StrCat("listen: ", error));
  }
  std::unique_ptr<ThrottlingProxy> proxy(new ThrottlingProxy(
      fd, ntohs(addr.sin_port), std::move(host), upstream_port, bytes_per_second));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

ThrottlingProxy::ThrottlingProxy(int listen_fd, int port, std::string upstream_host,
                                 int upstream_port, int64_t bytes_per_second)
    : listen_fd_(listen_fd),
      port_(port),
      upstream_host_(std::move(upstream_host)),
      upstream_port_(upstream_port),
      bytes_per_second_(std::max<int64_t>(bytes_per_second, 1)) {}

ThrottlingProxy::~ThrottlingProxy() { Stop(); }

std::string ThrottlingProxy::address() const { return absl::StrCat("127.0.0.1:", port_); }

void ThrottlingProxy::Stop() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    // Unblocks accept() and every read().
    ::shutdown(listen_fd_, SHUT_RDWR);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  acceptor_.join();
  {
    absl::MutexLock lock(&mu_);
    threads = std::move(threads_);
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu_);
  for (int fd : fds_) ::close(fd);
  fds_.clear();
  ::close(listen_fd_);
}

void ThrottlingProxy::AcceptLoop() {
  while (true) {
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR) continue;
      return;  // the listener was shut down
    }
    const int server = ConnectTo(upstream_host_, upstream_port_);
    absl::MutexLock lock(&mu_);
    if (stopped_ || server < 0) {
      ::close(client);
      if (server >= 0) ::close(server);
      if (stopped_) return;
      continue;
    }
    fds_.push_back(client);
    fds_.push_back(server);
    threads_.emplace_back([this, client, server] { Pump(client, server, false); });
    threads_.emplace_back([this, client, server] { Pump(server, client, true); });
  }
}

void ThrottlingProxy::Pump(int from, int to, bool throttle) {
  char buffer[kChunkBytes];
  while (true) {
    const ssize_t n = ::read(from, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (throttle) Throttle(static_cast<size_t>(n));
    ssize_t written = 0;
    while (written < n) {
      const ssize_t w = ::write(to, buffer + written, static_cast<size_t>(n - written));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ::shutdown(from, SHUT_RD);
        return;
      }
      written += w;
    }
  }
  // Half-close: the peer sees the end of this direction; the other pump ends on its own.
  ::shutdown(to, SHUT_WR);
}

void ThrottlingProxy::Throttle(size_t bytes) {
  absl::Time at;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    at = std::max(next_send_, now);
    next_send_ = at + absl::Seconds(static_cast<double>(bytes) / bytes_per_second_);
  }
  const absl::Duration wait = at - absl::Now();
  if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
}

}  // namespace inplaced::e2e
