// How `inplacectl version` and `health --node-info` show NodeService's answer.

#include "cli/node_view.h"

#include "gtest/gtest.h"

namespace inplaced::cli {
namespace {

namespace v1 = ::inplaced::v1;

v1::NodeInfo Info() {
  v1::NodeInfo info;
  info.set_node_name("node-a");
  info.set_daemon_version("0.1.0");
  info.set_daemon_build("731a489-dirty");
  info.set_api_version("v1");
  info.set_runtime_name("containerd");
  info.set_runtime_version("v1.7.24");
  info.set_runtime_api_version("v1");
  info.set_runtime_endpoint("unix:///run/containerd/containerd.sock");
  info.set_runtime_reachable(true);
  info.mutable_capabilities()->set_event_stream(v1::EVENT_STREAM_STREAMING);
  return info;
}

TEST(NodeViewTest, DaemonVersionWithAndWithoutGitDescribe) {
  v1::NodeInfo info = Info();
  EXPECT_EQ(FormatDaemonVersion(info), "inplaced 0.1.0 (git 731a489-dirty) api=v1 node=node-a");
  info.clear_daemon_build();
  EXPECT_EQ(FormatDaemonVersion(info), "inplaced 0.1.0 api=v1 node=node-a");
}

TEST(NodeViewTest, RuntimeSaysWhenItDidNotAnswer) {
  v1::NodeInfo info = Info();
  EXPECT_EQ(FormatDaemonRuntime(info),
            "runtime=containerd version=v1.7.24 api=v1 "
            "endpoint=unix:///run/containerd/containerd.sock");
  info.set_runtime_reachable(false);
  EXPECT_EQ(FormatDaemonRuntime(info),
            "runtime=containerd version=v1.7.24 api=v1 "
            "endpoint=unix:///run/containerd/containerd.sock (not answering: as of its last "
            "answer)");
}

TEST(NodeViewTest, Capabilities) {
  v1::NodeCapabilities capabilities;
  EXPECT_EQ(FormatCapabilities(capabilities),
            "event-stream=unknown image-pinning=no byte-progress=no");
  const struct {
    v1::EventStream value;
    const char* want;
  } cases[] = {
      {v1::EVENT_STREAM_DISABLED, "disabled"},
      {v1::EVENT_STREAM_SUBSCRIBED, "subscribed"},
      {v1::EVENT_STREAM_STREAMING, "streaming"},
      {v1::EVENT_STREAM_UNSUPPORTED, "unsupported"},
      {v1::EVENT_STREAM_RECONNECTING, "reconnecting"},
  };
  for (const auto& c : cases) EXPECT_EQ(EventStreamName(c.value), c.want);
  capabilities.set_event_stream(v1::EVENT_STREAM_UNSUPPORTED);
  capabilities.set_byte_progress(true);
  EXPECT_EQ(FormatCapabilities(capabilities),
            "event-stream=unsupported image-pinning=no byte-progress=yes");
}

}  // namespace
}  // namespace inplaced::cli
