#include "daemon/recreate/recreate_validation.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/field_checks.h"
#include "common/status_macros.h"
#include "daemon/recreate/name_syntax.h"
#include "daemon/recreate/page_token.h"
#include "google/protobuf/util/message_differencer.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMaxTimestampSeconds = 253402300799;
constexpr int32_t kMaxPort = 65535;

// Prefixes a Check* result (message without a path) with the field's path.
absl::Status AtPath(absl::string_view path, const absl::Status& status) {
  if (status.ok()) return status;
  return InvalidField(path, status.message());
}

absl::Status CheckRequiredLabel(absl::string_view path, absl::string_view value) {
  if (value.empty()) return InvalidField(path, "required");
  return AtPath(path, CheckDns1123Label(value));
}

absl::Status CheckRequiredSubdomain(absl::string_view path, absl::string_view value) {
  if (value.empty()) return InvalidField(path, "required");
  return AtPath(path, CheckDns1123Subdomain(value));
}

// The (namespace, name) pair that addresses one request.
absl::Status CheckKey(absl::string_view namespace_name, absl::string_view name) {
  RETURN_IF_ERROR(CheckRequiredLabel("namespace", namespace_name));
  return CheckRequiredSubdomain("name", name);
}

absl::Status CheckSeconds(absl::string_view path, int64_t value, int64_t min,
                          const ValidationLimits& limits) {
  return CheckSecondsInRange(path, value, min, limits.max_duration_seconds);
}

template <typename Message>
absl::Status CheckPort(absl::string_view path, const Message& action) {
  switch (action.port_case()) {
    case Message::kPortNumber:
      if (action.port_number() < 1 || action.port_number() > kMaxPort) {
        return InvalidField(absl::StrCat(path, ".port_number"),
                            absl::StrCat("must be in 1-65535, got ", action.port_number()));
      }
      return absl::OkStatus();
    case Message::kPortName:
      return AtPath(absl::StrCat(path, ".port_name"), CheckIanaSvcName(action.port_name()));
    case Message::PORT_NOT_SET:
      break;
  }
  return InvalidField(absl::StrCat(path, ".port"), "required: set port_number or port_name");
}

absl::Status CheckOptionalHost(absl::string_view path, absl::string_view host) {
  if (host.empty()) return absl::OkStatus();
  return AtPath(path, CheckHost(host));
}

absl::Status CheckHttpGet(const std::string& path, const api::HttpGetAction& action,
                          const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckMaxBytes(path + ".path", action.path().size(), limits.max_http_path_bytes));
  RETURN_IF_ERROR(AtPath(path + ".path", CheckHttpPath(action.path())));
  RETURN_IF_ERROR(CheckPort(path, action));
  RETURN_IF_ERROR(CheckOptionalHost(path + ".host", action.host()));
  std::string scheme = absl::AsciiStrToUpper(action.scheme());
  if (!scheme.empty() && scheme != "HTTP" && scheme != "HTTPS") {
    return InvalidField(path + ".scheme", absl::StrCat("must be HTTP or HTTPS, got \"",
                                                       absl::CHexEscape(action.scheme()), "\""));
  }
  RETURN_IF_ERROR(
      CheckMaxCount(path + ".http_headers", action.http_headers_size(), limits.max_http_headers));
  for (int i = 0; i < action.http_headers_size(); ++i) {
    const std::string header_path = absl::StrCat(path, ".http_headers[", i, "]");
    const api::HttpHeader& header = action.http_headers(i);
    RETURN_IF_ERROR(
        CheckMaxBytes(header_path + ".name", header.name().size(), limits.max_header_name_bytes));
    RETURN_IF_ERROR(CheckMaxBytes(header_path + ".value", header.value().size(),
                                  limits.max_header_value_bytes));
    RETURN_IF_ERROR(AtPath(header_path + ".name", CheckHttpHeaderName(header.name())));
    RETURN_IF_ERROR(AtPath(header_path + ".value", CheckHttpHeaderValue(header.value())));
  }
  return absl::OkStatus();
}

absl::Status CheckExec(const std::string& path, const api::ExecAction& action,
                       const ValidationLimits& limits) {
  if (action.command_size() == 0)
    return InvalidField(path + ".command", "at least one element is required");
  RETURN_IF_ERROR(CheckMaxCount(path + ".command", action.command_size(), limits.max_command_args));
  size_t total = 0;
  for (const std::string& arg : action.command()) total += arg.size();
  RETURN_IF_ERROR(CheckMaxBytes(path + ".command", total, limits.max_command_bytes));
  for (int i = 0; i < action.command_size(); ++i) {
    RETURN_IF_ERROR(CheckMaxBytes(absl::StrCat(path, ".command[", i, "]"), action.command(i).size(),
                                  limits.max_command_arg_bytes));
  }
  if (action.command(0).empty())
    return InvalidField(path + ".command[0]", "the program must not be empty");
  for (int i = 0; i < action.command_size(); ++i) {
    // execve takes NUL-terminated strings: a NUL would silently cut the argument.
    if (action.command(i).find('\0') != std::string::npos) {
      return InvalidField(absl::StrCat(path, ".command[", i, "]"), "must not contain NUL");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckHandler(const std::string& path, const api::LifecycleHandler& handler,
                          const ValidationLimits& limits) {
  // A oneof holds at most one action on the wire (the last one parsed wins; the JSON parser rejects
  // two), so "several actions" cannot reach us: only the empty handler needs a check.
  switch (handler.action_case()) {
    case api::LifecycleHandler::kExec:
      return CheckExec(path + ".exec", handler.exec(), limits);
    case api::LifecycleHandler::kHttpGet:
      return CheckHttpGet(path + ".http_get", handler.http_get(), limits);
    case api::LifecycleHandler::kTcpSocket: {
      RETURN_IF_ERROR(CheckPort(path + ".tcp_socket", handler.tcp_socket()));
      return CheckOptionalHost(path + ".tcp_socket.host", handler.tcp_socket().host());
    }
    case api::LifecycleHandler::kSleep:
      return CheckSeconds(path + ".sleep.seconds", handler.sleep().seconds(), 0, limits);
    case api::LifecycleHandler::ACTION_NOT_SET:
      break;
  }
  return InvalidField(path, "exactly one of exec, http_get, tcp_socket, sleep must be set");
}

absl::Status CheckPorts(const std::string& path,
                        const google::protobuf::RepeatedPtrField<api::ContainerPort>& ports,
                        const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckMaxCount(path, ports.size(), limits.max_ports));
  absl::flat_hash_set<absl::string_view> names;
  for (int i = 0; i < ports.size(); ++i) {
    const std::string port_path = absl::StrCat(path, "[", i, "]");
    const api::ContainerPort& port = ports[i];
    if (port.name().empty()) return InvalidField(port_path + ".name", "required");
    RETURN_IF_ERROR(AtPath(port_path + ".name", CheckIanaSvcName(port.name())));
    if (!names.insert(port.name()).second) {
      return InvalidField(port_path + ".name",
                          absl::StrCat("duplicate port \"", port.name(), "\""));
    }
    if (port.container_port() < 1 || port.container_port() > kMaxPort) {
      return InvalidField(port_path + ".container_port",
                          absl::StrCat("must be in 1-65535, got ", port.container_port()));
    }
    if (!api::Protocol_IsValid(port.protocol())) {
      return InvalidField(port_path + ".protocol", absl::StrCat("unknown value ", port.protocol()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckContainerIdField(absl::string_view path, absl::string_view id) {
  if (id.empty()) return InvalidField(path, "required");
  return AtPath(path, CheckContainerId(id));
}

absl::Status CheckContainer(const std::string& path, const api::RecreateContainer& container,
                            const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckRequiredLabel(path + ".name", container.name()));
  if (container.has_status_context()) {
    const api::ContainerStatusContext& context = container.status_context();
    RETURN_IF_ERROR(
        CheckContainerIdField(path + ".status_context.container_id", context.container_id()));
    RETURN_IF_ERROR(
        CheckNonNegative(path + ".status_context.restart_count", context.restart_count()));
  }
  if (container.has_pre_stop()) {
    RETURN_IF_ERROR(CheckHandler(path + ".pre_stop", container.pre_stop(), limits));
  }
  return CheckPorts(path + ".ports", container.ports(), limits);
}

absl::Status CheckStrategy(const api::RecreateStrategy& strategy, const ValidationLimits& limits) {
  if (!api::FailurePolicy_IsValid(strategy.failure_policy())) {
    return InvalidField("spec.strategy.failure_policy",
                        absl::StrCat("unknown value ", strategy.failure_policy()));
  }
  if (strategy.has_termination_grace_period_seconds()) {
    RETURN_IF_ERROR(CheckSeconds("spec.strategy.termination_grace_period_seconds",
                                 strategy.termination_grace_period_seconds(), 0, limits));
  }
  if (strategy.has_unready_grace_period_seconds()) {
    RETURN_IF_ERROR(CheckSeconds("spec.strategy.unready_grace_period_seconds",
                                 strategy.unready_grace_period_seconds(), 0, limits));
  }
  return CheckSeconds("spec.strategy.min_started_seconds", strategy.min_started_seconds(), 0,
                      limits);
}

absl::Status CheckOptionalFilters(absl::string_view namespace_name, absl::string_view pod_name) {
  if (!namespace_name.empty()) {
    RETURN_IF_ERROR(AtPath("namespace", CheckDns1123Label(namespace_name)));
  }
  if (!pod_name.empty()) return AtPath("pod_name", CheckDns1123Subdomain(pod_name));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRecreateSpec(const api::RecreateSpec& spec, const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckRequiredSubdomain("spec.pod_name", spec.pod_name()));
  if (!spec.pod_uid().empty()) {
    RETURN_IF_ERROR(AtPath("spec.pod_uid", CheckPodUid(spec.pod_uid())));
  }
  if (spec.containers_size() == 0) {
    return InvalidField("spec.containers", "at least one container is required");
  }
  if (spec.containers_size() > limits.max_containers) {
    return InvalidField("spec.containers",
                        absl::StrCat("at most ", limits.max_containers,
                                     " containers are allowed, got ", spec.containers_size()));
  }
  absl::flat_hash_set<absl::string_view> names;
  for (int i = 0; i < spec.containers_size(); ++i) {
    const std::string path = absl::StrCat("spec.containers[", i, "]");
    RETURN_IF_ERROR(CheckContainer(path, spec.containers(i), limits));
    // Kruise v1.9.0 meant to refuse duplicates and did not (the set was never filled, see the
    // reference §1.2): a duplicate would be killed twice.
    if (!names.insert(spec.containers(i).name()).second) {
      return InvalidField(path + ".name",
                          absl::StrCat("duplicate container \"", spec.containers(i).name(), "\""));
    }
  }
  RETURN_IF_ERROR(CheckStrategy(spec.strategy(), limits));
  if (spec.has_active_deadline_seconds()) {
    RETURN_IF_ERROR(CheckSeconds("spec.active_deadline_seconds", spec.active_deadline_seconds(),
                                 kMinActiveDeadlineSeconds, limits));
  }
  if (spec.has_ttl_seconds_after_finished()) {
    RETURN_IF_ERROR(CheckSeconds("spec.ttl_seconds_after_finished",
                                 spec.ttl_seconds_after_finished(), 0, limits));
  }
  if (!api::ReadinessSource_IsValid(spec.readiness_source())) {
    return InvalidField("spec.readiness_source",
                        absl::StrCat("unknown value ", spec.readiness_source()));
  }
  // Last: the fields above name the offending one when it alone is too big.
  return CheckMaxBytes("spec", spec.ByteSizeLong(), limits.max_spec_bytes);
}

absl::Status ValidateCreateRecreateRequest(const api::CreateRecreateRequestRequest& request,
                                           const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckKey(request.namespace_(), request.name()));
  if (!request.has_spec()) return InvalidField("spec", "required");
  return ValidateRecreateSpec(request.spec(), limits);
}

absl::Status ValidateGetRecreateRequest(const api::GetRecreateRequestRequest& request) {
  return CheckKey(request.namespace_(), request.name());
}

absl::Status ValidateDeleteRecreateRequest(const api::DeleteRecreateRequestRequest& request) {
  return CheckKey(request.namespace_(), request.name());
}

absl::Status ValidateListRecreateRequests(const api::ListRecreateRequestsRequest& request,
                                          const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckOptionalFilters(request.namespace_(), request.pod_name()));
  if (!api::RecreatePhase_IsValid(request.phase())) {
    return InvalidField("phase", absl::StrCat("unknown value ", request.phase()));
  }
  if (request.page_size() < 0 || request.page_size() > limits.max_page_size) {
    return InvalidField("page_size", absl::StrCat("must be in 0-", limits.max_page_size, ", got ",
                                                  request.page_size()));
  }
  return DecodeListPageToken(request).status();
}

int EffectivePageSize(const api::ListRecreateRequestsRequest& request) {
  return request.page_size() == 0 ? kDefaultListPageSize : request.page_size();
}

absl::Status ValidateWatchRecreateRequests(const api::WatchRecreateRequestsRequest& request) {
  RETURN_IF_ERROR(CheckOptionalFilters(request.namespace_(), request.pod_name()));
  if (!request.name().empty()) return AtPath("name", CheckDns1123Subdomain(request.name()));
  return absl::OkStatus();
}

absl::Status ValidateAcknowledgeUnready(const api::AcknowledgeUnreadyRequest& request) {
  RETURN_IF_ERROR(CheckKey(request.namespace_(), request.name()));
  if (!request.has_unready_at()) return InvalidField("unready_at", "required");
  const google::protobuf::Timestamp& at = request.unready_at();
  if (at.seconds() <= 0 || at.seconds() > kMaxTimestampSeconds || at.nanos() < 0 ||
      at.nanos() > 999999999) {
    return InvalidField("unready_at",
                        absl::StrCat("must be a valid time after the Unix epoch, got seconds=",
                                     at.seconds(), " nanos=", at.nanos()));
  }
  return absl::OkStatus();
}

absl::Status ValidateReportReadiness(const api::ReportReadinessRequest& request,
                                     const ValidationLimits& limits) {
  RETURN_IF_ERROR(CheckKey(request.namespace_(), request.name()));
  if (request.containers_size() == 0)
    return InvalidField("containers", "at least one container is required");
  if (request.containers_size() > limits.max_containers) {
    return InvalidField("containers",
                        absl::StrCat("at most ", limits.max_containers,
                                     " containers are allowed, got ", request.containers_size()));
  }
  absl::flat_hash_set<absl::string_view> names;
  for (int i = 0; i < request.containers_size(); ++i) {
    const std::string path = absl::StrCat("containers[", i, "]");
    const api::ContainerReadiness& container = request.containers(i);
    RETURN_IF_ERROR(CheckRequiredLabel(path + ".name", container.name()));
    if (!names.insert(container.name()).second) {
      return InvalidField(path + ".name",
                          absl::StrCat("duplicate container \"", container.name(), "\""));
    }
    RETURN_IF_ERROR(CheckContainerIdField(path + ".container_id", container.container_id()));
  }
  return absl::OkStatus();
}

void ApplySpecDefaults(api::RecreateSpec* spec) {
  api::RecreateStrategy* strategy = spec->mutable_strategy();
  if (strategy->failure_policy() == api::FAILURE_POLICY_UNSPECIFIED) {
    strategy->set_failure_policy(api::FAILURE_POLICY_FAIL);
  }
  if (spec->readiness_source() == api::READINESS_SOURCE_UNSPECIFIED) {
    spec->set_readiness_source(api::READINESS_SOURCE_RUNTIME);
  }
  for (api::RecreateContainer& container : *spec->mutable_containers()) {
    for (api::ContainerPort& port : *container.mutable_ports()) {
      if (port.protocol() == api::PROTOCOL_UNSPECIFIED) port.set_protocol(api::PROTOCOL_TCP);
    }
  }
}

bool SameSpec(const api::RecreateSpec& a, const api::RecreateSpec& b) {
  api::RecreateSpec defaulted_a = a;
  api::RecreateSpec defaulted_b = b;
  ApplySpecDefaults(&defaulted_a);
  ApplySpecDefaults(&defaulted_b);
  return google::protobuf::util::MessageDifferencer::Equals(defaulted_a, defaulted_b);
}

}  // namespace inplaced::daemon
