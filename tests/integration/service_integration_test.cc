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

// A datagram socket standing in for systemd's notification socket. Owns the fd.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0) << std::strerror(errno);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0)
        << std::strerror(errno);
  }
  ~NotifySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }

  // The next notification, waiting up to `timeout` (DEADLINE_EXCEEDED then).
  absl::StatusOr<std::string> Next(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n >= 0) return std::string(buffer, n);
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return absl::InternalError(absl::StrCat("recv: ", std::strerror(errno)));
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError("no notification within the timeout");
      }
      pollfd pfd{fd_, POLLIN, 0};
      ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    }
  }

  // Notifications until one contains `needle` (returned); every one read lands in received().
  absl::StatusOr<std::string> WaitFor(const std::string& needle) {
    while (true) {
      absl::StatusOr<std::string> message = Next(absl::Seconds(60));
      if (!message.ok()) {
        return absl::Status(message.status().code(),
                            absl::StrCat("waiting for ", needle, ": ", message.status().message()));
      }
      received_.push_back(*message);
      if (message->find(needle) != std::string::npos) return *message;
    }
  }

  // Every notification already queued (none is waited for).
  std::vector<std::string> Drain() {
    while (true) {
      absl::StatusOr<std::string> message = Next(absl::ZeroDuration());
      if (!message.ok()) return received_;
      received_.push_back(*message);
    }
  }

  const std::vector<std::string>& received() const { return received_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> received_;
};

class ServiceIntegrationTest : public DaemonHarness {
 protected:
  void SetUp() override {
    DaemonHarness::SetUp();
    notify_ = std::make_unique<NotifySocket>(dir_.Join("notify.sock"));
  }
  std::vector<std::string> DaemonEnvironment() const override {
    return {"NOTIFY_SOCKET=" + notify_->path()};
  }
  void MakeStubs() override { health_ = grpc::health::v1::Health::NewStub(channel_); }

  HealthCheckResponse::ServingStatus Health() {
    grpc::ClientContext context;
    SetDeadline(&context);
    context.set_wait_for_ready(true);
    HealthCheckResponse response;
    const grpc::Status status =
        health_->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  std::unique_ptr<NotifySocket> notify_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(ServiceIntegrationTest, ReadyOnlyOnceTheSocketServesAndTheRuntimeAnswered) {
  // No runtime yet: the socket answers NOT_SERVING and nothing has been notified.
  LaunchDaemon();
  EXPECT_EQ(Health(), HealthCheckResponse::NOT_SERVING);
  EXPECT_THAT(notify_->Drain(), IsEmpty());

  StartFakeRuntime();
  ASSERT_THAT(notify_->WaitFor("READY=1"), IsOk());
  // READY=1 is the first notification, and the socket serves when it arrives.
  EXPECT_EQ(notify_->received().front(), "READY=1");
  EXPECT_EQ(Health(), HealthCheckResponse::SERVING);
  WaitDaemonReady();
}

TEST_F(ServiceIntegrationTest, StatusLinesTellOpenRequestsAndPulls) {
  StartFakeRuntime();
  StartDaemon();
  ASSERT_OK_AND_ASSIGN(std::string status, notify_->WaitFor("STATUS="));
  EXPECT_THAT(status, ContainsRegex("^STATUS=serving: [0-9]+ open recreate requests, [0-9]+ "
                                    "image pulls running$"));
}

TEST_F(ServiceIntegrationTest, StoppingIsTheLastNotificationOnSigtermAndNoWatchdogWithoutOne) {
  StartFakeRuntime();
  StartDaemon();
  ASSERT_THAT(notify_->WaitFor("STATUS=serving"), IsOk());
  StopDaemon();
  // The daemon has exited: everything it sent is queued.
  const std::vector<std::string> received = notify_->Drain();
  ASSERT_THAT(received, Not(IsEmpty()));
  EXPECT_THAT(received.back(), HasSubstr("STOPPING=1"));
  // No WATCHDOG_USEC in its environment: it never pinged.
  EXPECT_THAT(received, Not(Contains(HasSubstr("WATCHDOG=1"))));
}

class WatchdogIntegrationTest : public ServiceIntegrationTest {
 protected:
  // A 1 s watchdog: pings every 500 ms while the engine's loop ticks (slow poll 100 ms).
  std::vector<std::string> DaemonEnvironment() const override {
    return {"NOTIFY_SOCKET=" + notify_->path(), "WATCHDOG_USEC=1000000"};
  }
  std::vector<std::string> DaemonFlags() const override { return {"--slow-poll-ms", "100"}; }
};

TEST_F(WatchdogIntegrationTest, PingsTheWatchdogWhileTheEngineTicks) {
  StartFakeRuntime();
  StartDaemon();
  ASSERT_THAT(notify_->WaitFor("READY=1"), IsOk());
  ASSERT_THAT(notify_->WaitFor("WATCHDOG=1"), IsOk());
  ASSERT_THAT(notify_->WaitFor("WATCHDOG=1"), IsOk());
  StopDaemon();
  const std::vector<std::string> received = notify_->Drain();
  EXPECT_THAT(received.back(), HasSubstr("STOPPING=1"));
}

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
      ChildProcess::Start({INPLACED_PATH, "--runtime-endpoint", "unix://" + cri_socket_, "--socket",
                           socket_, "--state-dir", dir_.Join("state"), "--socket-group",
                           "no-such-group-ipd", "--probe-address", "127.0.0.1:0"},
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
