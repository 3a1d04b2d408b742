#pragma once

// ProbeServer: the daemon's plain-HTTP probe and metrics port, ONE embedded civetweb server (the
// HTTP server prometheus-cpp's pull exposer is built on, used directly so that the probes share
// its port and threads) serving:
//   GET /healthz  200 "ok" while the process serves HTTP at all (liveness);
//   GET /readyz   200 when `readyz` says ready, else 503; the body lists every check;
//   GET /metrics  200 with `metrics()` (the Prometheus text exposition).
// Other paths answer 404. Handlers run on civetweb's threads (two), so the callbacks must be
// thread-safe and not block for long.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace inplaced::metrics {

struct ProbeResult {
  bool ok = false;
  std::string body;  // e.g. "runtime: ok\nstore: ok\n..."
};

struct ProbeHandlers {
  std::function<ProbeResult()> readyz;
  std::function<std::string()> metrics;
};

class ProbeServer {
 public:
  // Listens on `address` ("host:port", "[v6]:port"; port 0: any free port) and serves until
  // destroyed. INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot listen (the
  // message names the address and why).
  static absl::StatusOr<std::unique_ptr<ProbeServer>> Start(const std::string& address,
                                                            ProbeHandlers handlers);
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;
  // Stops listening and waits for the handlers that are running.
  ~ProbeServer();

  // The port it listens on (the chosen one for port 0).
  int port() const { return port_; }

 private:
  explicit ProbeServer(ProbeHandlers handlers) : handlers_(std::move(handlers)) {}

  static int ServeHealthz(struct mg_connection* connection, void* self);
  static int ServeReadyz(struct mg_connection* connection, void* self);
  static int ServeMetrics(struct mg_connection* connection, void* self);

  const ProbeHandlers handlers_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

// Checks a probe address: "host:port" or "[ipv6]:port" with a port 0-65535; "" when fine, else
// what is wrong (for the settings table).
std::string CheckProbeAddress(const std::string& address);

}  // namespace inplaced::metrics
