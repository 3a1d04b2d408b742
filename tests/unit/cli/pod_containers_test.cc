// `recreate --all`: which container names the runtime's view of a pod yields.

#include "cli/pod_containers.h"

#include <string>

#include "cri/kubelet_labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cli {
namespace {

namespace criv1 = ::runtime::v1;
using ::inplaced::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

criv1::Container ContainerOf(const std::string& id, const std::string& name,
                             absl::string_view type) {
  criv1::Container c;
  c.set_id(id);
  c.set_pod_sandbox_id("sb-web");
  c.mutable_metadata()->set_name(name);
  c.set_state(criv1::CONTAINER_RUNNING);
  (*c.mutable_labels())[std::string(cri::kubelet::kContainerName)] = name;
  if (!type.empty())
    (*c.mutable_annotations())[std::string(cri::kubelet::kContainerType)] = std::string(type);
  return c;
}

cri::NodeSnapshot WebPod() {
  criv1::ListPodSandboxResponse sandboxes;
  criv1::PodSandbox* sandbox = sandboxes.add_items();
  sandbox->set_id("sb-web");
  sandbox->mutable_metadata()->set_name("web");
  sandbox->mutable_metadata()->set_namespace_("demo");
  sandbox->mutable_metadata()->set_uid("uid-web");
  criv1::ListContainersResponse containers;
  *containers.add_containers() = ContainerOf("1", "sidecar", cri::kubelet::kContainerTypeRegular);
  *containers.add_containers() = ContainerOf("2", "app", "");  // older kubelets: no type annotation
  *containers.add_containers() = ContainerOf("3", "setup", cri::kubelet::kContainerTypeInit);
  *containers.add_containers() =
      ContainerOf("4", "debugger", cri::kubelet::kContainerTypeEphemeral);
  return cri::NodeSnapshot::FromLists(sandboxes, containers);
}

TEST(PodContainersTest, RegularContainersOnlyOrderedByName) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, PodContainerNames(WebPod(), "demo", "web"));
  EXPECT_THAT(names, ElementsAre("app", "sidecar"));
}

TEST(PodContainersTest, AnUnknownPodIsNotFoundNamingIt) {
  EXPECT_THAT(PodContainerNames(WebPod(), "demo", "api").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("demo/api")));
}

}  // namespace
}  // namespace inplaced::cli
