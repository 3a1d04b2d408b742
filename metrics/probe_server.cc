#include "metrics/probe_server.h"

#include <civetweb.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace inplaced::metrics {
namespace {

void Reply(struct mg_connection* connection, int code, absl::string_view content_type,
           absl::string_view body) {
  mg_response_header_start(connection, code);
  mg_response_header_add(connection, "Content-Type", content_type.data(),
                         static_cast<int>(content_type.size()));
  const std::string length = absl::StrCat(body.size());
  mg_response_header_add(connection, "Content-Length", length.c_str(), -1);
  mg_response_header_add(connection, "Cache-Control", "no-store", -1);
  mg_response_header_send(connection);
  const char* method = mg_get_request_info(connection)->request_method;
  if (method == nullptr || std::string(method) != "HEAD") {
    mg_write(connection, body.data(), body.size());
  }
}

// GET and HEAD only; anything else is answered 405 here. Returns whether the request may proceed.
bool ReadOnly(struct mg_connection* connection) {
  const char* method = mg_get_request_info(connection)->request_method;
  const absl::string_view m = method == nullptr ? "" : method;
  if (m == "GET" || m == "HEAD") return true;
  Reply(connection, 405, "text/plain; charset=utf-8", "only GET and HEAD\n");
  return false;
}

constexpr char kText[] = "text/plain; charset=utf-8";
// The Prometheus text exposition format, version 0.0.4.
constexpr char kExposition[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

std::string CheckProbeAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return "must be host:port (or [ipv6]:port)";
  const absl::string_view host = absl::string_view(address).substr(0, colon);
  const absl::string_view port = absl::string_view(address).substr(colon + 1);
  int number = -1;
  if (!absl::SimpleAtoi(port, &number) || number < 0 || number > 65535 ||
      !absl::ascii_isdigit(static_cast<unsigned char>(port.empty() ? 'x' : port[0]))) {
    return "must end in :port with a port between 0 and 65535";
  }
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return "an IPv6 host must be in brackets: [::1]:port";
    return "";
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') {
      return "must be host:port with an IPv4 address or a host name (IPv6: [::1]:port)";
    }
  }
  return "";
}

absl::StatusOr<std::unique_ptr<ProbeServer>> ProbeServer::Start(const std::string& address,
                                                                ProbeHandlers handlers) {
  if (std::string problem = CheckProbeAddress(address); !problem.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("probe address \"", address, "\" ", problem));
  }
  std::unique_ptr<ProbeServer> server(new ProbeServer(std::move(handlers)));
  // Two threads: probes and scrapes are short, and the machine's cores belong to the engines.
  const char* options[] = {"listening_ports",    address.c_str(), "num_threads", "2",
                           "request_timeout_ms", "10000",         nullptr};
  struct mg_callbacks callbacks = {};
  struct mg_init_data init = {};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;
  char error_text[256] = "";
  unsigned error_code = 0;
  struct mg_error_data error = {};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("probe server cannot listen on ", address, ": ",
                     error_text[0] != '\0' ? error_text : "unknown error"));
  }
  mg_set_request_handler(server->context_, "/healthz$", &ProbeServer::ServeHealthz, server.get());
  mg_set_request_handler(server->context_, "/readyz$", &ProbeServer::ServeReadyz, server.get());
  mg_set_request_handler(server->context_, "/metrics$", &ProbeServer::ServeMetrics, server.get());
  struct mg_server_port ports[1] = {};
  if (mg_get_server_ports(server->context_, 1, ports) >= 1) server->port_ = ports[0].port;
  return server;
}

ProbeServer::~ProbeServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int ProbeServer::ServeHealthz(struct mg_connection* connection, void* self) {
  if (!ReadOnly(connection)) return 405;
  Reply(connection, 200, kText, "ok\n");
  return 200;
}

int ProbeServer::ServeReadyz(struct mg_connection* connection, void* self) {
  if (!ReadOnly(connection)) return 405;
  const ProbeResult result = static_cast<ProbeServer*>(self)->handlers_.readyz();
  const int code = result.ok ? 200 : 503;
  Reply(connection, code, kText, result.body);
  return code;
}

int ProbeServer::ServeMetrics(struct mg_connection* connection, void* self) {
  if (!ReadOnly(connection)) return 405;
  Reply(connection, 200, kExposition, static_cast<ProbeServer*>(self)->handlers_.metrics());
  return 200;
}

}  // namespace inplaced::metrics
