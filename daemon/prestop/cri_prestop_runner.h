#pragma once

#include "absl/time/time.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "cri/runtime.h"
#include "daemon/prestop/exec_watchdog.h"
#include "daemon/prestop/hook_budget.h"
#include "daemon/prestop/hook_threads.h"
#include "daemon/prestop/prestop_runner.h"

namespace inplaced::daemon {

struct CriPreStopRunnerOptions {
  // How long past the deadline (in real time) an ExecSync may run before it is abandoned because
  // the runtime did not honour its own timeout (exec_watchdog.h).
  absl::Duration exec_slack = absl::Seconds(5);
};

// Runs preStop hooks the way kubelet does (cri-reference.md §3.2), over the CRI:
//
//  - exec: ExecSync(target.container_id, command, timeout = whole seconds left to the deadline, at least
//    1) with `cancel`. Exit 0 -> SUCCEEDED; another exit code -> FAILED "exit code N: <tail of stderr, else
//    stdout, at most 256 bytes>"; the runtime's timeout -> TIMED_OUT, in both styles (containerd's
//    DEADLINE_EXCEEDED error, CRI-O's OK with exit code -1); other errors (NOT_FOUND, container not
//    running) -> FAILED with the runtime's message. A runtime that does not return within the time left
//    plus options.exec_slack (real time) is abandoned: TIMED_OUT.
//  - httpGet / tcpSocket: host = the action's, else the pod IP from PodSandboxStatus(target.pod_sandbox_id)
//    (FAILED "no pod IP (host-network pod): set httpGet.host" when there is none); port = the number, else
//    the named port in target.ports (FAILED naming the port when unknown). Then http_get_action.h /
//    tcp_socket_action.h.
//  - sleep: waits min(seconds, deadline) on the Clock, in slices of at most 100 ms so that `cancel` is
//    seen (Clock::SleepUntil cannot be interrupted). SUCCEEDED when slept fully, TIMED_OUT when cut by
//    the deadline.
//  - A cancelled `cancel` -> FAILED "cancelled"; a deadline already passed -> TIMED_OUT without running
//    anything; a handler with no action -> FAILED.
//
// Every action returns by the deadline, up to a small slack: exec on the runtime's timeout, backed
// by the watchdog, httpGet on libcurl's timeout and a progress callback that watches the Clock,
// tcpSocket and sleep on polling the Clock.
//
// Threads: an exec hook holds none (ExecSyncAsync; one watchdog thread serves every exec). httpGet,
// tcpSocket and sleep hooks run on a thread each (HookThreads: bounded by the engine's kill limit,
// and rare), joined at destruction. `done` runs on the runtime's callback thread, the hook's
// thread, or inline in Start for a hook that ends before it starts.
//
// Thread-safe; `runtime` and `clock` are not owned and must outlive the runner, which must outlive
// every hook it started (until their `done` returned).
class CriPreStopRunner final : public PreStopRunner {
 public:
  CriPreStopRunner(cri::Runtime& runtime, Clock& clock, CriPreStopRunnerOptions options = {});
  ~CriPreStopRunner() override;

  void Start(const ::inplaced::v1::LifecycleHandler& handler, const PreStopTarget& target,
             absl::Time deadline, Cancellation* cancel, Done done) override;

 private:
  void StartExec(const ::inplaced::v1::ExecAction& action, const PreStopTarget& target,
                 const HookBudget& budget, Done done);

  cri::Runtime& runtime_;
  Clock& clock_;
  const CriPreStopRunnerOptions options_;
  // Declared last: destroyed (joined) first, while the rest is still there.
  ExecWatchdogTimer watchdog_;
  HookThreads threads_;
};

}  // namespace inplaced::daemon
