// kubelet_standin: plays kubelet against a CRI runtime for the demo and for manual e2e checks. Runs
// one pod (host network, kubelet's labels and annotations) and restarts its containers when they
// exit, until SIGTERM/SIGINT, then removes the pod.
//
//   kubelet_standin --runtime-endpoint unix:///tmp/x/containerd.sock --pod demo/web
//       --container 'app=localhost/busybox:1=sleep 3600' [--container ...] [--grace-period 30]
//
// Prints "ready sandbox=<id>" on stdout once the pod runs.

#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/real_clock.h"
#include "cri/connect.h"
#include "tests/fakes/grpc_pod_lifecycle.h"
#include "tests/fakes/kubelet_standin.h"

namespace {

using inplaced::fakes::ContainerSpec;
using inplaced::fakes::PodSpec;

// "NAME=IMAGE=SHELL COMMAND" -> a container running the command with sh -c.
bool ParseContainer(const std::string& flag, ContainerSpec* spec) {
  std::vector<std::string> parts = absl::StrSplit(flag, absl::MaxSplits('=', 2));
  if (parts.size() < 2 || parts[0].empty() || parts[1].empty()) return false;
  spec->name = parts[0];
  spec->image = parts[1];
  if (parts.size() == 3) spec->command = {"sh", "-c", parts[2]};
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kubelet_standin: run a pod like kubelet and restart its exited containers"};
  std::string endpoint, pod, uid;
  std::vector<std::string> containers;
  int64_t grace_period = -1;
  int restart_backoff_ms = 300, poll_ms = 100;
  app.add_option("--runtime-endpoint", endpoint, "CRI endpoint")->required();
  app.add_option("--pod", pod, "NAMESPACE/NAME")->required();
  app.add_option("--uid", uid, "Pod UID (default: derived from the name)");
  app.add_option("--container", containers, "NAME=IMAGE[=SHELL COMMAND], repeatable")->required();
  app.add_option("--grace-period", grace_period, "terminationGracePeriodSeconds annotation");
  app.add_option("--restart-backoff-ms", restart_backoff_ms,
                 "Delay before an exited container restarts");
  app.add_option("--poll-ms", poll_ms, "Sync interval");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  PodSpec spec;
  std::vector<std::string> ns_name = absl::StrSplit(pod, absl::MaxSplits('/', 1));
  if (ns_name.size() != 2) {
    std::cerr << "kubelet_standin: --pod must be NAMESPACE/NAME, got " << pod << "\n";
    return 2;
  }
  spec.namespace_ = ns_name[0];
  spec.name = ns_name[1];
  spec.uid = uid.empty() ? "uid-" + spec.namespace_ + "-" + spec.name : uid;
  if (grace_period >= 0) spec.termination_grace_period_seconds = grace_period;
  for (const std::string& flag : containers) {
    ContainerSpec c;
    if (!ParseContainer(flag, &c)) {
      std::cerr << "kubelet_standin: --container must be NAME=IMAGE[=COMMAND], got " << flag
                << "\n";
      return 2;
    }
    spec.containers.push_back(std::move(c));
  }

  // Block the stop signals before any thread starts, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  inplaced::cri::ConnectOptions options;
  options.endpoint = endpoint;
  absl::StatusOr<inplaced::cri::Connection> conn = inplaced::cri::Connect(options);
  if (!conn.ok()) {
    std::cerr << "kubelet_standin: " << conn.status() << "\n";
    return 1;
  }
  inplaced::RealClock clock;
  inplaced::fakes::KubeletStandInOptions standin_options;
  standin_options.restart_backoff = absl::Milliseconds(restart_backoff_ms);
  inplaced::fakes::GrpcPodLifecycle lifecycle(conn->endpoint);
  inplaced::fakes::KubeletStandIn standin(*conn->runtime, lifecycle, clock, standin_options);
  absl::StatusOr<std::string> sandbox = standin.RunPod(spec);
  if (!sandbox.ok()) {
    std::cerr << "kubelet_standin: run pod " << pod << ": " << sandbox.status() << "\n";
    return 1;
  }
  standin.Start(absl::Milliseconds(poll_ms));
  std::cout << "ready sandbox=" << *sandbox << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  standin.Stop();
  const absl::Status removed = standin.RemoveAll();
  if (!removed.ok()) {
    std::cerr << "kubelet_standin: remove pod " << pod << ": " << removed << "\n";
    return 1;
  }
  std::cout << "removed pod " << pod << " restarts=" << standin.Restarts() << std::endl;
  return 0;
}
