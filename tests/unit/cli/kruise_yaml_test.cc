// The Kruise YAML mapping over examples written from the Kruise reference: what a user copies from
// the Kruise docs or writes for kubectl, mapped field by field, and every refusal naming its field.

#include "cli/kruise_yaml.h"

#include <string>
#include <variant>

#include "common/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::cli {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A CRR as Kruise's docs show one, with every spec field a user may set, plus the fields Kruise's
// webhook fills in (statusContext, preStop, ports) which inplaced also accepts.
constexpr char kFullCrr[] = R"(
apiVersion: apps.kruise.io/v1alpha1
kind: ContainerRecreateRequest
metadata:
  namespace: shop
  name: web-0-restart
  labels:
    crr.apps.kruise.io/pod-uid: 5f1c2d3e-aaaa-bbbb-cccc-0123456789ab
  annotations:
    crr.apps.kruise.io/unready-acquired: "2026-12-05T07:00:00Z"
spec:
  podName: web-0
  containers:
  - name: app
    statusContext:
      containerID: containerd://3f2a9b
      restartCount: 2
    preStop:
      httpGet:
        path: /drain
        port: http
        scheme: HTTP
        httpHeaders:
        - name: X-Reason
          value: recreate
    ports:
    - name: http
      containerPort: 8080
      protocol: TCP
  - name: sidecar
    preStop:
      exec:
        command: ["sh", "-c", "sleep 1"]
  - name: proxy
    preStop:
      tcpSocket:
        port: 15000
        host: 127.0.0.1
  strategy:
    failurePolicy: Ignore
    orderedRecreate: true
    forceRecreate: true
    terminationGracePeriodSeconds: 30
    unreadyGracePeriodSeconds: 5
    minStartedSeconds: 10
  activeDeadlineSeconds: 300
  ttlSecondsAfterFinished: 1800
)";

TEST(KruiseYamlTest, MapsEveryFieldOfAContainerRecreateRequest) {
  ASSERT_OK_AND_ASSIGN(std::vector<KruiseObject> objects, ParseKruiseYaml(kFullCrr, "default"));
  ASSERT_EQ(objects.size(), 1u);
  const auto* crr = std::get_if<KruiseRecreate>(&objects[0].object);
  ASSERT_NE(crr, nullptr);
  const v1::CreateRecreateRequestRequest& create = crr->create;
  EXPECT_EQ(create.namespace_(), "shop");
  EXPECT_EQ(create.name(), "web-0-restart");
  const v1::RecreateSpec& spec = create.spec();
  EXPECT_EQ(spec.pod_name(), "web-0");
  EXPECT_EQ(spec.pod_uid(), "5f1c2d3e-aaaa-bbbb-cccc-0123456789ab");
  ASSERT_EQ(spec.containers_size(), 3);
  const v1::RecreateContainer& app = spec.containers(0);
  EXPECT_EQ(app.name(), "app");
  EXPECT_EQ(app.status_context().container_id(), "containerd://3f2a9b");
  EXPECT_EQ(app.status_context().restart_count(), 2);
  EXPECT_EQ(app.pre_stop().http_get().path(), "/drain");
  EXPECT_EQ(app.pre_stop().http_get().port_name(), "http");
  EXPECT_EQ(app.pre_stop().http_get().scheme(), "HTTP");
  ASSERT_EQ(app.pre_stop().http_get().http_headers_size(), 1);
  EXPECT_EQ(app.pre_stop().http_get().http_headers(0).value(), "recreate");
  ASSERT_EQ(app.ports_size(), 1);
  EXPECT_EQ(app.ports(0).container_port(), 8080);
  EXPECT_EQ(app.ports(0).protocol(), v1::PROTOCOL_TCP);
  EXPECT_THAT(spec.containers(1).pre_stop().exec().command(),
              ::testing::ElementsAre("sh", "-c", "sleep 1"));
  EXPECT_EQ(spec.containers(2).pre_stop().tcp_socket().port_number(), 15000);
  EXPECT_EQ(spec.containers(2).pre_stop().tcp_socket().host(), "127.0.0.1");
  EXPECT_EQ(spec.strategy().failure_policy(), v1::FAILURE_POLICY_IGNORE);
  EXPECT_TRUE(spec.strategy().ordered_recreate());
  EXPECT_TRUE(spec.strategy().force_recreate());
  EXPECT_EQ(spec.strategy().termination_grace_period_seconds(), 30);
  EXPECT_EQ(spec.strategy().unready_grace_period_seconds(), 5);
  EXPECT_EQ(spec.strategy().min_started_seconds(), 10);
  EXPECT_EQ(spec.active_deadline_seconds(), 300);
  EXPECT_EQ(spec.ttl_seconds_after_finished(), 1800);
  ASSERT_TRUE(crr->unready_acquired_at.has_value());
  EXPECT_EQ(*crr->unready_acquired_at, absl::FromUnixSeconds(1796454000));
}

TEST(KruiseYamlTest, MinimalCrrTakesTheDefaultNamespaceAndLeavesOptionalFieldsUnset) {
  ASSERT_OK_AND_ASSIGN(std::vector<KruiseObject> objects, ParseKruiseYaml(R"(
apiVersion: apps.kruise.io/v1alpha1
kind: ContainerRecreateRequest
metadata:
  name: r1
spec:
  podName: web-0
  containers:
  - name: app
)",
                                                                          "team-a"));
  const auto& create = std::get<KruiseRecreate>(objects[0].object).create;
  EXPECT_EQ(create.namespace_(), "team-a");
  EXPECT_FALSE(create.spec().has_strategy());
  EXPECT_FALSE(create.spec().has_active_deadline_seconds());
  EXPECT_FALSE(create.spec().has_ttl_seconds_after_finished());
  EXPECT_FALSE(std::get<KruiseRecreate>(objects[0].object).unready_acquired_at.has_value());
  EXPECT_EQ(objects[0].source, "document 1 (ContainerRecreateRequest team-a/r1)");
}

constexpr char kNodeImage[] = R"(
apiVersion: apps.kruise.io/v1beta1
kind: NodeImage
metadata:
  name: node-1
spec:
  images:
    nginx:
      sandboxConfig:
        labels:
          app: web
        annotations:
          team: shop
      tags:
      - tag: "1.25"
        version: 2
        createdAt: "2026-12-05T07:00:00Z"
        imagePullPolicy: IfNotPresent
        pullPolicy:
          timeoutSeconds: 600
          backoffLimit: 3
          ttlSecondsAfterFinished: 300
          activeDeadlineSeconds: 1200
      - tag: latest
    reg.example.com:5000/team/app:
      tags:
      - tag: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        imagePullPolicy: Always
)";

TEST(KruiseYamlTest, MapsANodeImageInDocumentOrder) {
  ASSERT_OK_AND_ASSIGN(std::vector<KruiseObject> objects, ParseKruiseYaml(kNodeImage, "default"));
  ASSERT_EQ(objects.size(), 1u);
  const auto& node_image = std::get<KruiseNodeImage>(objects[0].object);
  EXPECT_EQ(node_image.node_name, "node-1");
  ASSERT_EQ(node_image.spec.images_size(), 2);
  const v1::ImageSpec& nginx = node_image.spec.images(0);
  EXPECT_EQ(nginx.name(), "nginx");
  EXPECT_EQ(nginx.sandbox_config().labels().at("app"), "web");
  EXPECT_EQ(nginx.sandbox_config().annotations().at("team"), "shop");
  ASSERT_EQ(nginx.tags_size(), 2);
  const v1::ImageTagSpec& tag = nginx.tags(0);
  EXPECT_EQ(tag.tag(), "1.25");
  EXPECT_EQ(tag.version(), 2);
  EXPECT_EQ(FromProtoTime(tag.created_at()), absl::FromUnixSeconds(1796454000));
  EXPECT_EQ(tag.image_pull_policy(), v1::IMAGE_PULL_POLICY_IF_NOT_PRESENT);
  EXPECT_EQ(tag.pull_policy().timeout_seconds(), 600);
  EXPECT_EQ(tag.pull_policy().backoff_limit(), 3);
  EXPECT_EQ(tag.pull_policy().ttl_seconds_after_finished(), 300);
  EXPECT_EQ(tag.pull_policy().active_deadline_seconds(), 1200);
  // Kruise's daemon pulls again unless the policy is exactly IfNotPresent.
  EXPECT_EQ(nginx.tags(1).image_pull_policy(), v1::IMAGE_PULL_POLICY_ALWAYS);
  EXPECT_EQ(node_image.spec.images(1).name(), "reg.example.com:5000/team/app");
}

TEST(KruiseYamlTest, ReadsEveryDocumentOfAFileAndSkipsEmptyOnes) {
  const std::string text = std::string(kFullCrr) + "---\n---\n" + kNodeImage + R"(
---
apiVersion: apps.kruise.io/v1beta1
kind: ContainerRecreateRequest
metadata: {name: second, namespace: shop}
spec: {podName: web-1, containers: [{name: app}]}
)";
  ASSERT_OK_AND_ASSIGN(std::vector<KruiseObject> objects, ParseKruiseYaml(text, "default"));
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<KruiseRecreate>(objects[0].object));
  EXPECT_TRUE(std::holds_alternative<KruiseNodeImage>(objects[1].object));
  EXPECT_EQ(std::get<KruiseRecreate>(objects[2].object).create.name(), "second");
  EXPECT_EQ(objects[2].source, "document 4 (ContainerRecreateRequest shop/second)");
}

struct Refusal {
  std::string name;
  std::string yaml;
  std::string expected;  // a substring of the error: the field path and why
};

void PrintTo(const Refusal& r, std::ostream* os) { *os << r.name; }

class KruiseYamlRefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(KruiseYamlRefusalTest, RefusesNamingTheField) {
  EXPECT_THAT(ParseKruiseYaml(GetParam().yaml, "default").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().expected)));
}

constexpr char kCrrHead[] = "apiVersion: apps.kruise.io/v1alpha1\nkind: ContainerRecreateRequest\n";
constexpr char kNiHead[] = "apiVersion: apps.kruise.io/v1alpha1\nkind: NodeImage\n";

std::string Crr(const std::string& metadata_extra, const std::string& spec_extra,
                const std::string& top = "") {
  return std::string(kCrrHead) + "metadata:\n  name: r\n" + metadata_extra +
         "spec:\n  podName: p\n  containers:\n  - name: c\n" + spec_extra + top;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, KruiseYamlRefusalTest,
    ::testing::Values(
        Refusal{"Status", Crr("", "", "status:\n  phase: Completed\n"),
                "document 1 (ContainerRecreateRequest default/r): status: refused"},
        Refusal{"ResourceVersion", Crr("  resourceVersion: \"12\"\n", ""),
                "metadata.resourceVersion: refused: written by the Kubernetes API server"},
        Refusal{"GenerateName", Crr("  generateName: r-\n", ""),
                "metadata.generateName: refused: only the API server generates names"},
        Refusal{"Finalizers", Crr("  finalizers: [x]\n", ""), "metadata.finalizers: refused"},
        Refusal{"OwnerReferences", Crr("  ownerReferences: []\n", ""),
                "metadata.ownerReferences: refused"},
        Refusal{"NodeNameLabel", Crr("  labels:\n    crr.apps.kruise.io/node-name: n1\n", ""),
                "metadata.labels[crr.apps.kruise.io/node-name]: refused: Kruise's webhook sets it"},
        Refusal{"OtherLabel", Crr("  labels:\n    app: web\n", ""),
                "metadata.labels[app]: refused"},
        Refusal{"SyncAnnotation",
                Crr("  annotations:\n    crr.apps.kruise.io/sync-container-statuses: \"[]\"\n", ""),
                "inplacectl report-ready"},
        Refusal{"BadUnreadyTime",
                Crr("  annotations:\n    crr.apps.kruise.io/unready-acquired: yesterday\n", ""),
                "expected an RFC 3339 time, got \"yesterday\""},
        Refusal{"GrpcPreStop", Crr("", "    preStop:\n      grpc:\n        port: 1\n"),
                "spec.containers[0].preStop.grpc: refused"},
        Refusal{
            "HostPort",
            Crr("", "    ports:\n    - name: http\n      containerPort: 80\n      hostPort: 80\n"),
            "spec.containers[0].ports[0].hostPort: refused"},
        Refusal{"BadPolicy", Crr("", "  strategy:\n    failurePolicy: Retry\n"),
                "spec.strategy.failurePolicy: expected Fail or Ignore, got \"Retry\""},
        Refusal{"NotAnInteger", Crr("", "  activeDeadlineSeconds: soon\n"),
                "spec.activeDeadlineSeconds: expected an integer, got \"soon\""},
        Refusal{"UnknownField", Crr("", "  podUID: x\n"), "spec.podUID: unknown field"},
        Refusal{"NoName", std::string(kCrrHead) + "metadata: {namespace: x}\nspec: {podName: p}\n",
                "metadata.name: required"},
        Refusal{
            "WrongApiVersion", "apiVersion: apps/v1\nkind: ContainerRecreateRequest\n",
            "document 1: apiVersion: expected apps.kruise.io/v1alpha1 or v1beta1, got \"apps/v1\""},
        Refusal{"WrongKind", "apiVersion: apps.kruise.io/v1alpha1\nkind: ImagePullJob\n",
                "kind: expected ContainerRecreateRequest or NodeImage, got \"ImagePullJob\""},
        Refusal{"PullSecrets",
                std::string(kNiHead) +
                    "metadata: {name: n}\nspec:\n  images:\n    nginx:\n      pullSecrets:\n      "
                    "- {name: s, namespace: d}\n      tags: [{tag: '1'}]\n",
                "spec.images[nginx].pullSecrets: refused: a Secret reference needs the API server"},
        Refusal{"TagOwnerReferences",
                std::string(kNiHead) + "metadata: {name: n}\nspec:\n  images:\n    nginx:\n      "
                                       "tags:\n      - tag: '1'\n        ownerReferences: []\n",
                "spec.images[nginx].tags[0].ownerReferences: refused"},
        Refusal{
            "NodeImageLabels",
            std::string(kNiHead) + "metadata: {name: n, labels: {zone: a}}\nspec: {images: {}}\n",
            "metadata.labels: refused"},
        Refusal{"BadImagePullPolicy",
                std::string(kNiHead) + "metadata: {name: n}\nspec:\n  images:\n    nginx:\n      "
                                       "tags: [{tag: '1', imagePullPolicy: Never}]\n",
                "spec.images[nginx].tags[0].imagePullPolicy: expected Always or IfNotPresent"},
        Refusal{"NotYaml", "a: [b\n", "YAML: line"},
        Refusal{"NoObjects", "---\n", "no ContainerRecreateRequest or NodeImage"},
        Refusal{"SecondDocument", std::string(kFullCrr) + "---\n" + Crr("  uid: abc\n", ""),
                "document 2 (ContainerRecreateRequest default/r): metadata.uid: refused"}),
    [](const ::testing::TestParamInfo<Refusal>& info) { return info.param.name; });

TEST(KruiseYamlTest, ListsEveryProblemOfTheFileAtOnce) {
  const absl::Status status =
      ParseKruiseYaml(Crr("  uid: abc\n", "  podUID: x\n", "status: {}\n"), "default").status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               AllOf(HasSubstr("metadata.uid"), HasSubstr("spec.podUID"),
                                     HasSubstr("status:"))));
}

}  // namespace
}  // namespace inplaced::cli
