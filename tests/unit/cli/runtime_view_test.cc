#include "cli/runtime_view.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace inplaced::cli {
namespace {

namespace criv1 = ::runtime::v1;
using ::testing::HasSubstr;
using ::testing::Not;

criv1::PodSandbox Sandbox(const std::string& id, const std::string& ns, const std::string& name) {
  criv1::PodSandbox sandbox;
  sandbox.set_id(id);
  sandbox.mutable_metadata()->set_name(name);
  sandbox.mutable_metadata()->set_namespace_(ns);
  sandbox.mutable_metadata()->set_uid("uid-" + name);
  sandbox.set_created_at(1);
  return sandbox;
}

criv1::Container Container(const std::string& id, const std::string& sandbox_id,
                           const std::string& name, uint32_t attempt, criv1::ContainerState state,
                           int64_t created_at) {
  criv1::Container c;
  c.set_id(id);
  c.set_pod_sandbox_id(sandbox_id);
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_attempt(attempt);
  c.set_state(state);
  c.set_created_at(created_at);
  (*c.mutable_labels())["io.kubernetes.container.name"] = name;
  return c;
}

TEST(RuntimeViewTest, FormatPodsShowsCurrentInstanceOfEachContainerSorted) {
  criv1::ListPodSandboxResponse sandboxes;
  *sandboxes.add_items() = Sandbox("sb-web", "demo", "web");
  *sandboxes.add_items() = Sandbox("sb-api", "demo", "api");
  *sandboxes.add_items() = Sandbox("sb-other", "kube-system", "dns");
  criv1::ListContainersResponse containers;
  *containers.add_containers() =
      Container("old-app-id", "sb-web", "app", 0, criv1::CONTAINER_EXITED, 10);
  *containers.add_containers() =
      Container("new-app-id", "sb-web", "app", 1, criv1::CONTAINER_RUNNING, 20);
  *containers.add_containers() =
      Container("api-id", "sb-api", "server", 0, criv1::CONTAINER_RUNNING, 5);
  *containers.add_containers() =
      Container("dns-id", "sb-other", "dns", 0, criv1::CONTAINER_RUNNING, 5);
  const cri::NodeSnapshot snapshot = cri::NodeSnapshot::FromLists(sandboxes, containers);

  const std::string table = FormatPods(snapshot, "demo");

  EXPECT_THAT(table, HasSubstr("NAMESPACE"));
  EXPECT_THAT(table, HasSubstr("new-app-id"));
  EXPECT_THAT(table, Not(HasSubstr("old-app-id")));
  EXPECT_THAT(table, Not(HasSubstr("dns-id")));
  EXPECT_LT(table.find("api-id"), table.find("new-app-id"));  // pods sorted by name
  EXPECT_THAT(table, HasSubstr("running"));
}

TEST(RuntimeViewTest, ContainerStateNamesAreShortAndLowercase) {
  EXPECT_EQ(ContainerStateName(criv1::CONTAINER_RUNNING), "running");
  EXPECT_EQ(ContainerStateName(criv1::CONTAINER_EXITED), "exited");
  EXPECT_EQ(ContainerStateName(static_cast<criv1::ContainerState>(42)), "state(42)");
}

TEST(RuntimeViewTest, FormatVersionNamesRuntimeVersionAndEndpoint) {
  criv1::VersionResponse version;
  version.set_runtime_name("containerd");
  version.set_runtime_version("1.6.20~ds1");
  version.set_runtime_api_version("v1");
  EXPECT_EQ(FormatVersion(version, "unix:///run/c.sock"),
            "runtime=containerd version=1.6.20~ds1 api=v1 endpoint=unix:///run/c.sock");
}

}  // namespace
}  // namespace inplaced::cli
