#include "daemon/prestop/kubelet_handler.h"

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cri/kubelet_labels.h"
#include "nlohmann/json.hpp"

namespace inplaced::daemon {
namespace {

using Json = nlohmann::json;
namespace api = ::inplaced::v1;

constexpr int64_t kMaxPort = 65535;

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Prefixes an error with the annotation it came from.
absl::Status InAnnotation(absl::string_view what, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

// The member `name` of `object`, or nullptr when absent or JSON null.
const Json* Member(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status ReadString(const Json& object, const char* name, absl::string_view path,
                        std::string* out) {
  const Json* value = Member(object, name);
  if (value == nullptr) return absl::OkStatus();
  if (!value->is_string()) return FieldError(absl::StrCat(path, ".", name), "must be a string");
  *out = value->get_ref<const std::string&>();
  return absl::OkStatus();
}

// An integer member as int64 (nlohmann keeps unsigned and signed integers apart; floats are
// refused).
absl::StatusOr<int64_t> ReadInteger(const Json& value, absl::string_view field) {
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return FieldError(field, "out of range");
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return FieldError(field, "must be an integer");
}

absl::Status CheckPort(int64_t port, absl::string_view field) {
  if (port < 1 || port > kMaxPort) {
    return FieldError(field, absl::StrCat("port ", port, " out of range 1-65535"));
  }
  return absl::OkStatus();
}

// IntOrString port -> (port_number | port_name) through the setters of the action.
template <typename Action>
absl::Status ReadPort(const Json& object, absl::string_view path, Action* action) {
  const std::string field = absl::StrCat(path, ".port");
  const Json* value = Member(object, "port");
  if (value == nullptr) return FieldError(field, "required");
  if (value->is_string()) {
    const std::string& text = value->get_ref<const std::string&>();
    if (text.empty()) return FieldError(field, "required");
    int64_t number = 0;
    if (absl::SimpleAtoi(text, &number)) {
      if (absl::Status s = CheckPort(number, field); !s.ok()) return s;
      action->set_port_number(static_cast<int32_t>(number));
    } else {
      action->set_port_name(text);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> number = ReadInteger(*value, field);
  if (!number.ok()) return FieldError(field, "must be an integer or a string");
  if (absl::Status s = CheckPort(*number, field); !s.ok()) return s;
  action->set_port_number(static_cast<int32_t>(*number));
  return absl::OkStatus();
}

absl::Status ParseExec(const Json& json, api::ExecAction* exec) {
  const Json* command = Member(json, "command");
  if (command == nullptr) return FieldError("exec.command", "required");
  if (!command->is_array()) return FieldError("exec.command", "must be an array of strings");
  for (const Json& arg : *command) {
    if (!arg.is_string()) return FieldError("exec.command", "must be an array of strings");
    exec->add_command(arg.get_ref<const std::string&>());
  }
  if (exec->command().empty() || exec->command(0).empty()) {
    return FieldError("exec.command", "must have a non-empty first element");
  }
  return absl::OkStatus();
}

absl::Status ParseHttpGet(const Json& json, api::HttpGetAction* http) {
  if (absl::Status s = ReadString(json, "path", "httpGet", http->mutable_path()); !s.ok()) return s;
  if (absl::Status s = ReadPort(json, "httpGet", http); !s.ok()) return s;
  if (absl::Status s = ReadString(json, "host", "httpGet", http->mutable_host()); !s.ok()) return s;
  if (absl::Status s = ReadString(json, "scheme", "httpGet", http->mutable_scheme()); !s.ok())
    return s;
  const Json* headers = Member(json, "httpHeaders");
  if (headers == nullptr) return absl::OkStatus();
  if (!headers->is_array()) return FieldError("httpGet.httpHeaders", "must be an array");
  for (const Json& header : *headers) {
    if (!header.is_object()) return FieldError("httpGet.httpHeaders", "entries must be objects");
    api::HttpHeader* out = http->add_http_headers();
    if (absl::Status s = ReadString(header, "name", "httpGet.httpHeaders[]", out->mutable_name());
        !s.ok()) {
      return s;
    }
    if (out->name().empty()) return FieldError("httpGet.httpHeaders[].name", "required");
    if (absl::Status s = ReadString(header, "value", "httpGet.httpHeaders[]", out->mutable_value());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ParseTcpSocket(const Json& json, api::TcpSocketAction* tcp) {
  if (absl::Status s = ReadPort(json, "tcpSocket", tcp); !s.ok()) return s;
  return ReadString(json, "host", "tcpSocket", tcp->mutable_host());
}

absl::Status ParseSleep(const Json& json, api::SleepAction* sleep) {
  const Json* seconds = Member(json, "seconds");
  if (seconds == nullptr) return FieldError("sleep.seconds", "required");
  absl::StatusOr<int64_t> value = ReadInteger(*seconds, "sleep.seconds");
  if (!value.ok()) return value.status();
  if (*value < 0) return FieldError("sleep.seconds", "must not be negative");
  sleep->set_seconds(*value);
  return absl::OkStatus();
}

absl::StatusOr<api::Protocol> ParseProtocol(const std::string& text) {
  if (text.empty() || text == "TCP") return api::PROTOCOL_TCP;
  if (text == "UDP") return api::PROTOCOL_UDP;
  if (text == "SCTP") return api::PROTOCOL_SCTP;
  return absl::InvalidArgumentError(
      absl::StrCat("protocol \"", text, "\" is not TCP, UDP or SCTP"));
}

absl::StatusOr<std::optional<api::LifecycleHandler>> ParseHandler(absl::string_view json) {
  if (absl::StripAsciiWhitespace(json).empty()) return std::nullopt;
  // No exceptions: a parse error yields a "discarded" value.
  const Json root = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("malformed JSON");
  if (root.is_null()) return std::nullopt;
  if (!root.is_object()) return absl::InvalidArgumentError("must be a JSON object");

  api::LifecycleHandler handler;
  int actions = 0;
  if (const Json* exec = Member(root, "exec"); exec != nullptr) {
    ++actions;
    if (!exec->is_object()) return FieldError("exec", "must be an object");
    if (absl::Status s = ParseExec(*exec, handler.mutable_exec()); !s.ok()) return s;
  }
  if (const Json* http = Member(root, "httpGet"); http != nullptr) {
    ++actions;
    if (!http->is_object()) return FieldError("httpGet", "must be an object");
    if (absl::Status s = ParseHttpGet(*http, handler.mutable_http_get()); !s.ok()) return s;
  }
  if (const Json* tcp = Member(root, "tcpSocket"); tcp != nullptr) {
    ++actions;
    if (!tcp->is_object()) return FieldError("tcpSocket", "must be an object");
    if (absl::Status s = ParseTcpSocket(*tcp, handler.mutable_tcp_socket()); !s.ok()) return s;
  }
  if (const Json* sleep = Member(root, "sleep"); sleep != nullptr) {
    ++actions;
    if (!sleep->is_object()) return FieldError("sleep", "must be an object");
    if (absl::Status s = ParseSleep(*sleep, handler.mutable_sleep()); !s.ok()) return s;
  }
  if (actions == 0) {
    return absl::InvalidArgumentError("no action (want one of exec, httpGet, tcpSocket, sleep)");
  }
  if (actions > 1) return absl::InvalidArgumentError("more than one action");
  return handler;
}

absl::StatusOr<std::vector<api::ContainerPort>> ParsePorts(absl::string_view json) {
  std::vector<api::ContainerPort> ports;
  if (absl::StripAsciiWhitespace(json).empty()) return ports;
  const Json root = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("malformed JSON");
  if (root.is_null()) return ports;
  if (!root.is_array()) return absl::InvalidArgumentError("must be a JSON array");
  for (const Json& entry : root) {
    if (!entry.is_object()) return absl::InvalidArgumentError("entries must be objects");
    std::string name;
    std::string protocol;
    if (absl::Status s = ReadString(entry, "name", "ports[]", &name); !s.ok()) return s;
    if (absl::Status s = ReadString(entry, "protocol", "ports[]", &protocol); !s.ok()) return s;
    const Json* number = Member(entry, "containerPort");
    if (number == nullptr) return FieldError("ports[].containerPort", "required");
    absl::StatusOr<int64_t> port = ReadInteger(*number, "ports[].containerPort");
    if (!port.ok()) return port.status();
    if (absl::Status s = CheckPort(*port, "ports[].containerPort"); !s.ok()) return s;
    absl::StatusOr<api::Protocol> parsed_protocol = ParseProtocol(protocol);
    if (!parsed_protocol.ok()) return parsed_protocol.status();
    if (name.empty()) continue;  // Unnamed ports cannot be referred to by name.
    api::ContainerPort& out = ports.emplace_back();
    out.set_name(name);
    out.set_container_port(static_cast<int32_t>(*port));
    out.set_protocol(*parsed_protocol);
  }
  return ports;
}

}  // namespace

absl::StatusOr<std::optional<api::LifecycleHandler>> ParseKubeletPreStopHandler(
    absl::string_view json) {
  absl::StatusOr<std::optional<api::LifecycleHandler>> handler = ParseHandler(json);
  if (!handler.ok()) return InAnnotation(cri::kubelet::kContainerPreStopHandler, handler.status());
  return handler;
}

absl::StatusOr<std::vector<api::ContainerPort>> ParseKubeletPorts(absl::string_view json) {
  absl::StatusOr<std::vector<api::ContainerPort>> ports = ParsePorts(json);
  if (!ports.ok()) return InAnnotation(cri::kubelet::kContainerPorts, ports.status());
  return ports;
}

}  // namespace inplaced::daemon
