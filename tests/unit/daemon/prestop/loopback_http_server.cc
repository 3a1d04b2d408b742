#include "tests/unit/daemon/prestop/loopback_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace inplaced::testing {

LoopbackHttpServer::LoopbackHttpServer(std::string response, bool respond)
    : response_(std::move(response)), respond_(respond) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (stop_fd_ < 0 || listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return;
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

LoopbackHttpServer::~LoopbackHttpServer() {
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : held_fds_) close(fd);
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

std::vector<std::string> LoopbackHttpServer::Requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void LoopbackHttpServer::WaitForRequests(int count) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(requests_.size()) >= count;
  };
  mu_.Await(absl::Condition(&enough));
}

std::string LoopbackHttpServer::Response(int status, const std::string& body,
                                         const std::string& extra_headers) {
  return absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n", extra_headers, "\r\n", body);
}

bool LoopbackHttpServer::ReadHead(int fd, std::string* head) {
  char buffer[4096];
  while (!absl::StrContains(*head, "\r\n\r\n")) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return false;
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return true;  // The client gave up: record what came.
    head->append(buffer, static_cast<size_t>(n));
    if (static_cast<unsigned char>((*head)[0]) == 0x16) {
      *head = "<TLS>";
      return true;
    }
  }
  return true;
}

void LoopbackHttpServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::string head;
    if (!ReadHead(fd, &head)) {
      close(fd);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(head);
    }
    if (!respond_) {
      held_fds_.push_back(fd);
      continue;
    }
    size_t sent = 0;
    while (sent < response_.size()) {
      const ssize_t n = send(fd, response_.data() + sent, response_.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    shutdown(fd, SHUT_WR);
    close(fd);
  }
}

}  // namespace inplaced::testing
