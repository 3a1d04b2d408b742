// inplaced deployed as deploy/daemonset.yaml says, on real containerd: the container image built from
// the Dockerfile (the runtime-prebuilt target over this build's binaries, by the e2e.image.build
// fixture) is imported into the environment's containerd, and the kubelet stand-in runs the
// DaemonSet's own pod template (image, args, env, hostPath and ConfigMap volumes, probes: read from
// the manifest). The test probes readiness as kubelet would, then drives the daemon in the pod through
// the control socket in its mounted directory: a recreate of another pod's container and a pre-pull.

#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
#include "cri/snapshot.h"
#include "gmock/gmock.h"
#include "tests/e2e/recreate_fixture.h"
#include "tests/fakes/daemonset_pod.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::fakes::DaemonSetNode;
using ::inplaced::fakes::DaemonSetPod;
using ::inplaced::fakes::HttpProbe;
using ::inplaced::fakes::ReadDaemonSetPod;
using ::testing::HasSubstr;

// GET http://<host>:<port><path> as kubelet's httpGet probe: the body of a 2xx/3xx answer,
// UNAVAILABLE otherwise (with the status code or connection error).
absl::StatusOr<std::string> HttpGet(const HttpProbe& probe) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  const std::string url = absl::StrCat("http://", probe.host, ":", probe.port, probe.path);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 1000L);  // kubelet's default timeoutSeconds: 1
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(
      curl.get(), CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
      });
  const CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(url, ": ", curl_easy_strerror(code)));
  }
  long http_code = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &http_code);
  if (http_code < 200 || http_code >= 400) {
    return absl::UnavailableError(absl::StrCat(url, ": HTTP ", http_code));
  }
  return body;
}

absl::Status ProbeHttp(const HttpProbe& probe) { return HttpGet(probe).status(); }

std::string Quote(const std::string& text) { return "'" + text + "'"; }

class DaemonSetE2eTest : public RecreateE2eTest {
 protected:
  void StartDaemon() override {
    ASSERT_NO_FATAL_FAILURE(ImportImage());

    // This node: the e2e's containerd socket directory plays /run/containerd, the test's own
    // directories the control socket and state directories.
    DaemonSetNode node;
    // Per test process: the versions' tests may run side by side on one containerd.
    node.node_name = absl::StrCat("e2e-node-", getpid());
    node.host_paths["/run/containerd"] =
        std::filesystem::path(env_.containerd_sock).parent_path().string();
    node.host_paths["/run/inplaced"] = dir_ + "/run";
    node.host_paths["/var/lib/inplaced"] = dir_ + "/state";
    node.host_paths["/var/lib/containerd"] = env_.dir;
    node.config_map_dir = dir_ + "/configmaps";
    // Versions run side by side on the host network: each daemon gets its own probe port.
    node.probe_port = FreeLoopbackPort();
    ASSERT_GT(node.probe_port, 0);
    // The TCP listener with mTLS: certificates made here, given to the pod as its `inplaced-tls`
    // Secret; the listener's settings uncommented as the ConfigMap's comment says.
    tls_dir_ = dir_ + "/tls";
    ASSERT_EQ(std::system(absl::StrCat("bash ", Quote(MAKE_TEST_CERTS_PATH), " ", Quote(tls_dir_),
                                       " >/dev/null 2>&1")
                              .c_str()),
              0);
    node.secret_dirs["inplaced-tls"] = tls_dir_;
    const int tcp_port = FreeLoopbackPort();
    ASSERT_GT(tcp_port, 0);
    tcp_address_ = absl::StrCat("127.0.0.1:", tcp_port);
    node.config_yaml_suffix = absl::StrCat("probe_address: 127.0.0.1:", node.probe_port, "\n",
                                           "tcp_address: ", tcp_address_, "\n",
                                           "tcp_tls_cert: /etc/inplaced-tls/server.crt\n",
                                           "tcp_tls_key: /etc/inplaced-tls/server.key\n",
                                           "tcp_tls_client_ca: /etc/inplaced-tls/ca.crt\n");
    for (const auto& [_, path] : node.host_paths) std::filesystem::create_directories(path);

    ASSERT_OK_AND_ASSIGN(pod_, ReadDaemonSetPod(INPLACED_DAEMONSET_MANIFEST, node));
    ASSERT_TRUE(pod_.readiness.has_value()) << "the DaemonSet has no readiness probe";
    ASSERT_TRUE(pod_.liveness.has_value()) << "the DaemonSet has no liveness probe";
    pod_.spec.log_directory =
        absl::StrCat(env_.log_dir, "/", pod_.spec.namespace_, "_", pod_.spec.name, "_", getpid());
    ASSERT_OK(standin_->RunPod(pod_.spec).status());

    // Readiness as kubelet probes it (periodSeconds shortened): the daemon serves the control
    // socket, the runtime answered and the engine ticks.
    absl::Status ready = absl::UnavailableError("not probed");
    const absl::Time limit = absl::Now() + absl::Seconds(60);
    while (absl::Now() < limit && !(ready = ProbeHttp(*pod_.readiness)).ok()) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_OK(ready);  // TearDown prints the pod log
    ASSERT_OK(ProbeHttp(*pod_.liveness));

    socket_ = dir_ + "/run/inplaced.sock";
    ASSERT_TRUE(std::filesystem::exists(socket_)) << "no control socket in the mounted directory";
    auto channel = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    stub_ = api::RecreateService::NewStub(channel);
    images_ = api::NodeImageService::NewStub(channel);
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << PodLog();
    RecreateE2eTest::TearDown();
  }

  // The container image the e2e.image.build fixture wrote, imported as the manifest names it.
  void ImportImage() {
    const char* archive = std::getenv("INPLACED_E2E_IMAGE_ARCHIVE");
    ASSERT_NE(archive, nullptr) << "INPLACED_E2E_IMAGE_ARCHIVE is not set (ctest sets it)";
    const std::string command =
        absl::StrCat(Quote(env_.values.at("INPLACED_E2E_CTR")), " --address ",
                     Quote(env_.containerd_sock), " -n k8s.io images import --snapshotter ",
                     Quote(env_.values.at("INPLACED_E2E_SNAPSHOTTER")), " ", Quote(archive), " >",
                     Quote(dir_ + "/import.log"), " 2>&1");
    ASSERT_EQ(std::system(command.c_str()), 0) << ReadFile(dir_ + "/import.log");
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // What the daemon in the pod logged (its container's CRI log file).
  std::string PodLog() const {
    std::string out = "---- inplaced pod log ----\n";
    std::error_code error;
    for (auto it = std::filesystem::recursive_directory_iterator(pod_.spec.log_directory, error);
         !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_regular_file()) out += ReadFile(it->path().string());
    }
    return out + "---- end of inplaced pod log ----\n";
  }

  // The current instance of `container` of pod `pod` (in any namespace), or nullopt.
  std::optional<cri::ContainerInfo> CurrentOf(const std::string& pod,
                                              const std::string& container) {
    auto snapshot = cri::TakeSnapshot(runtime());
    if (!snapshot.ok()) return std::nullopt;
    const cri::PodInfo* found = snapshot->FindPod(pod_.spec.namespace_, pod);
    if (found == nullptr) return std::nullopt;
    const cri::ContainerInfo* info = found->CurrentContainer(container);
    if (info == nullptr) return std::nullopt;
    return *info;
  }

  // A channel to the TCP listener with this client identity ("" = no client certificate).
  std::shared_ptr<grpc::Channel> TcpChannel(const std::string& client) const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(tls_dir_ + "/ca.crt");
    if (!client.empty()) {
      options.pem_cert_chain = ReadFile(tls_dir_ + "/" + client + ".crt");
      options.pem_private_key = ReadFile(tls_dir_ + "/" + client + ".key");
    }
    return grpc::CreateChannel(tcp_address_, grpc::SslCredentials(options));
  }

  DaemonSetPod pod_;
  std::string tls_dir_;
  std::string tcp_address_;
  std::unique_ptr<api::NodeImageService::Stub> images_;
};

TEST_F(DaemonSetE2eTest, ManifestPodRecreatesAnotherPodsContainerAndPrePulls) {
  ASSERT_NO_FATAL_FAILURE(RunPod({Container("app", PoliteSleeper())}));
  std::optional<cri::ContainerInfo> app = Current("app");
  ASSERT_TRUE(app.has_value());

  ASSERT_NO_FATAL_FAILURE(Create(Request("from-daemonset", {"app"})));
  const api::RecreateRequest done = WaitCompleted("from-daemonset");
  ASSERT_NO_FATAL_FAILURE(ExpectAllRecreatedOnce(done, {app->id}));

  // A pre-pull from the environment's registry, by the daemon inside the pod (host network).
  api::PullImageRequest pull;
  pull.set_image(env_.registry_busybox_image);
  pull.set_wait(true);
  api::PullImageResponse pulled;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  const grpc::Status status = images_->PullImage(&context, pull, &pulled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(pulled.pull().status().phase(), api::IMAGE_PULL_PHASE_SUCCEEDED)
      << pulled.DebugString();

  // Over TCP with mTLS, as an agent off the node: a client certificate of the Secret's CA is served,
  // none is refused.
  {
    api::ListRecreateRequestsResponse listed;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const grpc::Status status = api::RecreateService::NewStub(TcpChannel("client"))
                                    ->ListRecreateRequests(&context, {}, &listed);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(listed.recreate_requests_size(), 1);
  }
  {
    api::ListRecreateRequestsResponse listed;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status status =
        api::RecreateService::NewStub(TcpChannel(""))->ListRecreateRequests(&context, {}, &listed);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  }
  // And an agent written in Python, its stubs generated from the protos, recreates over mTLS.
  const std::string python_log = dir_ + "/python.log";
  const std::string python = absl::StrCat(
      PYTHON3_PATH, " ", Quote(PYTHON_CLIENT_PATH), " --proto-root ", Quote(PROTO_ROOT), " --out ",
      Quote(dir_ + "/python"), " --address ", tcp_address_, " --ca ", Quote(tls_dir_ + "/ca.crt"),
      " --cert ", Quote(tls_dir_ + "/client.crt"), " --key ", Quote(tls_dir_ + "/client.key"),
      " --namespace ", kRecreateNamespace, " --name from-python --pod ", pod_name_,
      " --container app >", Quote(python_log), " 2>&1");
  EXPECT_EQ(std::system(python.c_str()), 0) << ReadFile(python_log);
  EXPECT_THAT(ReadFile(python_log),
              HasSubstr(absl::StrCat("recreate succeeded ", kRecreateNamespace, "/from-python")));

  // Still ready, and alive, after the work; the metrics on the probe port counted both.
  EXPECT_OK(ProbeHttp(*pod_.readiness));
  EXPECT_OK(ProbeHttp(*pod_.liveness));
  HttpProbe metrics = *pod_.readiness;
  metrics.path = "/metrics";
  ASSERT_OK_AND_ASSIGN(const std::string text, HttpGet(metrics));
  // Two recreates: the C++ client's over the socket and the Python agent's over mTLS.
  EXPECT_THAT(text, HasSubstr("inplaced_kills_total{result=\"stopped\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("inplaced_recreate_duration_seconds_count{result=\"succeeded\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pulls{kind=\"adhoc\",phase=\"succeeded\"} 1\n"));
}

// A DaemonSet rolling update in the middle of a recreate: kubelet stops the inplaced pod's
// container (SIGTERM, the manifest's grace) while the other pod's preStop hook runs, and starts a
// new one on the same hostPath state. The running hook finishes within the shutdown bound, the new
// daemon sends the stop: the request completes once, the hook ran once, the container was killed
// once.
TEST_F(DaemonSetE2eTest, RestartOfTheDaemonSetPodMidRecreateCompletesOnce) {
  // The hook appends to a file on a host directory (it outlives the container instance), then
  // takes 3 s: the daemon is stopped while it runs.
  const std::string hooks_dir = dir_ + "/hooks";
  std::filesystem::create_directories(hooks_dir);
  fakes::ContainerSpec app = Container("app", PoliteSleeper());
  app.mounts.push_back({hooks_dir, "/hooks", false});
  app.pre_stop_handler_json =
      R"({"exec":{"command":["sh","-c","echo ran >> /hooks/runs; sleep 3"]}})";
  ASSERT_NO_FATAL_FAILURE(RunPod({app}));
  std::optional<cri::ContainerInfo> old = Current("app");
  ASSERT_TRUE(old.has_value());

  api::CreateRecreateRequestRequest request = Request("across-restart", {"app"});
  request.mutable_spec()->mutable_strategy()->set_termination_grace_period_seconds(30);
  ASSERT_NO_FATAL_FAILURE(Create(request));
  const std::string runs = hooks_dir + "/runs";
  const absl::Time limit = absl::Now() + kWaitLimit;
  while (absl::Now() < limit && !std::filesystem::exists(runs)) {
    absl::SleepFor(kPollInterval);
  }
  ASSERT_TRUE(std::filesystem::exists(runs)) << "the preStop hook never started";

  // kubelet's part of a rolling update: stop the daemon's container with the pod's grace period;
  // the stand-in starts the next instance (same image, same mounts, same state directory).
  std::optional<cri::ContainerInfo> daemon = CurrentOf(pod_.spec.name, "inplaced");
  ASSERT_TRUE(daemon.has_value());
  ::runtime::v1::StopContainerRequest stop;
  stop.set_container_id(daemon->id);
  stop.set_timeout(*pod_.spec.termination_grace_period_seconds);
  ASSERT_OK(runtime().StopContainer(stop));

  // Polled through the restart: the socket is gone for a moment, so failed reads are skipped.
  api::RecreateRequest done;
  const absl::Time completed_by = absl::Now() + kWaitLimit;
  while (absl::Now() < completed_by) {
    api::GetRecreateRequestRequest get;
    get.set_namespace_(kRecreateNamespace);
    get.set_name("across-restart");
    api::GetRecreateRequestResponse got;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (stub_->GetRecreateRequest(&context, get, &got).ok() &&
        got.recreate_request().status().phase() == api::RECREATE_PHASE_COMPLETED) {
      done = got.recreate_request();
      break;
    }
    absl::SleepFor(kPollInterval);
  }
  ASSERT_EQ(done.status().phase(), api::RECREATE_PHASE_COMPLETED) << "not completed in time";
  ASSERT_NO_FATAL_FAILURE(ExpectAllRecreatedOnce(done, {old->id}));
  EXPECT_EQ(done.status().container_states(0).pre_stop().outcome(), api::PRE_STOP_OUTCOME_SUCCEEDED)
      << done.DebugString();
  EXPECT_EQ(ReadFile(runs), "ran\n") << "the hook ran more than once";
  std::optional<cri::ContainerInfo> next = CurrentOf(pod_.spec.name, "inplaced");
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(next->id, daemon->id) << "the DaemonSet pod's container was not replaced";
}

}  // namespace
}  // namespace inplaced::e2e
