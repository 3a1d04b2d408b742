// The inplaced binary run as a service, against the fake_cri_server binary: the systemd
// notifications it sends to a NOTIFY_SOCKET the test owns (READY=1 only once it serves, STATUS
// lines, WATCHDOG=1 with WATCHDOG_USEC, STOPPING=1 on SIGTERM), the control socket's group, and the
// config file.

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/grpc/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_harness.h"
#include "tests/support/child_process.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::inplaced::testing::ChildProcess;
using ::inplaced::testing::DaemonHarness;
using ::inplaced::testing::IsOk;
using ::inplaced::testing::SetDeadline;
using ::testing::Contains;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The control socket's group, from a flag and from the config file.
class SocketGroupIntegrationTest : public DaemonHarness {
 protected:
  void MakeStubs() override {}

  // The gid of `name`, which the test machine has (Debian's base groups).
  static gid_t Gid(const char* name) {
    const group* entry = ::getgrnam(name);
    EXPECT_NE(entry, nullptr) << name;
    return entry == nullptr ? 0 : entry->gr_gid;
  }

  void ExpectSharedWith(gid_t gid) {
    struct stat st;
    ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, gid);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    ASSERT_EQ(::stat(dir_.Join("run").c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, gid);
    EXPECT_EQ(st.st_mode & 0777, 0750u);
  }
};

TEST_F(SocketGroupIntegrationTest, SocketAndDirectoryBelongToTheGroupByName) {
  StartFakeRuntime();
  StartDaemon({"--socket-group", "nogroup"});
  ExpectSharedWith(Gid("nogroup"));
}

TEST_F(SocketGroupIntegrationTest, SocketGroupByGidFromTheConfigFile) {
  const std::string config = dir_.Join("config.yaml");
  std::ofstream(config) << "socket_group: " << Gid("daemon") << "\n";
  StartFakeRuntime();
  StartDaemon({"--config", config});
  ExpectSharedWith(Gid("daemon"));
}

TEST_F(SocketGroupIntegrationTest, UnknownGroupFailsTheStartNamingIt) {
  StartFakeRuntime();
  const std::string log = dir_.Join("inplaced.log");
  ASSERT_OK_AND_ASSIGN(
      ChildProcess child,
      ChildProcess::Start(
          {INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket_, "--socket", socket_,
           "--state-dir", dir_.Join("state"), "--socket-group", "no-such-group-ipd"},
          log));
  ASSERT_OK_AND_ASSIGN(int status, child.Stop(0, absl::Seconds(30)));  // signal 0: wait for exit
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("socket group \"no-such-group-ipd\": no such group"));
}

TEST(PrintConfigIntegrationTest, PrintsTheExampleConfigsEffectiveSettings) {
  ASSERT_OK_AND_ASSIGN(ChildProcess child,
                       ChildProcess::Start({INPLACED_PATH, "--config", INPLACED_EXAMPLE_CONFIG,
                                            "--max-containers", "7", "--print-config"}));
  const std::string printed = child.ReadAll(absl::Seconds(30));
  ASSERT_OK_AND_ASSIGN(int status, child.Stop(0, absl::Seconds(30)));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_THAT(printed, HasSubstr("\nruntime_endpoint: unix:///run/containerd/containerd.sock\n"));
  EXPECT_THAT(printed, HasSubstr("\nmax_containers: 7\n"));
}

}  // namespace
}  // namespace inplaced
