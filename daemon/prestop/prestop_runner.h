#pragma once

// The preStop seam: the recreate engine runs a container's preStop hook through a PreStopRunner
// before it stops the container. CriPreStopRunner (cri_prestop_runner.h) is the implementation over
// the CRI; kubelet_handler.h parses the hook and the container's ports from kubelet's annotations.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "common/cancellation.h"
#include "daemon/prestop/kubelet_handler.h"

namespace inplaced::daemon {

// Where a preStop hook runs.
struct PreStopTarget {
  std::string container_id;  // the container being killed
  std::string
      pod_sandbox_id;  // for the pod IP (PodSandboxStatus) of httpGet/tcpSocket without host
  // For named ports (request override, else kubelet annotation).
  std::vector<::inplaced::v1::ContainerPort> ports;
};

struct PreStopResult {
  // SUCCEEDED, FAILED or TIMED_OUT (UNSPECIFIED only in a default-constructed result).
  ::inplaced::v1::PreStopOutcome outcome = ::inplaced::v1::PRE_STOP_OUTCOME_UNSPECIFIED;
  std::string message;  // failure / exec output tail / HTTP status; never secrets
};

// Runs one preStop hook; never throws; ends by `deadline` (TIMED_OUT then) or when `cancel` fires.
//
// Outcomes: SUCCEEDED (exit code 0, HTTP 200-399, TCP connection made, sleep done), FAILED
// (anything else, including a handler with no action and a cancellation, message "cancelled"; the
// caller knows its own token and may treat that case apart), TIMED_OUT (the deadline came first).
// `message` is printable ASCII, at most a few hundred bytes, and never holds header values.
//
// `cancel` may be null. Implementations are thread-safe: several hooks may run at once.
class PreStopRunner {
 public:
  using Done = std::function<void(PreStopResult)>;

  virtual ~PreStopRunner() = default;

  // Starts the hook and returns at once (`handler` and `target` are copied). `done` runs exactly
  // once with the result: on an implementation thread, or on the calling thread itself when the
  // hook ends before it starts (cancelled, deadline passed, nothing to run) or its call fails at
  // once. So the caller must not hold a lock `done` takes while it calls Start, and `done` must be
  // short and must not block. `cancel` must outlive the hook (until `done` returned).
  virtual void Start(const ::inplaced::v1::LifecycleHandler& handler, const PreStopTarget& target,
                     absl::Time deadline, Cancellation* cancel, Done done) = 0;

  // Blocking form: Start, then waits for `done` (tests, tools).
  PreStopResult Run(const ::inplaced::v1::LifecycleHandler& handler, const PreStopTarget& target,
                    absl::Time deadline, Cancellation* cancel) {
    absl::Notification finished;
    PreStopResult result;
    Start(handler, target, deadline, cancel, [&finished, &result](PreStopResult answer) {
      result = std::move(answer);
      finished.Notify();
    });
    finished.WaitForNotification();
    return result;
  }
};

}  // namespace inplaced::daemon
