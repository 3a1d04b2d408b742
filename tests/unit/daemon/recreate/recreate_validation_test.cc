#include "daemon/recreate/recreate_validation.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/recreate/page_token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using CreateMutation = std::function<void(api::CreateRecreateRequestRequest*)>;

// A valid request: two containers, the second with every optional part set.
api::CreateRecreateRequestRequest ValidCreate() {
  api::CreateRecreateRequestRequest request;
  request.set_namespace_("default");
  request.set_name("recreate-1");
  api::RecreateSpec* spec = request.mutable_spec();
  spec->set_pod_name("web-0");
  spec->add_containers()->set_name("app");
  api::RecreateContainer* sidecar = spec->add_containers();
  sidecar->set_name("sidecar");
  sidecar->mutable_status_context()->set_container_id("containerd://0123abcd");
  sidecar->mutable_status_context()->set_restart_count(2);
  api::HttpGetAction* http = sidecar->mutable_pre_stop()->mutable_http_get();
  http->set_path("/shutdown");
  http->set_port_name("admin");
  api::HttpHeader* header = http->add_http_headers();
  header->set_name("X-Reason");
  header->set_value("recreate");
  api::ContainerPort* port = sidecar->add_ports();
  port->set_name("admin");
  port->set_container_port(9000);
  return request;
}

api::RecreateContainer* Container(api::CreateRecreateRequestRequest* request, int index) {
  return request->mutable_spec()->mutable_containers(index);
}

api::HttpGetAction* HttpGet(api::CreateRecreateRequestRequest* request) {
  return Container(request, 1)->mutable_pre_stop()->mutable_http_get();
}

void AddContainers(api::CreateRecreateRequestRequest* request, int total) {
  request->mutable_spec()->clear_containers();
  for (int i = 0; i < total; ++i)
    request->mutable_spec()->add_containers()->set_name(absl::StrCat("c", i));
}

struct RejectCase {
  std::string description;
  CreateMutation mutate;
  // The message must start with "<path>: " and contain `detail`.
  std::string path;
  std::string detail;
};

TEST(ValidateCreateRecreateRequestTest, BaseRequestIsValid) {
  EXPECT_OK(ValidateCreateRecreateRequest(ValidCreate(), ValidationLimits{}));
}

TEST(ValidateCreateRecreateRequestTest, RejectsEveryInvalidFieldNamingItsPath) {
  const std::string kLong254 = std::string(250, 'a') + ".bcd";
  const std::vector<RejectCase> cases = {
      // Request key.
      {"empty namespace", [](auto* r) { r->set_namespace_(""); }, "namespace", "required"},
      {"uppercase namespace", [](auto* r) { r->set_namespace_("Default"); }, "namespace",
       "DNS-1123 label"},
      {"namespace of 64 characters", [](auto* r) { r->set_namespace_(std::string(64, 'a')); },
       "namespace", "DNS-1123 label"},
      {"namespace with a dot", [](auto* r) { r->set_namespace_("a.b"); }, "namespace",
       "DNS-1123 label"},
      {"namespace ending with '-'", [](auto* r) { r->set_namespace_("ns-"); }, "namespace",
       "DNS-1123 label"},
      {"empty name", [](auto* r) { r->set_name(""); }, "name", "required"},
      {"name starting with '-'", [](auto* r) { r->set_name("-x"); }, "name", "DNS-1123 subdomain"},
      {"name with an empty part", [](auto* r) { r->set_name("a..b"); }, "name",
       "DNS-1123 subdomain"},
      {"name with '_'", [](auto* r) { r->set_name("a_b"); }, "name", "DNS-1123 subdomain"},
      {"name of 254 characters", [&](auto* r) { r->set_name(kLong254); }, "name",
       "DNS-1123 subdomain"},
      {"missing spec", [](auto* r) { r->clear_spec(); }, "spec", "required"},
      // Pod.
      {"empty pod name", [](auto* r) { r->mutable_spec()->set_pod_name(""); }, "spec.pod_name",
       "required"},
      {"pod name with uppercase", [](auto* r) { r->mutable_spec()->set_pod_name("Web-0"); },
       "spec.pod_name", "DNS-1123 subdomain"},
      {"pod uid with a space", [](auto* r) { r->mutable_spec()->set_pod_uid("a b"); },
       "spec.pod_uid", "pod UID"},
      {"pod uid of 129 characters",
       [](auto* r) { r->mutable_spec()->set_pod_uid(std::string(129, 'f')); }, "spec.pod_uid",
       "pod UID"},
      // Containers.
      {"no containers", [](auto* r) { r->mutable_spec()->clear_containers(); }, "spec.containers",
       "at least one container"},
      {"65 containers, one over the default limit", [](auto* r) { AddContainers(r, 65); },
       "spec.containers", "at most 64 containers are allowed, got 65"},
      {"empty container name", [](auto* r) { Container(r, 0)->set_name(""); },
       "spec.containers[0].name", "required"},
      {"container name with uppercase", [](auto* r) { Container(r, 1)->set_name("Sidecar"); },
       "spec.containers[1].name", "DNS-1123 label"},
      {"container name with a dot", [](auto* r) { Container(r, 1)->set_name("side.car"); },
       "spec.containers[1].name", "DNS-1123 label"},
      {"container name of 64 characters",
       [](auto* r) { Container(r, 0)->set_name(std::string(64, 'c')); }, "spec.containers[0].name",
       "DNS-1123 label"},
      {"duplicate container", [](auto* r) { Container(r, 1)->set_name("app"); },
       "spec.containers[1].name", "duplicate container \"app\""},
      // Status context.
      {"status context without container id",
       [](auto* r) { Container(r, 1)->mutable_status_context()->clear_container_id(); },
       "spec.containers[1].status_context.container_id", "required"},
      {"container id with only a scheme",
       [](auto* r) {
         Container(r, 1)->mutable_status_context()->set_container_id("containerd://");
       },
       "spec.containers[1].status_context.container_id", "container ID"},
      {"container id with an empty scheme",
       [](auto* r) { Container(r, 1)->mutable_status_context()->set_container_id("://abc"); },
       "spec.containers[1].status_context.container_id", "container ID"},
      {"container id with a '/'",
       [](auto* r) { Container(r, 1)->mutable_status_context()->set_container_id("abc/def"); },
       "spec.containers[1].status_context.container_id", "container ID"},
      {"container id of 129 characters",
       [](auto* r) {
         Container(r, 1)->mutable_status_context()->set_container_id(std::string(129, 'a'));
       },
       "spec.containers[1].status_context.container_id", "container ID"},
      {"negative restart count",
       [](auto* r) { Container(r, 1)->mutable_status_context()->set_restart_count(-1); },
       "spec.containers[1].status_context.restart_count", "must not be negative, got -1"},
      // preStop: handler shape.
      {"preStop without an action", [](auto* r) { Container(r, 0)->mutable_pre_stop(); },
       "spec.containers[0].pre_stop", "exactly one of exec, http_get, tcp_socket, sleep"},
      // preStop exec.
      {"exec without a command",
       [](auto* r) { Container(r, 0)->mutable_pre_stop()->mutable_exec(); },
       "spec.containers[0].pre_stop.exec.command", "at least one element"},
      {"exec with an empty program",
       [](auto* r) {
         auto* exec = Container(r, 0)->mutable_pre_stop()->mutable_exec();
         exec->add_command("");
         exec->add_command("-c");
       },
       "spec.containers[0].pre_stop.exec.command[0]", "must not be empty"},
      {"exec argument with NUL",
       [](auto* r) {
         auto* exec = Container(r, 0)->mutable_pre_stop()->mutable_exec();
         exec->add_command("sh");
         exec->add_command(std::string("a\0b", 3));
       },
       "spec.containers[0].pre_stop.exec.command[1]", "NUL"},
      // preStop httpGet.
      {"httpGet without a port", [](auto* r) { HttpGet(r)->clear_port(); },
       "spec.containers[1].pre_stop.http_get.port", "required"},
      {"httpGet port 0", [](auto* r) { HttpGet(r)->set_port_number(0); },
       "spec.containers[1].pre_stop.http_get.port_number", "1-65535, got 0"},
      {"httpGet port 65536", [](auto* r) { HttpGet(r)->set_port_number(65536); },
       "spec.containers[1].pre_stop.http_get.port_number", "1-65535, got 65536"},
      {"httpGet negative port", [](auto* r) { HttpGet(r)->set_port_number(-80); },
       "spec.containers[1].pre_stop.http_get.port_number", "1-65535, got -80"},
      {"httpGet uppercase port name", [](auto* r) { HttpGet(r)->set_port_name("Admin"); },
       "spec.containers[1].pre_stop.http_get.port_name", "IANA_SVC_NAME"},
      {"httpGet all-digit port name", [](auto* r) { HttpGet(r)->set_port_name("8080"); },
       "spec.containers[1].pre_stop.http_get.port_name", "IANA_SVC_NAME"},
      {"httpGet port name of 16 characters",
       [](auto* r) { HttpGet(r)->set_port_name(std::string(16, 'p')); },
       "spec.containers[1].pre_stop.http_get.port_name", "IANA_SVC_NAME"},
      {"httpGet port name with '--'", [](auto* r) { HttpGet(r)->set_port_name("a--b"); },
       "spec.containers[1].pre_stop.http_get.port_name", "IANA_SVC_NAME"},
      {"httpGet port name starting with '-'", [](auto* r) { HttpGet(r)->set_port_name("-ab"); },
       "spec.containers[1].pre_stop.http_get.port_name", "IANA_SVC_NAME"},
      {"httpGet empty port name", [](auto* r) { HttpGet(r)->set_port_name(""); },
       "spec.containers[1].pre_stop.http_get.port_name", "IANA_SVC_NAME"},
      {"httpGet scheme ftp", [](auto* r) { HttpGet(r)->set_scheme("ftp"); },
       "spec.containers[1].pre_stop.http_get.scheme", "HTTP or HTTPS, got \"ftp\""},
      {"httpGet host with a path", [](auto* r) { HttpGet(r)->set_host("evil.example/x"); },
       "spec.containers[1].pre_stop.http_get.host", "host name or IP address"},
      {"httpGet host with userinfo", [](auto* r) { HttpGet(r)->set_host("user@10.0.0.1"); },
       "spec.containers[1].pre_stop.http_get.host", "host name or IP address"},
      {"httpGet path with a space", [](auto* r) { HttpGet(r)->set_path("/a b"); },
       "spec.containers[1].pre_stop.http_get.path", "whitespace or control"},
      {"httpGet path with a newline", [](auto* r) { HttpGet(r)->set_path("/a\nb"); },
       "spec.containers[1].pre_stop.http_get.path", "whitespace or control"},
      {"httpGet header name with a space",
       [](auto* r) { HttpGet(r)->mutable_http_headers(0)->set_name("X Y"); },
       "spec.containers[1].pre_stop.http_get.http_headers[0].name", "HTTP token"},
      {"httpGet empty header name",
       [](auto* r) { HttpGet(r)->mutable_http_headers(0)->set_name(""); },
       "spec.containers[1].pre_stop.http_get.http_headers[0].name", "HTTP token"},
      {"httpGet header value with CRLF",
       [](auto* r) { HttpGet(r)->mutable_http_headers(0)->set_value("a\r\nX-Injected: 1"); },
       "spec.containers[1].pre_stop.http_get.http_headers[0].value", "CR, LF or NUL"},
      // preStop tcpSocket and sleep.
      {"tcpSocket without a port",
       [](auto* r) { Container(r, 0)->mutable_pre_stop()->mutable_tcp_socket(); },
       "spec.containers[0].pre_stop.tcp_socket.port", "required"},
      {"tcpSocket port 70000",
       [](auto* r) {
         Container(r, 0)->mutable_pre_stop()->mutable_tcp_socket()->set_port_number(70000);
       },
       "spec.containers[0].pre_stop.tcp_socket.port_number", "1-65535"},
      {"tcpSocket bad port name",
       [](auto* r) {
         Container(r, 0)->mutable_pre_stop()->mutable_tcp_socket()->set_port_name("a_b");
       },
       "spec.containers[0].pre_stop.tcp_socket.port_name", "IANA_SVC_NAME"},
      {"tcpSocket host with a space",
       [](auto* r) {
         auto* tcp = Container(r, 0)->mutable_pre_stop()->mutable_tcp_socket();
         tcp->set_port_number(80);
         tcp->set_host("a b");
       },
       "spec.containers[0].pre_stop.tcp_socket.host", "host name or IP address"},
      {"negative sleep",
       [](auto* r) { Container(r, 0)->mutable_pre_stop()->mutable_sleep()->set_seconds(-1); },
       "spec.containers[0].pre_stop.sleep.seconds", "must not be negative, got -1"},
      {"sleep over a year",
       [](auto* r) {
         Container(r, 0)->mutable_pre_stop()->mutable_sleep()->set_seconds(kMaxDurationSeconds + 1);
       },
       "spec.containers[0].pre_stop.sleep.seconds", "must be at most 31536000"},
      // Ports override.
      {"port without a name", [](auto* r) { Container(r, 1)->mutable_ports(0)->clear_name(); },
       "spec.containers[1].ports[0].name", "required"},
      {"port with a bad name",
       [](auto* r) { Container(r, 1)->mutable_ports(0)->set_name("ADMIN"); },
       "spec.containers[1].ports[0].name", "IANA_SVC_NAME"},
      {"duplicate port name",
       [](auto* r) {
         auto* port = Container(r, 1)->add_ports();
         port->set_name("admin");
         port->set_container_port(9001);
       },
       "spec.containers[1].ports[1].name", "duplicate port \"admin\""},
      {"container port 0",
       [](auto* r) { Container(r, 1)->mutable_ports(0)->set_container_port(0); },
       "spec.containers[1].ports[0].container_port", "1-65535, got 0"},
      {"unknown protocol",
       [](auto* r) {
         Container(r, 1)->mutable_ports(0)->set_protocol(static_cast<api::Protocol>(99));
       },
       "spec.containers[1].ports[0].protocol", "unknown value 99"},
      // Strategy.
      {"unknown failure policy",
       [](auto* r) {
         r->mutable_spec()->mutable_strategy()->set_failure_policy(
             static_cast<api::FailurePolicy>(7));
       },
       "spec.strategy.failure_policy", "unknown value 7"},
      {"negative termination grace",
       [](auto* r) {
         r->mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(-1);
       },
       "spec.strategy.termination_grace_period_seconds", "must not be negative, got -1"},
      {"termination grace over a year",
       [](auto* r) {
         r->mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(
             kMaxDurationSeconds + 1);
       },
       "spec.strategy.termination_grace_period_seconds", "must be at most 31536000 (365 days)"},
      {"negative unready grace",
       [](auto* r) {
         r->mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(-30);
       },
       "spec.strategy.unready_grace_period_seconds", "must not be negative, got -30"},
      {"unready grace near INT64_MAX",
       [](auto* r) {
         r->mutable_spec()->mutable_strategy()->set_unready_grace_period_seconds(INT64_MAX);
       },
       "spec.strategy.unready_grace_period_seconds", "must be at most 31536000"},
      {"negative min started",
       [](auto* r) { r->mutable_spec()->mutable_strategy()->set_min_started_seconds(-1); },
       "spec.strategy.min_started_seconds", "must not be negative"},
      {"min started over a year",
       [](auto* r) {
         r->mutable_spec()->mutable_strategy()->set_min_started_seconds(kMaxDurationSeconds + 1);
       },
       "spec.strategy.min_started_seconds", "must be at most 31536000"},
      // Deadlines and TTL.
      {"active deadline 2, below Kruise's minimum",
       [](auto* r) { r->mutable_spec()->set_active_deadline_seconds(2); },
       "spec.active_deadline_seconds", "must be at least 3, got 2"},
      {"active deadline 0", [](auto* r) { r->mutable_spec()->set_active_deadline_seconds(0); },
       "spec.active_deadline_seconds", "must be at least 3, got 0"},
      {"negative active deadline",
       [](auto* r) { r->mutable_spec()->set_active_deadline_seconds(-10); },
       "spec.active_deadline_seconds", "must be at least 3, got -10"},
      {"active deadline over a year",
       [](auto* r) { r->mutable_spec()->set_active_deadline_seconds(kMaxDurationSeconds + 1); },
       "spec.active_deadline_seconds", "must be at most 31536000"},
      {"negative ttl", [](auto* r) { r->mutable_spec()->set_ttl_seconds_after_finished(-1); },
       "spec.ttl_seconds_after_finished", "must not be negative, got -1"},
      {"ttl over a year",
       [](auto* r) { r->mutable_spec()->set_ttl_seconds_after_finished(kMaxDurationSeconds + 1); },
       "spec.ttl_seconds_after_finished", "must be at most 31536000"},
      {"unknown readiness source",
       [](auto* r) {
         r->mutable_spec()->set_readiness_source(static_cast<api::ReadinessSource>(9));
       },
       "spec.readiness_source", "unknown value 9"},
  };
  for (const RejectCase& c : cases) {
    SCOPED_TRACE(c.description);
    api::CreateRecreateRequestRequest request = ValidCreate();
    c.mutate(&request);
    absl::Status status = ValidateCreateRecreateRequest(request, ValidationLimits{});
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.path + ": ")));
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.detail));
  }
}

struct AcceptCase {
  std::string description;
  CreateMutation mutate;
};

TEST(ValidateCreateRecreateRequestTest, AcceptsEdgeCases) {
  const std::vector<AcceptCase> cases = {
      {"active deadline exactly 3",
       [](auto* r) { r->mutable_spec()->set_active_deadline_seconds(3); }},
      {"active deadline exactly the cap",
       [](auto* r) { r->mutable_spec()->set_active_deadline_seconds(kMaxDurationSeconds); }},
      {"exactly 64 containers", [](auto* r) { AddContainers(r, 64); }},
      {"numeric port 1", [](auto* r) { HttpGet(r)->set_port_number(1); }},
      {"numeric port 65535", [](auto* r) { HttpGet(r)->set_port_number(65535); }},
      {"named port of 15 characters",
       [](auto* r) { HttpGet(r)->set_port_name("abcdefghij-1234"); }},
      {"named port with digits and one letter",
       [](auto* r) { HttpGet(r)->set_port_name("8080a"); }},
      {"namespace of 63 characters", [](auto* r) { r->set_namespace_(std::string(63, 'n')); }},
      {"name of 253 characters with dots",
       [](auto* r) { r->set_name(std::string(126, 'a') + "." + std::string(126, 'b')); }},
      {"single-character names",
       [](auto* r) {
         r->set_namespace_("a");
         r->set_name("b");
         r->mutable_spec()->set_pod_name("c");
         Container(r, 0)->set_name("d");
       }},
      {"zero durations",
       [](auto* r) {
         auto* strategy = r->mutable_spec()->mutable_strategy();
         strategy->set_termination_grace_period_seconds(0);
         strategy->set_unready_grace_period_seconds(0);
         strategy->set_min_started_seconds(0);
         r->mutable_spec()->set_ttl_seconds_after_finished(0);
       }},
      {"durations exactly the cap",
       [](auto* r) {
         auto* strategy = r->mutable_spec()->mutable_strategy();
         strategy->set_termination_grace_period_seconds(kMaxDurationSeconds);
         strategy->set_unready_grace_period_seconds(kMaxDurationSeconds);
         strategy->set_min_started_seconds(kMaxDurationSeconds);
         r->mutable_spec()->set_ttl_seconds_after_finished(kMaxDurationSeconds);
       }},
      {"explicit enum values",
       [](auto* r) {
         r->mutable_spec()->mutable_strategy()->set_failure_policy(api::FAILURE_POLICY_IGNORE);
         r->mutable_spec()->set_readiness_source(api::READINESS_SOURCE_CONTROLLER);
         Container(r, 1)->mutable_ports(0)->set_protocol(api::PROTOCOL_SCTP);
       }},
      {"UUID pod uid",
       [](auto* r) { r->mutable_spec()->set_pod_uid("0f5e7c1a-2b3c-4d5e-8f90-123456789abc"); }},
      {"static pod uid (32 hex digits)",
       [](auto* r) { r->mutable_spec()->set_pod_uid("6f0a1c4ee8b5b4e2c1f0d9a8b7c6d5e4"); }},
      {"bare 64-hex container id",
       [](auto* r) {
         Container(r, 1)->mutable_status_context()->set_container_id(std::string(64, 'e'));
       }},
      {"cri-o container id",
       [](auto* r) { Container(r, 1)->mutable_status_context()->set_container_id("cri-o://abc"); }},
      {"restart count 0",
       [](auto* r) { Container(r, 1)->mutable_status_context()->set_restart_count(0); }},
      {"lowercase https scheme", [](auto* r) { HttpGet(r)->set_scheme("https"); }},
      {"uppercase HTTP scheme", [](auto* r) { HttpGet(r)->set_scheme("HTTP"); }},
      {"IPv6 host", [](auto* r) { HttpGet(r)->set_host("fe80::1%eth0"); }},
      {"bracketed IPv6 host", [](auto* r) { HttpGet(r)->set_host("[::1]"); }},
      {"empty path", [](auto* r) { HttpGet(r)->set_path(""); }},
      {"header with an empty value",
       [](auto* r) { HttpGet(r)->mutable_http_headers(0)->set_value(""); }},
      {"exec preStop",
       [](auto* r) {
         auto* exec = Container(r, 0)->mutable_pre_stop()->mutable_exec();
         exec->add_command("sh");
         exec->add_command("-c");
         exec->add_command("touch /tmp/prestop && sleep 1");
       }},
      {"tcpSocket with a named port",
       [](auto* r) {
         Container(r, 0)->mutable_pre_stop()->mutable_tcp_socket()->set_port_name("grpc");
       }},
      {"sleep 0",
       [](auto* r) { Container(r, 0)->mutable_pre_stop()->mutable_sleep()->set_seconds(0); }},
  };
  for (const AcceptCase& c : cases) {
    SCOPED_TRACE(c.description);
    api::CreateRecreateRequestRequest request = ValidCreate();
    c.mutate(&request);
    EXPECT_OK(ValidateCreateRecreateRequest(request, ValidationLimits{}));
  }
}

TEST(ValidateCreateRecreateRequestTest, HonoursConfiguredLimits) {
  ValidationLimits limits;
  limits.max_containers = 2;
  limits.max_duration_seconds = 60;
  api::CreateRecreateRequestRequest request = ValidCreate();
  EXPECT_OK(ValidateCreateRecreateRequest(request, limits));

  request.mutable_spec()->add_containers()->set_name("third");
  EXPECT_THAT(ValidateCreateRecreateRequest(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "spec.containers: at most 2 containers are allowed, got 3"));

  request = ValidCreate();
  request.mutable_spec()->set_active_deadline_seconds(60);
  EXPECT_OK(ValidateCreateRecreateRequest(request, limits));
  request.mutable_spec()->set_active_deadline_seconds(61);
  EXPECT_THAT(ValidateCreateRecreateRequest(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("spec.active_deadline_seconds: must be "
                                  "at most 60")));
}

TEST(ValidateCreateRecreateRequestTest, SizeLimitsNameTheFieldAndTheLimit) {
  const ValidationLimits limits;
  const auto exec = [](api::CreateRecreateRequestRequest* r) {
    return Container(r, 1)->mutable_pre_stop()->mutable_exec();
  };
  struct Case {
    std::string description;
    CreateMutation mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a 3.5 MiB preStop command",
       [&](auto* r) {
         exec(r)->add_command("sh");
         exec(r)->add_command(std::string(size_t{7} << 19, 'x'));
       },
       "spec.containers[1].pre_stop.exec.command: 3.5 MiB exceeds the 64 KiB limit"},
      {"one argument over 32 KiB within the total",
       [&](auto* r) {
         exec(r)->add_command("sh");
         exec(r)->add_command(std::string(40 * 1024, 'x'));
       },
       "spec.containers[1].pre_stop.exec.command[1]: 40 KiB exceeds the 32 KiB limit"},
      {"too many arguments",
       [&](auto* r) {
         for (int i = 0; i < 1025; ++i) exec(r)->add_command("x");
       },
       "spec.containers[1].pre_stop.exec.command: at most 1024 are allowed, got 1025"},
      {"a header name over 256 bytes",
       [](auto* r) { HttpGet(r)->mutable_http_headers(0)->set_name(std::string(300, 'h')); },
       "spec.containers[1].pre_stop.http_get.http_headers[0].name: 300 bytes exceeds the 256 "
       "bytes limit"},
      {"a header value over 8 KiB",
       [](auto* r) { HttpGet(r)->mutable_http_headers(0)->set_value(std::string(10000, 'v')); },
       "spec.containers[1].pre_stop.http_get.http_headers[0].value: 9.7 KiB exceeds the 8 KiB "
       "limit"},
      {"too many headers",
       [](auto* r) {
         for (int i = 0; i < 64; ++i) *HttpGet(r)->add_http_headers() = HttpGet(r)->http_headers(0);
       },
       "spec.containers[1].pre_stop.http_get.http_headers: at most 64 are allowed, got 65"},
      {"a path over 8 KiB", [](auto* r) { HttpGet(r)->set_path("/" + std::string(9 * 1024, 'p')); },
       "spec.containers[1].pre_stop.http_get.path: 9 KiB exceeds the 8 KiB limit"},
      {"too many ports",
       [](auto* r) {
         for (int i = 0; i < 128; ++i) {
           api::ContainerPort* port = Container(r, 1)->add_ports();
           port->set_name(absl::StrCat("p", i));
           port->set_container_port(10000 + i);
         }
       },
       "spec.containers[1].ports: at most 128 are allowed, got 129"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::CreateRecreateRequestRequest request = ValidCreate();
    c.mutate(&request);
    EXPECT_THAT(ValidateCreateRecreateRequest(request, limits),
                StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
  // At the limits: accepted.
  api::CreateRecreateRequestRequest request = ValidCreate();
  exec(&request)->add_command("sh");
  exec(&request)->add_command(std::string(32 * 1024, 'x'));
  exec(&request)->add_command(std::string(32 * 1024 - 2, 'y'));
  EXPECT_OK(ValidateCreateRecreateRequest(request, limits));

  // Fields each within their limits, a spec over 256 KiB: the spec as a whole is named.
  for (int c = 0; c < 5; ++c) {
    api::RecreateContainer* container = request.mutable_spec()->add_containers();
    container->set_name(absl::StrCat("big", c));
    api::ExecAction* action = container->mutable_pre_stop()->mutable_exec();
    action->add_command(std::string(30 * 1024, 'x'));
    action->add_command(std::string(30 * 1024, 'y'));
  }
  EXPECT_THAT(ValidateCreateRecreateRequest(request, limits),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::MatchesRegex("spec: [0-9.]+ KiB exceeds the 256 KiB limit")));
}

TEST(ValidateCreateRecreateRequestTest, ReportsTheFirstInvalidFieldOnly) {
  api::CreateRecreateRequestRequest request = ValidCreate();
  request.set_namespace_("");
  request.mutable_spec()->clear_containers();
  EXPECT_THAT(ValidateCreateRecreateRequest(request, ValidationLimits{}),
              StatusIs(absl::StatusCode::kInvalidArgument, "namespace: required"));
}

TEST(ValidateCreateRecreateRequestTest, QuotesControlCharactersEscaped) {
  api::CreateRecreateRequestRequest request = ValidCreate();
  request.set_name("a\nb");
  EXPECT_THAT(ValidateCreateRecreateRequest(request, ValidationLimits{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"a\\nb\"")));
}

// ---- Get / Delete ----

TEST(ValidateKeyTest, GetAndDeleteCheckNamespaceAndName) {
  struct Case {
    std::string description;
    std::string namespace_name;
    std::string name;
    std::string expected;  // empty: valid
  };
  const std::vector<Case> cases = {
      {"valid", "default", "r.1", ""},
      {"empty namespace", "", "r1", "namespace: required"},
      {"bad namespace", "a.b", "r1", "namespace: must be a DNS-1123 label"},
      {"empty name", "default", "", "name: required"},
      {"bad name", "default", "R1", "name: must be a DNS-1123 subdomain"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::GetRecreateRequestRequest get;
    get.set_namespace_(c.namespace_name);
    get.set_name(c.name);
    api::DeleteRecreateRequestRequest del;
    del.set_namespace_(c.namespace_name);
    del.set_name(c.name);
    if (c.expected.empty()) {
      EXPECT_OK(ValidateGetRecreateRequest(get));
      EXPECT_OK(ValidateDeleteRecreateRequest(del));
    } else {
      EXPECT_THAT(ValidateGetRecreateRequest(get),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.expected)));
      EXPECT_THAT(ValidateDeleteRecreateRequest(del),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.expected)));
    }
  }
}

// ---- List ----

TEST(ValidateListRecreateRequestsTest, ChecksFiltersPageSizeAndToken) {
  api::ListRecreateRequestsRequest filtered;
  filtered.set_namespace_("default");
  const std::string token_for_default = EncodeListPageToken(filtered, ListCursor{"default", "r1"});

  struct Case {
    std::string description;
    std::function<void(api::ListRecreateRequestsRequest*)> mutate;
    std::string expected;  // empty: valid
  };
  const std::vector<Case> cases = {
      {"no filters", [](auto*) {}, ""},
      {"every filter",
       [](auto* r) {
         r->set_namespace_("default");
         r->set_pod_name("web-0");
         r->set_phase(api::RECREATE_PHASE_COMPLETED);
       },
       ""},
      {"page size 1000", [](auto* r) { r->set_page_size(1000); }, ""},
      {"token for the same filters",
       [&](auto* r) {
         r->set_namespace_("default");
         r->set_page_token(token_for_default);
       },
       ""},
      {"bad namespace filter", [](auto* r) { r->set_namespace_("Default"); },
       "namespace: must be a DNS-1123"},
      {"bad pod filter", [](auto* r) { r->set_pod_name("web_0"); },
       "pod_name: must be a DNS-1123 subdomain"},
      {"unknown phase", [](auto* r) { r->set_phase(static_cast<api::RecreatePhase>(42)); },
       "phase: unknown value 42"},
      {"negative page size", [](auto* r) { r->set_page_size(-1); },
       "page_size: must be in 0-1000, got -1"},
      {"page size 1001", [](auto* r) { r->set_page_size(1001); },
       "page_size: must be in 0-1000, got 1001"},
      {"garbage token", [](auto* r) { r->set_page_token("not a token!"); },
       "page_token: not a page token"},
      {"token for other filters",
       [&](auto* r) {
         r->set_namespace_("kube-system");
         r->set_page_token(token_for_default);
       },
       "page_token: the token was issued for other filters"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::ListRecreateRequestsRequest request;
    c.mutate(&request);
    if (c.expected.empty()) {
      EXPECT_OK(ValidateListRecreateRequests(request, ValidationLimits{}));
    } else {
      EXPECT_THAT(ValidateListRecreateRequests(request, ValidationLimits{}),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.expected)));
    }
  }
}

TEST(ValidateListRecreateRequestsTest, ZeroPageSizeMeansTheDefault) {
  api::ListRecreateRequestsRequest request;
  EXPECT_EQ(EffectivePageSize(request), kDefaultListPageSize);
  request.set_page_size(7);
  EXPECT_EQ(EffectivePageSize(request), 7);
}

// ---- Watch ----

TEST(ValidateWatchRecreateRequestsTest, ChecksOptionalFilters) {
  struct Case {
    std::string description;
    std::string namespace_name, pod_name, name;
    std::string expected;  // empty: valid
  };
  const std::vector<Case> cases = {
      {"no filters", "", "", "", ""},
      {"every filter", "default", "web-0", "r.1", ""},
      {"bad namespace", "-x", "", "", "namespace: must be a DNS-1123 label"},
      {"bad pod", "", "web 0", "", "pod_name: must be a DNS-1123 subdomain"},
      {"bad name", "", "", "R", "name: must be a DNS-1123 subdomain"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::WatchRecreateRequestsRequest request;
    request.set_namespace_(c.namespace_name);
    request.set_pod_name(c.pod_name);
    request.set_name(c.name);
    if (c.expected.empty()) {
      EXPECT_OK(ValidateWatchRecreateRequests(request));
    } else {
      EXPECT_THAT(ValidateWatchRecreateRequests(request),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.expected)));
    }
  }
}

// ---- AcknowledgeUnready ----

TEST(ValidateAcknowledgeUnreadyTest, RequiresAValidTime) {
  struct Case {
    std::string description;
    std::function<void(api::AcknowledgeUnreadyRequest*)> mutate;
    std::string expected;  // empty: valid
  };
  const std::vector<Case> cases = {
      {"valid", [](auto*) {}, ""},
      {"latest representable time",
       [](auto* r) {
         r->mutable_unready_at()->set_seconds(253402300799);
         r->mutable_unready_at()->set_nanos(999999999);
       },
       ""},
      {"missing time", [](auto* r) { r->clear_unready_at(); }, "unready_at: required"},
      {"the epoch", [](auto* r) { r->mutable_unready_at()->set_seconds(0); },
       "unready_at: must be a valid time"},
      {"before the epoch", [](auto* r) { r->mutable_unready_at()->set_seconds(-5); },
       "unready_at: must be a valid time"},
      {"after year 9999", [](auto* r) { r->mutable_unready_at()->set_seconds(253402300800); },
       "unready_at: must be a valid time"},
      {"negative nanos", [](auto* r) { r->mutable_unready_at()->set_nanos(-1); },
       "unready_at: must be a valid time"},
      {"nanos of a whole second", [](auto* r) { r->mutable_unready_at()->set_nanos(1000000000); },
       "unready_at: must be a valid time"},
      {"missing name", [](auto* r) { r->clear_name(); }, "name: required"},
      {"bad namespace", [](auto* r) { r->set_namespace_("NS"); },
       "namespace: must be a DNS-1123 label"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::AcknowledgeUnreadyRequest request;
    request.set_namespace_("default");
    request.set_name("r1");
    request.mutable_unready_at()->set_seconds(1764000000);
    c.mutate(&request);
    if (c.expected.empty()) {
      EXPECT_OK(ValidateAcknowledgeUnready(request));
    } else {
      EXPECT_THAT(ValidateAcknowledgeUnready(request),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.expected)));
    }
  }
}

// ---- ReportReadiness ----

TEST(ValidateReportReadinessTest, ChecksEveryReport) {
  struct Case {
    std::string description;
    std::function<void(api::ReportReadinessRequest*)> mutate;
    std::string expected;  // empty: valid
  };
  auto add = [](api::ReportReadinessRequest* r, const std::string& name, const std::string& id) {
    api::ContainerReadiness* c = r->add_containers();
    c->set_name(name);
    c->set_container_id(id);
    c->set_ready(true);
  };
  const std::vector<Case> cases = {
      {"valid", [](auto*) {}, ""},
      {"kubernetes-form id", [&](auto* r) { add(r, "sidecar", "containerd://abc"); }, ""},
      {"exactly 64 reports",
       [&](auto* r) {
         r->clear_containers();
         for (int i = 0; i < 64; ++i) add(r, absl::StrCat("c", i), "abc");
       },
       ""},
      {"no reports", [](auto* r) { r->clear_containers(); }, "containers: at least one container"},
      {"65 reports",
       [&](auto* r) {
         r->clear_containers();
         for (int i = 0; i < 65; ++i) add(r, absl::StrCat("c", i), "abc");
       },
       "containers: at most 64 containers are allowed, got 65"},
      {"empty name", [](auto* r) { r->mutable_containers(0)->clear_name(); },
       "containers[0].name: required"},
      {"bad name", [](auto* r) { r->mutable_containers(0)->set_name("App"); },
       "containers[0].name: must be a DNS-1123 label"},
      {"duplicate name", [&](auto* r) { add(r, "app", "def"); },
       "containers[1].name: duplicate container \"app\""},
      {"missing container id", [](auto* r) { r->mutable_containers(0)->clear_container_id(); },
       "containers[0].container_id: required"},
      {"bad container id", [](auto* r) { r->mutable_containers(0)->set_container_id("a b"); },
       "containers[0].container_id: must be a container ID"},
      {"missing namespace", [](auto* r) { r->clear_namespace_(); }, "namespace: required"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::ReportReadinessRequest request;
    request.set_namespace_("default");
    request.set_name("r1");
    add(&request, "app", "0123abcd");
    c.mutate(&request);
    if (c.expected.empty()) {
      EXPECT_OK(ValidateReportReadiness(request, ValidationLimits{}));
    } else {
      EXPECT_THAT(ValidateReportReadiness(request, ValidationLimits{}),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.expected)));
    }
  }
}

// ---- Defaults and spec comparison ----

TEST(ApplySpecDefaultsTest, MakesDefaultsExplicitAndLeavesOptionalsUnset) {
  api::RecreateSpec spec = ValidCreate().spec();
  spec.clear_strategy();
  ApplySpecDefaults(&spec);
  ASSERT_TRUE(spec.has_strategy());
  EXPECT_EQ(spec.strategy().failure_policy(), api::FAILURE_POLICY_FAIL);
  EXPECT_EQ(spec.readiness_source(), api::READINESS_SOURCE_RUNTIME);
  EXPECT_EQ(spec.containers(1).ports(0).protocol(), api::PROTOCOL_TCP);
  EXPECT_FALSE(spec.strategy().has_termination_grace_period_seconds());
  EXPECT_FALSE(spec.strategy().has_unready_grace_period_seconds());
  EXPECT_FALSE(spec.has_active_deadline_seconds());
  EXPECT_FALSE(spec.has_ttl_seconds_after_finished());
}

TEST(ApplySpecDefaultsTest, KeepsExplicitValues) {
  api::RecreateSpec spec = ValidCreate().spec();
  spec.mutable_strategy()->set_failure_policy(api::FAILURE_POLICY_IGNORE);
  spec.set_readiness_source(api::READINESS_SOURCE_CONTROLLER);
  spec.mutable_containers(1)->mutable_ports(0)->set_protocol(api::PROTOCOL_UDP);
  ApplySpecDefaults(&spec);
  EXPECT_EQ(spec.strategy().failure_policy(), api::FAILURE_POLICY_IGNORE);
  EXPECT_EQ(spec.readiness_source(), api::READINESS_SOURCE_CONTROLLER);
  EXPECT_EQ(spec.containers(1).ports(0).protocol(), api::PROTOCOL_UDP);
}

TEST(SameSpecTest, ComparesAfterDefaults) {
  struct Case {
    std::string description;
    std::function<void(api::RecreateSpec*)> mutate;
    bool same;
  };
  const std::vector<Case> cases = {
      {"identical", [](auto*) {}, true},
      {"explicit FAIL vs unspecified",
       [](auto* s) { s->mutable_strategy()->set_failure_policy(api::FAILURE_POLICY_FAIL); }, true},
      {"explicit RUNTIME vs unspecified",
       [](auto* s) { s->set_readiness_source(api::READINESS_SOURCE_RUNTIME); }, true},
      {"empty strategy vs absent", [](auto* s) { s->mutable_strategy(); }, true},
      {"explicit TCP vs unspecified",
       [](auto* s) { s->mutable_containers(1)->mutable_ports(0)->set_protocol(api::PROTOCOL_TCP); },
       true},
      {"IGNORE vs FAIL",
       [](auto* s) { s->mutable_strategy()->set_failure_policy(api::FAILURE_POLICY_IGNORE); },
       false},
      {"grace 0 vs unset",
       [](auto* s) { s->mutable_strategy()->set_termination_grace_period_seconds(0); }, false},
      {"deadline set", [](auto* s) { s->set_active_deadline_seconds(30); }, false},
      {"other pod", [](auto* s) { s->set_pod_name("web-1"); }, false},
      {"pod uid added", [](auto* s) { s->set_pod_uid("u1"); }, false},
      {"containers reordered", [](auto* s) { s->mutable_containers()->SwapElements(0, 1); }, false},
      {"container added", [](auto* s) { s->add_containers()->set_name("extra"); }, false},
      {"status context changed",
       [](auto* s) { s->mutable_containers(1)->mutable_status_context()->set_restart_count(3); },
       false},
      {"preStop header changed",
       [](auto* s) {
         s->mutable_containers(1)
             ->mutable_pre_stop()
             ->mutable_http_get()
             ->mutable_http_headers(0)
             ->set_value("x");
       },
       false},
      {"ordered recreate", [](auto* s) { s->mutable_strategy()->set_ordered_recreate(true); },
       false},
  };
  const api::RecreateSpec base = ValidCreate().spec();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::RecreateSpec other = base;
    c.mutate(&other);
    EXPECT_EQ(SameSpec(base, other), c.same);
    EXPECT_EQ(SameSpec(other, base), c.same);
  }
}

TEST(SameSpecTest, StoredDefaultedSpecMatchesTheCallersOriginal) {
  // The idempotent Create stores the defaulted spec and compares a retry's raw spec with it.
  const api::RecreateSpec raw = ValidCreate().spec();
  api::RecreateSpec stored = raw;
  ApplySpecDefaults(&stored);
  EXPECT_TRUE(SameSpec(raw, stored));
}

}  // namespace
}  // namespace inplaced::daemon
