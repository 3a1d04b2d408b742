#include "daemon/options.h"

#include <CLI/CLI.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "daemon/server/unix_socket.h"

namespace inplaced::daemon {
namespace {

// Checks across flags, which CLI11's per-option validators cannot express. Empty when fine.
std::string CheckCombination(const DaemonOptions& options) {
  if (options.slow_poll_ms < options.fast_poll_ms) {
    return absl::StrCat("--slow-poll-ms (", options.slow_poll_ms, ") must be at least --fast-poll-ms (",
                        options.fast_poll_ms, ")");
  }
  if (options.socket_path.empty() || options.socket_path[0] != '/') {
    return absl::StrCat("--socket: must be an absolute path, got \"", options.socket_path, "\"");
  }
  if (options.socket_path.size() > kMaxUnixSocketPathLength) {
    return absl::StrCat("--socket: ", options.socket_path.size(), " bytes, at most ",
                        kMaxUnixSocketPathLength, " fit a unix socket path");
  }
  if (options.state_dir.empty()) return "--state-dir: must not be empty";
  if (options.image_fs_path.empty()) return "--image-fs-path: must not be empty";
  for (const std::string& registry : options.insecure_registries) {
    if (registry.empty()) return "--insecure-registry: must not be empty";
  }
  return "";
}

}  // namespace

CommandLine ParseCommandLine(int argc, const char* const* argv) {
  CommandLine result;
  DaemonOptions& options = result.options;
  bool no_event_stream = false;
  uint64_t assume_free_bytes = 0;

  CLI::App app{"inplaced: node-local daemon that recreates containers in place over the CRI"};
  app.option_defaults()->always_capture_default();
  app.add_option("--runtime-endpoint", options.runtime_endpoint,
                 "CRI runtime socket (unix:///path or /path); empty: discover under --discovery-root")
      ->envname("INPLACED_RUNTIME_ENDPOINT");
  app.add_option("--discovery-root", options.discovery_root, "Where to look for known runtime sockets")
      ->envname("INPLACED_DISCOVERY_ROOT");
  app.add_option("--socket", options.socket_path, "Unix socket of the control API (mode 0660)")
      ->envname("INPLACED_SOCKET");
  app.add_option("--state-dir", options.state_dir, "Directory of the persistent state (SQLite file inside)")
      ->envname("INPLACED_STATE_DIR");
  app.add_option("--max-open-requests", options.max_open_requests,
                 "Most recreate requests not yet completed; more are RESOURCE_EXHAUSTED")
      ->envname("INPLACED_MAX_OPEN_REQUESTS")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--max-containers", options.max_containers, "Most containers in one recreate request")
      ->envname("INPLACED_MAX_CONTAINERS")
      ->check(CLI::Range(1, 1000));
  app.add_option("--fast-poll-ms", options.fast_poll_ms,
                 "Poll period while a request waits on a kill or restart")
      ->envname("INPLACED_FAST_POLL_MS")
      ->check(CLI::Range(1, 60000));
  app.add_option("--slow-poll-ms", options.slow_poll_ms, "Poll period when no request waits on the runtime")
      ->envname("INPLACED_SLOW_POLL_MS")
      ->check(CLI::Range(1, 600000));
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, critical or off")
      ->envname("INPLACED_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_flag("--no-event-stream", no_event_stream,
               "Do not use the runtime's GetContainerEvents stream (poll only)")
      ->envname("INPLACED_NO_EVENT_STREAM");
  app.add_option("--max-concurrent-pulls", options.max_concurrent_pulls,
                 "Most image pulls running at once on the node (NodeImage and PullImage)")
      ->envname("INPLACED_MAX_CONCURRENT_PULLS")
      ->check(CLI::Range(1, 64));
  app.add_option("--insecure-registry", options.insecure_registries,
                 "Registry (host or host:port) reached over plain http by the disk precheck's "
                 "registry client; repeatable. Loopback registries always are.")
      ->envname("INPLACED_INSECURE_REGISTRY")
      ->delimiter(',')
      ->allow_extra_args(false);
  app.add_option("--image-fs-path", options.image_fs_path,
                 "Image filesystem checked for free space when the runtime's ImageFsInfo names none")
      ->envname("INPLACED_IMAGE_FS_PATH");
  app.add_option("--image-fs-reserve-percent", options.image_fs_reserve_percent,
                 "Share of the image filesystem the disk precheck keeps free")
      ->envname("INPLACED_IMAGE_FS_RESERVE_PERCENT")
      ->check(CLI::Range(0.0, 100.0));
  CLI::Option* assume_free =
      app.add_option("--image-fs-assume-free-bytes", assume_free_bytes,
                     "TESTING ONLY: take every image filesystem to have this many bytes free")
          ->envname("INPLACED_IMAGE_FS_ASSUME_FREE_BYTES")
          ->check(CLI::NonNegativeNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    result.output = app.help();
    result.exit_code = 0;
    return result;
  } catch (const CLI::ParseError& e) {
    result.output = absl::StrCat("inplaced: ", e.what(), "\nRun with --help for the flags.");
    result.exit_code = kUsageExitCode;
    return result;
  }
  options.use_event_stream = !no_event_stream;
  if (assume_free->count() > 0) options.image_fs_assume_free_bytes = assume_free_bytes;
  if (std::string error = CheckCombination(options); !error.empty()) {
    result.output = absl::StrCat("inplaced: ", error);
    result.exit_code = kUsageExitCode;
    return result;
  }
  result.run = true;
  return result;
}

}  // namespace inplaced::daemon
