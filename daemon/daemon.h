#pragma once

// The assembled daemon: runtime connection, state store, preStop runner, watch hub, recreate engine
// and the control API server, started and stopped in order. main.cc is a thin shell around it.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/options.h"
#include "systemd/notifier.h"

namespace inplaced::daemon {

// Not thread-safe: Start and Stop from one thread (main).
class Daemon {
 public:
  // Starts everything, in this order:
  //   1. the control server on options.socket_path (health NOT_SERVING, API calls UNAVAILABLE),
  //      the socket given to options.socket_group when set (an unknown group fails the start), and
  //      on options.tcp_address when set (TLS files read and checked first: LoadTcpListener);
  //   2. the runtime connection (cri::Connect: discovery, waits for a runtime that is still starting);
  //   3. the store under options.state_dir (created 0700 if missing) and the engine, which reloads every
  //      stored request (recovering interrupted kills) before it is started; then the image puller
  //      on the same store (registry client + disk-space precheck; it reloads the NodeImage and
  //      resumes unfinished pulls);
  //   4. NodeService's reporter (node name: options.node_name, else $NODE_NAME, else the host
  //      name; the runtime's Version; the engine's event stream);
  //   5. SERVING: health reports SERVING and the API answers; then `notifier` gets READY=1, and a
  //      heartbeat sends it STATUS lines and, when systemd set a watchdog, WATCHDOG=1 while the
  //      engine's loop ticks.
  // Errors: any step's error, with what failed; everything started so far is stopped again.
  // `notifier` must outlive the daemon.
  // Before step 1, the probe/metrics port on options.probe_address (unless empty): /healthz answers
  // at once, /readyz 503 until step 4 and again from Stop(); `on_probe_listening` (may be empty) is
  // told its port, for a caller that asked for port 0.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      const DaemonOptions& options, systemd::Notifier& notifier,
      const std::function<void(int probe_port)>& on_probe_listening = nullptr);

  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  // Stop() if not done yet.
  ~Daemon();

  // The heartbeat ends and the notifier gets STOPPING=1; health NOT_SERVING (new calls
  // UNAVAILABLE), open watch streams end (UNAVAILABLE), running calls may finish (up to 5 s), the
  // server closes, the image puller stops (in-flight pulls cancelled, their tags resume on the
  // next start), then the engine shuts down (in-flight kills end).
  // Idempotent.
  void Stop();

  // The runtime endpoint in use ("unix:///...").
  const std::string& runtime_endpoint() const;
  const std::string& socket_path() const;
  // The TCP listener's host:port with the port actually bound (tcp_address' port 0 resolved); ""
  // without a TCP listener.
  std::string tcp_address() const;

 private:
  struct Parts;
  explicit Daemon(std::unique_ptr<Parts> parts);
  // Step 3b of Start: the image puller (NodeImageService) over the runtime and the store.
  static absl::Status StartPuller(Parts& parts);
  // Step 4b: READY=1 and the systemd heartbeat.
  static void StartHeartbeat(Parts& parts);
  // Step 0: the metrics registry's state source and the probe/metrics port.
  static absl::Status StartProbe(Parts& parts,
                                 const std::function<void(int probe_port)>& on_listening);

  std::unique_ptr<Parts> parts_;
  bool stopped_ = false;
};

}  // namespace inplaced::daemon
