#include "cli/status_commands.h"

#include <iostream>
#include <memory>
#include <string>

#include "cli/command_result.h"
#include "cli/exit_codes.h"
#include "cli/node_view.h"
#include "cli/runtime_view.h"
#include "common/build_info.h"
#include "common/status_macros.h"

namespace inplaced::cli {
namespace {

namespace health = ::grpc::health::v1;

std::string ServingName(health::HealthCheckResponse::ServingStatus status) {
  return health::HealthCheckResponse::ServingStatus_Name(status);
}

// The daemon's and the runtime's versions come from the daemon (NodeService), as a controller
// sees them. Only when the daemon cannot be asked does the client ask the runtime itself.
absl::StatusOr<int> RunVersion(const DaemonFlags& daemon, const RuntimeFlags& runtime) {
  std::cout << "client:  inplacectl " << BuildVersionText() << std::endl;
  DaemonClient client(daemon);
  absl::StatusOr<v1::NodeInfo> info = client.GetNodeInfo();
  if (info.ok()) {
    std::cout << "daemon:  " << FormatDaemonVersion(*info) << " " << client.target() << std::endl;
    std::cout << "runtime: " << FormatDaemonRuntime(*info) << std::endl;
    std::cout << "node:    " << FormatCapabilities(info->capabilities()) << std::endl;
    return kExitOk;
  }
  std::cout << "daemon:  unreachable: " << info.status().ToString() << std::endl;
  absl::StatusOr<cri::Connection> connection = ConnectRuntime(runtime);
  if (connection.ok()) {
    std::cout << "runtime: " << FormatVersion(connection->version, connection->endpoint)
              << " (asked directly)" << std::endl;
  } else {
    std::cout << "runtime: unknown: " << connection.status().ToString() << std::endl;
  }
  return ExitCodeOf(info.status());
}

struct HealthArgs {
  std::string service;
  bool node_info = false;
};

absl::StatusOr<int> RunHealth(const DaemonFlags& daemon, const HealthArgs& args) {
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(health::HealthCheckResponse::ServingStatus serving,
                   client.CheckHealth(args.service));
  std::cout << ServingName(serving) << std::endl;
  if (args.node_info && serving == health::HealthCheckResponse::SERVING) {
    ASSIGN_OR_RETURN(v1::NodeInfo info, client.GetNodeInfo());
    std::cout << "daemon:  " << FormatDaemonVersion(info) << std::endl;
    std::cout << "runtime: " << FormatDaemonRuntime(info) << std::endl;
    std::cout << "node:    " << FormatCapabilities(info.capabilities()) << std::endl;
  }
  return serving == health::HealthCheckResponse::SERVING ? kExitOk : kExitFailed;
}

}  // namespace

void AddStatusCommands(CLI::App& app, DaemonFlags* daemon, RuntimeFlags* runtime, int* exit_code) {
  CLI::App* version = app.add_subcommand(
      "version",
      "Show the client's, the daemon's and the runtime's versions and the node's capabilities "
      "(the runtime is asked directly only when the daemon cannot be reached)");
  AddRuntimeOptions(*version, runtime);
  version->callback(
      RunCommand(exit_code, [daemon, runtime] { return RunVersion(*daemon, *runtime); }));

  auto health_args = std::make_shared<HealthArgs>();
  CLI::App* health_cmd = app.add_subcommand("health",
                                            "Ask the daemon's grpc.health.v1 service; exit 0 when "
                                            "SERVING, 1 otherwise, 2 if unreachable");
  health_cmd->add_option(
      "--service", health_args->service,
      "A service name, e.g. inplaced.v1.RecreateService (default: the whole server)");
  health_cmd->add_flag("--node-info", health_args->node_info,
                       "When SERVING, also show the node's info (inplaced.v1.NodeService)");
  health_cmd->callback(
      RunCommand(exit_code, [daemon, health_args] { return RunHealth(*daemon, *health_args); }));
}

}  // namespace inplaced::cli
