#include "cri/endpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/cri/bound_socket.h"

namespace inplaced::cri {
namespace {

using ::inplaced::cri::testing::BoundSocket;
using ::inplaced::testing::StatusIs;
using ::inplaced::testing::TempDir;
using ::testing::HasSubstr;

TEST(EndpointTest, ParseTable) {
  struct Case {
    std::string description;
    std::string input;
    absl::StatusCode code;
    std::string want;  // the canonical endpoint, or a substring of the error
  };
  const std::vector<Case> cases = {
      {"unix url", "unix:///run/containerd/containerd.sock", absl::StatusCode::kOk,
       "unix:///run/containerd/containerd.sock"},
      {"bare absolute path means unix", "/var/run/crio/crio.sock", absl::StatusCode::kOk,
       "unix:///var/run/crio/crio.sock"},
      {"tcp rejected", "tcp://127.0.0.1:1234", absl::StatusCode::kInvalidArgument,
       "only unix socket endpoints are supported"},
      {"other scheme rejected", "http://localhost/x", absl::StatusCode::kInvalidArgument,
       "only unix socket endpoints are supported"},
      {"empty", "", absl::StatusCode::kInvalidArgument, "empty"},
      {"relative bare path", "run/containerd.sock", absl::StatusCode::kInvalidArgument, "absolute"},
      {"relative unix path", "unix://run/containerd.sock", absl::StatusCode::kInvalidArgument,
       "absolute"},
      {"unix without path", "unix://", absl::StatusCode::kInvalidArgument, "absolute"},
      {"too long for sun_path", "/" + std::string(120, 'a'), absl::StatusCode::kInvalidArgument,
       "longer than"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const absl::StatusOr<std::string> got = ParseEndpoint(c.input);
    if (c.code == absl::StatusCode::kOk) {
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, c.want);
      EXPECT_EQ("unix://" + SocketPathOf(*got), *got);
    } else {
      EXPECT_THAT(got, StatusIs(c.code, HasSubstr(c.want)));
    }
  }
}

TEST(EndpointTest, CandidatesFollowKruiseOrder) {
  EXPECT_THAT(
      DiscoveryCandidates("/var/run/"),
      ::testing::ElementsAre("/var/run/containerd.sock", "/var/run/containerd/containerd.sock",
                             "/var/run/crio.sock", "/var/run/crio/crio.sock",
                             "/var/run/cri-dockerd.sock", "/var/run/cri-dockerd/cri-dockerd.sock"));
}

TEST(EndpointTest, DiscoveryTable) {
  struct Case {
    std::string description;
    std::vector<std::string> sockets;        // real bound unix sockets
    std::vector<std::string> regular_files;  // plain files with a socket's name
    std::vector<std::string> directories;    // directories with a socket's name
    std::string want;                        // relative path found; empty = NOT_FOUND
  };
  const std::vector<Case> cases = {
      {"containerd flat", {"containerd.sock", "crio.sock"}, {}, {}, "containerd.sock"},
      {"containerd subdir before crio",
       {"containerd/containerd.sock", "crio.sock"},
       {},
       {},
       "containerd/containerd.sock"},
      {"crio subdir", {"crio/crio.sock"}, {}, {}, "crio/crio.sock"},
      {"regular file is not a socket", {"crio.sock"}, {"containerd.sock"}, {}, "crio.sock"},
      {"directory is not a socket",
       {"cri-dockerd.sock"},
       {},
       {"containerd.sock"},
       "cri-dockerd.sock"},
      {"cri-dockerd subdir last",
       {"cri-dockerd/cri-dockerd.sock"},
       {"crio/crio.sock"},
       {},
       "cri-dockerd/cri-dockerd.sock"},
      {"nothing", {}, {"containerd.sock"}, {}, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    TempDir dir;
    for (const char* sub : {"containerd", "crio", "cri-dockerd"}) {
      ASSERT_EQ(::mkdir(dir.Join(sub).c_str(), 0755), 0);
    }
    std::vector<std::unique_ptr<BoundSocket>> sockets;
    for (const std::string& s : c.sockets) {
      sockets.push_back(std::make_unique<BoundSocket>(dir.Join(s)));
      ASSERT_TRUE(sockets.back()->ok()) << s;
    }
    for (const std::string& f : c.regular_files) {
      const int fd = ::open(dir.Join(f).c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0);
      ::close(fd);
    }
    for (const std::string& d : c.directories) ASSERT_EQ(::mkdir(dir.Join(d).c_str(), 0755), 0);

    const absl::StatusOr<std::string> got = DiscoverEndpoint(dir.path());
    if (c.want.empty()) {
      EXPECT_THAT(got, StatusIs(absl::StatusCode::kNotFound));
      for (const std::string& tried : DiscoveryCandidates(dir.path())) {
        EXPECT_THAT(std::string(got.status().message()), HasSubstr(tried));
      }
    } else {
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(*got, "unix://" + dir.Join(c.want));
    }
  }
}

}  // namespace
}  // namespace inplaced::cri
