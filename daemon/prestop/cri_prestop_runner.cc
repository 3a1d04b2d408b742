#include "daemon/prestop/cri_prestop_runner.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/curl_handle.h"
#include "daemon/prestop/exec_watchdog.h"
#include "daemon/prestop/hook_budget.h"
#include "daemon/prestop/hook_endpoint.h"
#include "daemon/prestop/hook_message.h"
#include "daemon/prestop/http_get_action.h"
#include "daemon/prestop/tcp_socket_action.h"
#include "spdlog/spdlog.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

constexpr size_t kMaxOutputTail = 256;
// Granularity at which a sleep hook notices a cancellation.
constexpr absl::Duration kSleepSlice = absl::Milliseconds(100);

PreStopResult Result(api::PreStopOutcome outcome, std::string message) {
  return PreStopResult{outcome, std::move(message)};
}

PreStopResult Cancelled() { return Result(api::PRE_STOP_OUTCOME_FAILED, "cancelled"); }

PreStopResult RunExec(cri::Runtime& runtime, const api::ExecAction& action,
                      const PreStopTarget& target, const HookBudget& budget, absl::Duration slack) {
  if (action.command().empty()) return Result(api::PRE_STOP_OUTCOME_FAILED, "exec: empty command");
  cri::criv1::ExecSyncRequest request;
  request.set_container_id(target.container_id);
  request.mutable_cmd()->CopyFrom(action.command());
  // Whole seconds, rounded down so the runtime gives up by the deadline; a 0 would mean "no
  // timeout".
  request.set_timeout(std::max<int64_t>(1, absl::ToInt64Seconds(budget.Remaining())));
  absl::StatusOr<cri::criv1::ExecSyncResponse> response;
  bool abandoned = false;
  {
    ExecWatchdog watchdog(budget.cancel, budget.Remaining() + slack);
    response = runtime.ExecSync(request, watchdog.token());
    abandoned = watchdog.expired();
  }
  if (budget.Cancelled()) return Cancelled();
  if (abandoned) {
    return Result(api::PRE_STOP_OUTCOME_TIMED_OUT,
                  "exec: the runtime did not return by the deadline");
  }
  if (!response.ok()) {
    // containerd reports its timeout as DEADLINE_EXCEEDED; so does the CRI client's own deadline.
    const api::PreStopOutcome outcome = absl::IsDeadlineExceeded(response.status())
                                            ? api::PRE_STOP_OUTCOME_TIMED_OUT
                                            : api::PRE_STOP_OUTCOME_FAILED;
    return Result(outcome, absl::StrCat("exec: ", PrintableTail(response.status().message(),
                                                                kMaxOutputTail)));
  }
  const absl::string_view output =
      response->stderr().empty() ? response->stdout() : response->stderr();
  const std::string tail = PrintableTail(output, kMaxOutputTail);
  if (response->exit_code() == -1) {
    // CRI-O's timeout: OK with exit code -1 and conmon's message on stderr. No process exits with
    // -1.
    return Result(api::PRE_STOP_OUTCOME_TIMED_OUT, absl::StrCat("exec timed out: ", tail));
  }
  if (response->exit_code() != 0) {
    std::string message = absl::StrCat("exit code ", response->exit_code());
    if (!tail.empty()) absl::StrAppend(&message, ": ", tail);
    return Result(api::PRE_STOP_OUTCOME_FAILED, std::move(message));
  }
  return Result(api::PRE_STOP_OUTCOME_SUCCEEDED, tail);
}

PreStopResult RunSleep(const api::SleepAction& action, const HookBudget& budget) {
  const absl::Time start = budget.clock->Now();
  const absl::Time wanted = start + absl::Seconds(std::max<int64_t>(0, action.seconds()));
  const absl::Time end = std::min(wanted, budget.deadline);
  while (true) {
    if (budget.Cancelled()) return Cancelled();
    const absl::Time now = budget.clock->Now();
    if (now >= end) break;
    budget.clock->SleepUntil(std::min(end, now + kSleepSlice));
  }
  if (wanted > budget.deadline) {
    return Result(api::PRE_STOP_OUTCOME_TIMED_OUT,
                  absl::StrCat("sleep ", action.seconds(), "s cut short by the deadline"));
  }
  return Result(api::PRE_STOP_OUTCOME_SUCCEEDED, absl::StrCat("slept ", action.seconds(), "s"));
}

// Host and port of an httpGet or tcpSocket action; FAILED when either cannot be resolved.
template <typename Action>
absl::StatusOr<std::pair<std::string, int>> ResolveEndpoint(cri::Runtime& runtime,
                                                            const Action& action,
                                                            absl::string_view name,
                                                            const PreStopTarget& target) {
  const int32_t number = action.port_case() == Action::kPortNumber ? action.port_number() : 0;
  const std::string port_name = action.port_case() == Action::kPortName ? action.port_name() : "";
  absl::StatusOr<int> port = ResolveHookPort(number, port_name, target.ports);
  if (!port.ok())
    return absl::Status(port.status().code(), absl::StrCat(name, ": ", port.status().message()));
  absl::StatusOr<std::string> host = ResolveHookHost(runtime, action.host(), name, target);
  if (!host.ok())
    return absl::Status(host.status().code(), absl::StrCat(name, ": ", host.status().message()));
  return std::make_pair(*std::move(host), *port);
}

const char* ActionName(const api::LifecycleHandler& handler) {
  switch (handler.action_case()) {
    case api::LifecycleHandler::kExec:
      return "exec";
    case api::LifecycleHandler::kHttpGet:
      return "httpGet";
    case api::LifecycleHandler::kTcpSocket:
      return "tcpSocket";
    case api::LifecycleHandler::kSleep:
      return "sleep";
    case api::LifecycleHandler::ACTION_NOT_SET:
      break;
  }
  return "none";
}

}  // namespace

CriPreStopRunner::CriPreStopRunner(cri::Runtime& runtime, Clock& clock,
                                   CriPreStopRunnerOptions options)
    : runtime_(runtime), clock_(clock), options_(options) {
  EnsureCurlGlobalInit();
}

PreStopResult CriPreStopRunner::Run(const api::LifecycleHandler& handler,
                                    const PreStopTarget& target, absl::Time deadline,
                                    Cancellation* cancel) {
  const HookBudget budget{&clock_, deadline, cancel};
  const absl::Time start = clock_.Now();
  PreStopResult result;
  if (budget.Cancelled()) {
    result = Cancelled();
  } else if (budget.Expired()) {
    result = Result(api::PRE_STOP_OUTCOME_TIMED_OUT, "deadline passed before the hook started");
  } else {
    switch (handler.action_case()) {
      case api::LifecycleHandler::kExec:
        result = RunExec(runtime_, handler.exec(), target, budget, options_.exec_slack);
        break;
      case api::LifecycleHandler::kHttpGet: {
        auto endpoint = ResolveEndpoint(runtime_, handler.http_get(), "httpGet", target);
        result =
            endpoint.ok()
                ? RunHttpGet(handler.http_get(), endpoint->first, endpoint->second, budget)
                : Result(api::PRE_STOP_OUTCOME_FAILED, std::string(endpoint.status().message()));
        break;
      }
      case api::LifecycleHandler::kTcpSocket: {
        auto endpoint = ResolveEndpoint(runtime_, handler.tcp_socket(), "tcpSocket", target);
        result = endpoint.ok() ? RunTcpSocket(endpoint->first, endpoint->second, budget)
                               : Result(api::PRE_STOP_OUTCOME_FAILED,
                                        std::string(endpoint.status().message()));
        break;
      }
      case api::LifecycleHandler::kSleep:
        result = RunSleep(handler.sleep(), budget);
        break;
      case api::LifecycleHandler::ACTION_NOT_SET:
        result = Result(api::PRE_STOP_OUTCOME_FAILED, "preStop handler has no action");
        break;
    }
  }
  // Debug: the engine logs the outcome with the request's context.
  spdlog::debug("prestop_done container={} action={} outcome={} elapsed={}", target.container_id,
                ActionName(handler), api::PreStopOutcome_Name(result.outcome),
                absl::FormatDuration(clock_.Now() - start));
  return result;
}

}  // namespace inplaced::daemon
