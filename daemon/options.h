#pragma once

// The daemon's configuration: command-line flags, each also settable through an INPLACED_* environment
// variable (the flag wins).
//
//   --runtime-endpoint   INPLACED_RUNTIME_ENDPOINT   CRI socket ("unix:///run/containerd/containerd.sock"
//                                                     or a path); empty: discover under --discovery-root
//   --discovery-root     INPLACED_DISCOVERY_ROOT     where to look for known runtime sockets (/var/run)
//   --socket             INPLACED_SOCKET             the control API socket (/run/inplaced/inplaced.sock)
//   --state-dir          INPLACED_STATE_DIR          persistent state; the SQLite file inside
//                                                     (/var/lib/inplaced)
//   --max-open-requests  INPLACED_MAX_OPEN_REQUESTS  cap on not-yet-completed requests (1000)
//   --max-containers     INPLACED_MAX_CONTAINERS     most containers per request (64)
//   --fast-poll-ms       INPLACED_FAST_POLL_MS       poll period while a request waits on a kill/restart
//   (100)
//   --slow-poll-ms       INPLACED_SLOW_POLL_MS       poll period otherwise (1000)
//   --log-level          INPLACED_LOG_LEVEL          trace|debug|info|warn|error|critical|off (info)
//   --no-event-stream    INPLACED_NO_EVENT_STREAM    do not use the runtime's GetContainerEvents
//   --max-concurrent-pulls        INPLACED_MAX_CONCURRENT_PULLS        node-wide image pull limit (3; 1-64)
//   --insecure-registry           INPLACED_INSECURE_REGISTRY           a registry (host or host:port) the
//                                                                      daemon's registry client speaks plain
//                                                                      http to; repeatable (env: comma-separated).
//                                                                      Loopback registries always are.
//   --image-fs-path               INPLACED_IMAGE_FS_PATH               image filesystem when the runtime's
//                                                                      ImageFsInfo names none
//                                                                      (/var/lib/containerd)
//   --image-fs-reserve-percent    INPLACED_IMAGE_FS_RESERVE_PERCENT    share of the image filesystem kept
//                                                                      free by the disk precheck (10; 0-100)
//   --image-fs-assume-free-bytes  INPLACED_IMAGE_FS_ASSUME_FREE_BYTES  TESTING ONLY: take every image
//                                                                      filesystem to have this many bytes
//                                                                      free instead of asking statvfs

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
  std::string state_dir = "/var/lib/inplaced";
  int max_open_requests = 1000;
  int max_containers = 64;
  int fast_poll_ms = 100;
  int slow_poll_ms = 1000;
  std::string log_level = "info";
  bool use_event_stream = true;

  // Image pre-pull (NodeImageService).
  int max_concurrent_pulls = 3;
  std::vector<std::string> insecure_registries;
  std::string image_fs_path = "/var/lib/containerd";
  double image_fs_reserve_percent = 10.0;
  std::optional<uint64_t> image_fs_assume_free_bytes;

  // The SQLite database inside state_dir.
  std::string StorePath() const { return state_dir + "/inplaced.db"; }
};

// Exit code for invalid flags or values (as most CLI tools: usage error).
inline constexpr int kUsageExitCode = 2;

// What the command line asks for: run with `options`, or exit at once with `exit_code` after printing
// `output` (the help text on stdout for --help with 0; an error naming the flag on stderr with
// kUsageExitCode).
struct CommandLine {
  bool run = false;
  DaemonOptions options;
  int exit_code = 0;
  std::string output;
};

// Parses argv (argv[0] is the program name) and the INPLACED_* environment. Checks every value: ranges
// (max-open-requests >= 1, max-containers 1-1000, fast-poll-ms 1-60000, slow-poll-ms >= fast-poll-ms and
// <= 600000), an absolute socket path that fits a unix socket, a known log level, a non-empty state dir,
// max-concurrent-pulls 1-64, image-fs-reserve-percent 0-100, a non-empty image-fs-path, non-empty
// insecure registries.
// Never throws.
CommandLine ParseCommandLine(int argc, const char* const* argv);

}  // namespace inplaced::daemon
