#pragma once

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace inplaced::testing {

// A tiny HTTP server on 127.0.0.1 (port 0) for preStop httpGet tests. For every connection it reads
// the request head (up to the blank line) and records it, then either answers `response` verbatim
// and closes, or, when `respond` is false, keeps the connection open without answering until
// destroyed. A connection whose first byte is a TLS handshake record (0x16) is recorded as "<TLS>"
// and answered at once with `response`, like a plain-HTTP server meeting an HTTPS client.
class LoopbackHttpServer {
 public:
  explicit LoopbackHttpServer(std::string response, bool respond = true);
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  // 0 when the listening socket could not be set up.
  int port() const { return port_; }
  std::vector<std::string> Requests() const;
  // Blocks until at least `count` requests were recorded.
  void WaitForRequests(int count) const;

  // A full HTTP/1.1 response with this status, Content-Length and Connection: close.
  static std::string Response(int status, const std::string& body = "",
                              const std::string& extra_headers = "");

 private:
  void Serve();
  // Reads the request head from `fd`; false when stopped.
  bool ReadHead(int fd, std::string* head);

  const std::string response_;
  const bool respond_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: the destructor writes it to end Serve().
  int port_ = 0;
  std::vector<int> held_fds_;  // Serve() thread only.
  mutable absl::Mutex mu_;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace inplaced::testing
