#include "daemon/daemon.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/build_info.h"
#include "common/real_clock.h"
#include "cri/connect.h"
#include "cri/content_store.h"
#include "cri/grpc_runtime.h"
#include "cri/instrumented_runtime.h"
#include "daemon/node_name.h"
#include "daemon/prestop/cri_prestop_runner.h"
#include "daemon/probe_state.h"
#include "daemon/recreate/recreate_engine.h"
#include "daemon/recreate/watch_hub.h"
#include "daemon/server/control_server.h"
#include "daemon/server/health_service.h"
#include "daemon/server/node_info.h"
#include "daemon/server/node_service.h"
#include "daemon/server/nodeimage_service.h"
#include "daemon/server/recreate_service.h"
#include "daemon/server/serving_state.h"
#include "daemon/socket_group.h"
#include "daemon/tcp_settings.h"
#include "imagepull/disk_space_precheck.h"
#include "imagepull/free_space_check.h"
#include "imagepull/pull_progress_tracker.h"
#include "imagepull/puller.h"
#include "imagepull/registry/http_curl_client.h"
#include "imagepull/registry/registry_client.h"
#include "metrics/probe_server.h"
#include "metrics/prometheus_metrics.h"
#include "store/sqlite_store.h"
#include "systemd/heartbeat.h"

namespace inplaced::daemon {
namespace {

// How long running calls may finish when the daemon stops, before the server cancels them.
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

// The resync poll, never shorter than the slow poll (a slow poll set above resync_poll_ms's
// default raises it rather than refusing the start).
absl::Duration ResyncPoll(const DaemonOptions& options) {
  return absl::Milliseconds(std::max(options.resync_poll_ms, options.slow_poll_ms));
}

absl::Status MakeStateDir(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
    return absl::OkStatus();
  }
  // The state holds every request (pod names, hook commands): owner only.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create state dir ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void Send(systemd::Notifier& notifier, absl::string_view state) {
  if (absl::Status sent = notifier.Notify(state); !sent.ok()) {
    spdlog::warn("systemd_notify_failed error=\"{}\"", sent.ToString());
  }
}

// The STATUS= line `systemctl status` shows.
std::string ServiceStatus(RecreateEngine& engine, imagepull::ImagePuller& puller) {
  return absl::StrCat("serving: ", engine.LastPulse().open_requests, " open recreate requests, ",
                      puller.RunningPulls(), " image pulls running");
}

}  // namespace

// Declared in dependency order: destroyed in reverse, so nothing outlives what it points to.
struct Daemon::Parts {
  DaemonOptions options;
  // Everything that reports metrics holds a reference to it: declared first, destroyed last.
  std::unique_ptr<metrics::PrometheusMetrics> metrics;
  ProbeState observed;
  // The engine's longest legitimate gap between two ticks (systemd watchdog and /readyz).
  absl::Duration max_tick_age = absl::Minutes(1);
  ServingState state;
  std::unique_ptr<RecreateServiceImpl> recreate_service;
  std::unique_ptr<NodeImageServiceImpl> nodeimage_service;
  std::unique_ptr<NodeServiceImpl> node_service;
  std::unique_ptr<HealthServiceImpl> health_service;
  std::unique_ptr<ControlServer> server;  // stopped in Stop(), before the engine
  RealClock clock;
  cri::Connection runtime;
  // The runtime every part uses: `runtime` with each call's latency and code reported.
  std::unique_ptr<cri::InstrumentedRuntime> instrumented;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<CriPreStopRunner> prestop;
  WatchHub hub;
  std::unique_ptr<RecreateEngine> engine;
  // Image pre-pull: the registry client and disk precheck feed the puller's precheck.
  std::unique_ptr<imagepull::CurlHttpClient> http;
  std::unique_ptr<imagepull::RegistryClient> registry;
  std::unique_ptr<imagepull::FreeSpaceCheck> disk;
  std::unique_ptr<imagepull::DiskSpacePrecheck> precheck;
  // Byte progress: containerd's content service on the CRI socket, matched through the registry.
  std::unique_ptr<cri::GrpcContentStore> content;
  std::unique_ptr<imagepull::PullProgressTracker> progress;
  std::unique_ptr<imagepull::ImagePuller> puller;  // destroyed before the store and the runtime
  std::unique_ptr<NodeInfoReporter> node_info;     // reads the runtime and the engine
  systemd::Notifier* notifier = nullptr;
  std::unique_ptr<systemd::Heartbeat> heartbeat;  // reads the engine and the puller
  std::unique_ptr<metrics::ProbeServer> probe;    // reads `observed`: stopped first

  ~Parts() {
    probe.reset();
    heartbeat.reset();
    // The server's handlers reference the engine and the puller: stop it first.
    if (nodeimage_service != nullptr) nodeimage_service->StopStreams();
    if (server != nullptr) server->Shutdown(absl::ZeroDuration());
    puller.reset();
    node_info.reset();
    if (engine != nullptr) engine->Shutdown();
    hub.Shutdown();
  }
};

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    const DaemonOptions& options, systemd::Notifier& notifier,
    const std::function<void(int probe_port)>& on_probe_listening) {
  auto parts = std::make_unique<Parts>();
  parts->options = options;
  parts->notifier = &notifier;
  cri::ConnectOptions connect;
  connect.endpoint = options.runtime_endpoint;
  connect.discovery_root = options.discovery_root;
  // A live engine ticks at least every resync poll (its longest), and a tick may wait on the runtime
  // for up to one call's deadline: only a loop silent for longer is wedged.
  parts->max_tick_age = ResyncPoll(options) + connect.request_timeout;
  parts->metrics = std::make_unique<metrics::PrometheusMetrics>(INPLACED_VERSION);
  if (absl::Status probe = StartProbe(*parts, on_probe_listening); !probe.ok()) return probe;
  std::optional<gid_t> socket_gid;
  if (!options.socket_group.empty()) {
    absl::StatusOr<gid_t> gid = ResolveGroup(options.socket_group);
    if (!gid.ok()) {
      return absl::Status(gid.status().code(),
                          absl::StrCat("control API socket: ", gid.status().message()));
    }
    socket_gid = *gid;
  }
  parts->state.SetMaxWatchStreams(options.max_watch_streams);
  parts->recreate_service = std::make_unique<RecreateServiceImpl>(parts->state);
  parts->nodeimage_service = std::make_unique<NodeImageServiceImpl>(parts->state);
  parts->node_service = std::make_unique<NodeServiceImpl>(parts->state);
  parts->health_service = std::make_unique<HealthServiceImpl>(
      parts->state,
      std::vector<std::string>{std::string(::inplaced::v1::RecreateService::service_full_name()),
                               std::string(::inplaced::v1::NodeImageService::service_full_name()),
                               std::string(::inplaced::v1::NodeService::service_full_name())});
  absl::StatusOr<std::optional<TcpListenerConfig>> tcp = LoadTcpListener(options);
  if (!tcp.ok()) {
    return absl::Status(tcp.status().code(),
                        absl::StrCat("control API TCP listener: ", tcp.status().message()));
  }
  if (tcp->has_value() && !(*tcp)->tls()) {
    spdlog::warn("control_tcp_insecure address={} (tcp_insecure: no TLS, no client identity)",
                 (*tcp)->address);
  }
  absl::StatusOr<std::unique_ptr<ControlServer>> server =
      ControlServer::Start(options.socket_path,
                           {parts->recreate_service.get(), parts->nodeimage_service.get(),
                            parts->node_service.get(), parts->health_service.get()},
                           *tcp);
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("control API listener: ", server.status().message()));
  }
  parts->server = *std::move(server);
  if (socket_gid.has_value()) {
    if (absl::Status shared = ShareSocketWithGroup(options.socket_path, *socket_gid);
        !shared.ok()) {
      return absl::Status(shared.code(),
                          absl::StrCat("control API socket group: ", shared.message()));
    }
    spdlog::info("control_socket_group group={} gid={}", options.socket_group, *socket_gid);
  }

  absl::StatusOr<cri::Connection> runtime = cri::Connect(connect);
  if (!runtime.ok()) {
    return absl::Status(runtime.status().code(),
                        absl::StrCat("container runtime: ", runtime.status().message()));
  }
  parts->runtime = *std::move(runtime);
  parts->instrumented = std::make_unique<cri::InstrumentedRuntime>(*parts->runtime.runtime,
                                                                   *parts->metrics, parts->clock);
  {
    absl::MutexLock lock(&parts->observed.mu);
    parts->observed.runtime_answered = true;
    parts->observed.runtime_version = absl::StrCat(parts->runtime.version.runtime_name(), " ",
                                                   parts->runtime.version.runtime_version());
  }
  spdlog::info("runtime_connected endpoint={} runtime={} version={}", parts->runtime.endpoint,
               parts->runtime.version.runtime_name(), parts->runtime.version.runtime_version());

  if (absl::Status made = MakeStateDir(options.state_dir); !made.ok()) return made;
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> store =
      store::SqliteStore::Open(options.StorePath());
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("state store: ", store.status().message()));
  }
  parts->store = *std::move(store);
  {
    absl::MutexLock lock(&parts->observed.mu);
    parts->observed.store_open = true;
  }

  parts->prestop = std::make_unique<CriPreStopRunner>(*parts->instrumented, parts->clock);
  RecreateEngineOptions engine_options;
  engine_options.limits.max_containers = options.max_containers;
  engine_options.max_open_requests = options.max_open_requests;
  engine_options.fast_poll = absl::Milliseconds(options.fast_poll_ms);
  engine_options.slow_poll = absl::Milliseconds(options.slow_poll_ms);
  engine_options.resync_poll = ResyncPoll(options);
  engine_options.use_event_stream = options.use_event_stream;
  engine_options.metrics = parts->metrics.get();
  engine_options.shutdown_hook_timeout = absl::Milliseconds(options.shutdown_hook_timeout_ms);
  engine_options.max_concurrent_kills = options.max_concurrent_kills;
  absl::StatusOr<std::unique_ptr<RecreateEngine>> engine =
      RecreateEngine::Create(*parts->instrumented, parts->clock, *parts->store, *parts->prestop,
                             parts->hub, engine_options);
  if (!engine.ok()) {
    return absl::Status(engine.status().code(),
                        absl::StrCat("recreate engine: ", engine.status().message()));
  }
  parts->engine = *std::move(engine);
  parts->engine->Start();

  if (absl::Status pre_pull = StartPuller(*parts); !pre_pull.ok()) return pre_pull;

  NodeInfoOptions node_info;
  node_info.node_name = ResolveNodeName(options.node_name);
  spdlog::info("node_info node_name={} version=\"{}\"", node_info.node_name, BuildVersionText());
  node_info.runtime_endpoint = parts->runtime.endpoint;
  node_info.runtime_version = parts->runtime.version;
  // Byte progress needs containerd's content service on the runtime's socket: asked once here
  // (CRI-O answers UNIMPLEMENTED; pulls then report phases only).
  const absl::Status content = parts->content->ListIngests().status();
  node_info.byte_progress = content.code() != absl::StatusCode::kUnimplemented;
  RecreateEngine* engine_ptr = parts->engine.get();
  parts->node_info = std::make_unique<NodeInfoReporter>(
      *parts->runtime.runtime, [engine_ptr] { return engine_ptr->event_stream_state(); },
      std::move(node_info));

  parts->recreate_service->SetManager(parts->engine.get());
  parts->node_service->SetReporter(parts->node_info.get());
  parts->nodeimage_service->SetManager(parts->puller.get());
  parts->state.SetServing();
  {
    absl::MutexLock lock(&parts->observed.mu);
    parts->observed.engine = parts->engine.get();
    parts->observed.hub = &parts->hub;
    parts->observed.puller = parts->puller.get();
  }
  StartHeartbeat(*parts);
  return std::unique_ptr<Daemon>(new Daemon(std::move(parts)));
}

// systemd: READY=1 now that the socket serves and the runtime answered Version, then the heartbeat
// (STATUS lines, and WATCHDOG=1 while the engine ticks).
void Daemon::StartHeartbeat(Parts& parts) {
  Send(*parts.notifier, "READY=1");
  systemd::HeartbeatOptions heartbeat;
  heartbeat.watchdog_timeout = systemd::WatchdogTimeoutFromEnvironment();
  heartbeat.max_tick_age = parts.max_tick_age;
  RecreateEngine* engine = parts.engine.get();
  imagepull::ImagePuller* puller = parts.puller.get();
  parts.heartbeat = std::make_unique<systemd::Heartbeat>(
      *parts.notifier, parts.clock, heartbeat, [engine] { return engine->LastPulse().last_tick; },
      [engine, puller] { return ServiceStatus(*engine, *puller); });
  parts.heartbeat->Start();
  if (heartbeat.watchdog_timeout.has_value()) {
    spdlog::info("systemd_watchdog timeout_ms={} ping_period_ms={} max_tick_age_ms={}",
                 absl::ToInt64Milliseconds(*heartbeat.watchdog_timeout),
                 absl::ToInt64Milliseconds(parts.heartbeat->period()),
                 absl::ToInt64Milliseconds(heartbeat.max_tick_age));
  }
}

// The image puller over the runtime and the store, with the disk-space precheck (registry manifest
// size vs the image filesystem's free space). The puller reloads the stored NodeImage and resumes
// its unfinished pulls.
absl::Status Daemon::StartPuller(Parts& parts) {
  const DaemonOptions& options = parts.options;
  parts.http = std::make_unique<imagepull::CurlHttpClient>();
  imagepull::RegistryClientOptions registry_options;
  registry_options.insecure_registries = options.insecure_registries;
  parts.registry = std::make_unique<imagepull::RegistryClient>(*parts.http, registry_options);
  imagepull::FreeSpaceCheckOptions disk_options;
  disk_options.default_path = options.image_fs_path;
  disk_options.reserve_percent = options.image_fs_reserve_percent;
  disk_options.assume_available_bytes = options.image_fs_assume_free_bytes;
  if (options.image_fs_assume_free_bytes.has_value()) {
    spdlog::warn("image_fs_assume_free_bytes bytes={} (testing only: statvfs is not asked)",
                 *options.image_fs_assume_free_bytes);
  }
  parts.disk = std::make_unique<imagepull::FreeSpaceCheck>(disk_options);
  parts.precheck = std::make_unique<imagepull::DiskSpacePrecheck>(*parts.registry,
                                                                  *parts.instrumented, *parts.disk);
  // Its own channel on the runtime's socket: containerd serves its content service there; other
  // runtimes answer UNIMPLEMENTED and the pulls report phases only.
  parts.content = std::make_unique<cri::GrpcContentStore>(
      cri::CreateCriChannel(parts.runtime.endpoint, 4 * 1024 * 1024));
  parts.progress = std::make_unique<imagepull::PullProgressTracker>(*parts.content, *parts.registry,
                                                                    parts.clock);
  imagepull::PullerOptions puller_options;
  puller_options.max_concurrent_pulls = options.max_concurrent_pulls;
  puller_options.metrics = parts.metrics.get();
  puller_options.progress = parts.progress.get();
  absl::StatusOr<std::unique_ptr<imagepull::ImagePuller>> puller = imagepull::ImagePuller::Create(
      *parts.instrumented, parts.clock, *parts.store, parts.precheck.get(), puller_options);
  if (!puller.ok()) {
    return absl::Status(puller.status().code(),
                        absl::StrCat("image puller: ", puller.status().message()));
  }
  parts.puller = *std::move(puller);
  parts.puller->Start();
  spdlog::info("image_puller_started max_concurrent_pulls={} image_fs_path={} reserve_percent={}",
               options.max_concurrent_pulls, options.image_fs_path,
               options.image_fs_reserve_percent);
  return absl::OkStatus();
}

// Step 0: the probe/metrics port, before anything else, so that a probe sees a live process that is
// not ready yet while the runtime is waited for.
absl::Status Daemon::StartProbe(Parts& parts,
                                const std::function<void(int probe_port)>& on_listening) {
  Parts* p = &parts;
  parts.metrics->SetStateSource([p] { return ObservedState(p->observed, p->clock); });
  if (parts.options.probe_address.empty()) {
    spdlog::info("probe_port disabled");
    return absl::OkStatus();
  }
  metrics::ProbeHandlers handlers;
  handlers.readyz = [p] { return Readiness(p->observed, p->state, p->clock, p->max_tick_age); };
  handlers.metrics = [p] { return p->metrics->Scrape(); };
  absl::StatusOr<std::unique_ptr<metrics::ProbeServer>> probe =
      metrics::ProbeServer::Start(parts.options.probe_address, std::move(handlers));
  if (!probe.ok()) {
    return absl::Status(probe.status().code(), absl::StrCat("probe_address (--probe-address): ",
                                                            probe.status().message()));
  }
  parts.probe = *std::move(probe);
  spdlog::info("probe_port_listening address={} port={}", parts.options.probe_address,
               parts.probe->port());
  if (on_listening) on_listening(parts.probe->port());
  return absl::OkStatus();
}

Daemon::Daemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Daemon::~Daemon() { Stop(); }

void Daemon::Stop() {
  if (stopped_) return;
  stopped_ = true;
  spdlog::info("inplaced stopping");
  {
    // /readyz answers 503 from now on, and /metrics stops reading the engines before they go.
    absl::MutexLock lock(&parts_->observed.mu);
    parts_->observed.stopping = true;
    parts_->observed.engine = nullptr;
    parts_->observed.hub = nullptr;
    parts_->observed.puller = nullptr;
  }
  // The heartbeat ends first: nothing follows STOPPING=1.
  parts_->heartbeat.reset();
  Send(*parts_->notifier, "STOPPING=1\nSTATUS=stopping");
  parts_->state.SetStopping();              // health NOT_SERVING, new calls UNAVAILABLE
  parts_->recreate_service->StopStreams();  // watch handlers would hold Shutdown until its deadline
  parts_->nodeimage_service->StopStreams();  // NodeImage watches and PullImage waits too
  // No new kill from here on, running hooks get their bound, in-flight stops are abandoned (the
  // runtime finishes them): the engine's shutdown is bounded, and calls still running get
  // UNAVAILABLE from it.
  parts_->engine->Shutdown();
  // Let running calls finish, then close at once: gRPC's own grace would also wait for idle client
  // connections, which do not read the server's GOAWAY until their next call.
  if (!parts_->state.WaitForNoActiveCalls(kShutdownGrace)) {
    spdlog::warn("shutdown_calls_cancelled active={}", parts_->state.active_calls());
  }
  parts_->server->Shutdown(absl::ZeroDuration());
  // In-flight pulls are cancelled; the stored NodeImage keeps the unfinished tags for the next
  // start. Before the store closes (Parts' destructor).
  if (parts_->puller != nullptr) {
    parts_->puller->Shutdown();
    parts_->nodeimage_service->SetManager(nullptr);
    parts_->puller.reset();
  }
  parts_->hub.Shutdown();
  spdlog::info("inplaced stopped");
}

const std::string& Daemon::runtime_endpoint() const { return parts_->runtime.endpoint; }

const std::string& Daemon::socket_path() const { return parts_->options.socket_path; }

std::string Daemon::tcp_address() const {
  const int port = parts_->server->tcp_port();
  if (port == 0) return "";
  const std::string& address = parts_->options.tcp_address;
  return absl::StrCat(address.substr(0, address.rfind(':')), ":", port);
}

}  // namespace inplaced::daemon
