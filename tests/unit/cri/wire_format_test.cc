// Pins the field numbers and wire types of every CRI message inplaced reads or writes, against the
// numbers in shared/reference/cri-reference.md (§1.3-1.5), not against the .proto: each test sets
// every field, serializes, decodes the bytes with CodedInputStream and compares (number, wire type,
// value) with a hand-written expectation. A wrong number or type in api/cri/runtime_v1.proto fails
// here instead of silently misreading containerd.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "api/cri/runtime_v1.grpc.pb.h"
#include "api/cri/runtime_v1.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace inplaced::cri {
namespace {

namespace criv1 = ::runtime::v1;
using WireFormatLite = google::protobuf::internal::WireFormatLite;

constexpr int kVarint = WireFormatLite::WIRETYPE_VARINT;
constexpr int kLen = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;

// One decoded (or expected) top-level field: varints carry `varint`, length-delimited fields
// `bytes`.
struct Field {
  int number = 0;
  int wire_type = 0;
  uint64_t varint = 0;
  std::string bytes;

  bool operator==(const Field& other) const {
    return number == other.number && wire_type == other.wire_type && varint == other.varint &&
           bytes == other.bytes;
  }
};

std::ostream& operator<<(std::ostream& os, const Field& field) {
  os << "{#" << field.number << (field.wire_type == kVarint ? " varint " : " len ");
  if (field.wire_type == kVarint) return os << field.varint << "}";
  os << "\"";
  for (unsigned char ch : field.bytes) {
    if (ch >= 0x20 && ch < 0x7f) {
      os << ch;
    } else {
      os << "\\x" << std::hex << static_cast<int>(ch) << std::dec;
    }
  }
  return os << "\"}";
}

Field V(int number, uint64_t value) { return Field{number, kVarint, value, ""}; }
Field S(int number, std::string value) { return Field{number, kLen, 0, std::move(value)}; }

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Hand encoding of the expectation (independent of the protobuf library).
std::string Encode(const std::vector<Field>& fields) {
  std::string out;
  for (const Field& field : fields) {
    AppendVarint((static_cast<uint64_t>(field.number) << 3) | field.wire_type, &out);
    if (field.wire_type == kVarint) {
      AppendVarint(field.varint, &out);
    } else {
      AppendVarint(field.bytes.size(), &out);
      out += field.bytes;
    }
  }
  return out;
}

// A nested message or map entry.
Field M(int number, const std::vector<Field>& fields) { return S(number, Encode(fields)); }
Field Entry(int number, const std::string& key, const std::string& value) {
  return M(number, {S(1, key), S(2, value)});
}

std::vector<Field> Decode(const std::string& data) {
  std::vector<Field> fields;
  google::protobuf::io::CodedInputStream input(reinterpret_cast<const uint8_t*>(data.data()),
                                               static_cast<int>(data.size()));
  while (true) {
    const uint32_t tag = input.ReadTag();
    if (tag == 0) break;
    Field field;
    field.number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    field.wire_type = WireFormatLite::GetTagWireType(tag);
    if (field.wire_type == kVarint) {
      EXPECT_TRUE(input.ReadVarint64(&field.varint));
    } else if (field.wire_type == kLen) {
      uint32_t size = 0;
      EXPECT_TRUE(input.ReadVarint32(&size));
      EXPECT_TRUE(input.ReadString(&field.bytes, static_cast<int>(size)));
    } else {
      ADD_FAILURE() << "unexpected wire type " << field.wire_type << " for #" << field.number;
      break;
    }
    fields.push_back(field);
  }
  return fields;
}

void ExpectWire(const google::protobuf::Message& message, const std::vector<Field>& want) {
  SCOPED_TRACE(message.GetTypeName());
  const std::string bytes = message.SerializeAsString();
  EXPECT_THAT(Decode(bytes), ::testing::ElementsAreArray(want));
  EXPECT_EQ(bytes, Encode(want));
  // And the other way: hand-encoded bytes parse back to the same message.
  std::unique_ptr<google::protobuf::Message> parsed(message.New());
  ASSERT_TRUE(parsed->ParseFromString(Encode(want)));
  EXPECT_EQ(parsed->SerializeAsString(), bytes);
}

// ---- Shared fixtures: each message once, with its expected encoding ----

criv1::PodSandboxMetadata SandboxMetadata() {
  criv1::PodSandboxMetadata m;
  m.set_name("n");
  m.set_uid("u");
  m.set_namespace_("ns");
  m.set_attempt(2);
  return m;
}
// uid = 2 comes before namespace = 3.
const std::vector<Field> kSandboxMetadata = {S(1, "n"), S(2, "u"), S(3, "ns"), V(4, 2)};

criv1::ContainerMetadata ContainerMeta() {
  criv1::ContainerMetadata m;
  m.set_name("app");
  m.set_attempt(3);
  return m;
}
const std::vector<Field> kContainerMetadata = {S(1, "app"), V(2, 3)};

criv1::ImageSpec Spec() {
  criv1::ImageSpec spec;
  spec.set_image("busybox:1");
  (*spec.mutable_annotations())["a"] = "b";
  spec.set_user_specified_image("busybox");
  spec.set_runtime_handler("runc");
  spec.set_image_ref("sha256:r");
  return spec;
}
const std::vector<Field> kImageSpec = {S(1, "busybox:1"), Entry(2, "a", "b"), S(18, "busybox"),
                                       S(19, "runc"), S(20, "sha256:r")};

criv1::PodSandboxStatus SandboxStatus() {
  criv1::PodSandboxStatus s;
  s.set_id("sb");
  *s.mutable_metadata() = SandboxMetadata();
  s.set_state(criv1::SANDBOX_NOTREADY);
  s.set_created_at(5);
  s.mutable_network()->set_ip("10.0.0.2");
  s.mutable_network()->add_additional_ips()->set_ip("fd00::2");
  criv1::NamespaceOption* ns = s.mutable_linux()->mutable_namespaces()->mutable_options();
  ns->set_network(criv1::NODE);
  ns->set_pid(criv1::CONTAINER);
  ns->set_ipc(criv1::TARGET);
  ns->set_target_id("t");
  (*s.mutable_labels())["l"] = "1";
  (*s.mutable_annotations())["a"] = "2";
  s.set_runtime_handler("runc");
  return s;
}
const std::vector<Field> kSandboxStatus = {
    S(1, "sb"),
    M(2, kSandboxMetadata),
    V(3, 1),  // SANDBOX_NOTREADY
    V(4, 5),
    M(5, {S(1, "10.0.0.2"), M(2, {S(1, "fd00::2")})}),
    // linux.namespaces.options (Namespace has no field 1): network NODE=2, pid CONTAINER=1,
    // ipc TARGET=3, target_id.
    M(6, {M(1, {M(2, {V(1, 2), V(2, 1), V(3, 3), S(4, "t")})})}),
    Entry(7, "l", "1"),
    Entry(8, "a", "2"),
    S(9, "runc"),
};

criv1::ContainerStatus FullContainerStatus() {
  criv1::ContainerStatus s;
  s.set_id("c");
  *s.mutable_metadata() = ContainerMeta();
  s.set_state(criv1::CONTAINER_EXITED);
  s.set_created_at(1);
  s.set_started_at(2);
  s.set_finished_at(3);
  s.set_exit_code(137);
  s.mutable_image()->set_image("img");
  s.set_image_ref("ref");
  s.set_reason("OOMKilled");
  s.set_message("m");
  (*s.mutable_labels())["l"] = "1";
  (*s.mutable_annotations())["a"] = "2";
  s.add_mounts()->set_container_path("/data");
  s.set_log_path("/var/log/x");
  s.mutable_resources()->mutable_linux()->set_cpu_period(100000);
  s.set_image_id("sha256:id");
  s.mutable_user()->mutable_linux()->set_uid(1000);
  return s;
}
const std::vector<Field> kContainerStatus = {
    S(1, "c"),
    M(2, kContainerMetadata),
    V(3, 2),  // CONTAINER_EXITED
    V(4, 1),
    V(5, 2),
    V(6, 3),
    V(7, 137),
    M(8, {S(1, "img")}),
    S(9, "ref"),
    S(10, "OOMKilled"),
    S(11, "m"),
    Entry(12, "l", "1"),
    Entry(13, "a", "2"),
    M(14, {S(1, "/data")}),
    S(15, "/var/log/x"),
    M(16, {M(1, {V(1, 100000)})}),
    S(17, "sha256:id"),
    M(18, {M(1, {V(1, 1000)})}),
};

// ---- Tests ----

TEST(WireFormatTest, PodSandboxMetadataPutsUidBeforeNamespace) {
  ExpectWire(SandboxMetadata(), kSandboxMetadata);
}

TEST(WireFormatTest, PodSandbox) {
  criv1::PodSandbox s;
  s.set_id("sb");
  *s.mutable_metadata() = SandboxMetadata();
  s.set_state(criv1::SANDBOX_NOTREADY);
  s.set_created_at(1234567890123456789);
  (*s.mutable_labels())["l"] = "1";
  (*s.mutable_annotations())["a"] = "2";
  s.set_runtime_handler("runc");
  ExpectWire(s, {S(1, "sb"), M(2, kSandboxMetadata), V(3, 1), V(4, 1234567890123456789),
                 Entry(5, "l", "1"), Entry(6, "a", "2"), S(7, "runc")});
}

TEST(WireFormatTest, PodSandboxStatusAndItsCall) {
  ExpectWire(SandboxStatus(), kSandboxStatus);

  criv1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id("sb");
  request.set_verbose(true);
  ExpectWire(request, {S(1, "sb"), V(2, 1)});

  criv1::PodSandboxStatusResponse response;
  *response.mutable_status() = SandboxStatus();
  (*response.mutable_info())["k"] = "v";
  response.add_containers_statuses()->set_id("c");
  response.set_timestamp(9);
  ExpectWire(response, {M(1, kSandboxStatus), Entry(2, "k", "v"), M(3, {S(1, "c")}), V(4, 9)});
}

TEST(WireFormatTest, ListPodSandboxAndFilter) {
  criv1::PodSandboxFilter filter;
  filter.set_id("sb");
  filter.mutable_state()->set_state(criv1::SANDBOX_NOTREADY);
  (*filter.mutable_label_selector())["io.kubernetes.pod.uid"] = "u";
  const std::vector<Field> kFilter = {S(1, "sb"), M(2, {V(1, 1)}),
                                      Entry(3, "io.kubernetes.pod.uid", "u")};
  ExpectWire(filter, kFilter);

  criv1::ListPodSandboxRequest request;
  *request.mutable_filter() = filter;
  ExpectWire(request, {M(1, kFilter)});

  criv1::ListPodSandboxResponse response;
  response.add_items()->set_id("sb");
  ExpectWire(response, {M(1, {S(1, "sb")})});
}

TEST(WireFormatTest, ContainerAndMetadata) {
  ExpectWire(ContainerMeta(), kContainerMetadata);

  criv1::Container c;
  c.set_id("c");
  c.set_pod_sandbox_id("sb");
  *c.mutable_metadata() = ContainerMeta();
  *c.mutable_image() = Spec();
  c.set_image_ref("ref");
  c.set_state(criv1::CONTAINER_UNKNOWN);
  c.set_created_at(7);
  (*c.mutable_labels())["l"] = "1";
  (*c.mutable_annotations())["a"] = "2";
  c.set_image_id("sha256:id");
  ExpectWire(c, {S(1, "c"), S(2, "sb"), M(3, kContainerMetadata), M(4, kImageSpec), S(5, "ref"),
                 V(6, 3), V(7, 7), Entry(8, "l", "1"), Entry(9, "a", "2"), S(10, "sha256:id")});
}

TEST(WireFormatTest, ListContainersAndFilter) {
  criv1::ContainerFilter filter;
  filter.set_id("c");
  filter.mutable_state()->set_state(criv1::CONTAINER_RUNNING);
  filter.set_pod_sandbox_id("sb");
  (*filter.mutable_label_selector())["k"] = "v";
  const std::vector<Field> kFilter = {S(1, "c"), M(2, {V(1, 1)}), S(3, "sb"), Entry(4, "k", "v")};
  ExpectWire(filter, kFilter);

  criv1::ListContainersRequest request;
  *request.mutable_filter() = filter;
  ExpectWire(request, {M(1, kFilter)});

  criv1::ListContainersResponse response;
  response.add_containers()->set_id("c");
  ExpectWire(response, {M(1, {S(1, "c")})});
}

TEST(WireFormatTest, ContainerStatusAndItsCall) {
  ExpectWire(FullContainerStatus(), kContainerStatus);

  criv1::ContainerStatusRequest request;
  request.set_container_id("c");
  request.set_verbose(true);
  ExpectWire(request, {S(1, "c"), V(2, 1)});

  criv1::ContainerStatusResponse response;
  *response.mutable_status() = FullContainerStatus();
  (*response.mutable_info())["info"] = "{}";
  ExpectWire(response, {M(1, kContainerStatus), Entry(2, "info", "{}")});
}

TEST(WireFormatTest, StopAndRemoveContainer) {
  criv1::StopContainerRequest stop;
  stop.set_container_id("c");
  stop.set_timeout(30);
  ExpectWire(stop, {S(1, "c"), V(2, 30)});

  criv1::RemoveContainerRequest remove;
  remove.set_container_id("c");
  ExpectWire(remove, {S(1, "c")});

  criv1::StopPodSandboxRequest stop_sandbox;
  stop_sandbox.set_pod_sandbox_id("sb");
  ExpectWire(stop_sandbox, {S(1, "sb")});
}

TEST(WireFormatTest, ExecSync) {
  criv1::ExecSyncRequest request;
  request.set_container_id("c");
  request.add_cmd("sh");
  request.add_cmd("-c");
  request.set_timeout(5);
  ExpectWire(request, {S(1, "c"), S(2, "sh"), S(2, "-c"), V(3, 5)});

  criv1::ExecSyncResponse response;
  response.set_stdout(std::string("o\0ut", 4));
  response.set_stderr("err");
  // int32 (not sint32): -1 is a 10-byte sign-extended varint.
  response.set_exit_code(-1);
  ExpectWire(response, {S(1, std::string("o\0ut", 4)), S(2, "err"), V(3, ~uint64_t{0})});
}

TEST(WireFormatTest, ContainerEventResponseUsesTheV026Layout) {
  criv1::ContainerEventResponse event;
  event.set_container_id("c");
  event.set_container_event_type(criv1::CONTAINER_DELETED_EVENT);
  event.set_created_at(11);
  *event.mutable_pod_sandbox_status() = SandboxStatus();
  *event.add_containers_statuses() = FullContainerStatus();
  ExpectWire(event, {S(1, "c"), V(2, 3), V(3, 11), M(4, kSandboxStatus), M(5, kContainerStatus)});
}

TEST(WireFormatTest, ImageSpec) { ExpectWire(Spec(), kImageSpec); }

TEST(WireFormatTest, ImageAndImageCalls) {
  criv1::Image image;
  image.set_id("sha256:id");
  image.add_repo_tags("busybox:1");
  image.add_repo_digests("busybox@sha256:d");
  image.set_size(4096);
  image.mutable_uid()->set_value(0x7fffffffffffffff);
  image.set_username("root");
  *image.mutable_spec() = Spec();
  image.set_pinned(true);
  const std::vector<Field> kImage = {S(1, "sha256:id"),
                                     S(2, "busybox:1"),
                                     S(3, "busybox@sha256:d"),
                                     V(4, 4096),
                                     M(5, {V(1, 0x7fffffffffffffff)}),
                                     S(6, "root"),
                                     M(7, kImageSpec),
                                     V(8, 1)};
  ExpectWire(image, kImage);

  criv1::ImageStatusRequest status_request;
  *status_request.mutable_image() = Spec();
  status_request.set_verbose(true);
  ExpectWire(status_request, {M(1, kImageSpec), V(2, 1)});

  criv1::ImageStatusResponse status_response;
  *status_response.mutable_image() = image;
  (*status_response.mutable_info())["k"] = "v";
  ExpectWire(status_response, {M(1, kImage), Entry(2, "k", "v")});

  criv1::ListImagesRequest list_request;
  *list_request.mutable_filter()->mutable_image() = Spec();
  ExpectWire(list_request, {M(1, {M(1, kImageSpec)})});

  criv1::ListImagesResponse list_response;
  *list_response.add_images() = image;
  ExpectWire(list_response, {M(1, kImage)});

  criv1::RemoveImageRequest remove;
  *remove.mutable_image() = Spec();
  ExpectWire(remove, {M(1, kImageSpec)});
}

TEST(WireFormatTest, PullImageWithAuth) {
  criv1::AuthConfig auth;
  auth.set_username("user");
  auth.set_password("pass");
  auth.set_auth("dXNlcjpwYXNz");
  auth.set_server_address("registry:5000");
  auth.set_identity_token("id-token");
  auth.set_registry_token("reg-token");
  const std::vector<Field> kAuth = {S(1, "user"),          S(2, "pass"),     S(3, "dXNlcjpwYXNz"),
                                    S(4, "registry:5000"), S(5, "id-token"), S(6, "reg-token")};
  ExpectWire(auth, kAuth);

  criv1::PullImageRequest request;
  *request.mutable_image() = Spec();
  *request.mutable_auth() = auth;
  *request.mutable_sandbox_config()->mutable_metadata() = SandboxMetadata();
  ExpectWire(request, {M(1, kImageSpec), M(2, kAuth), M(3, {M(1, kSandboxMetadata)})});

  criv1::PullImageResponse response;
  response.set_image_ref("sha256:id");
  ExpectWire(response, {S(1, "sha256:id")});
}

TEST(WireFormatTest, ImageFsInfo) {
  criv1::FilesystemUsage usage;
  usage.set_timestamp(3);
  usage.mutable_fs_id()->set_mountpoint("/var/lib/containerd");
  usage.mutable_used_bytes()->set_value(1024);
  usage.mutable_inodes_used()->set_value(7);
  const std::vector<Field> kUsage = {V(1, 3), M(2, {S(1, "/var/lib/containerd")}),
                                     M(3, {V(1, 1024)}), M(4, {V(1, 7)})};
  ExpectWire(usage, kUsage);

  criv1::ImageFsInfoResponse response;
  *response.add_image_filesystems() = usage;
  *response.add_container_filesystems() = usage;
  ExpectWire(response, {M(1, kUsage), M(2, kUsage)});
}

TEST(WireFormatTest, VersionAndStatus) {
  criv1::VersionRequest request;
  request.set_version("0.1.0");
  ExpectWire(request, {S(1, "0.1.0")});

  criv1::VersionResponse response;
  response.set_version("0.1.0");
  response.set_runtime_name("containerd");
  response.set_runtime_version("1.6.20~ds1");
  response.set_runtime_api_version("v1");
  ExpectWire(response, {S(1, "0.1.0"), S(2, "containerd"), S(3, "1.6.20~ds1"), S(4, "v1")});

  criv1::StatusRequest status_request;
  status_request.set_verbose(true);
  ExpectWire(status_request, {V(1, 1)});

  criv1::StatusResponse status;
  criv1::RuntimeCondition* condition = status.mutable_status()->add_conditions();
  condition->set_type("RuntimeReady");
  condition->set_status(true);
  condition->set_reason("r");
  condition->set_message("m");
  (*status.mutable_info())["k"] = "v";
  ExpectWire(status, {M(1, {M(1, {S(1, "RuntimeReady"), V(2, 1), S(3, "r"), S(4, "m")})}),
                      Entry(2, "k", "v")});
}

TEST(WireFormatTest, EnumNumbers) {
  EXPECT_EQ(criv1::CONTAINER_CREATED, 0);
  EXPECT_EQ(criv1::CONTAINER_RUNNING, 1);
  EXPECT_EQ(criv1::CONTAINER_EXITED, 2);
  EXPECT_EQ(criv1::CONTAINER_UNKNOWN, 3);
  EXPECT_EQ(criv1::SANDBOX_READY, 0);
  EXPECT_EQ(criv1::SANDBOX_NOTREADY, 1);
  EXPECT_EQ(criv1::CONTAINER_CREATED_EVENT, 0);
  EXPECT_EQ(criv1::CONTAINER_STARTED_EVENT, 1);
  EXPECT_EQ(criv1::CONTAINER_STOPPED_EVENT, 2);
  EXPECT_EQ(criv1::CONTAINER_DELETED_EVENT, 3);
  EXPECT_EQ(criv1::POD, 0);
  EXPECT_EQ(criv1::CONTAINER, 1);
  EXPECT_EQ(criv1::NODE, 2);
  EXPECT_EQ(criv1::TARGET, 3);
}

TEST(WireFormatTest, ServiceAndMethodNamesMatchTheCri) {
  EXPECT_STREQ(criv1::RuntimeService::service_full_name(), "runtime.v1.RuntimeService");
  EXPECT_STREQ(criv1::ImageService::service_full_name(), "runtime.v1.ImageService");
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  struct Method {
    const char* service;
    const char* name;
    const char* input;
    const char* output;
    bool server_streaming;
  };
  const std::vector<Method> methods = {
      {"runtime.v1.RuntimeService", "Version", "VersionRequest", "VersionResponse", false},
      {"runtime.v1.RuntimeService", "ListPodSandbox", "ListPodSandboxRequest",
       "ListPodSandboxResponse", false},
      {"runtime.v1.RuntimeService", "PodSandboxStatus", "PodSandboxStatusRequest",
       "PodSandboxStatusResponse", false},
      {"runtime.v1.RuntimeService", "ListContainers", "ListContainersRequest",
       "ListContainersResponse", false},
      {"runtime.v1.RuntimeService", "ContainerStatus", "ContainerStatusRequest",
       "ContainerStatusResponse", false},
      {"runtime.v1.RuntimeService", "StopContainer", "StopContainerRequest",
       "StopContainerResponse", false},
      {"runtime.v1.RuntimeService", "RemoveContainer", "RemoveContainerRequest",
       "RemoveContainerResponse", false},
      {"runtime.v1.RuntimeService", "ExecSync", "ExecSyncRequest", "ExecSyncResponse", false},
      {"runtime.v1.RuntimeService", "Status", "StatusRequest", "StatusResponse", false},
      {"runtime.v1.RuntimeService", "GetContainerEvents", "GetEventsRequest",
       "ContainerEventResponse", true},
      {"runtime.v1.ImageService", "ListImages", "ListImagesRequest", "ListImagesResponse", false},
      {"runtime.v1.ImageService", "ImageStatus", "ImageStatusRequest", "ImageStatusResponse",
       false},
      {"runtime.v1.ImageService", "PullImage", "PullImageRequest", "PullImageResponse", false},
      {"runtime.v1.ImageService", "RemoveImage", "RemoveImageRequest", "RemoveImageResponse",
       false},
      {"runtime.v1.ImageService", "ImageFsInfo", "ImageFsInfoRequest", "ImageFsInfoResponse",
       false},
  };
  for (const Method& m : methods) {
    SCOPED_TRACE(std::string(m.service) + "/" + m.name);
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(m.service);
    ASSERT_NE(service, nullptr);
    const google::protobuf::MethodDescriptor* method = service->FindMethodByName(m.name);
    ASSERT_NE(method, nullptr);
    EXPECT_EQ(method->input_type()->full_name(), std::string("runtime.v1.") + m.input);
    EXPECT_EQ(method->output_type()->full_name(), std::string("runtime.v1.") + m.output);
    EXPECT_EQ(method->server_streaming(), m.server_streaming);
    EXPECT_FALSE(method->client_streaming());
  }
}

}  // namespace
}  // namespace inplaced::cri
