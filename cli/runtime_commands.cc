#include "cli/runtime_commands.h"

#include <cstdlib>
#include <iostream>
#include <memory>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/runtime_view.h"
#include "common/status_macros.h"
#include "cri/connect.h"
#include "cri/snapshot.h"

namespace inplaced::cli {
namespace {

namespace criv1 = ::runtime::v1;

absl::StatusOr<cri::Connection> ConnectTo(const RuntimeFlags& flags) {
  cri::ConnectOptions options;
  options.endpoint = flags.endpoint;
  options.discovery_root = flags.discovery_root;
  options.connect_timeout = absl::Seconds(flags.timeout_seconds);
  return cri::Connect(options);
}

absl::Status RunVersion(const RuntimeFlags& flags) {
  ASSIGN_OR_RETURN(cri::Connection conn, ConnectTo(flags));
  std::cout << FormatVersion(conn.version, conn.endpoint) << "\n";
  return absl::OkStatus();
}

absl::Status RunPs(const RuntimeFlags& flags, const std::string& pod_namespace) {
  ASSIGN_OR_RETURN(cri::Connection conn, ConnectTo(flags));
  ASSIGN_OR_RETURN(cri::NodeSnapshot snapshot, cri::TakeSnapshot(*conn.runtime));
  std::cout << FormatPods(snapshot, pod_namespace);
  return absl::OkStatus();
}

absl::Status RunImage(const RuntimeFlags& flags, const std::string& image) {
  ASSIGN_OR_RETURN(cri::Connection conn, ConnectTo(flags));
  criv1::ImageStatusRequest request;
  request.mutable_image()->set_image(image);
  ASSIGN_OR_RETURN(criv1::ImageStatusResponse response, conn.runtime->ImageStatus(request));
  if (!response.has_image())
    return absl::NotFoundError("image " + image + " is not present on the node");
  std::cout << FormatImage(response.image());
  return absl::OkStatus();
}

// The password comes from the environment, never from argv (visible in ps) or the logs.
absl::Status RunPull(const RuntimeFlags& flags, const std::string& image,
                     const std::string& username) {
  ASSIGN_OR_RETURN(cri::Connection conn, ConnectTo(flags));
  criv1::PullImageRequest request;
  request.mutable_image()->set_image(image);
  if (!username.empty()) {
    const char* password = std::getenv("INPLACECTL_REGISTRY_PASSWORD");
    if (password == nullptr) {
      return absl::InvalidArgumentError(
          "--username needs the password in the environment variable INPLACECTL_REGISTRY_PASSWORD");
    }
    request.mutable_auth()->set_username(username);
    request.mutable_auth()->set_password(password);
  }
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(criv1::PullImageResponse pulled,
                   conn.runtime->PullImage(request, /*cancel=*/nullptr));
  std::cout << "pulled " << image << " image_ref=" << pulled.image_ref() << " in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
            << "\n";
  return absl::OkStatus();
}

// Runs `command` and turns its status into the exit code and an error line.
template <typename Fn>
std::function<void()> Report(int* exit_code, Fn command) {
  return [exit_code, command] {
    const absl::Status status = command();
    if (!status.ok()) {
      std::cerr << "inplacectl: " << status << "\n";
      *exit_code = 1;
    }
  };
}

}  // namespace

absl::StatusOr<cri::Connection> ConnectRuntime(const RuntimeFlags& flags) {
  return ConnectTo(flags);
}

void AddRuntimeOptions(CLI::App& command, RuntimeFlags* flags) {
  command
      .add_option("--runtime-endpoint", flags->endpoint,
                  "CRI endpoint (unix:///path); default: discover under --discovery-root")
      ->envname("INPLACED_RUNTIME_ENDPOINT");
  command
      .add_option("--discovery-root", flags->discovery_root, "Where to look for runtime sockets")
      ->capture_default_str();
}

void AddRuntimeCommands(CLI::App& app, RuntimeFlags* flags, int* exit_code) {
  CLI::App* runtime =
      app.add_subcommand("runtime", "Inspect the node's CRI runtime as inplaced sees it");
  runtime->require_subcommand(1);
  runtime->fallthrough();  // flags may follow the subcommand: `runtime ps --runtime-endpoint ...`
  AddRuntimeOptions(*runtime, flags);
  runtime
      ->add_option("--timeout", flags->timeout_seconds, "Seconds to wait for the runtime to answer")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  runtime->add_subcommand("version", "Print the runtime's name, version and CRI API version")
      ->callback(Report(exit_code, [flags] { return RunVersion(*flags); }));

  auto pod_namespace = std::make_shared<std::string>();
  CLI::App* ps = runtime->add_subcommand("ps", "List pods and their current containers");
  ps->add_option("-n,--namespace", *pod_namespace, "Only pods of this namespace");
  ps->callback(Report(exit_code, [flags, pod_namespace] { return RunPs(*flags, *pod_namespace); }));

  auto image = std::make_shared<std::string>();
  auto username = std::make_shared<std::string>();
  CLI::App* pull = runtime->add_subcommand(
      "pull", "Pull an image through the CRI (password in $INPLACECTL_REGISTRY_PASSWORD)");
  pull->add_option("image", *image, "Image reference")->required();
  pull->add_option("--username", *username, "Registry user name");
  pull->callback(
      Report(exit_code, [flags, image, username] { return RunPull(*flags, *image, *username); }));

  auto status_image = std::make_shared<std::string>();
  CLI::App* image_cmd = runtime->add_subcommand("image", "Show an image's status on the node");
  image_cmd->add_option("image", *status_image, "Image reference")->required();
  image_cmd->callback(
      Report(exit_code, [flags, status_image] { return RunImage(*flags, *status_image); }));
}

}  // namespace inplaced::cli
