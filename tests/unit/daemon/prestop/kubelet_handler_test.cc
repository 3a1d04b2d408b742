#include "daemon/prestop/kubelet_handler.h"

#include <string>

#include "cri/kubelet_labels.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;

api::LifecycleHandler FromText(const std::string& text) {
  api::LifecycleHandler handler;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &handler)) << text;
  return handler;
}

struct HandlerCase {
  std::string description;
  std::string json;
  std::string expected;  // text proto
};

TEST(ParseKubeletPreStopHandlerTest, ParsesEveryActionLikeKubeletWritesIt) {
  const HandlerCase cases[] = {
      {"exec", R"({"exec":{"command":["sh","-c","echo bye > /tmp/mark"]}})",
       R"(exec { command: "sh" command: "-c" command: "echo bye > /tmp/mark" })"},
      {"httpGet int port, all fields",
       R"({"httpGet":{"path":"/shutdown","port":8080,"host":"10.0.0.5","scheme":"HTTPS",
           "httpHeaders":[{"name":"X-Token","value":"abc"},{"name":"X-Empty","value":""}]}})",
       R"(http_get { path: "/shutdown" port_number: 8080 host: "10.0.0.5" scheme: "HTTPS"
           http_headers { name: "X-Token" value: "abc" } http_headers { name: "X-Empty" } })"},
      {"httpGet named port", R"({"httpGet":{"path":"/x","port":"http-admin"}})",
       R"(http_get { path: "/x" port_name: "http-admin" })"},
      {"httpGet numeric string port", R"({"httpGet":{"port":"9090"}})",
       R"(http_get { port_number: 9090 })"},
      {"httpGet nulls are absent", R"({"httpGet":{"port":80,"host":null,"httpHeaders":null}})",
       R"(http_get { port_number: 80 })"},
      {"tcpSocket int", R"({"tcpSocket":{"port":5432}})", R"(tcp_socket { port_number: 5432 })"},
      {"tcpSocket named with host", R"({"tcpSocket":{"port":"db","host":"localhost"}})",
       R"(tcp_socket { port_name: "db" host: "localhost" })"},
      {"sleep", R"({"sleep":{"seconds":15}})", R"(sleep { seconds: 15 })"},
      {"sleep zero", R"({"sleep":{"seconds":0}})", R"(sleep { })"},
      {"unknown members ignored", R"({"exec":{"command":["true"],"future":1},"other":{}})",
       R"(exec { command: "true" })"},
      {"null actions ignored", R"({"exec":null,"sleep":{"seconds":1}})", R"(sleep { seconds: 1 })"},
  };
  for (const HandlerCase& c : cases) {
    SCOPED_TRACE(c.description);
    ASSERT_OK_AND_ASSIGN(std::optional<api::LifecycleHandler> handler,
                         ParseKubeletPreStopHandler(c.json));
    ASSERT_TRUE(handler.has_value());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*handler, FromText(c.expected)))
        << handler->ShortDebugString();
  }
}

TEST(ParseKubeletPreStopHandlerTest, EmptyOrNullMeansNoHook) {
  for (const char* json : {"", "   \n", "null"}) {
    SCOPED_TRACE(json);
    ASSERT_OK_AND_ASSIGN(std::optional<api::LifecycleHandler> handler,
                         ParseKubeletPreStopHandler(json));
    EXPECT_FALSE(handler.has_value());
  }
}

struct BadCase {
  std::string description;
  std::string json;
  std::string reason;  // substring of the message
};

TEST(ParseKubeletPreStopHandlerTest, RejectsBadInputWithTheReason) {
  const BadCase cases[] = {
      {"malformed", R"({"exec":{"command":["a"])", "malformed JSON"},
      {"not an object", R"(["exec"])", "must be a JSON object"},
      {"no action", R"({})", "no action"},
      {"two actions", R"({"exec":{"command":["a"]},"sleep":{"seconds":1}})",
       "more than one action"},
      {"action not an object", R"({"exec":"ls"})", "exec: must be an object"},
      {"exec without command", R"({"exec":{}})", "exec.command: required"},
      {"exec empty command", R"({"exec":{"command":[]}})",
       "exec.command: must have a non-empty first"},
      {"exec empty first arg", R"({"exec":{"command":[""]}})",
       "exec.command: must have a non-empty first"},
      {"exec non-string arg", R"({"exec":{"command":["a",1]}})",
       "exec.command: must be an array of strings"},
      {"httpGet without port", R"({"httpGet":{"path":"/"}})", "httpGet.port: required"},
      {"httpGet empty port", R"({"httpGet":{"port":""}})", "httpGet.port: required"},
      {"httpGet port zero", R"({"httpGet":{"port":0}})", "httpGet.port: port 0 out of range"},
      {"httpGet port too big", R"({"httpGet":{"port":70000}})", "port 70000 out of range"},
      {"httpGet numeric string too big", R"({"httpGet":{"port":"70000"}})",
       "port 70000 out of range"},
      {"httpGet port float", R"({"httpGet":{"port":80.5}})",
       "httpGet.port: must be an integer or a string"},
      {"httpGet host not string", R"({"httpGet":{"port":80,"host":1}})",
       "httpGet.host: must be a string"},
      {"httpGet headers not array", R"({"httpGet":{"port":80,"httpHeaders":{}}})",
       "httpGet.httpHeaders: must be"},
      {"httpGet header without name", R"({"httpGet":{"port":80,"httpHeaders":[{"value":"v"}]}})",
       "httpGet.httpHeaders[].name: required"},
      {"tcpSocket without port", R"({"tcpSocket":{}})", "tcpSocket.port: required"},
      {"sleep without seconds", R"({"sleep":{}})", "sleep.seconds: required"},
      {"sleep negative", R"({"sleep":{"seconds":-1}})", "sleep.seconds: must not be negative"},
      {"sleep string", R"({"sleep":{"seconds":"5"}})", "sleep.seconds: must be an integer"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.description);
    absl::StatusOr<std::optional<api::LifecycleHandler>> handler =
        ParseKubeletPreStopHandler(c.json);
    EXPECT_THAT(handler, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.reason)));
    if (!handler.ok()) {
      EXPECT_THAT(handler.status().message(), HasSubstr(cri::kubelet::kContainerPreStopHandler));
    }
  }
}

TEST(ParseKubeletPreStopHandlerTest, NeverCrashesOnTruncations) {
  const std::string json =
      R"({"httpGet":{"path":"/s","port":"web","scheme":"HTTP","httpHeaders":[{"name":"a","value":"b"}]}})";
  for (size_t n = 0; n < json.size(); ++n) {
    absl::StatusOr<std::optional<api::LifecycleHandler>> handler =
        ParseKubeletPreStopHandler(absl::string_view(json).substr(0, n));
    if (n == 0) {
      EXPECT_OK(handler.status());
    } else {
      EXPECT_THAT(handler, StatusIs(absl::StatusCode::kInvalidArgument)) << n;
    }
  }
}

TEST(ParseKubeletPortsTest, ParsesNamedPortsAndSkipsUnnamed) {
  const std::string json =
      R"([{"name":"http","containerPort":8080,"protocol":"TCP"},)"
      R"({"containerPort":9000,"protocol":"TCP"},)"
      R"({"name":"dns","containerPort":53,"protocol":"UDP","hostPort":53,"hostIP":"0.0.0.0"},)"
      R"({"name":"sig","containerPort":7,"protocol":"SCTP"},)"
      R"({"name":"noproto","containerPort":81}])";
  ASSERT_OK_AND_ASSIGN(std::vector<api::ContainerPort> ports, ParseKubeletPorts(json));
  ASSERT_THAT(ports, SizeIs(4));
  EXPECT_EQ(ports[0].name(), "http");
  EXPECT_EQ(ports[0].container_port(), 8080);
  EXPECT_EQ(ports[0].protocol(), api::PROTOCOL_TCP);
  EXPECT_EQ(ports[1].name(), "dns");
  EXPECT_EQ(ports[1].protocol(), api::PROTOCOL_UDP);
  EXPECT_EQ(ports[2].protocol(), api::PROTOCOL_SCTP);
  EXPECT_EQ(ports[3].name(), "noproto");
  EXPECT_EQ(ports[3].protocol(), api::PROTOCOL_TCP);
}

TEST(ParseKubeletPortsTest, EmptyMeansNoPorts) {
  for (const char* json : {"", "[]", "null"}) {
    SCOPED_TRACE(json);
    ASSERT_OK_AND_ASSIGN(std::vector<api::ContainerPort> ports, ParseKubeletPorts(json));
    EXPECT_THAT(ports, SizeIs(0));
  }
}

TEST(ParseKubeletPortsTest, RejectsBadInputWithTheReason) {
  const BadCase cases[] = {
      {"malformed", R"([{"name":"a")", "malformed JSON"},
      {"object", R"({"name":"a"})", "must be a JSON array"},
      {"entry not object", R"([1])", "entries must be objects"},
      {"no containerPort", R"([{"name":"a"}])", "ports[].containerPort: required"},
      {"port string", R"([{"name":"a","containerPort":"80"}])", "must be an integer"},
      {"port zero", R"([{"name":"a","containerPort":0}])", "out of range"},
      {"bad protocol", R"([{"name":"a","containerPort":80,"protocol":"QUIC"}])",
       "protocol \"QUIC\""},
      {"name not string", R"([{"name":5,"containerPort":80}])", "ports[].name: must be a string"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.description);
    absl::StatusOr<std::vector<api::ContainerPort>> ports = ParseKubeletPorts(c.json);
    EXPECT_THAT(ports, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.reason)));
    if (!ports.ok()) {
      EXPECT_THAT(ports.status().message(), HasSubstr(cri::kubelet::kContainerPorts));
    }
  }
}

}  // namespace
}  // namespace inplaced::daemon
