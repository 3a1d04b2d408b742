#include "cli/recreate_args.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace inplaced::cli {

void AddRecreateFlags(CLI::App& command, RecreateArgs* args) {
  command.add_option("pod", args->pod, "The pod's name")->required();
  command.add_option("-n,--namespace", args->pod_namespace, "The pod's namespace")
      ->capture_default_str();
  command.add_option("--name", args->name, "The request's name (default: <pod>-<UTC time>)");
  CLI::Option* containers =
      command
          .add_option("-c,--containers", args->containers, "Containers to recreate, in this order")
          ->delimiter(',');
  CLI::Option* all =
      command.add_flag("--all", args->all_containers,
                       "Every container of the pod, as the runtime lists it (over the CRI)");
  containers->excludes(all);
  command.add_flag("--ordered", args->ordered,
                   "Kill the next container only after the previous one Succeeded");
  command.add_flag("--force", args->force,
                   "Kill even a container that restarted since the request was made");
  CLI::Option* fail =
      command.add_flag("--fail", args->fail, "Stop at the first Failed container (default)");
  CLI::Option* ignore =
      command.add_flag("--ignore", args->ignore, "Go on after a Failed container");
  fail->excludes(ignore);
  auto seconds = [&](const char* name, int64_t* value, const char* help) {
    command.add_option(name, *value, help)->check(CLI::NonNegativeNumber);
  };
  seconds("--grace", &args->grace_seconds,
          "Termination grace period in seconds, preStop included (default: the pod's)");
  seconds("--unready-grace", &args->unready_grace_seconds,
          "Wait for ack-unready, then this many seconds, before killing");
  seconds("--min-started", &args->min_started_seconds,
          "Seconds a new container must run before it counts as Succeeded");
  seconds("--deadline", &args->deadline_seconds,
          "End the request this many seconds after creation");
  seconds("--ttl", &args->ttl_seconds, "Delete the request this many seconds after it completes");
  command.add_flag(
      "--wait", args->wait,
      "Follow the request until it completes; exit 0 if every container Succeeded, else 1");
  command
      .add_option("--timeout", args->timeout_seconds,
                  "With --wait: give up after this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
}

std::string DefaultRequestName(const std::string& pod, absl::Time now) {
  const std::string suffix = absl::FormatTime("-%Y%m%d-%H%M%S", now, absl::UTCTimeZone());
  std::string base = pod.substr(0, 253 - suffix.size());
  while (!base.empty() && (base.back() == '-' || base.back() == '.')) base.pop_back();
  return base + suffix;
}

absl::StatusOr<v1::CreateRecreateRequestRequest> BuildRecreateRequest(
    const RecreateArgs& args, const std::vector<std::string>& containers, absl::Time now) {
  if (containers.empty()) {
    return absl::InvalidArgumentError(
        args.all_containers
            ? "--all: the runtime shows no container of pod " + args.pod_namespace + "/" + args.pod
            : "name the containers to recreate with -c NAME[,NAME...] or --all");
  }
  v1::CreateRecreateRequestRequest request;
  request.set_namespace_(args.pod_namespace);
  request.set_name(args.name.empty() ? DefaultRequestName(args.pod, now) : args.name);
  v1::RecreateSpec& spec = *request.mutable_spec();
  spec.set_pod_name(args.pod);
  for (const std::string& container : containers) spec.add_containers()->set_name(container);
  v1::RecreateStrategy& strategy = *spec.mutable_strategy();
  strategy.set_failure_policy(args.ignore ? v1::FAILURE_POLICY_IGNORE : v1::FAILURE_POLICY_FAIL);
  strategy.set_ordered_recreate(args.ordered);
  strategy.set_force_recreate(args.force);
  if (args.grace_seconds != kUnsetSeconds)
    strategy.set_termination_grace_period_seconds(args.grace_seconds);
  if (args.unready_grace_seconds != kUnsetSeconds) {
    strategy.set_unready_grace_period_seconds(args.unready_grace_seconds);
  }
  strategy.set_min_started_seconds(args.min_started_seconds);
  if (args.deadline_seconds != kUnsetSeconds)
    spec.set_active_deadline_seconds(args.deadline_seconds);
  if (args.ttl_seconds != kUnsetSeconds) spec.set_ttl_seconds_after_finished(args.ttl_seconds);
  return request;
}

}  // namespace inplaced::cli
