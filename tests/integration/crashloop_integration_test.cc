// The crash-loop suite: recreates (ordered and parallel, exec preStop hooks, containers slow to
// exit after SIGTERM) on the fake_cri_server binary while the inplaced binary is killed at random
// points (SIGKILL) or stopped (SIGTERM: a DaemonSet rolling update) and started again, over and
// over. Judged from the fake server's call log (tests/fakes/call_log.h), i.e. from what really
// reached the runtime:
//   - every request completes, every container Succeeded;
//   - every hook that started ran exactly once: one ExecSync per killed instance, or none/one when
//     the status says INTERRUPTED (the daemon died mid-hook); no hook is lost (any other outcome);
//   - no container instance gets a second StopContainer with a timeout (a second SIGTERM); a
//     StopContainer only ever targets an instance the request was to recreate.
// The SIGTERM variant also requires every stop to exit 0 within the ChildProcess grace.
//
// Short by default (seeded, about a minute for both variants); INPLACED_CRASHLOOP_LONG=1 runs 100
// recreates per variant with more restarts, INPLACED_CRASHLOOP_SEED=<n> picks the seed. Both
// processes are tracked by PID (ChildProcess) and stopped by TearDown at the latest.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::DaemonHarness;
using ::inplaced::testing::Eventually;
using ::inplaced::testing::SetDeadline;

constexpr char kNamespace[] = "bulk";
constexpr int kHookMs = 400;       // every exec hook takes this long
constexpr int kTermExitMs = 1500;  // containers exit this long after SIGTERM

bool LongRun() {
  const char* value = std::getenv("INPLACED_CRASHLOOP_LONG");
  return value != nullptr && std::string(value) == "1";
}

uint64_t Seed() {
  const char* value = std::getenv("INPLACED_CRASHLOOP_SEED");
  uint64_t seed = 16;
  if (value != nullptr && !absl::SimpleAtoi(value, &seed)) seed = 16;
  return seed;
}

int Requests() { return LongRun() ? 100 : 24; }

std::string Pod(int i) { return absl::StrFormat("pod-%05d", i); }

// One line of the fake server's call log.
struct Call {
  std::string method;
  std::string phase;
  std::string container_id;
  std::string detail;
};

std::vector<Call> ReadCallLog(const std::string& path) {
  std::vector<Call> calls;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (fields.size() < 5) continue;
    calls.push_back(Call{fields[1], fields[2], fields[3], fields[4]});
  }
  return calls;
}

class CrashLoopTest : public DaemonHarness {
 protected:
  std::vector<std::string> FakeRuntimeFlags() const override {
    return {"--pods",
            absl::StrCat(Requests()),
            "--containers-per-pod",
            "2",
            "--restart-backoff-ms",
            "200",
            "--poll-interval-ms",
            "50",
            "--term-exit-delay-ms",
            absl::StrCat(kTermExitMs),
            "--exec-duration-ms",
            absl::StrCat(kHookMs),
            "--call-log",
            dir_.Join("calls.log")};
  }
  void MakeStubs() override { stub_ = api::RecreateService::NewStub(channel_); }

  // A daemon of our own (stderr kept in a file per run, so the log lines can be checked).
  void Launch() {
    std::vector<std::string> argv = {INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket_,
                                     "--socket", socket_, "--state-dir", dir_.Join("state"),
                                     "--fast-poll-ms", "20", "--slow-poll-ms", "100",
                                     "--shutdown-hook-timeout-ms", "1000",
                                     // Port 0: suites run in parallel, and a restarted daemon must
                                     // not wait for its predecessor's port.
                                     "--probe-address", "127.0.0.1:0"};
    ASSERT_OK_AND_ASSIGN(
        ChildProcess child,
        ChildProcess::Start(argv, dir_.Join(absl::StrCat("daemon-", runs_, ".log"))));
    ++runs_;
    daemon_ = std::make_unique<ChildProcess>(std::move(child));
    ASSERT_THAT(daemon_->WaitForLine("inplaced ready", absl::Seconds(60)),
                ::inplaced::testing::IsOk());
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    MakeStubs();
  }

  void Stop(int signal) {
    ASSERT_OK_AND_ASSIGN(int status, daemon_->Stop(signal, absl::Seconds(20)));
    if (signal == SIGTERM) {
      // Bounded graceful shutdown: exit 0 well before the escalation to SIGKILL.
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "run " << runs_ - 1 << " did not exit 0 on SIGTERM: " << status;
    }
    daemon_.reset();
  }

  grpc::Status Create(int i) {
    api::CreateRecreateRequestRequest request;
    request.set_namespace_(kNamespace);
    request.set_name(absl::StrCat("r", i));
    request.mutable_spec()->set_pod_name(Pod(i));
    api::RecreateStrategy& strategy = *request.mutable_spec()->mutable_strategy();
    strategy.set_ordered_recreate(i % 2 == 0);
    // A short grace, so that a stop whose sending is unknown after a crash costs seconds.
    strategy.set_termination_grace_period_seconds(4);
    for (const char* name : {"c0", "c1"}) {
      api::RecreateContainer& container = *request.mutable_spec()->add_containers();
      container.set_name(name);
      container.mutable_pre_stop()->mutable_exec()->add_command("drain");
    }
    grpc::ClientContext context;
    SetDeadline(&context);
    api::CreateRecreateRequestResponse response;
    return stub_->CreateRecreateRequest(&context, request, &response);
  }

  std::map<std::string, api::RecreateRequest> ListAll() {
    std::map<std::string, api::RecreateRequest> all;
    std::string token;
    do {
      grpc::ClientContext context;
      SetDeadline(&context);
      api::ListRecreateRequestsRequest request;
      request.set_namespace_(kNamespace);
      request.set_page_token(token);
      api::ListRecreateRequestsResponse response;
      const grpc::Status status = stub_->ListRecreateRequests(&context, request, &response);
      if (!status.ok()) return {};
      for (const api::RecreateRequest& item : response.recreate_requests()) {
        all[item.metadata().name()] = item;
      }
      token = response.next_page_token();
    } while (!token.empty());
    return all;
  }

  bool AllCompleted(std::map<std::string, api::RecreateRequest>* out) {
    *out = ListAll();
    if (static_cast<int>(out->size()) != Requests()) return false;
    for (const auto& [name, request] : *out) {
      if (request.status().phase() != api::RECREATE_PHASE_COMPLETED) return false;
    }
    return true;
  }

  // Creates the requests, then kills (`signal`) and restarts the daemon at random points until
  // every request completed, then judges the call log.
  void RunCrashLoop(int signal) {
    std::mt19937_64 random(Seed() + static_cast<uint64_t>(signal));
    StartFakeRuntime();
    Launch();
    const int requests = Requests();
    int created = 0;
    std::map<std::string, api::RecreateRequest> final_state;
    const int max_restarts = LongRun() ? 200 : 40;
    int restarts = 0;
    while (restarts < max_restarts) {
      // Some requests are created in each run (until all are), so that kills land in every step.
      const int batch = std::uniform_int_distribution<int>(1, 8)(random);
      for (int n = 0; n < batch && created < requests; ++n, ++created) {
        const grpc::Status status = Create(created);
        ASSERT_TRUE(status.ok()) << status.error_message();
      }
      // The daemon's uptime: from a few ms (mid-Create, mid-hook) to past a hook and a stop.
      absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(5, 900)(random)));
      if (created == requests && AllCompleted(&final_state)) break;
      Stop(signal);
      ++restarts;
      Launch();
    }
    // Then one daemon runs to the end.
    ASSERT_TRUE(Eventually([&] { return AllCompleted(&final_state); }, absl::Seconds(120)))
        << "not all requests completed after " << restarts << " restarts";
    Stop(SIGTERM);
    fake_->Stop(SIGTERM, absl::Seconds(10)).IgnoreError();
    fake_.reset();
    Judge(final_state, signal, restarts);
  }

  void Judge(const std::map<std::string, api::RecreateRequest>& requests, int signal,
             int restarts) {
    const std::vector<Call> calls = ReadCallLog(dir_.Join("calls.log"));
    std::map<std::string, int> execs;       // ExecSync begun, per container instance
    std::map<std::string, int> term_stops;  // StopContainer with a timeout (a SIGTERM)
    std::map<std::string, int> kill_stops;  // StopContainer(timeout=0)
    for (const Call& call : calls) {
      if (call.phase != "begin") continue;
      if (call.method == "ExecSync") ++execs[call.container_id];
      if (call.method == "StopContainer") {
        (call.detail == "0" ? kill_stops : term_stops)[call.container_id]++;
      }
    }
    std::set<std::string> old_ids;
    int interrupted = 0;
    int hooks = 0;
    for (const auto& [name, request] : requests) {
      EXPECT_EQ(request.status().phase(), api::RECREATE_PHASE_COMPLETED) << name;
      for (const api::ContainerRecreateState& state : request.status().container_states()) {
        const std::string where = absl::StrCat(name, "/", state.name(), " ", state.DebugString());
        EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED) << where;
        const std::string& id = state.old_container_id();
        old_ids.insert(id);
        const api::PreStopOutcome outcome = state.pre_stop().outcome();
        if (outcome == api::PRE_STOP_OUTCOME_SUCCEEDED) {
          ++hooks;
          EXPECT_EQ(execs[id], 1) << "a hook that ran must have run exactly once: " << where;
        } else if (outcome == api::PRE_STOP_OUTCOME_INTERRUPTED) {
          ++interrupted;
          EXPECT_LE(execs[id], 1) << "an interrupted hook is never run again: " << where;
        } else {
          ADD_FAILURE() << "a hook was lost (neither run nor reported INTERRUPTED): " << where;
        }
        EXPECT_LE(term_stops[id], 1) << "a second SIGTERM: " << where;
        EXPECT_GE(term_stops[id] + kill_stops[id], 1) << "never stopped: " << where;
      }
    }
    for (const auto& [id, count] : term_stops) {
      EXPECT_TRUE(old_ids.count(id) > 0)
          << "StopContainer to an instance no request targets: " << id;
    }
    for (const auto& [id, count] : execs) {
      EXPECT_TRUE(old_ids.count(id) > 0) << "a hook in an instance no request targets: " << id;
    }
    // Interrupted hooks are said in the log too, never silently.
    int logged_interruptions = 0;
    for (int run = 0; run < runs_; ++run) {
      std::ifstream in(dir_.Join(absl::StrCat("daemon-", run, ".log")));
      std::string line;
      while (std::getline(in, line)) {
        if (line.find("prestop_interrupted") != std::string::npos &&
            line.find("started_at=") != std::string::npos) {
          ++logged_interruptions;
        }
      }
    }
    if (signal == SIGTERM) {
      // Running hooks finish within the shutdown bound; queued ones start in the next daemon.
      EXPECT_EQ(interrupted, 0) << "a graceful restart interrupted a hook";
    } else {
      // A SIGKILL may land between the INTERRUPTED commit and its log line, never the reverse.
      EXPECT_LE(logged_interruptions, interrupted);
      if (interrupted > 0) {
        EXPECT_GT(logged_interruptions, 0) << "INTERRUPTED hooks are logged";
      }
    }
    std::cout << "crash loop: signal=" << signal << " seed=" << Seed() << " restarts=" << restarts
              << " requests=" << requests.size() << " hooks_ran=" << hooks
              << " hooks_interrupted=" << interrupted << std::endl;
  }

  std::unique_ptr<api::RecreateService::Stub> stub_;
  int runs_ = 0;
};

TEST_F(CrashLoopTest, SigkillAtRandomPointsLosesNoHookAndNeverSignalsTwice) {
  RunCrashLoop(SIGKILL);
}

TEST_F(CrashLoopTest, SigtermRestartsExitZeroLoseNoHookAndNeverSignalTwice) {
  RunCrashLoop(SIGTERM);
}

// 3 containers that ignore SIGTERM, each with a StopContainer in flight (grace 12 s): SIGTERM must
// not wait for them (it took 37 s before). Judged by order, not time: the daemon has exited 0
// while none of those stops has ended; the next daemon never sends a second SIGTERM, and kills
// them with timeout 0 once stop_sent_at + 12 s passed, or finds them already killed by the
// runtime.
class ShutdownWithStopsInFlightTest : public CrashLoopTest {
 protected:
  std::vector<std::string> FakeRuntimeFlags() const override {
    return {"--pods",        "3",          "--containers-per-pod", "1",
            "--ignore-term", "--call-log", dir_.Join("calls.log")};
  }
};

TEST_F(ShutdownWithStopsInFlightTest, SigtermAbandonsThemAndTheNextDaemonNeverSignalsTwice) {
  StartFakeRuntime();
  Launch();
  for (int i = 0; i < 3; ++i) {
    api::CreateRecreateRequestRequest request;
    request.set_namespace_(kNamespace);
    request.set_name(absl::StrCat("r", i));
    request.mutable_spec()->set_pod_name(Pod(i));
    request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(12);
    request.mutable_spec()->add_containers()->set_name("c0");
    grpc::ClientContext context;
    SetDeadline(&context);
    api::CreateRecreateRequestResponse response;
    ASSERT_TRUE(stub_->CreateRecreateRequest(&context, request, &response).ok());
  }
  const auto count = [this](const std::string& method, const std::string& phase) {
    int n = 0;
    for (const Call& call : ReadCallLog(dir_.Join("calls.log"))) {
      if (call.method == method && call.phase == phase) ++n;
    }
    return n;
  };
  ASSERT_TRUE(Eventually([&] { return count("StopContainer", "begin") == 3; }));
  Stop(SIGTERM);  // exits 0 (checked in Stop)
  EXPECT_EQ(count("StopContainer", "end"), 0)
      << "the daemon exited while its 3 stops were still in flight: it did not wait for them";

  Launch();
  std::map<std::string, api::RecreateRequest> final_state;
  ASSERT_TRUE(Eventually(
      [&] {
        final_state = ListAll();
        if (final_state.size() != 3) return false;
        for (const auto& [name, request] : final_state) {
          if (request.status().phase() != api::RECREATE_PHASE_COMPLETED) return false;
        }
        return true;
      },
      absl::Seconds(90)));
  Stop(SIGTERM);
  std::map<std::string, int> term_stops;
  for (const Call& call : ReadCallLog(dir_.Join("calls.log"))) {
    if (call.method == "StopContainer" && call.phase == "begin" && call.detail != "0") {
      ++term_stops[call.container_id];
    }
  }
  for (const auto& [name, request] : final_state) {
    const api::ContainerRecreateState& state = request.status().container_states(0);
    EXPECT_EQ(state.phase(), api::CONTAINER_RECREATE_PHASE_SUCCEEDED) << state.DebugString();
    EXPECT_EQ(term_stops[state.old_container_id()], 1) << "one SIGTERM: " << state.DebugString();
  }
}

}  // namespace
}  // namespace inplaced
