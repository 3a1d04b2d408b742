#include "daemon/daemon.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/real_clock.h"
#include "cri/connect.h"
#include "daemon/prestop/cri_prestop_runner.h"
#include "daemon/recreate/recreate_engine.h"
#include "daemon/recreate/watch_hub.h"
#include "daemon/server/control_server.h"
#include "daemon/server/health_service.h"
#include "daemon/server/nodeimage_service.h"
#include "daemon/server/recreate_service.h"
#include "daemon/server/serving_state.h"
#include "daemon/socket_group.h"
#include "imagepull/disk_space_precheck.h"
#include "imagepull/free_space_check.h"
#include "imagepull/puller.h"
#include "imagepull/registry/http_curl_client.h"
#include "imagepull/registry/registry_client.h"
#include "store/sqlite_store.h"
#include "systemd/heartbeat.h"

namespace inplaced::daemon {
namespace {

// How long running calls may finish when the daemon stops, before the server cancels them.
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

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
  ServingState state;
  std::unique_ptr<RecreateServiceImpl> recreate_service;
  std::unique_ptr<NodeImageServiceImpl> nodeimage_service;
  std::unique_ptr<HealthServiceImpl> health_service;
  std::unique_ptr<ControlServer> server;  // stopped in Stop(), before the engine
  RealClock clock;
  cri::Connection runtime;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<CriPreStopRunner> prestop;
  WatchHub hub;
  std::unique_ptr<RecreateEngine> engine;
  // Image pre-pull: the registry client and disk precheck feed the puller's precheck.
  std::unique_ptr<imagepull::CurlHttpClient> http;
  std::unique_ptr<imagepull::RegistryClient> registry;
  std::unique_ptr<imagepull::FreeSpaceCheck> disk;
  std::unique_ptr<imagepull::DiskSpacePrecheck> precheck;
  std::unique_ptr<imagepull::ImagePuller> puller;  // destroyed before the store and the runtime
  systemd::Notifier* notifier = nullptr;
  std::unique_ptr<systemd::Heartbeat> heartbeat;  // reads the engine and the puller

  ~Parts() {
    heartbeat.reset();
    // The server's handlers reference the engine and the puller: stop it first.
    if (nodeimage_service != nullptr) nodeimage_service->StopStreams();
    if (server != nullptr) server->Shutdown(absl::ZeroDuration());
    puller.reset();
    if (engine != nullptr) engine->Shutdown();
    hub.Shutdown();
  }
};

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(const DaemonOptions& options,
                                                      systemd::Notifier& notifier) {
  auto parts = std::make_unique<Parts>();
  parts->options = options;
  parts->notifier = &notifier;
  std::optional<gid_t> socket_gid;
  if (!options.socket_group.empty()) {
    absl::StatusOr<gid_t> gid = ResolveGroup(options.socket_group);
    if (!gid.ok()) {
      return absl::Status(gid.status().code(),
                          absl::StrCat("control API socket: ", gid.status().message()));
    }
    socket_gid = *gid;
  }
  parts->recreate_service = std::make_unique<RecreateServiceImpl>(parts->state);
  parts->nodeimage_service = std::make_unique<NodeImageServiceImpl>(parts->state);
  parts->health_service = std::make_unique<HealthServiceImpl>(
      parts->state,
      std::vector<std::string>{std::string(::inplaced::v1::RecreateService::service_full_name()),
                               std::string(::inplaced::v1::NodeImageService::service_full_name())});
  absl::StatusOr<std::unique_ptr<ControlServer>> server = ControlServer::Start(
      options.socket_path,
      {parts->recreate_service.get(), parts->nodeimage_service.get(), parts->health_service.get()});
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("control API socket: ", server.status().message()));
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

  cri::ConnectOptions connect;
  connect.endpoint = options.runtime_endpoint;
  connect.discovery_root = options.discovery_root;
  absl::StatusOr<cri::Connection> runtime = cri::Connect(connect);
  if (!runtime.ok()) {
    return absl::Status(runtime.status().code(),
                        absl::StrCat("container runtime: ", runtime.status().message()));
  }
  parts->runtime = *std::move(runtime);
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

  parts->prestop = std::make_unique<CriPreStopRunner>(*parts->runtime.runtime, parts->clock);
  RecreateEngineOptions engine_options;
  engine_options.limits.max_containers = options.max_containers;
  engine_options.max_open_requests = options.max_open_requests;
  engine_options.fast_poll = absl::Milliseconds(options.fast_poll_ms);
  engine_options.slow_poll = absl::Milliseconds(options.slow_poll_ms);
  engine_options.use_event_stream = options.use_event_stream;
  engine_options.shutdown_hook_timeout = absl::Milliseconds(options.shutdown_hook_timeout_ms);
  absl::StatusOr<std::unique_ptr<RecreateEngine>> engine =
      RecreateEngine::Create(*parts->runtime.runtime, parts->clock, *parts->store, *parts->prestop,
                             parts->hub, engine_options);
  if (!engine.ok()) {
    return absl::Status(engine.status().code(),
                        absl::StrCat("recreate engine: ", engine.status().message()));
  }
  parts->engine = *std::move(engine);
  parts->engine->Start();

  if (absl::Status pre_pull = StartPuller(*parts); !pre_pull.ok()) return pre_pull;

  parts->recreate_service->SetManager(parts->engine.get());
  parts->nodeimage_service->SetManager(parts->puller.get());
  parts->state.SetServing();
  StartHeartbeat(*parts, connect.request_timeout);
  return std::unique_ptr<Daemon>(new Daemon(std::move(parts)));
}

// systemd: READY=1 now that the socket serves and the runtime answered Version, then the heartbeat
// (STATUS lines, and WATCHDOG=1 while the engine ticks).
void Daemon::StartHeartbeat(Parts& parts, absl::Duration runtime_call_timeout) {
  Send(*parts.notifier, "READY=1");
  systemd::HeartbeatOptions heartbeat;
  heartbeat.watchdog_timeout = systemd::WatchdogTimeoutFromEnvironment();
  // A live engine ticks at least every slow poll, and a tick may wait on the runtime for up to one
  // call's deadline: only a loop silent for longer is wedged.
  heartbeat.max_tick_age = absl::Milliseconds(parts.options.slow_poll_ms) + runtime_call_timeout;
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
  parts.precheck = std::make_unique<imagepull::DiskSpacePrecheck>(
      *parts.registry, *parts.runtime.runtime, *parts.disk);
  imagepull::PullerOptions puller_options;
  puller_options.max_concurrent_pulls = options.max_concurrent_pulls;
  absl::StatusOr<std::unique_ptr<imagepull::ImagePuller>> puller = imagepull::ImagePuller::Create(
      *parts.runtime.runtime, parts.clock, *parts.store, parts.precheck.get(), puller_options);
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

Daemon::Daemon(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Daemon::~Daemon() { Stop(); }

void Daemon::Stop() {
  if (stopped_) return;
  stopped_ = true;
  spdlog::info("inplaced stopping");
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

}  // namespace inplaced::daemon
