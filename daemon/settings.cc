#include "daemon/settings.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "daemon/server/unix_socket.h"
#include "daemon/tcp_settings.h"
#include "metrics/probe_server.h"

namespace inplaced::daemon {
namespace {

constexpr double kNoLimit = std::numeric_limits<double>::infinity();

std::string NonEmpty(const std::string& value) { return value.empty() ? "must not be empty" : ""; }

std::string UnixSocketPath(const std::string& value) {
  if (value.empty() || value[0] != '/') return "must be an absolute path";
  if (value.size() > kMaxUnixSocketPathLength) {
    return absl::StrCat("is ", value.size(), " bytes, at most ", kMaxUnixSocketPathLength,
                        " fit a unix socket path");
  }
  return "";
}

// "host:port" as gRPC listens on it: a port number (0: any free port) after the last colon, and a
// host before it (IPv6 in brackets).
std::string HostPort(const std::string& value) {
  if (value.empty()) return "";  // no TCP listener
  const size_t colon = value.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(value).substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return "must be host:port (0.0.0.0:9443, [::]:9443, 127.0.0.1:0)";
  }
  return "";
}

std::string LogLevel(const std::string& value) {
  static constexpr absl::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};
  for (absl::string_view level : kLevels) {
    if (value == level) return "";
  }
  return "must be one of trace, debug, info, warn, error, critical, off";
}

// "" disables the probe port.
std::string ProbeAddress(const std::string& value) {
  return value.empty() ? "" : metrics::CheckProbeAddress(value);
}

// Group names as useradd/groupadd accept them, or a numeric gid; whether the group exists is
// checked when the daemon starts (the machine's groups are not the config's business).
std::string GroupNameOrId(const std::string& value) {
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return "must be a group name or a numeric gid";
    }
  }
  return "";
}

// A Kubernetes node name (a DNS subdomain: RFC 1123, as the API server checks it), or empty.
std::string NodeName(const std::string& value) {
  if (value.size() > 253) return absl::StrCat("is ", value.size(), " characters, at most 253");
  for (char c : value) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return "must be a DNS subdomain name: lowercase letters, digits, '-' and '.'";
    }
  }
  return "";
}

Setting Text(absl::string_view key, absl::string_view flag, absl::string_view env,
             absl::string_view help, std::string DaemonOptions::*field,
             Setting::StringCheck check = nullptr) {
  Setting s{key, flag, env, help, field};
  s.check = check;
  return s;
}

template <typename T>
Setting Number(absl::string_view key, absl::string_view flag, absl::string_view env,
               absl::string_view help, T DaemonOptions::*field, double min, double max) {
  Setting s{key, flag, env, help, field};
  s.min = min;
  s.max = max;
  return s;
}

const std::vector<Setting>& Table() {
  // Built once, never changed: the one source of truth of the settings.
  static const std::vector<Setting>* const table = [] {
    using O = DaemonOptions;
    auto* t = new std::vector<Setting>;
    t->push_back(Text("runtime_endpoint", "--runtime-endpoint", "INPLACED_RUNTIME_ENDPOINT",
                      "CRI runtime socket (unix:///path or /path); empty: discover a known runtime "
                      "socket under discovery_root",
                      &O::runtime_endpoint));
    t->push_back(Text("discovery_root", "--discovery-root", "INPLACED_DISCOVERY_ROOT",
                      "Where to look for known runtime sockets", &O::discovery_root, NonEmpty));
    t->push_back(Text("socket", "--socket", "INPLACED_SOCKET",
                      "Unix socket of the control API (mode 0660)", &O::socket_path,
                      UnixSocketPath));
    t->push_back(Text("socket_group", "--socket-group", "INPLACED_SOCKET_GROUP",
                      "Group (name or gid) owning the control socket and its directory, so that "
                      "its members (a non-root sidecar) may connect; empty: the daemon's group",
                      &O::socket_group, GroupNameOrId));
    t->push_back(Text("state_dir", "--state-dir", "INPLACED_STATE_DIR",
                      "Directory of the persistent state (SQLite file inside)", &O::state_dir,
                      NonEmpty));
    t->push_back(Number("max_open_requests", "--max-open-requests", "INPLACED_MAX_OPEN_REQUESTS",
                        "Most recreate requests not yet completed; more are RESOURCE_EXHAUSTED",
                        &O::max_open_requests, 1, 1000000));
    t->push_back(Number("max_containers", "--max-containers", "INPLACED_MAX_CONTAINERS",
                        "Most containers in one recreate request", &O::max_containers, 1, 1000));
    t->push_back(Number("max_watch_streams", "--max-watch-streams", "INPLACED_MAX_WATCH_STREAMS",
                        "Most watch streams (WatchRecreateRequests and WatchNodeImage together) "
                        "open at once; more are RESOURCE_EXHAUSTED",
                        &O::max_watch_streams, 1, 100000));
    t->push_back(Number("fast_poll_ms", "--fast-poll-ms", "INPLACED_FAST_POLL_MS",
                        "Poll period while a request waits on a kill or restart", &O::fast_poll_ms,
                        1, 60000));
    t->push_back(
        Number("slow_poll_ms", "--slow-poll-ms", "INPLACED_SLOW_POLL_MS",
               "Poll period while a request waits on the node (its pod, a container to run) and "
               "none on a kill or restart; at least fast_poll_ms",
               &O::slow_poll_ms, 1, 600000));
    t->push_back(
        Number("resync_poll_ms", "--resync-poll-ms", "INPLACED_RESYNC_POLL_MS",
               "Poll period while every open request waits only on a timer or an API call "
               "(min_started_seconds, a readiness report); never shorter than slow_poll_ms",
               &O::resync_poll_ms, 1, 600000));
    t->push_back(Number("shutdown_hook_timeout_ms", "--shutdown-hook-timeout-ms",
                        "INPLACED_SHUTDOWN_HOOK_TIMEOUT_MS",
                        "On SIGTERM, how long running preStop hooks may finish before they are "
                        "cancelled (reported INTERRUPTED)",
                        &O::shutdown_hook_timeout_ms, 0, 25000));
    t->push_back(
        Number("max_concurrent_kills", "--max-concurrent-kills", "INPLACED_MAX_CONCURRENT_KILLS",
               "Most kills (preStop hook + StopContainer) in flight at once; more wait "
               "in order (logged: recreate_kill_limit_reached). No thread is held per kill",
               &O::max_concurrent_kills, 1, 100000));
    t->push_back(Text("log_level", "--log-level", "INPLACED_LOG_LEVEL",
                      "trace, debug, info, warn, error, critical or off", &O::log_level, LogLevel));
    t->push_back(Text("node_name", "--node-name", "INPLACED_NODE_NAME",
                      "Kubernetes node name reported by NodeService/GetNodeInfo; empty: the "
                      "NODE_NAME environment variable (a DaemonSet sets it from spec.nodeName), "
                      "else the host name in lowercase (as kubelet)",
                      &O::node_name, NodeName));
    Setting no_events{"no_event_stream", "--no-event-stream", "INPLACED_NO_EVENT_STREAM",
                      "Do not use the runtime's GetContainerEvents stream (poll only)",
                      &O::use_event_stream};
    no_events.negated = true;
    t->push_back(no_events);
    t->push_back(Text("probe_address", "--probe-address", "INPLACED_PROBE_ADDRESS",
                      "Plain-HTTP port of /healthz, /readyz and /metrics (host:port, [ipv6]:port; "
                      "port 0: any free port); empty: no probe port",
                      &O::probe_address, ProbeAddress));
    t->push_back(Number("max_concurrent_pulls", "--max-concurrent-pulls",
                        "INPLACED_MAX_CONCURRENT_PULLS",
                        "Most image pulls running at once on the node (NodeImage and PullImage)",
                        &O::max_concurrent_pulls, 1, 64));
    Setting insecure{"insecure_registry", "--insecure-registry", "INPLACED_INSECURE_REGISTRY",
                     "Registries (host or host:port) the disk precheck's registry client reaches "
                     "over plain http; a list (flag: repeatable; flag and environment: "
                     "comma-separated). Loopback registries always are",
                     &O::insecure_registries};
    insecure.check = NonEmpty;
    t->push_back(insecure);
    t->push_back(Text("image_fs_path", "--image-fs-path", "INPLACED_IMAGE_FS_PATH",
                      "Image filesystem checked for free space when the runtime's ImageFsInfo "
                      "names none, or one not visible to the daemon (a DaemonSet's mount)",
                      &O::image_fs_path, NonEmpty));
    t->push_back(Number("image_fs_reserve_percent", "--image-fs-reserve-percent",
                        "INPLACED_IMAGE_FS_RESERVE_PERCENT",
                        "Share of the image filesystem the disk precheck keeps free",
                        &O::image_fs_reserve_percent, 0, 100));
    t->push_back(Number("image_fs_assume_free_bytes", "--image-fs-assume-free-bytes",
                        "INPLACED_IMAGE_FS_ASSUME_FREE_BYTES",
                        "TESTING ONLY: take every image filesystem to have this many bytes free "
                        "instead of asking statvfs; unset: ask",
                        &O::image_fs_assume_free_bytes, 0, kNoLimit));
    t->push_back(Text("tcp_address", "--tcp-address", "INPLACED_TCP_ADDRESS",
                      "host:port of the control API's TCP listener (same services as the socket; "
                      "port 0: any free port); empty: none. Needs TLS (tcp_tls_cert, tcp_tls_key) "
                      "or tcp_insecure",
                      &O::tcp_address, HostPort));
    t->push_back(Text("tcp_tls_cert", "--tcp-tls-cert", "INPLACED_TCP_TLS_CERT",
                      "PEM file of the TCP listener's certificate (chain), read at start",
                      &O::tcp_tls_cert));
    t->push_back(Text("tcp_tls_key", "--tcp-tls-key", "INPLACED_TCP_TLS_KEY",
                      "PEM file of the TCP listener's private key (unencrypted), read at start",
                      &O::tcp_tls_key));
    t->push_back(Text("tcp_tls_client_ca", "--tcp-tls-client-ca", "INPLACED_TCP_TLS_CLIENT_CA",
                      "PEM file of the CA(s) client certificates must chain to: set, the TCP "
                      "listener requires and verifies a client certificate (mTLS)",
                      &O::tcp_tls_client_ca));
    Setting tcp_insecure{"tcp_insecure", "--tcp-insecure", "INPLACED_TCP_INSECURE",
                         "Serve the TCP listener in plaintext, without TLS (anyone who reaches "
                         "the port controls the node's containers): for tests only",
                         &O::tcp_insecure};
    t->push_back(tcp_insecure);
    return t;
  }();
  return *table;
}

// Shortest text of a number that reads back as the same value for any setting's precision
// ("1000000", "12.5"; absl::StrCat would write "1e+06").
std::string FormatNumber(double value) { return absl::StrFormat("%.15g", value); }

std::string RangeError(double min, double max, absl::string_view got) {
  if (max == kNoLimit) return absl::StrCat("must be at least ", FormatNumber(min), ", got ", got);
  return absl::StrCat("must be between ", FormatNumber(min), " and ", FormatNumber(max), ", got ",
                      got);
}

// Parses one item as the type of `field` and checks it; "" when fine.
struct ItemParser {
  const Setting& setting;
  const std::string& item;
  DaemonOptions& options;

  std::string operator()(std::string DaemonOptions::*field) const {
    if (setting.check != nullptr) {
      if (std::string problem = setting.check(item); !problem.empty()) {
        return absl::StrCat(problem, ", got \"", item, "\"");
      }
    }
    options.*field = item;
    return "";
  }
  std::string operator()(int DaemonOptions::*field) const {
    int value = 0;
    const bool parsed = absl::SimpleAtoi(item, &value);  // before `value` is passed on
    return Number(field, parsed, value, "an integer");
  }
  std::string operator()(double DaemonOptions::*field) const {
    double value = 0;
    const bool parsed = absl::SimpleAtod(item, &value) && std::isfinite(value);
    return Number(field, parsed, value, "a number");
  }
  std::string operator()(bool DaemonOptions::*field) const {
    const std::string lower = absl::AsciiStrToLower(item);
    bool value = false;
    if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") {
      value = true;
    } else if (!(lower == "false" || lower == "no" || lower == "off" || lower == "0")) {
      return absl::StrCat("must be true or false, got \"", item, "\"");
    }
    options.*field = setting.negated ? !value : value;
    return "";
  }
  std::string operator()(std::vector<std::string> DaemonOptions::*field) const {
    if (setting.check != nullptr) {
      if (std::string problem = setting.check(item); !problem.empty()) {
        return absl::StrCat("every item ", problem, ", got \"", item, "\"");
      }
    }
    (options.*field).push_back(item);
    return "";
  }
  // A number of kind `kind` that `parsed` (or not) into `value`, checked against the range.
  template <typename T>
  std::string Number(T DaemonOptions::*field, bool parsed, T value, absl::string_view kind) const {
    if (!parsed) return absl::StrCat("must be ", kind, ", got \"", item, "\"");
    if (value < setting.min || value > setting.max) {
      return RangeError(setting.min, setting.max, item);
    }
    options.*field = value;
    return "";
  }
  std::string operator()(std::optional<uint64_t> DaemonOptions::*field) const {
    uint64_t value = 0;
    if (!absl::SimpleAtoi(item, &value)) {
      return absl::StrCat("must be a non-negative integer, got \"", item, "\"");
    }
    options.*field = value;
    return "";
  }
};

}  // namespace

absl::Span<const Setting> AllSettings() { return Table(); }

const Setting* FindSetting(absl::string_view key) {
  for (const Setting& setting : Table()) {
    if (setting.key == key) return &setting;
  }
  return nullptr;
}

absl::Status ApplySetting(const Setting& setting, const std::vector<std::string>& items,
                          absl::string_view origin, DaemonOptions& options) {
  // Parsed into a copy: a bad value leaves `options` as it was.
  DaemonOptions parsed = options;
  if (setting.is_list()) {
    parsed.*std::get<std::vector<std::string> DaemonOptions::*>(setting.field) = {};
  } else if (setting.is_optional() && items.empty()) {
    parsed.*std::get<std::optional<uint64_t> DaemonOptions::*>(setting.field) = std::nullopt;
  } else if (items.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": takes one value, got ", items.size()));
  }
  for (const std::string& item : items) {
    const std::string problem = std::visit(ItemParser{setting, item, parsed}, setting.field);
    if (!problem.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": ", problem));
  }
  options = std::move(parsed);
  return absl::OkStatus();
}

std::vector<std::string> SettingItems(const Setting& setting, const DaemonOptions& options) {
  return std::visit(
      [&](auto field) -> std::vector<std::string> {
        const auto& value = options.*field;
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return {value};
        } else if constexpr (std::is_same_v<T, bool>) {
          return {(setting.negated ? !value : value) ? "true" : "false"};
        } else if constexpr (std::is_same_v<T, double>) {
          return {FormatNumber(value)};
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return value;
        } else if constexpr (std::is_same_v<T, std::optional<uint64_t>>) {
          if (!value.has_value()) return {};
          return {absl::StrCat(*value)};
        } else {
          return {absl::StrCat(value)};
        }
      },
      setting.field);
}

absl::Status CheckSettingCombination(const DaemonOptions& options) {
  if (options.slow_poll_ms < options.fast_poll_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("slow_poll_ms (--slow-poll-ms) is ", options.slow_poll_ms,
                     ", must be at least fast_poll_ms (--fast-poll-ms), ", options.fast_poll_ms));
  }
  return CheckTcpSettings(options);
}

std::string SettingsMarkdownTable() {
  const DaemonOptions defaults;
  std::string table =
      "| Flag | Environment | Config key | Default | Meaning |\n"
      "|---|---|---|---|---|\n";
  for (const Setting& setting : Table()) {
    const std::vector<std::string> items = SettingItems(setting, defaults);
    std::string default_text;
    if (setting.is_list()) {
      default_text = absl::StrCat("`[", absl::StrJoin(items, ", "), "]`");
    } else if (items.empty()) {
      default_text = "unset";
    } else if (items[0].empty()) {
      default_text = "`\"\"`";
    } else {
      default_text = absl::StrCat("`", items[0], "`");
    }
    const std::string flag =
        setting.is_bool() ? std::string(setting.flag) : absl::StrCat(setting.flag, " VALUE");
    absl::StrAppend(&table, "| `", flag, "` | `", setting.env, "` | `", setting.key, "` | ",
                    default_text, " | ", absl::StrReplaceAll(setting.help, {{"|", "\\|"}}), " |\n");
  }
  return table;
}

}  // namespace inplaced::daemon
