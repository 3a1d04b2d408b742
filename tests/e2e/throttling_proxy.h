#pragma once

// A TCP proxy on 127.0.0.1 that forwards to an upstream host:port and slows the upstream->client
// direction to a shared byte rate over all its connections: a local registry seen through it serves
// blobs slowly enough for a pull's progress to be sampled between 0 and 100 %.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace inplaced::e2e {

class ThrottlingProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and forwards each connection to `upstream`
  // ("127.0.0.1:5000"), at most `bytes_per_second` towards the clients in all.
  static absl::StatusOr<std::unique_ptr<ThrottlingProxy>> Start(const std::string& upstream,
                                                                int64_t bytes_per_second);
  // Stop().
  ~ThrottlingProxy();
  ThrottlingProxy(const ThrottlingProxy&) = delete;
  ThrottlingProxy& operator=(const ThrottlingProxy&) = delete;

  // "127.0.0.1:<port>".
  std::string address() const;
  // Closes the listener and every connection; joins the threads. Idempotent.
  void Stop();

 private:
  ThrottlingProxy(int listen_fd, int port, std::string upstream_host, int upstream_port,
                  int64_t bytes_per_second);
  void AcceptLoop();
  void Pump(int from, int to, bool throttle);
  // Waits until `bytes` more may be sent at the shared rate.
  void Throttle(size_t bytes);

  const int listen_fd_;
  const int port_;
  const std::string upstream_host_;
  const int upstream_port_;
  const int64_t bytes_per_second_;

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  absl::Time next_send_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread acceptor_;
};

}  // namespace inplaced::e2e
