#include "cli/recreate_commands.h"

#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/apply_commands.h"
#include "cli/command_result.h"
#include "cli/output_format.h"
#include "cli/pod_containers.h"
#include "cli/recreate_args.h"
#include "cli/recreate_view.h"
#include "cli/recreate_watch.h"
#include "cli/terminal.h"
#include "common/proto_time.h"
#include "common/status_macros.h"

namespace inplaced::cli {
namespace {

absl::StatusOr<int> RunRecreate(const DaemonFlags& daemon, const RuntimeFlags& runtime,
                                const RecreateArgs& args) {
  std::vector<std::string> containers = args.containers;
  if (args.all_containers) {
    ASSIGN_OR_RETURN(containers,
                     PodContainerNamesFromRuntime(runtime, args.pod_namespace, args.pod));
  }
  ASSIGN_OR_RETURN(v1::CreateRecreateRequestRequest request,
                   BuildRecreateRequest(args, containers, absl::Now()));
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(v1::CreateRecreateRequestResponse response, client.CreateRecreate(request));
  std::cout << "recreaterequest " << request.namespace_() << "/" << request.name()
            << (response.created() ? " created" : " unchanged (an identical request exists)")
            << std::endl;
  if (!args.wait) return kExitOk;
  FollowOptions follow;
  follow.filter.set_namespace_(request.namespace_());
  follow.filter.set_name(request.name());
  follow.until_done = true;
  if (args.timeout_seconds > 0) follow.deadline = absl::Now() + absl::Seconds(args.timeout_seconds);
  follow.live = IsTerminal(STDOUT_FILENO);
  follow.show_namespace = false;
  return FollowRecreates(client, follow, std::cout);
}

// Prints `requests` in `format`: a table, or JSON/YAML of a ListRecreateRequestsResponse.
int PrintRequests(const std::vector<v1::RecreateRequest>& requests, OutputFormat format,
                  bool show_namespace) {
  if (format == OutputFormat::kJson || format == OutputFormat::kYaml) {
    v1::ListRecreateRequestsResponse list;
    for (const v1::RecreateRequest& request : requests) *list.add_recreate_requests() = request;
    std::cout << (format == OutputFormat::kJson ? ToJson(list) : ToYaml(list));
    return kExitOk;
  }
  if (requests.empty()) {
    std::cerr << "No recreate requests found.\n";
    return kExitOk;
  }
  std::cout << RecreateTable(requests, show_namespace, format == OutputFormat::kWide, absl::Now());
  return kExitOk;
}

struct ListArgs {
  std::string pod_namespace = "default";
  bool all_namespaces = false;
  std::string pod;
  std::string output;
  std::vector<std::string> names;  // get
  bool until_done = false;         // watch
  double timeout_seconds = 0;      // watch; 0 = none
};

void AddNamespaceFlags(CLI::App& command, ListArgs* args) {
  command.add_option("-n,--namespace", args->pod_namespace, "Namespace")->capture_default_str();
  command.add_flag("-A,--all-namespaces", args->all_namespaces, "Every namespace");
}

std::string NamespaceFilter(const ListArgs& args) {
  return args.all_namespaces ? "" : args.pod_namespace;
}

absl::StatusOr<int> RunGet(const DaemonFlags& daemon, const ListArgs& args) {
  ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(args.output));
  DaemonClient client(daemon);
  std::vector<v1::RecreateRequest> requests;
  for (const std::string& name : args.names) {
    ASSIGN_OR_RETURN(v1::RecreateRequest request, client.GetRecreate(args.pod_namespace, name));
    requests.push_back(std::move(request));
  }
  if (format == OutputFormat::kJson || format == OutputFormat::kYaml) {
    if (requests.size() == 1) {
      std::cout << (format == OutputFormat::kJson ? ToJson(requests[0]) : ToYaml(requests[0]));
      return kExitOk;
    }
  }
  return PrintRequests(requests, format, /*show_namespace=*/false);
}

absl::StatusOr<int> RunList(const DaemonFlags& daemon, const ListArgs& args) {
  ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(args.output));
  v1::ListRecreateRequestsRequest filter;
  filter.set_namespace_(NamespaceFilter(args));
  filter.set_pod_name(args.pod);
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(std::vector<v1::RecreateRequest> requests, client.ListRecreates(filter));
  return PrintRequests(requests, format, args.all_namespaces);
}

absl::StatusOr<int> RunWatch(const DaemonFlags& daemon, const ListArgs& args) {
  ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(args.output));
  if (format == OutputFormat::kJson || format == OutputFormat::kYaml) {
    return absl::InvalidArgumentError("-o: watch shows a table (-o wide for more columns)");
  }
  FollowOptions follow;
  follow.filter.set_namespace_(NamespaceFilter(args));
  follow.filter.set_pod_name(args.pod);
  if (!args.names.empty()) follow.filter.set_name(args.names[0]);
  follow.until_done = args.until_done;
  if (args.timeout_seconds > 0) follow.deadline = absl::Now() + absl::Seconds(args.timeout_seconds);
  follow.live = IsTerminal(STDOUT_FILENO);
  follow.wide = format == OutputFormat::kWide;
  follow.show_namespace = args.all_namespaces;
  DaemonClient client(daemon);
  return FollowRecreates(client, follow, std::cout);
}

struct DeleteArgs {
  std::string pod_namespace = "default";
  std::vector<std::string> names;
  std::string file;
  bool ignore_not_found = false;
};

absl::StatusOr<int> RunDelete(const DaemonFlags& daemon, const DeleteArgs& args) {
  if (!args.file.empty()) {
    if (!args.names.empty())
      return absl::InvalidArgumentError("delete: give names or -f FILE, not both");
    return DeleteFromFile(daemon, args.file, args.pod_namespace);
  }
  if (args.names.empty())
    return absl::InvalidArgumentError("delete: name a request, or give -f FILE");
  DaemonClient client(daemon);
  for (const std::string& name : args.names) {
    RETURN_IF_ERROR(client.DeleteRecreate(args.pod_namespace, name, args.ignore_not_found));
    std::cout << "recreaterequest " << args.pod_namespace << "/" << name << " deleted" << std::endl;
  }
  return kExitOk;
}

struct AckArgs {
  std::string pod_namespace = "default";
  std::string name;
  std::string at;  // RFC 3339; empty: now
};

absl::StatusOr<int> RunAckUnready(const DaemonFlags& daemon, const AckArgs& args) {
  absl::Time at = absl::Now();
  std::string error;
  if (!args.at.empty() && !absl::ParseTime(absl::RFC3339_full, args.at, &at, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--at: not an RFC 3339 time \"", args.at, "\": ", error));
  }
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(v1::RecreateRequest request,
                   client.AcknowledgeUnready(args.pod_namespace, args.name, at));
  std::cout << "recreaterequest " << args.pod_namespace << "/" << args.name
            << " unready acknowledged at "
            << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                FromProtoTime(request.status().unready_acknowledged_at()),
                                absl::UTCTimeZone())
            << std::endl;
  return kExitOk;
}

struct ReadyArgs {
  std::string pod_namespace = "default";
  std::string name;
  std::vector<std::string> containers;  // CONTAINER=ID
  bool not_ready = false;
};

absl::StatusOr<int> RunReportReady(const DaemonFlags& daemon, const ReadyArgs& args) {
  v1::ReportReadinessRequest request;
  request.set_namespace_(args.pod_namespace);
  request.set_name(args.name);
  for (const std::string& item : args.containers) {
    std::pair<std::string, std::string> parts = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (parts.first.empty() || parts.second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("report-ready: \"", item, "\" is not CONTAINER=CONTAINER_ID"));
    }
    v1::ContainerReadiness* readiness = request.add_containers();
    readiness->set_name(parts.first);
    readiness->set_container_id(parts.second);
    readiness->set_ready(!args.not_ready);
  }
  DaemonClient client(daemon);
  ASSIGN_OR_RETURN(v1::RecreateRequest updated, client.ReportReadiness(request));
  std::cout << "recreaterequest " << args.pod_namespace << "/" << args.name
            << " readiness reported (" << (args.not_ready ? "not ready" : "ready")
            << "): " << OutcomeLine(updated) << std::endl;
  return kExitOk;
}

}  // namespace

void AddRecreateCommands(CLI::App& app, DaemonFlags* daemon, RuntimeFlags* runtime,
                         int* exit_code) {
  const std::string group = "Recreate containers (inplaced.v1.RecreateService)";

  auto recreate_args = std::make_shared<RecreateArgs>();
  CLI::App* recreate = app.add_subcommand("recreate", "Recreate containers of a pod in place");
  recreate->group(group);
  AddRecreateFlags(*recreate, recreate_args.get());
  AddRuntimeOptions(*recreate, runtime);
  recreate->callback(RunCommand(exit_code, [daemon, runtime, recreate_args] {
    return RunRecreate(*daemon, *runtime, *recreate_args);
  }));

  auto get_args = std::make_shared<ListArgs>();
  CLI::App* get = app.add_subcommand("get", "Show recreate requests by name");
  get->group(group);
  get->add_option("name", get_args->names, "Request names")->required();
  get->add_option("-n,--namespace", get_args->pod_namespace, "Namespace")->capture_default_str();
  get->add_option("-o,--output", get_args->output, "table, wide, json or yaml");
  get->callback(RunCommand(exit_code, [daemon, get_args] { return RunGet(*daemon, *get_args); }));

  auto list_args = std::make_shared<ListArgs>();
  CLI::App* list = app.add_subcommand("list", "List recreate requests");
  list->alias("ls");
  list->group(group);
  AddNamespaceFlags(*list, list_args.get());
  list->add_option("--pod", list_args->pod, "Only requests for this pod");
  list->add_option("-o,--output", list_args->output, "table, wide, json or yaml");
  list->callback(
      RunCommand(exit_code, [daemon, list_args] { return RunList(*daemon, *list_args); }));

  auto watch_args = std::make_shared<ListArgs>();
  CLI::App* watch = app.add_subcommand(
      "watch",
      "Follow recreate requests: a live table on a terminal, one line per change otherwise");
  watch->group(group);
  watch->add_option("name", watch_args->names, "Only this request")->expected(0, 1);
  AddNamespaceFlags(*watch, watch_args.get());
  watch->add_option("--pod", watch_args->pod, "Only requests for this pod");
  watch->add_option("-o,--output", watch_args->output, "table or wide");
  watch->add_flag("--until-done", watch_args->until_done,
                  "Exit once every request shown completed: 0 if all containers Succeeded, else 1");
  watch
      ->add_option("--timeout", watch_args->timeout_seconds,
                   "Give up after this many seconds (exit 1; 0: never)")
      ->check(CLI::NonNegativeNumber);
  watch->callback(
      RunCommand(exit_code, [daemon, watch_args] { return RunWatch(*daemon, *watch_args); }));

  auto delete_args = std::make_shared<DeleteArgs>();
  CLI::App* del =
      app.add_subcommand("delete", "Delete recreate requests, or what a Kruise YAML file names");
  del->group(group);
  del->add_option("name", delete_args->names, "Request names");
  del->add_option("-n,--namespace", delete_args->pod_namespace, "Namespace")->capture_default_str();
  del->add_option("-f,--filename", delete_args->file, "Kruise YAML file, or - for stdin");
  del->add_flag("--ignore-not-found", delete_args->ignore_not_found,
                "A missing request is not an error");
  del->callback(
      RunCommand(exit_code, [daemon, delete_args] { return RunDelete(*daemon, *delete_args); }));

  auto ack_args = std::make_shared<AckArgs>();
  CLI::App* ack = app.add_subcommand(
      "ack-unready", "Tell inplaced the pod was made unready (starts --unready-grace)");
  ack->group(group);
  ack->add_option("name", ack_args->name, "Request name")->required();
  ack->add_option("-n,--namespace", ack_args->pod_namespace, "Namespace")->capture_default_str();
  ack->add_option("--at", ack_args->at, "When the pod was made unready, RFC 3339 (default: now)");
  ack->callback(
      RunCommand(exit_code, [daemon, ack_args] { return RunAckUnready(*daemon, *ack_args); }));

  auto ready_args = std::make_shared<ReadyArgs>();
  CLI::App* ready = app.add_subcommand(
      "report-ready",
      "Report kubelet's readiness of recreated containers (readiness source CONTROLLER)");
  ready->group(group);
  ready->add_option("name", ready_args->name, "Request name")->required();
  ready->add_option("containers", ready_args->containers, "CONTAINER=CONTAINER_ID ...")->required();
  ready->add_option("-n,--namespace", ready_args->pod_namespace, "Namespace")
      ->capture_default_str();
  ready->add_flag("--not-ready", ready_args->not_ready, "Report the containers not ready");
  ready->callback(
      RunCommand(exit_code, [daemon, ready_args] { return RunReportReady(*daemon, *ready_args); }));
}

}  // namespace inplaced::cli
