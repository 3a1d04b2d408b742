// fake_cri_server: a FakeRuntime on the real clock, with the kubelet-like restarter, served as CRI
// runtime.v1 on a unix socket. Integration tests and benchmarks run it as a separate process and
// wait for "ready" on stdout. Exits cleanly on SIGTERM/SIGINT. On SIGUSR1 it prints one line on
// stdout with the RPCs received so far by method ("calls total=N ListContainers=N ...", see
// tests/fakes/call_counter.h): benchmarks count the calls a daemon makes.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/process_setup.h"
#include "common/real_clock.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/fakes/call_counter.h"
#include "tests/fakes/cri_service.h"
#include "tests/fakes/fake_runtime.h"
#include "tests/fakes/kubelet_standin.h"

namespace {

// "REF=CODE[:MESSAGE]" (CODE a canonical gRPC code name, e.g. NOT_FOUND) as a pull that fails with
// that status; the default message reads like containerd's.
absl::StatusOr<std::pair<std::string, absl::Status>> ParseFailPull(const std::string& value) {
  const size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fail-pull \"", value, "\": want REF=CODE[:MESSAGE]"));
  }
  const std::string ref = value.substr(0, eq);
  std::string code_name = value.substr(eq + 1);
  std::string message =
      absl::StrCat("failed to pull and unpack image \"", ref, "\": scripted failure");
  if (const size_t colon = code_name.find(':'); colon != std::string::npos) {
    message = code_name.substr(colon + 1);
    code_name.resize(colon);
  }
  for (int code = 1; code <= 16; ++code) {
    if (absl::StatusCodeToString(static_cast<absl::StatusCode>(code)) == code_name) {
      return std::make_pair(ref, absl::Status(static_cast<absl::StatusCode>(code), message));
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--fail-pull \"", value, "\": unknown gRPC code \"", code_name, "\" (e.g. NOT_FOUND)"));
}

}  // namespace

int main(int argc, char** argv) {
  // Like the daemon: two malloc arenas, no lock-order graph on every mutex lock.
  inplaced::ApplyProcessSettings();
  CLI::App app{"Fake CRI runtime (runtime.v1) on a unix socket, with a kubelet-like restarter"};
  std::string socket_path;
  std::string profile_name = "containerd-1.6";
  int restart_backoff_ms = 300;
  int poll_interval_ms = 100;
  int pods = 0;
  int containers_per_pod = 1;
  bool ignore_term = false;
  int term_exit_delay_ms = 0;
  int exec_duration_ms = 0;
  std::string call_log_path;
  app.add_option("--socket", socket_path, "Unix socket path to serve on")->required();
  app.add_option("--profile", profile_name,
                 "containerd-1.6 | containerd-1.7 | containerd-2.0 | cri-o");
  app.add_option("--restart-backoff-ms", restart_backoff_ms,
                 "Delay before an exited container restarts");
  app.add_option("--poll-interval-ms", poll_interval_ms, "How often the restarter looks for exits");
  app.add_option("--pods", pods, "Pre-create this many kubelet-labelled pods");
  app.add_option("--containers-per-pod", containers_per_pod, "Containers of each pre-created pod");
  app.add_flag("--ignore-term", ignore_term,
               "Containers ignore SIGTERM (die of SIGKILL at the timeout)");
  app.add_option("--term-exit-delay-ms", term_exit_delay_ms, "Delay between SIGTERM and exit");
  std::vector<std::string> fail_pulls;
  app.add_option("--fail-pull", fail_pulls,
                 "REF=CODE[:MESSAGE]: every PullImage of REF fails with this gRPC code (e.g. "
                 "NOT_FOUND); repeatable");
  std::vector<std::string> hang_first_pull;
  app.add_option("--hang-first-pull", hang_first_pull,
                 "The first PullImage of this image stalls until cancelled (repeatable)");
  app.add_option("--exec-duration-ms", exec_duration_ms,
                 "How long every ExecSync in a pre-created pod's container takes (exit 0)");
  app.add_option("--call-log", call_log_path,
                 "Append StopContainer and ExecSync calls to this file (tests/fakes/call_log.h)");
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("fake_cri_server"));
  absl::StatusOr<inplaced::fakes::RuntimeProfile> profile =
      inplaced::fakes::RuntimeProfile::ByName(profile_name);
  if (!profile.ok()) {
    spdlog::error("fake_cri_server bad_flag error={}", profile.status().ToString());
    return 2;
  }

  // Block the stop signals (and SIGUSR1) before any thread starts, so that only sigwait() below
  // receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  inplaced::RealClock clock;
  inplaced::fakes::FakeRuntime runtime(clock, *profile, /*seed=*/static_cast<uint64_t>(::getpid()));
  inplaced::fakes::StopBehaviour behaviour;
  behaviour.honours_term = !ignore_term;
  behaviour.term_exit_delay = absl::Milliseconds(term_exit_delay_ms);
  runtime.SetDefaultStopBehaviour(behaviour);
  if (pods > 0) runtime.AddPods(pods, containers_per_pod);
  for (const std::string& value : fail_pulls) {
    absl::StatusOr<std::pair<std::string, absl::Status>> fail = ParseFailPull(value);
    if (!fail.ok()) {
      spdlog::error("fake_cri_server bad_flag error={}", fail.status().ToString());
      return 2;
    }
    inplaced::fakes::PullScript script;
    script.failure = fail->second;
    runtime.SetPullScript(fail->first, script);
  }
  for (const std::string& image : hang_first_pull) {
    inplaced::fakes::PullScript script;
    script.hang_first_pulls = 1;
    // On stdout, where a test waits for it: the pull reached the runtime.
    script.on_hang = [image] { std::cout << "pull_hanging " << image << std::endl; };
    runtime.SetPullScript(image, script);
  }
  if (exec_duration_ms > 0) {
    inplaced::fakes::ExecResult slow_exec;
    slow_exec.duration = absl::Milliseconds(exec_duration_ms);
    for (int i = 0; i < containers_per_pod; ++i) {
      runtime.SetExecHandler(absl::StrCat("c", i), {}, slow_exec);
    }
  }
  std::unique_ptr<inplaced::fakes::CallLog> call_log;
  if (!call_log_path.empty()) {
    absl::StatusOr<std::unique_ptr<inplaced::fakes::CallLog>> opened =
        inplaced::fakes::CallLog::Open(call_log_path);
    if (!opened.ok()) {
      spdlog::error("fake_cri_server bad_flag error={}", opened.status().ToString());
      return 2;
    }
    call_log = *std::move(opened);
  }
  inplaced::fakes::CriServerOptions server_options;
  server_options.call_log = call_log.get();
  inplaced::fakes::CallCounter call_counter;
  server_options.call_counter = &call_counter;

  inplaced::fakes::KubeletStandInOptions options;
  options.restart_backoff = absl::Milliseconds(restart_backoff_ms);
  options.adopt_all_pods = true;  // Pods created by clients over the socket are restarted too.
  inplaced::fakes::KubeletStandIn kubelet(runtime, runtime, clock, options);

  absl::StatusOr<std::unique_ptr<inplaced::fakes::CriServer>> server =
      inplaced::fakes::CriServer::Start(runtime, runtime, socket_path, server_options);
  if (!server.ok()) {
    spdlog::error("fake_cri_server start_failed error={}", server.status().ToString());
    return 1;
  }
  kubelet.Start(absl::Milliseconds(poll_interval_ms));
  spdlog::info("fake_cri_server ready socket={} profile={} pods={} containers_per_pod={}",
               socket_path, profile_name, pods, containers_per_pod);
  std::cout << "ready" << std::endl;

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) == 0 && signal_number == SIGUSR1) {
    std::cout << call_counter.Line() << std::endl;
  }
  spdlog::info("fake_cri_server stopping signal={}", signal_number);
  kubelet.Stop();
  (*server)->Shutdown();
  return 0;
}
