#pragma once

// The daemon's configuration. Every setting is a command-line flag, an INPLACED_* environment
// variable and a key of the YAML config file (--config / INPLACED_CONFIG); the flag wins over the
// environment, which wins over the file, which wins over the default below. The settings' names,
// help and checks are in ONE table, daemon/settings.cc (the README's table is generated from it).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace inplaced::daemon {

struct DaemonOptions {
  std::string runtime_endpoint;
  std::string discovery_root = "/var/run";
  std::string socket_path = "/run/inplaced/inplaced.sock";
  // The control socket's and its directory's group (a name or a numeric gid); empty: unchanged.
  std::string socket_group;
  std::string state_dir = "/var/lib/inplaced";
  int max_open_requests = 1000;
  int max_containers = 64;
  int fast_poll_ms = 100;
  int slow_poll_ms = 1000;
  int resync_poll_ms = 10000;
  int shutdown_hook_timeout_ms = 10000;
  // Kills (preStop + StopContainer) in flight at once; more wait in a FIFO (no thread per kill).
  int max_concurrent_kills = 1000;
  std::string log_level = "info";
  // The node name NodeService reports; empty: $NODE_NAME, else the host name (daemon/node_name.h).
  std::string node_name;
  bool use_event_stream = true;
  // The plain-HTTP probe and metrics port (/healthz, /readyz, /metrics); empty: none.
  std::string probe_address = "127.0.0.1:9478";
  // Open WatchRecreateRequests + WatchNodeImage streams at once; more are RESOURCE_EXHAUSTED.
  int max_watch_streams = 1000;

  // Image pre-pull (NodeImageService).
  int max_concurrent_pulls = 3;
  std::vector<std::string> insecure_registries;
  std::string image_fs_path = "/var/lib/containerd";
  double image_fs_reserve_percent = 10.0;
  std::optional<uint64_t> image_fs_assume_free_bytes;

  // The control API over TCP (optional; daemon/tcp_settings.h has the rules): TLS with the server's
  // certificate and key, mTLS when a client CA is set; plaintext only with tcp_insecure.
  std::string tcp_address;
  std::string tcp_tls_cert;
  std::string tcp_tls_key;
  std::string tcp_tls_client_ca;
  bool tcp_insecure = false;

  // The SQLite database inside state_dir.
  std::string StorePath() const { return state_dir + "/inplaced.db"; }
};

// Exit code for invalid flags or values (as most CLI tools: usage error).
inline constexpr int kUsageExitCode = 2;

// What the command line asks for: run with `options`, or exit at once with `exit_code` after
// printing `output` (on stdout with 0: the help text for --help, the effective config for
// --print-config; on stderr with kUsageExitCode: an error naming the flag, variable or config file
// line and key).
struct CommandLine {
  bool run = false;
  DaemonOptions options;
  int exit_code = 0;
  std::string output;
};

// Parses argv (argv[0] is the program name), the INPLACED_* environment and the config file named
// by --config or INPLACED_CONFIG (none by default), with flag > environment > file > default.
// Every value is checked (daemon/settings.cc: ranges, an absolute socket path that fits a unix
// socket, a known log level, non-empty directories ...), and slow-poll-ms >= fast-poll-ms.
// --print-config prints the effective settings as a config file (secrets redacted) and exits 0.
// Never throws.
CommandLine ParseCommandLine(int argc, const char* const* argv);

}  // namespace inplaced::daemon
