#include "cli/status_commands.h"

#include <iostream>
#include <memory>
#include <string>

#include "cli/command_result.h"
#include "cli/exit_codes.h"
#include "cli/runtime_view.h"
#include "common/status_macros.h"

namespace inplaced::cli {
namespace {

namespace health = ::grpc::health::v1;

std::string ServingName(health::HealthCheckResponse::ServingStatus status) {
  return health::HealthCheckResponse::ServingStatus_Name(status);
}

// The daemon line says what the API offers and no more: inplaced.v1 has no version call, so the
// daemon's version is not known to the client; reachability comes from the health service.
absl::StatusOr<int> RunVersion(const DaemonFlags& daemon, const RuntimeFlags& runtime) {
  std::cout << "client:  inplacectl " << ClientVersion() << std::endl;
  DaemonClient client(daemon);
  absl::StatusOr<health::HealthCheckResponse::ServingStatus> serving = client.CheckHealth("");
  int exit_code = kExitOk;
  if (serving.ok()) {
    std::cout << "daemon:  " << client.target() << " " << ServingName(*serving)
              << " (version not reported: the inplaced.v1 API has no version call)" << std::endl;
  } else {
    std::cout << "daemon:  unreachable: " << serving.status().ToString() << std::endl;
    exit_code = ExitCodeOf(serving.status());
  }
  absl::StatusOr<cri::Connection> connection = ConnectRuntime(runtime);
  if (connection.ok()) {
    std::cout << "runtime: " << FormatVersion(connection->version, connection->endpoint)
              << std::endl;
  } else {
    std::cout << "runtime: unknown: " << connection.status().ToString() << std::endl;
  }
  return exit_code;
}

absl::StatusOr<int> RunHealth(const DaemonFlags& daemon, const std::string& service) {
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(health::HealthCheckResponse::ServingStatus serving, client.CheckHealth(service));
  std::cout << ServingName(serving) << std::endl;
  return serving == health::HealthCheckResponse::SERVING ? kExitOk : kExitFailed;
}

}  // namespace

const char* ClientVersion() { return INPLACED_VERSION; }

void AddStatusCommands(CLI::App& app, DaemonFlags* daemon, RuntimeFlags* runtime, int* exit_code) {
  CLI::App* version = app.add_subcommand(
      "version", "Show the client's version, the daemon's state and the runtime's version");
  AddRuntimeOptions(*version, runtime);
  version->callback(
      RunCommand(exit_code, [daemon, runtime] { return RunVersion(*daemon, *runtime); }));

  auto service = std::make_shared<std::string>();
  CLI::App* health_cmd = app.add_subcommand("health",
                                            "Ask the daemon's grpc.health.v1 service; exit 0 when "
                                            "SERVING, 1 otherwise, 2 if unreachable");
  health_cmd->add_option(
      "--service", *service,
      "A service name, e.g. inplaced.v1.RecreateService (default: the whole server)");
  health_cmd->callback(
      RunCommand(exit_code, [daemon, service] { return RunHealth(*daemon, *service); }));
}

}  // namespace inplaced::cli
