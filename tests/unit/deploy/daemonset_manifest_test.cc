// deploy/daemonset.yaml against the daemon it deploys: the ConfigMap's config file is one the daemon
// accepts, the container starts with that file, every path the daemon opens on the node is mounted,
// and the probes reach the probe port the config gives. A manifest edit that breaks one of these
// fails here, before the DaemonSet e2e runs it on containerd.

#include <filesystem>
#include <string>

#include "daemon/config.h"
#include "daemon/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/daemonset_pod.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace inplaced::fakes {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;

class DaemonSetManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_.node_name = "node-1";
    // Each hostPath maps onto itself: the pod's mounts then show the node's own paths.
    for (const char* path :
         {"/run/containerd", "/run/inplaced", "/var/lib/inplaced", "/var/lib/containerd"}) {
      node_.host_paths[path] = path;
    }
    node_.config_map_dir = dir_.path();
    ASSERT_OK_AND_ASSIGN(pod_, ReadDaemonSetPod(INPLACED_DAEMONSET_MANIFEST, node_));
    ASSERT_EQ(pod_.spec.containers.size(), 1u);
  }

  const ContainerSpec& container() const { return pod_.spec.containers[0]; }

  // The mount whose container path holds `path` (the deepest one), or nullptr.
  const ContainerSpec::Mount* MountHolding(const std::string& path) const {
    const ContainerSpec::Mount* best = nullptr;
    for (const ContainerSpec::Mount& mount : container().mounts) {
      const std::string prefix = mount.container_path + "/";
      if ((path == mount.container_path || path.rfind(prefix, 0) == 0) &&
          (best == nullptr || mount.container_path.size() > best->container_path.size())) {
        best = &mount;
      }
    }
    return best;
  }

  // The daemon's options from the container's args and the config file they name, read from where
  // the ConfigMap volume put it.
  daemon::DaemonOptions EffectiveOptions() const {
    const std::vector<std::string>& args = container().args;
    EXPECT_THAT(args, ElementsAre("--config", "/etc/inplaced/config.yaml"));
    const ContainerSpec::Mount* config = MountHolding("/etc/inplaced/config.yaml");
    EXPECT_NE(config, nullptr) << "the config file is not mounted";
    daemon::DaemonOptions options;
    if (config != nullptr) {
      EXPECT_OK(daemon::ApplyConfigFile(config->host_path + "/config.yaml", options));
    }
    return options;
  }

  testing::TempDir dir_;
  DaemonSetNode node_;
  DaemonSetPod pod_;
};

TEST_F(DaemonSetManifestTest, ConfigMapIsAConfigTheDaemonAccepts) {
  const daemon::DaemonOptions options = EffectiveOptions();
  EXPECT_EQ(options.runtime_endpoint, "unix:///run/containerd/containerd.sock");
}

TEST_F(DaemonSetManifestTest, EveryNodePathTheDaemonUsesIsMounted) {
  const daemon::DaemonOptions options = EffectiveOptions();
  const std::string cri_socket = options.runtime_endpoint.substr(std::string("unix://").size());
  for (const std::string& path :
       {cri_socket, options.socket_path, options.state_dir, options.image_fs_path}) {
    const ContainerSpec::Mount* mount = MountHolding(path);
    ASSERT_NE(mount, nullptr) << path << " is not on a mounted volume";
    // hostPath mounts map onto the node's own paths here, so the daemon sees the node's file.
    EXPECT_EQ(mount->host_path, mount->container_path) << path;
  }
  // Only the image filesystem is read-only: the daemon writes its socket and its state.
  EXPECT_TRUE(MountHolding(options.image_fs_path)->read_only);
  EXPECT_FALSE(MountHolding(options.socket_path)->read_only);
  EXPECT_FALSE(MountHolding(options.state_dir)->read_only);
}

TEST_F(DaemonSetManifestTest, RunsOnTheHostNetworkWithNodeName) {
  EXPECT_TRUE(pod_.spec.host_network);
  EXPECT_THAT(container().envs,
              Contains(std::make_pair(std::string("NODE_NAME"), std::string("node-1"))));
  ASSERT_TRUE(pod_.readiness.has_value());
  ASSERT_TRUE(pod_.liveness.has_value());
  EXPECT_EQ(pod_.readiness->path, "/readyz");
  EXPECT_EQ(pod_.liveness->path, "/healthz");
}

TEST_F(DaemonSetManifestTest, ProbesReachTheConfiguredProbePort) {
  const daemon::DaemonOptions options = EffectiveOptions();
  const size_t colon = options.probe_address.rfind(':');
  ASSERT_NE(colon, std::string::npos) << options.probe_address;
  const std::string host = options.probe_address.substr(0, colon);
  const int port = std::stoi(options.probe_address.substr(colon + 1));
  for (const HttpProbe& probe : {*pod_.readiness, *pod_.liveness}) {
    EXPECT_EQ(probe.port, port) << probe.path;
    // Host network: kubelet reaches the node's loopback, where the probe port listens.
    EXPECT_EQ(probe.host, host) << probe.path;
  }
}

TEST_F(DaemonSetManifestTest, UnmappedHostPathIsAnErrorNamingTheVolume) {
  DaemonSetNode node = node_;
  node.host_paths.erase("/var/lib/inplaced");
  const absl::StatusOr<DaemonSetPod> pod = ReadDaemonSetPod(INPLACED_DAEMONSET_MANIFEST, node);
  EXPECT_THAT(pod.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     ::testing::HasSubstr("volumes[state].hostPath.path")));
}

}  // namespace
}  // namespace inplaced::fakes
