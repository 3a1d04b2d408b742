// inplaced: the daemon's entry point. Parses flags, starts the Daemon, waits for SIGTERM/SIGINT,
// stops it. Everything else lives in daemon.cc.

#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "common/process_setup.h"
#include "daemon/daemon.h"
#include "daemon/options.h"
#include "systemd/notifier.h"

int main(int argc, char** argv) {
  // Two malloc arenas, no lock-order graph on every mutex lock; before any thread starts.
  inplaced::ApplyProcessSettings();
  using inplaced::daemon::CommandLine;
  const CommandLine command_line = inplaced::daemon::ParseCommandLine(argc, argv);
  if (!command_line.run) {
    (command_line.exit_code == 0 ? std::cout : std::cerr) << command_line.output << std::endl;
    return command_line.exit_code;
  }
  const inplaced::daemon::DaemonOptions& options = command_line.options;

  // Logs go to stderr; stdout carries only the probe port's line and the ready line (supervisors and
  // tests wait for them).
  spdlog::set_default_logger(spdlog::stderr_color_mt("inplaced"));
  spdlog::set_level(spdlog::level::from_str(options.log_level));

  // Block the stop signals in every thread (threads inherit the mask), then wait for them here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // systemd's notifications (READY, WATCHDOG, STATUS, STOPPING) when run by a Type=notify unit.
  const std::unique_ptr<inplaced::systemd::Notifier> notifier =
      inplaced::systemd::NotifierFromEnvironment();
  // The probe port's line comes first (tests asking for port 0 read the port from it).
  auto daemon = inplaced::daemon::Daemon::Start(options, *notifier, [&options](int probe_port) {
    std::printf("inplaced probe listening address=%s port=%d\n", options.probe_address.c_str(),
                probe_port);
    std::fflush(stdout);
  });
  if (!daemon.ok()) {
    spdlog::critical("inplaced failed to start: {}", daemon.status().ToString());
    return 1;
  }
  // tcp= only with a TCP listener: its bound port (tests listen on port 0).
  const std::string tcp =
      (*daemon)->tcp_address().empty() ? std::string() : " tcp=" + (*daemon)->tcp_address();
  spdlog::info("inplaced ready socket={} runtime={}{}", (*daemon)->socket_path(),
               (*daemon)->runtime_endpoint(), tcp);
  std::printf("inplaced ready socket=%s runtime=%s%s\n", (*daemon)->socket_path().c_str(),
              (*daemon)->runtime_endpoint().c_str(), tcp.c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("signal_received signal={}", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  (*daemon)->Stop();
  return 0;
}
