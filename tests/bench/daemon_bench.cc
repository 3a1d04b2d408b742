// daemon_bench: the real inplaced binary against the fake_cri_server binary (separate processes over
// unix sockets), measured in one run and printed as a table "metric | measured | target | met?".
// Never a ctest test: on a shared machine timings are readings, not assertions. Run by
// scripts/bench.sh (README "Benchmarks").
//
//   a. dispatch at 200 pods: 200 recreates (one per pod, no preStop) created at once; from each
//      Create's answer (client clock) to its StopContainer reaching the fake runtime (the call log's
//      begin stamp, same host clock): p50/p99/max, in 5 rounds on fresh processes (medians).
//   b. CRI calls and CPU with 1, 100 and 1,000 open requests waiting on min_started_seconds (after
//      the restart was seen), and 1, 100 and 1,000 requests queued (PENDING) behind one running
//      request of the same pod: the fake server counts every RPC by method (SIGUSR1 prints the
//      counts), the daemon's CPU is utime+stime from /proc/PID/stat over the window. A "tick" is
//      the daemon's default fast poll period, 100 ms: the unit the targets are stated in.
//   c. the daemon's VmRSS idle with 1,000 containers on the node and loaded with 1,000 open requests.
//   d. 2,000 WatchRecreateRequests streams: accepted (SYNCED received), the daemon's threads and RSS
//      before and with them open; the same streams on watch_floor_server (gRPC alone) give what
//      gRPC itself keeps per open stream, so the daemon's own share is told from it.
//
// Every process is started here, tracked by PID and stopped here (SIGTERM, then SIGKILL); each has
// a private temp dir with its sockets and state, removed at the end. The daemon gets
// --probe-address 127.0.0.1:0. INPLACED_BENCH_WINDOW_S sets the measurement window (default 10);
// INPLACED_BENCH_KEEP=1 keeps the temp dir (the processes' logs, the call logs);
// INPLACED_BENCH_ONLY=dispatch|node runs only part a. or parts b.-d.;
// INPLACED_BENCH_DISPATCH_ROUNDS sets part a.'s rounds (default 5).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.grpc.pb.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"

namespace inplaced::bench {
namespace {

namespace api = ::inplaced::v1;
namespace criv1 = ::runtime::v1;
using ::inplaced::testing::ChildProcess;

constexpr double kTickSeconds = 0.1;  // the daemon's default --fast-poll-ms
constexpr int kDispatchPods = 200;
constexpr int kNodePods = 1000;
constexpr int kWatchStreams = 2000;
// The fake server's bulk pods live in this namespace, and a request acts on the pod of its own
// namespace.
constexpr char kNamespace[] = "bulk";
constexpr int64_t kLongMinStarted = 3600;  // requests stay waiting through the whole bench

// ---- processes and cleanup ----

std::string g_dir;                      // the run's temp dir
std::vector<ChildProcess*> g_children;  // live children, stopped by Die()
std::mutex g_children_mu;

void Log(const std::string& message) {
  std::fprintf(stderr, "[bench %s] %s\n",
               absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()).c_str(),
               message.c_str());
}

void Cleanup() {
  std::vector<ChildProcess*> children;
  {
    std::lock_guard<std::mutex> lock(g_children_mu);
    children.swap(g_children);
  }
  for (ChildProcess* child : children) child->Stop(SIGKILL, absl::Seconds(5)).IgnoreError();
  const char* keep = std::getenv("INPLACED_BENCH_KEEP");
  if (!g_dir.empty() && (keep == nullptr || std::string(keep) != "1")) {
    std::error_code ignored;
    std::filesystem::remove_all(g_dir, ignored);
  }
}

[[noreturn]] void Die(const std::string& message) {
  Log("FAILED: " + message);
  Cleanup();
  std::_Exit(1);
}

// A child process registered for Die().
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& stderr_path) {
    absl::StatusOr<ChildProcess> started = ChildProcess::Start(argv, stderr_path);
    if (!started.ok()) Die(absl::StrCat("start ", argv[0], ": ", started.status().ToString()));
    child_ = std::make_unique<ChildProcess>(*std::move(started));
    std::lock_guard<std::mutex> lock(g_children_mu);
    g_children.push_back(child_.get());
  }
  ~Child() { Stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return child_->pid(); }
  std::string WaitForLine(const std::string& needle, absl::Duration timeout) {
    absl::StatusOr<std::string> line = child_->WaitForLine(needle, timeout);
    if (!line.ok()) Die(absl::StrCat("waiting for \"", needle, "\": ", line.status().ToString()));
    return *line;
  }
  // SIGTERM, SIGKILL after 30 s; reaped. Idempotent.
  void Stop() {
    if (child_ == nullptr) return;
    child_->Stop(SIGTERM, absl::Seconds(30)).IgnoreError();
    std::lock_guard<std::mutex> lock(g_children_mu);
    g_children.erase(std::remove(g_children.begin(), g_children.end(), child_.get()),
                     g_children.end());
    child_.reset();
  }

 private:
  std::unique_ptr<ChildProcess> child_;
};

// ---- /proc ----

struct ProcSample {
  absl::Time at;
  int64_t cpu_ticks = 0;  // utime + stime
  int64_t rss_kb = 0;
  int64_t rss_anon_kb = 0;  // of rss_kb, private memory (heap, stacks); the rest is mostly
  int64_t rss_file_kb = 0;  // shared library pages
  int threads = 0;
};

ProcSample Sample(pid_t pid) {
  ProcSample sample;
  sample.at = absl::Now();
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) Die(absl::StrCat("cannot read /proc/", pid, "/stat"));
  // After "pid (comm)": field 3 (state) is index 0, utime (14) index 11, stime (15) index 12.
  std::vector<std::string> fields =
      absl::StrSplit(text.substr(paren + 2), ' ', absl::SkipWhitespace());
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    Die(absl::StrCat("cannot parse /proc/", pid, "/stat"));
  }
  sample.cpu_ticks = utime + stime;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() < 2) continue;
    if (parts[0] == "VmRSS:") (void)absl::SimpleAtoi(parts[1], &sample.rss_kb);
    if (parts[0] == "RssAnon:") (void)absl::SimpleAtoi(parts[1], &sample.rss_anon_kb);
    if (parts[0] == "RssFile:") (void)absl::SimpleAtoi(parts[1], &sample.rss_file_kb);
    if (parts[0] == "Threads:") (void)absl::SimpleAtoi(parts[1], &sample.threads);
  }
  return sample;
}

double CpuMillis(const ProcSample& from, const ProcSample& to) {
  return 1000.0 * static_cast<double>(to.cpu_ticks - from.cpu_ticks) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double CpuPercent(const ProcSample& from, const ProcSample& to) {
  return CpuMillis(from, to) / 10.0 / absl::ToDoubleSeconds(to.at - from.at);
}

std::string MiB(int64_t kb) { return absl::StrFormat("%.1f MiB", static_cast<double>(kb) / 1024); }

// ---- the fake CRI server ----

class FakeCri {
 public:
  FakeCri(const std::string& dir, int pods, const std::string& call_log)
      : socket_(dir + "/cri.sock"),
        child_({FAKE_CRI_SERVER_PATH, "--socket", socket_, "--pods", absl::StrCat(pods),
                "--containers-per-pod", "1", "--call-log", call_log},
               dir + "/fake_cri_server.log") {
    child_.WaitForLine("ready", absl::Seconds(60));
    stub_ = criv1::RuntimeService::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return child_.pid(); }
  void Stop() { child_.Stop(); }

  // RPCs received so far, by method (SIGUSR1: one "calls total=N Method=N ..." line on stdout).
  std::map<std::string, int64_t> Counts() {
    if (::kill(child_.pid(), SIGUSR1) != 0) Die("cannot signal fake_cri_server");
    const std::string line = child_.WaitForLine("calls total=", absl::Seconds(10));
    std::map<std::string, int64_t> counts;
    for (absl::string_view token : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(token, absl::MaxSplits('=', 1));
      int64_t n = 0;
      if (absl::SimpleAtoi(kv.second, &n)) counts[kv.first] = n;
    }
    return counts;
  }

  std::vector<criv1::Container> Containers() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    criv1::ListContainersRequest request;
    criv1::ListContainersResponse response;
    const grpc::Status status = stub_->ListContainers(&context, request, &response);
    if (!status.ok()) Die("ListContainers on the fake runtime: " + status.error_message());
    return {response.containers().begin(), response.containers().end()};
  }

  // pod name -> its running container.
  std::map<std::string, criv1::Container> RunningByPod() {
    std::map<std::string, criv1::Container> running;
    for (const criv1::Container& c : Containers()) {
      if (c.state() != criv1::CONTAINER_RUNNING) continue;
      const auto pod = c.labels().find("io.kubernetes.pod.name");
      if (pod != c.labels().end()) running[pod->second] = c;
    }
    return running;
  }

 private:
  std::string socket_;
  Child child_;
  std::unique_ptr<criv1::RuntimeService::Stub> stub_;
};

// ---- the daemon ----

class Daemon {
 public:
  Daemon(const std::string& dir, const std::string& cri_socket)
      : socket_(dir + "/inplaced.sock"),
        child_({INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket, "--socket", socket_,
                "--state-dir", dir + "/state", "--probe-address", "127.0.0.1:0",
                "--max-open-requests", "5000", "--max-watch-streams", "5000"},
               dir + "/inplaced.log") {
    const std::string probe = child_.WaitForLine("inplaced probe listening", absl::Seconds(60));
    const size_t at = probe.rfind("port=");
    if (at == std::string::npos || !absl::SimpleAtoi(probe.substr(at + 5), &probe_port_)) {
      Die("no probe port in: " + probe);
    }
    child_.WaitForLine("inplaced ready", absl::Seconds(60));
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    stub_ = api::RecreateService::NewStub(channel_);
  }
  pid_t pid() const { return child_.pid(); }
  const std::string& socket() const { return socket_; }
  api::RecreateService::Stub& stub() { return *stub_; }
  void Stop() { child_.Stop(); }

  // The value of the first /metrics sample line starting with `series` (-1: none).
  double Metric(const std::string& series) {
    absl::StatusOr<inplaced::testing::HttpResponse> response =
        inplaced::testing::HttpRequest(probe_port_, "/metrics");
    if (!response.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
      if (!absl::StartsWith(line, series)) continue;
      double value = -1;
      const size_t space = line.rfind(' ');
      if (space != absl::string_view::npos && absl::SimpleAtod(line.substr(space + 1), &value)) {
        return value;
      }
    }
    return -1;
  }

 private:
  std::string socket_;
  Child child_;
  int probe_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<api::RecreateService::Stub> stub_;
};

std::string Pod(int i) { return absl::StrFormat("pod-%05d", i); }

// What a controller knows of the pod's container when it asks (Kruise's manager gives it): with it
// the daemon need not read the node at Create. Empty: not given.
struct StatusContext {
  std::string pod_uid;
  std::string container_id;
  int restart_count = 0;
};

StatusContext ContextOf(const criv1::Container& c) {
  StatusContext context;
  context.container_id = c.id();
  const auto uid = c.labels().find("io.kubernetes.pod.uid");
  if (uid != c.labels().end()) context.pod_uid = uid->second;
  const auto restarts = c.annotations().find("io.kubernetes.container.restartCount");
  if (restarts != c.annotations().end())
    (void)absl::SimpleAtoi(restarts->second, &context.restart_count);
  return context;
}

api::CreateRecreateRequestRequest CreateRequest(const std::string& ns, const std::string& name,
                                                const std::string& pod, int64_t min_started,
                                                const StatusContext& status_context = {}) {
  api::CreateRecreateRequestRequest request;
  request.set_namespace_(ns);
  request.set_name(name);
  request.mutable_spec()->set_pod_name(pod);
  api::RecreateContainer& container = *request.mutable_spec()->add_containers();
  container.set_name("c0");  // no preStop
  if (!status_context.container_id.empty()) {
    request.mutable_spec()->set_pod_uid(status_context.pod_uid);
    container.mutable_status_context()->set_container_id(status_context.container_id);
    container.mutable_status_context()->set_restart_count(status_context.restart_count);
  }
  request.mutable_spec()->mutable_strategy()->set_min_started_seconds(min_started);
  return request;
}

grpc::Status Create(api::RecreateService::Stub& stub, const std::string& ns,
                    const std::string& name, const std::string& pod, int64_t min_started,
                    const StatusContext& status_context = {}) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  api::CreateRecreateRequestResponse response;
  return stub.CreateRecreateRequest(
      &context, CreateRequest(ns, name, pod, min_started, status_context), &response);
}

// Creates requests names[i] on pods[i] with up to 8 client threads (setup, not measured).
void CreateMany(api::RecreateService::Stub& stub, const std::string& ns,
                const std::vector<std::pair<std::string, std::string>>& name_pod,
                int64_t min_started, const StatusContext& status_context = {}) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < name_pod.size(); i = next++) {
        const grpc::Status status =
            Create(stub, ns, name_pod[i].first, name_pod[i].second, min_started, status_context);
        if (!status.ok()) {
          Die(absl::StrCat("Create ", ns, "/", name_pod[i].first, ": ", status.error_message()));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

std::vector<api::RecreateRequest> ListAll(api::RecreateService::Stub& stub, const std::string& ns) {
  std::vector<api::RecreateRequest> all;
  std::string token;
  do {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    api::ListRecreateRequestsRequest request;
    request.set_namespace_(ns);
    request.set_page_size(1000);
    request.set_page_token(token);
    api::ListRecreateRequestsResponse response;
    const grpc::Status status = stub.ListRecreateRequests(&context, request, &response);
    if (!status.ok()) Die("ListRecreateRequests: " + status.error_message());
    all.insert(all.end(), response.recreate_requests().begin(), response.recreate_requests().end());
    token = response.next_page_token();
  } while (!token.empty());
  return all;
}

void WaitUntil(const std::function<bool()>& done, absl::Duration timeout, const std::string& what) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline)
      Die(absl::StrCat("timed out (", absl::FormatDuration(timeout), ") waiting for ", what));
    absl::SleepFor(absl::Milliseconds(250));
  }
}

// The number in environment variable `name`, `fallback` when it is unset; anything but a number of
// at least `min` ends the run with an error naming the variable.
template <typename T>
T EnvNumber(const char* name, T fallback, T min) {
  const char* text = std::getenv(name);
  if (text == nullptr) return fallback;
  T value = fallback;
  bool parsed = false;
  if constexpr (std::is_floating_point_v<T>) {
    parsed = absl::SimpleAtod(text, &value);
  } else {
    parsed = absl::SimpleAtoi(text, &value);
  }
  if (!parsed || value < min) {
    Die(absl::StrCat(name, ": expected a number of at least ", min, ", got \"", text, "\""));
  }
  return value;
}

// ---- the table ----

struct Row {
  std::string metric, measured, target, met;
};
std::vector<Row> g_rows;

void AddRow(std::string metric, std::string measured, std::string target, std::string met) {
  Log(absl::StrCat(metric, ": ", measured, " (target ", target, ", met? ", met, ")"));
  g_rows.push_back({std::move(metric), std::move(measured), std::move(target), std::move(met)});
}

std::string YesNo(bool met) { return met ? "yes" : "**no**"; }

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank =
      static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// ---- a. dispatch ----

// How often `method` was called between two Counts() of the fake runtime.
int64_t Delta(const std::map<std::string, int64_t>& from, const std::map<std::string, int64_t>& to,
              const std::string& method) {
  const auto a = from.find(method);
  const auto b = to.find(method);
  return (b == to.end() ? 0 : b->second) - (a == from.end() ? 0 : a->second);
}

// One round of part a., on a fresh fake runtime and a fresh daemon.
struct DispatchRound {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double create_p50_ms = 0, create_p99_ms = 0;
  double daemon_cpu_ms = 0, runtime_cpu_ms = 0;
  int64_t list_pod_sandbox = 0, list_containers = 0, stop_container = 0;
};

DispatchRound RunDispatchRound(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string call_log = dir + "/calls.log";
  FakeCri fake(dir, kDispatchPods, call_log);
  Daemon daemon(dir, fake.socket());
  const std::map<std::string, criv1::Container> running = fake.RunningByPod();
  if (static_cast<int>(running.size()) != kDispatchPods) Die("fake runtime: wrong number of pods");

  // All 200 started at once from one thread and their answers stamped by one completion-queue
  // thread: 200 blocked client threads would compete with the daemon for the 2 cores and add their
  // wake-up latency to what is measured.
  struct Call {
    grpc::ClientContext context;
    api::CreateRecreateRequestResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<api::CreateRecreateRequestResponse>> reader;
  };
  std::vector<Call> calls(kDispatchPods);
  std::vector<api::CreateRecreateRequestRequest> requests;
  for (int i = 0; i < kDispatchPods; ++i) {
    requests.push_back(CreateRequest(kNamespace, absl::StrCat("r", i), Pod(i), 0));
  }
  grpc::CompletionQueue cq;
  const std::map<std::string, int64_t> calls_before = fake.Counts();
  const ProcSample daemon_before = Sample(daemon.pid());
  const ProcSample fake_before = Sample(fake.pid());
  const absl::Time started = absl::Now();
  for (int i = 0; i < kDispatchPods; ++i) {
    Call& call = calls[i];
    call.context.set_deadline(absl::ToChronoTime(started + absl::Seconds(120)));
    call.reader = daemon.stub().AsyncCreateRecreateRequest(&call.context, requests[i], &cq);
    call.reader->Finish(&call.response, &call.status, reinterpret_cast<void*>(i));
  }
  std::vector<absl::Time> answered(kDispatchPods);
  for (int n = 0; n < kDispatchPods; ++n) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) Die("dispatch: completion queue shut down");
    answered[reinterpret_cast<intptr_t>(tag)] = absl::Now();
  }
  const ProcSample daemon_after = Sample(daemon.pid());
  const ProcSample fake_after = Sample(fake.pid());
  cq.Shutdown();
  for (int i = 0; i < kDispatchPods; ++i) {
    if (!calls[i].status.ok()) Die("dispatch Create: " + calls[i].status.error_message());
  }

  DispatchRound round;
  const std::map<std::string, int64_t> calls_after = fake.Counts();
  round.list_pod_sandbox = Delta(calls_before, calls_after, "ListPodSandbox");
  round.list_containers = Delta(calls_before, calls_after, "ListContainers");
  round.stop_container = Delta(calls_before, calls_after, "StopContainer");
  round.daemon_cpu_ms = CpuMillis(daemon_before, daemon_after);
  round.runtime_cpu_ms = CpuMillis(fake_before, fake_after);
  // The call log's first StopContainer begin per container.
  std::map<std::string, absl::Time> stop_begin;
  WaitUntil(
      [&] {
        std::ifstream in(call_log);
        std::string line;
        while (std::getline(in, line)) {
          std::vector<std::string> f = absl::StrSplit(line, '\t');
          int64_t nanos = 0;
          if (f.size() < 5 || f[1] != "StopContainer" || f[2] != "begin") continue;
          if (!absl::SimpleAtoi(f[0], &nanos)) continue;
          stop_begin.emplace(f[3], absl::FromUnixNanos(nanos));
        }
        return static_cast<int>(stop_begin.size()) >= kDispatchPods;
      },
      absl::Seconds(120), "a StopContainer for each of the 200 recreates");

  std::vector<double> dispatch_ms, create_ms;
  // Per request, for INPLACED_BENCH_KEEP=1: container, Create answered, StopContainer begin (ns).
  std::ofstream times(dir + "/dispatch.tsv");
  for (int i = 0; i < kDispatchPods; ++i) {
    const std::string& id = running.at(Pod(i)).id();
    const auto stop = stop_begin.find(id);
    if (stop == stop_begin.end()) Die("no StopContainer for " + Pod(i));
    dispatch_ms.push_back(absl::ToDoubleMilliseconds(stop->second - answered[i]));
    create_ms.push_back(absl::ToDoubleMilliseconds(answered[i] - started));
    times << id << '\t' << absl::ToUnixNanos(answered[i]) << '\t' << absl::ToUnixNanos(stop->second)
          << '\n';
  }
  round.p50_ms = Percentile(dispatch_ms, 50);
  round.p99_ms = Percentile(dispatch_ms, 99);
  round.max_ms = Percentile(dispatch_ms, 100);
  round.create_p50_ms = Percentile(create_ms, 50);
  round.create_p99_ms = Percentile(create_ms, 99);
  Log(absl::StrFormat("dispatch round in %s: p50 %.1f ms, p99 %.1f ms (max %.1f ms)", dir,
                      round.p50_ms, round.p99_ms, round.max_ms));
  daemon.Stop();
  fake.Stop();
  return round;
}

// Part a. in rounds (INPLACED_BENCH_DISPATCH_ROUNDS, default 5), each on fresh processes: one
// burst's p99 is its 2nd-latest stop, which on a shared 2-core machine swings by several ms from
// one run to the next with the other load; each row is the median over the rounds, and the p99 row
// lists every round's value.
void DispatchBench() {
  std::vector<DispatchRound> rounds;
  for (int i = 0; i < EnvNumber("INPLACED_BENCH_DISPATCH_ROUNDS", 5, 1); ++i) {
    rounds.push_back(RunDispatchRound(absl::StrCat(g_dir, "/dispatch-", i + 1)));
  }
  // The median over the rounds of one field (a time or a call count).
  const auto median = [&](auto DispatchRound::*field) {
    std::vector<double> values;
    for (const DispatchRound& round : rounds) values.push_back(static_cast<double>(round.*field));
    return Percentile(values, 50);
  };
  const std::string of_rounds = absl::StrCat(", median of ", rounds.size(), " rounds");
  // What the burst cost each process: on 2 cores, CPU the daemon spends is CPU the runtime waits
  // for, which is where the dispatch tail comes from.
  const double daemon_cpu_ms = median(&DispatchRound::daemon_cpu_ms);
  AddRow("a. CPU until the last Create was answered" + of_rounds,
         absl::StrFormat("daemon %.0f ms (%.2f ms a Create), runtime %.0f ms", daemon_cpu_ms,
                         daemon_cpu_ms / kDispatchPods, median(&DispatchRound::runtime_cpu_ms)),
         "—", "—");
  AddRow("a. CRI calls the runtime served until the last Create was answered" + of_rounds,
         absl::StrFormat("ListPodSandbox %.0f, ListContainers %.0f, StopContainer %.0f",
                         median(&DispatchRound::list_pod_sandbox),
                         median(&DispatchRound::list_containers),
                         median(&DispatchRound::stop_container)),
         "—", "—");
  AddRow("a. dispatch p50, 200 pods (Create answered → StopContainer at runtime)" + of_rounds,
         absl::StrFormat("%.1f ms", median(&DispatchRound::p50_ms)), "—", "—");
  std::vector<std::string> each;
  double latest_ms = 0;
  for (const DispatchRound& round : rounds) {
    each.push_back(absl::StrFormat("%.1f", round.p99_ms));
    latest_ms = std::max(latest_ms, round.max_ms);
  }
  const double p99 = median(&DispatchRound::p99_ms);
  AddRow("a. dispatch p99, 200 pods" + of_rounds,
         absl::StrFormat("%.1f ms (rounds: %s ms; latest stop of all rounds %.1f ms)", p99,
                         absl::StrJoin(each, ", "), latest_ms),
         "≤ 5 ms", YesNo(p99 <= 5.0));
  AddRow("a. Create RPC answered, 200 at once: p50 / p99 (from the start)" + of_rounds,
         absl::StrFormat("%.1f / %.1f ms", median(&DispatchRound::create_p50_ms),
                         median(&DispatchRound::create_p99_ms)),
         "—", "—");
}

// ---- b./c. calls, CPU, RSS ----

struct Window {
  double seconds = 0;
  int64_t list_calls = 0;
  int64_t status_calls = 0;
  int64_t all_calls = 0;
  int new_instances = 0;
  double cpu_percent = 0;
  ProcSample end;
};

double WindowSeconds() { return EnvNumber("INPLACED_BENCH_WINDOW_S", 10.0, 1.0); }

// The daemon's CPU and the CRI calls the fake runtime received over one window; the container
// instances that appeared meanwhile (read outside the window: our own calls are not counted).
// INPLACED_BENCH_PERF=1: `perf record -g` of the daemon over each measurement window, into
// <temp dir>/perf-<n>.data (with INPLACED_BENCH_KEEP=1 to read them with `perf report -i`). Off by
// default: perf's sampling costs the daemon CPU.
std::unique_ptr<Child> StartProfile(pid_t daemon_pid) {
  const char* perf = std::getenv("INPLACED_BENCH_PERF");
  if (perf == nullptr || std::string(perf) != "1") return nullptr;
  static int profiles = 0;
  const std::string out = absl::StrCat(g_dir, "/perf-", ++profiles, ".data");
  Log(absl::StrCat("perf record of the window into ", out));
  return std::make_unique<Child>(std::vector<std::string>{"/usr/bin/perf", "record", "-g", "-o",
                                                          out, "-p", absl::StrCat(daemon_pid)},
                                 out + ".log");
}

Window Measure(FakeCri& fake, Daemon& daemon) {
  std::set<std::string> before_ids;
  for (const criv1::Container& c : fake.Containers()) before_ids.insert(c.id());
  const std::map<std::string, int64_t> c1 = fake.Counts();
  std::unique_ptr<Child> profile = StartProfile(daemon.pid());
  const ProcSample s1 = Sample(daemon.pid());
  absl::SleepFor(absl::Seconds(WindowSeconds()));
  const ProcSample s2 = Sample(daemon.pid());
  profile.reset();  // perf writes its file on SIGTERM
  const std::map<std::string, int64_t> c2 = fake.Counts();
  Window w;
  for (const criv1::Container& c : fake.Containers()) w.new_instances += !before_ids.count(c.id());
  w.seconds = absl::ToDoubleSeconds(s2.at - s1.at);
  w.list_calls = Delta(c1, c2, "ListContainers") + Delta(c1, c2, "ListPodSandbox");
  w.status_calls = Delta(c1, c2, "ContainerStatus");
  w.all_calls = Delta(c1, c2, "total");
  w.cpu_percent = CpuPercent(s1, s2);
  w.end = s2;
  return w;
}

void ReportWindow(const std::string& state, int open, const Window& w) {
  const double ticks = w.seconds / kTickSeconds;
  const double list_per_tick = static_cast<double>(w.list_calls) / ticks;
  const double extra_status =
      static_cast<double>(std::max<int64_t>(0, w.status_calls - w.new_instances));
  AddRow(absl::StrCat("b. CRI calls, ", open, " open, ", state),
         absl::StrFormat("%.2f list/tick, %.2f ContainerStatus/tick (%d new instances), %.0f "
                         "calls/s in all",
                         list_per_tick, static_cast<double>(w.status_calls) / ticks,
                         w.new_instances, static_cast<double>(w.all_calls) / w.seconds),
         "≤ 2 list/tick + 1 ContainerStatus per new instance",
         YesNo(list_per_tick <= 2.0 && extra_status == 0));
  AddRow(absl::StrCat("b. CPU, ", open, " open, ", state),
         absl::StrFormat("%.2f %% of a core", w.cpu_percent), "≤ 1 %", YesNo(w.cpu_percent <= 1.0));
}

std::vector<std::pair<std::string, std::string>> Range(const std::string& prefix, int from, int to,
                                                       const std::function<std::string(int)>& pod) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = from; i < to; ++i) out.emplace_back(absl::StrCat(prefix, i), pod(i));
  return out;
}

bool AllWaitingMinStarted(api::RecreateService::Stub& stub, const std::string& ns, int n) {
  const std::vector<api::RecreateRequest> all = ListAll(stub, ns);
  if (static_cast<int>(all.size()) != n) return false;
  for (const api::RecreateRequest& r : all) {
    if (r.status().phase() != api::RECREATE_PHASE_RECREATING) return false;
    if (r.status().container_states_size() != 1) return false;
    const api::ContainerRecreateState& c = r.status().container_states(0);
    if (c.new_container_id().empty() || c.phase() != api::CONTAINER_RECREATE_PHASE_RECREATING) {
      return false;
    }
  }
  return true;
}

// ---- d. watch streams ----

struct WatchStream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncReader<api::WatchRecreateRequestsResponse>> reader;
  api::WatchRecreateRequestsResponse response;
  grpc::Status status;
  enum { kStarting, kReading, kFinishing, kDone } state = kStarting;
  bool synced = false;
};

// kWatchStreams WatchRecreateRequests streams opened on the server at `socket` (process `pid`),
// held open while the server is sampled, then cancelled and drained. Several connections, so that
// no HTTP/2 stream limit of one connection decides the outcome.
class OpenWatchStreams {
 public:
  OpenWatchStreams(const std::string& socket, pid_t pid) : before_(Sample(pid)) {
    for (int i = 0; i < 8; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      stubs_.push_back(api::RecreateService::NewStub(
          grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args)));
    }
    pump_ = std::thread([this] { Pump(); });
    api::WatchRecreateRequestsRequest request;
    request.set_namespace_("watch-bench");  // no requests there: each stream gets SYNCED only
    for (int i = 0; i < kWatchStreams; ++i) {
      auto s = std::make_unique<WatchStream>();
      s->reader =
          stubs_[i % stubs_.size()]->PrepareAsyncWatchRecreateRequests(&s->context, request, &cq_);
      s->reader->StartCall(s.get());
      streams_.push_back(std::move(s));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (synced_ + done_ < kWatchStreams && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    absl::SleepFor(absl::Seconds(2));  // settle
    with_ = Sample(pid);
  }
  ~OpenWatchStreams() {
    for (const auto& s : streams_) s->context.TryCancel();
    const absl::Time drain = absl::Now() + absl::Seconds(30);
    while (done_ < kWatchStreams && absl::Now() < drain) absl::SleepFor(absl::Milliseconds(50));
    if (done_ < kWatchStreams) Die("watch streams did not end after cancel");
    cq_.Shutdown();
    pump_.join();
  }

  int synced() const { return synced_; }
  // Streams that ended without SYNCED, and the code of one of them (" (e.g. code N)").
  std::pair<int, std::string> Refused() const {
    int refused = 0;
    std::string example;
    for (const auto& s : streams_) {
      if (s->state == WatchStream::kDone && !s->synced) {
        ++refused;
        if (example.empty()) example = absl::StrCat(" (e.g. code ", s->status.error_code(), ")");
      }
    }
    return {refused, example};
  }
  const ProcSample& before() const { return before_; }
  const ProcSample& with() const { return with_; }

 private:
  void Pump() {
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
      auto* s = static_cast<WatchStream*>(tag);
      switch (s->state) {
        case WatchStream::kStarting:
        case WatchStream::kReading:
          if (s->state == WatchStream::kReading && ok &&
              s->response.type() == api::WATCH_EVENT_TYPE_SYNCED && !s->synced) {
            s->synced = true;
            ++synced_;
          }
          if (ok) {
            s->state = WatchStream::kReading;
            s->reader->Read(&s->response, s);
          } else {
            s->state = WatchStream::kFinishing;
            s->reader->Finish(&s->status, s);
          }
          break;
        case WatchStream::kFinishing:
          s->state = WatchStream::kDone;
          ++done_;
          break;
        case WatchStream::kDone:
          break;
      }
    }
  }

  const ProcSample before_;
  ProcSample with_;
  std::vector<std::unique_ptr<api::RecreateService::Stub>> stubs_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<WatchStream>> streams_;
  std::atomic<int> synced_{0}, done_{0};
  std::thread pump_;
};

// What one open stream costs a process: its RSS growth over kWatchStreams, in KiB.
double KiBPerStream(const OpenWatchStreams& open) {
  return static_cast<double>(open.with().rss_kb - open.before().rss_kb) / kWatchStreams;
}

// gRPC's own per-stream cost: a fresh tests/bench/watch_floor_server.cc opening kWatchStreams
// streams, like the fresh daemon of WatchBench (both count the heap a process grows the first
// time).
double FloorKiBPerStream(const std::string& dir) {
  const std::string socket = dir + "/floor.sock";
  Child floor({WATCH_FLOOR_SERVER_PATH, "--socket", socket}, dir + "/watch_floor_server.log");
  floor.WaitForLine("ready", absl::Seconds(30));
  double per_stream = 0;
  {
    OpenWatchStreams open(socket, floor.pid());
    if (open.synced() != kWatchStreams) Die("watch_floor_server: not every stream got SYNCED");
    per_stream = KiBPerStream(open);
  }
  floor.Stop();
  return per_stream;
}

// Part d. on a fresh daemon (no request), against the floor measured the same way.
void WatchBench(Daemon& daemon, double floor_kib_per_stream) {
  OpenWatchStreams open(daemon.socket(), daemon.pid());
  const double gauge = daemon.Metric("inplaced_watch_streams{api=\"recreate\"}");
  const auto [refused, refusal] = open.Refused();
  AddRow("d. Watch streams accepted (SYNCED received)",
         absl::StrFormat("%d / %d; %d refused%s; inplaced_watch_streams gauge %.0f", open.synced(),
                         kWatchStreams, refused, refusal, gauge),
         "all 2,000 (max_watch_streams raised)", YesNo(open.synced() == kWatchStreams));
  const ProcSample& before = open.before();
  const ProcSample& with = open.with();
  const int grown = with.threads - before.threads;
  AddRow("d. daemon threads: before → 2,000 streams open",
         absl::StrFormat("%d → %d (+%d)", before.threads, with.threads, grown),
         "no thread per stream (growth < 200)", YesNo(grown < kWatchStreams / 10));
  const double per_stream = KiBPerStream(open);
  AddRow("d. daemon RSS: before → 2,000 streams open",
         absl::StrFormat("%s → %s (+%s, %.1f KiB a stream)", MiB(before.rss_kb), MiB(with.rss_kb),
                         MiB(with.rss_kb - before.rss_kb), per_stream),
         "—", "—");
  AddRow("d. of the growth: private (RssAnon) / file pages (RssFile)",
         absl::StrFormat("+%s / +%s", MiB(with.rss_anon_kb - before.rss_anon_kb),
                         MiB(with.rss_file_kb - before.rss_file_kb)),
         "—", "—");
  AddRow(
      absl::StrFormat("d. RSS a stream above gRPC's own (a fresh bare callback server holding the "
                      "same streams, same run: %.1f KiB a stream)",
                      floor_kib_per_stream),
      absl::StrFormat("%.1f KiB", per_stream - floor_kib_per_stream), "≤ 2 KiB",
      YesNo(per_stream - floor_kib_per_stream <= 2.0));
}

// ---- b./c./d. on a node with 1,000 pods ----

void NodeBench() {
  const std::string dir = g_dir + "/node";
  std::filesystem::create_directories(dir + "/d1");
  std::filesystem::create_directories(dir + "/d2");
  FakeCri fake(dir, kNodePods, dir + "/calls.log");

  {
    Daemon daemon(dir + "/d1", fake.socket());
    absl::SleepFor(absl::Seconds(3));  // settle after start
    const Window idle = Measure(fake, daemon);
    AddRow("c. RSS idle, 1,000 containers on the node", MiB(idle.end.rss_kb), "≤ 24 MiB",
           YesNo(idle.end.rss_kb <= 24 * 1024));
    AddRow("c. of it: private (RssAnon) / file pages, mostly shared libraries (RssFile)",
           absl::StrFormat("%s / %s", MiB(idle.end.rss_anon_kb), MiB(idle.end.rss_file_kb)), "—",
           "—");
    AddRow("b. idle (no request), 1,000 containers",
           absl::StrFormat("%.0f CRI calls/s, %.2f %% of a core",
                           static_cast<double>(idle.all_calls) / idle.seconds, idle.cpu_percent),
           "—", "—");

    int created = 0;
    for (int n : {1, 100, kNodePods}) {
      Log(absl::StrCat("min_started: creating requests up to ", n));
      CreateMany(daemon.stub(), kNamespace, Range("m", created, n, Pod), kLongMinStarted);
      created = n;
      WaitUntil([&] { return AllWaitingMinStarted(daemon.stub(), kNamespace, n); },
                absl::Seconds(240), absl::StrCat(n, " requests waiting on min_started_seconds"));
      absl::SleepFor(absl::Seconds(1));
      const Window w = Measure(fake, daemon);
      ReportWindow("waiting on minStartedSeconds", n, w);
      if (n == kNodePods) {
        AddRow("c. RSS loaded, 1,000 open requests", MiB(w.end.rss_kb), "≤ 64 MiB",
               YesNo(w.end.rss_kb <= 64 * 1024));
      }
    }
    daemon.Stop();
  }

  {
    // A fresh daemon (own state): one running request on pod-00000 waits on min_started_seconds,
    // the measured ones are queued behind it.
    Daemon daemon(dir + "/d2", fake.socket());
    CreateMany(daemon.stub(), kNamespace, {{"head", Pod(0)}}, kLongMinStarted);
    WaitUntil([&] { return AllWaitingMinStarted(daemon.stub(), kNamespace, 1); }, absl::Seconds(60),
              "the head request waiting on min_started_seconds");
    // The queued requests carry the status context (as Kruise's manager gives it): the daemon need
    // not read the node for each Create, which keeps the bench short.
    const StatusContext context = ContextOf(fake.RunningByPod().at(Pod(0)));
    int created = 0;
    for (int n : {1, 100, kNodePods}) {
      Log(absl::StrCat("pending: queueing requests up to ", n));
      CreateMany(daemon.stub(), kNamespace, Range("q", created, n, [](int) { return Pod(0); }),
                 kLongMinStarted, context);
      created = n;
      WaitUntil(
          [&] {
            int pending = 0;
            for (const api::RecreateRequest& r : ListAll(daemon.stub(), kNamespace)) {
              pending += r.status().phase() == api::RECREATE_PHASE_PENDING;
            }
            return pending == n;
          },
          absl::Seconds(120), absl::StrCat(n, " requests PENDING"));
      absl::SleepFor(absl::Seconds(1));
      ReportWindow("queued behind a running request of the pod (+1 running)", n,
                   Measure(fake, daemon));
    }
    daemon.Stop();
  }

  {
    Log("watch streams: gRPC's floor, then a fresh daemon");
    std::filesystem::create_directories(dir + "/d3");
    const double floor_kib_per_stream = FloorKiBPerStream(dir);
    Daemon daemon(dir + "/d3", fake.socket());
    absl::SleepFor(absl::Seconds(3));  // settle after start, like c.
    WatchBench(daemon, floor_kib_per_stream);
    daemon.Stop();
  }
  fake.Stop();
}

std::string Cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? '/' : c;
  return out;
}

void PrintTable(absl::Duration took) {
  // By section (a. to d.), in measurement order within one.
  std::stable_sort(g_rows.begin(), g_rows.end(), [](const Row& x, const Row& y) {
    return x.metric.substr(0, 2) < y.metric.substr(0, 2);
  });
  std::printf("\n| metric | measured | target | met? |\n| --- | --- | --- | --- |\n");
  for (const Row& row : g_rows) {
    std::printf("| %s | %s | %s | %s |\n", Cell(row.metric).c_str(), Cell(row.measured).c_str(),
                Cell(row.target).c_str(), Cell(row.met).c_str());
  }
  std::printf(
      "\n%d cores, load average at the end: %s; a tick is 100 ms (the daemon's default "
      "--fast-poll-ms); windows of %.0f s; bench took %.0f s\n",
      static_cast<int>(std::thread::hardware_concurrency()),
      [] {
        std::ifstream in("/proc/loadavg");
        std::string a, b, c;
        in >> a >> b >> c;
        return absl::StrCat(a, " ", b, " ", c);
      }()
          .c_str(),
      WindowSeconds(), absl::ToDoubleSeconds(took));
}

}  // namespace
}  // namespace inplaced::bench

int main() {
  using namespace inplaced::bench;
  char pattern[] = "/tmp/ipd-bench-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) Die("mkdtemp failed");
  g_dir = pattern;
  const absl::Time start = absl::Now();
  Log(absl::StrCat("inplaced ", INPLACED_PATH, " against ", FAKE_CRI_SERVER_PATH, " in ", g_dir));
  // INPLACED_BENCH_ONLY=dispatch|node runs one part (while working on it).
  const char* only_env = std::getenv("INPLACED_BENCH_ONLY");
  const std::string only = only_env == nullptr ? "" : only_env;
  if (!only.empty() && only != "dispatch" && only != "node") {
    Die("INPLACED_BENCH_ONLY: expected dispatch or node, got " + only);
  }
  if (only.empty() || only == "dispatch") DispatchBench();
  if (only.empty() || only == "node") NodeBench();
  PrintTable(absl::Now() - start);
  Cleanup();
  return 0;
}
