// E2e test of the byte progress of pulls: the inplaced daemon on the environment's real containerd
// pulls a fresh three-layer image of ~30 MiB (tests/e2e/env/build-progress-image.sh, pushed to the
// open registry) through a throttling proxy (about 6 MiB/s: a local pull is otherwise over before
// the daemon samples it), and the watch stream must show the pull's bytes at several values
// strictly between 0 and the total, from containerd's content service, before 100 %.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "api/cri/runtime_v1.pb.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_env.h"
#include "tests/e2e/e2e_runtime.h"
#include "tests/e2e/throttling_proxy.h"
#include "tests/support/child_process.h"
#include "tests/support/status_matchers.h"

namespace inplaced::e2e {
namespace {

namespace api = ::inplaced::v1;
namespace cri_v1 = ::runtime::v1;
using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::IsOk;

constexpr int64_t kProxyBytesPerSecond = 6 * 1024 * 1024;

struct BuiltLayer {
  std::string digest;
  int64_t size = 0;
};

class PullProgressE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(env_, LoadE2eEnv());
    ASSERT_OK_AND_ASSIGN(connection_, ConnectToE2eRuntime(env_));
    char dir[] = "/tmp/ipg-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = dir_ + "/inplaced.sock";
  }

  void TearDown() override {
    if (daemon_ != nullptr) {
      EXPECT_THAT(daemon_->Stop(SIGTERM, absl::Seconds(30)).status(), IsOk());
      daemon_.reset();
    }
    if (proxy_ != nullptr) proxy_->Stop();
    if (!pulled_.empty() && connection_.lifecycle != nullptr) {
      cri_v1::RemoveImageRequest request;
      request.mutable_image()->set_image(pulled_);
      EXPECT_THAT(connection_.lifecycle->RemoveImage(request), IsOk()) << pulled_;
    }
    if (!hosts_dir_.empty()) std::filesystem::remove_all(hosts_dir_);
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Builds the image, pushes it to the open registry as progress/big:<tag>; returns its layers.
  std::vector<BuiltLayer> BuildAndPush(const std::string& tag) {
    const std::string out = dir_ + "/layers.txt";
    const std::string command =
        absl::StrCat("bash ", INPLACED_SOURCE_DIR, "/tests/e2e/env/build-progress-image.sh ", dir_,
                     "/image ", env_.registry, "/progress/big:", tag, " > ", out);
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::vector<BuiltLayer> layers;
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() != 2) continue;
      layers.push_back(BuiltLayer{parts[0], std::stoll(parts[1])});
    }
    return layers;
  }

  // containerd reaches the proxy over plain HTTP (config_path: one hosts.toml per registry).
  void WriteHostsToml(const std::string& host) {
    hosts_dir_ = absl::StrCat(env_.dir, "/containerd/certs.d/", host);
    std::filesystem::create_directories(hosts_dir_);
    std::ofstream(hosts_dir_ + "/hosts.toml")
        << "server = \"http://" << host << "\"\n[host.\"http://" << host
        << "\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n";
  }

  void StartDaemon() {
    const std::vector<std::string> argv = {
        INPLACED_PATH,     "--runtime-endpoint", env_.containerd_endpoint, "--socket",
        socket_,           "--state-dir",        dir_ + "/state",          "--no-event-stream",
        "--probe-address", "127.0.0.1:0"};  // port 0: the suites run in parallel
    ASSERT_OK_AND_ASSIGN(ChildProcess child, ChildProcess::Start(argv));
    daemon_ = std::make_unique<ChildProcess>(std::move(child));
    ASSERT_THAT(daemon_->WaitForLine("inplaced ready", absl::Seconds(60)), IsOk());
    stub_ = api::NodeImageService::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
  }

  E2eEnv env_;
  E2eConnection connection_;
  std::string dir_;
  std::string socket_;
  std::string hosts_dir_;
  std::string pulled_;
  std::unique_ptr<ThrottlingProxy> proxy_;
  std::unique_ptr<ChildProcess> daemon_;
  std::unique_ptr<api::NodeImageService::Stub> stub_;
};

TEST_F(PullProgressE2eTest, BytesMoveThroughIntermediateValuesWhileAMultiLayerImagePulls) {
  const std::string tag = absl::StrCat(getpid(), "-", absl::ToUnixMillis(absl::Now()));
  const std::vector<BuiltLayer> layers = BuildAndPush(tag);
  ASSERT_EQ(layers.size(), 3u);
  int64_t total = 0;
  for (const BuiltLayer& layer : layers) total += layer.size;

  ASSERT_OK_AND_ASSIGN(proxy_, ThrottlingProxy::Start(env_.registry, kProxyBytesPerSecond));
  WriteHostsToml(proxy_->address());
  StartDaemon();
  const std::string reference = absl::StrCat(proxy_->address(), "/progress/big:", tag);
  pulled_ = reference;

  grpc::ClientContext watch_context;
  watch_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
  auto watch = stub_->WatchNodeImage(&watch_context, api::WatchNodeImageRequest());
  api::WatchNodeImageResponse message;
  ASSERT_TRUE(watch->Read(&message));

  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    api::PullImageRequest request;
    request.set_image(reference);
    api::PullImageResponse response;
    const grpc::Status status = stub_->PullImage(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  std::vector<int64_t> seen;  // bytes_done of every BYTES sample while PULLING
  std::set<api::LayerState> layer_states;
  api::ImageTagStatus last;
  bool finished = false;
  while (!finished && watch->Read(&message)) {
    for (const api::AdHocPullStatus& pull : message.node_image().status().ad_hoc_pulls()) {
      if (pull.image() != reference) continue;
      last = pull.status();
      const api::PullProgress& progress = last.pull_progress();
      if (last.phase() == api::IMAGE_PULL_PHASE_PULLING &&
          progress.source() == api::PROGRESS_SOURCE_BYTES) {
        seen.push_back(progress.bytes_done());
        for (const api::LayerProgress& layer : progress.layers())
          layer_states.insert(layer.state());
        std::cout << "progress " << last.progress() << "% " << progress.bytes_done() << "/"
                  << progress.bytes_total() << " " << progress.bytes_per_second() << " B/s"
                  << std::endl;
      }
      finished = last.phase() == api::IMAGE_PULL_PHASE_SUCCEEDED ||
                 last.phase() == api::IMAGE_PULL_PHASE_FAILED;
    }
  }
  watch_context.TryCancel();
  while (watch->Read(&message)) {
  }
  watch->Finish();

  ASSERT_EQ(last.phase(), api::IMAGE_PULL_PHASE_SUCCEEDED) << last.DebugString();
  EXPECT_EQ(last.progress(), 100);
  const api::PullProgress& final_progress = last.pull_progress();
  EXPECT_EQ(final_progress.source(), api::PROGRESS_SOURCE_BYTES) << final_progress.DebugString();
  EXPECT_EQ(final_progress.bytes_total(), total);
  EXPECT_EQ(final_progress.bytes_done(), total);
  ASSERT_EQ(final_progress.layers_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(final_progress.layers(i).digest(), layers[i].digest);
    EXPECT_EQ(final_progress.layers(i).size(), layers[i].size);
    EXPECT_EQ(final_progress.layers(i).state(), api::LAYER_STATE_DONE);
  }

  // Several distinct values strictly between 0 and the total, never going back.
  std::set<int64_t> intermediate;
  for (int64_t bytes : seen) {
    if (bytes > 0 && bytes < total) intermediate.insert(bytes);
  }
  EXPECT_GE(intermediate.size(), 3u) << "samples: " << seen.size();
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LE(seen[i - 1], seen[i]) << i;
  EXPECT_EQ(layer_states.count(api::LAYER_STATE_DOWNLOADING), 1u);
}

}  // namespace
}  // namespace inplaced::e2e
