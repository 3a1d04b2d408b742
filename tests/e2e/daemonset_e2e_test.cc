// inplaced deployed as deploy/daemonset.yaml says, on real containerd: the container image built from
// the Dockerfile (the runtime-prebuilt target over this build's binaries, by the e2e.image.build
// fixture) is imported into the environment's containerd, and the kubelet stand-in runs the
// DaemonSet's own pod template (image, args, env, hostPath and ConfigMap volumes, probes: read from
// the manifest). The test probes readiness as kubelet would, then drives the daemon in the pod through
// the control socket in its mounted directory: a recreate of another pod's container and a pre-pull.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
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
  curl_easy_setopt(
      curl.get(), CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t count, void*) { return size * count; });
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

// A TCP port nobody listens on now (the kernel's pick for an ephemeral bind).
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string Quote(const std::string& text) { return "'" + text + "'"; }

class DaemonSetE2eTest : public RecreateE2eTest {
 protected:
  void StartDaemon() override {
    ASSERT_NO_FATAL_FAILURE(ImportImage());

    // This node: the e2e's containerd socket directory plays /run/containerd, the test's own
    // directories the control socket and state directories.
    DaemonSetNode node;
    node.node_name = "e2e-node";
    node.host_paths["/run/containerd"] =
        std::filesystem::path(env_.containerd_sock).parent_path().string();
    node.host_paths["/run/inplaced"] = dir_ + "/run";
    node.host_paths["/var/lib/inplaced"] = dir_ + "/state";
    node.host_paths["/var/lib/containerd"] = env_.dir;
    node.config_map_dir = dir_ + "/configmaps";
    // Versions run side by side on the host network: each daemon gets its own probe port.
    node.probe_port = FreeLoopbackPort();
    ASSERT_GT(node.probe_port, 0);
    node.config_yaml_suffix = absl::StrCat("probe_address: 127.0.0.1:", node.probe_port, "\n");
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

  DaemonSetPod pod_;
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

  // Still ready, and alive, after the work; the metrics on the probe port counted both.
  EXPECT_OK(ProbeHttp(*pod_.readiness));
  EXPECT_OK(ProbeHttp(*pod_.liveness));
  HttpProbe metrics = *pod_.readiness;
  metrics.path = "/metrics";
  ASSERT_OK_AND_ASSIGN(const std::string text, HttpGet(metrics));
  EXPECT_THAT(text, HasSubstr("inplaced_kills_total{result=\"stopped\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("inplaced_recreate_duration_seconds_count{result=\"succeeded\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pulls{kind=\"adhoc\",phase=\"succeeded\"} 1\n"));
}

}  // namespace
}  // namespace inplaced::e2e
