#include "daemon/prestop/cri_prestop_runner.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
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

// The request of an exec hook: whole seconds left, rounded down so the runtime gives up by the
// deadline; a 0 would mean "no timeout", so at least 1.
cri::criv1::ExecSyncRequest ExecRequest(const api::ExecAction& action, const PreStopTarget& target,
                                        const HookBudget& budget) {
  cri::criv1::ExecSyncRequest request;
  request.set_container_id(target.container_id);
  request.mutable_cmd()->CopyFrom(action.command());
  request.set_timeout(std::max<int64_t>(1, absl::ToInt64Seconds(budget.Remaining())));
  return request;
}

// The outcome of an exec hook from the runtime's answer; `abandoned`: the watchdog ended the call.
PreStopResult ExecOutcome(const absl::StatusOr<cri::criv1::ExecSyncResponse>& response,
                          const HookBudget& budget, bool abandoned) {
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

// The hooks that have no asynchronous form, run to their end on the calling (hook) thread.
PreStopResult RunBlockingHook(cri::Runtime& runtime, const api::LifecycleHandler& handler,
                              const PreStopTarget& target, const HookBudget& budget) {
  switch (handler.action_case()) {
    case api::LifecycleHandler::kHttpGet: {
      auto endpoint = ResolveEndpoint(runtime, handler.http_get(), "httpGet", target);
      return endpoint.ok()
                 ? RunHttpGet(handler.http_get(), endpoint->first, endpoint->second, budget)
                 : Result(api::PRE_STOP_OUTCOME_FAILED, std::string(endpoint.status().message()));
    }
    case api::LifecycleHandler::kTcpSocket: {
      auto endpoint = ResolveEndpoint(runtime, handler.tcp_socket(), "tcpSocket", target);
      return endpoint.ok()
                 ? RunTcpSocket(endpoint->first, endpoint->second, budget)
                 : Result(api::PRE_STOP_OUTCOME_FAILED, std::string(endpoint.status().message()));
    }
    case api::LifecycleHandler::kSleep:
      return RunSleep(handler.sleep(), budget);
    default:
      return Result(api::PRE_STOP_OUTCOME_FAILED, "preStop handler has no action");
  }
}

}  // namespace

CriPreStopRunner::CriPreStopRunner(cri::Runtime& runtime, Clock& clock,
                                   CriPreStopRunnerOptions options)
    : runtime_(runtime), clock_(clock), options_(options) {}

CriPreStopRunner::~CriPreStopRunner() = default;

void CriPreStopRunner::Start(const api::LifecycleHandler& handler, const PreStopTarget& target,
                             absl::Time deadline, Cancellation* cancel, Done done) {
  const HookBudget budget{&clock_, deadline, cancel};
  // Debug: the engine logs the outcome with the request's context.
  Done finish = [this, action = ActionName(handler), container_id = target.container_id,
                 start = clock_.Now(), done = std::move(done)](PreStopResult result) {
    spdlog::debug("prestop_done container={} action={} outcome={} elapsed={}", container_id, action,
                  api::PreStopOutcome_Name(result.outcome),
                  absl::FormatDuration(clock_.Now() - start));
    done(std::move(result));
  };
  if (budget.Cancelled()) {
    finish(Cancelled());
    return;
  }
  if (budget.Expired()) {
    finish(Result(api::PRE_STOP_OUTCOME_TIMED_OUT, "deadline passed before the hook started"));
    return;
  }
  switch (handler.action_case()) {
    case api::LifecycleHandler::kExec:
      StartExec(handler.exec(), target, budget, std::move(finish));
      return;
    case api::LifecycleHandler::kHttpGet:
    case api::LifecycleHandler::kTcpSocket:
    case api::LifecycleHandler::kSleep:
      // A thread each (see HookThreads): bounded by the kill limit, and rare.
      threads_.Spawn([this, handler, target, budget, finish = std::move(finish)] {
        finish(RunBlockingHook(runtime_, handler, target, budget));
      });
      return;
    case api::LifecycleHandler::ACTION_NOT_SET:
      break;
  }
  finish(Result(api::PRE_STOP_OUTCOME_FAILED, "preStop handler has no action"));
}

void CriPreStopRunner::StartExec(const api::ExecAction& action, const PreStopTarget& target,
                                 const HookBudget& budget, Done done) {
  if (action.command().empty()) {
    done(Result(api::PRE_STOP_OUTCOME_FAILED, "exec: empty command"));
    return;
  }
  // One exec in flight: its own token, cancelled by the caller's token or by the watchdog, whichever
  // comes first. Owned by the completion; the forwarding callback and the watchdog entry are
  // removed there before it dies.
  struct ExecCall {
    Cancellation linked;
    Cancellation* outer = nullptr;
    int outer_registration = -1;
    std::atomic<bool> expired{false};
    uint64_t watchdog = 0;
  };
  auto call = std::make_shared<ExecCall>();
  ExecCall* raw = call.get();
  const cri::criv1::ExecSyncRequest request = ExecRequest(action, target, budget);
  call->outer = budget.cancel;
  if (call->outer != nullptr) {
    // Forwarding runs under the outer token's lock; `linked` is another token, so that is allowed.
    call->outer_registration = call->outer->Register([raw] { raw->linked.Cancel(); });
  }
  call->watchdog = watchdog_.Schedule(budget.Remaining() + options_.exec_slack, [raw] {
    raw->expired = true;
    raw->linked.Cancel();
  });
  runtime_.ExecSyncAsync(request, &call->linked,
                         [this, call, budget, done = std::move(done)](
                             absl::StatusOr<cri::criv1::ExecSyncResponse> response) {
                           watchdog_.Cancel(call->watchdog);
                           if (call->outer != nullptr)
                             call->outer->Unregister(call->outer_registration);
                           done(ExecOutcome(response, budget, call->expired.load()));
                         });
}

}  // namespace inplaced::daemon
