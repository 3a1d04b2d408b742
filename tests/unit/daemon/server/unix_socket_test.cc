#include "daemon/server/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace inplaced::daemon {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::inplaced::testing::TempDir;

// A bound unix socket at `path`, listening or not; closed at scope exit (the file stays, as after a
// crash).
class BoundSocket {
 public:
  BoundSocket(const std::string& path, bool listen) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
        << std::strerror(errno);
    if (listen) {
      EXPECT_EQ(::listen(fd_, 1), 0);
    }
  }
  ~BoundSocket() { ::close(fd_); }

 private:
  int fd_ = -1;
};

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

TEST(UnixSocketTest, CreatesMissingDirectoriesWithMode0750) {
  TempDir dir;
  ASSERT_THAT(PrepareUnixSocketPath(dir.Join("run/inplaced/x.sock")), IsOk());
  EXPECT_EQ(ModeOf(dir.Join("run/inplaced")), 0750);
  EXPECT_EQ(ModeOf(dir.Join("run")), 0750);
  EXPECT_FALSE(Exists(dir.Join("run/inplaced/x.sock")));
}

TEST(UnixSocketTest, LeavesAnExistingDirectoryAsItIs) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Join("shared").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.Join("shared").c_str(), 0755), 0);
  ASSERT_THAT(PrepareUnixSocketPath(dir.Join("shared/x.sock")), IsOk());
  EXPECT_EQ(ModeOf(dir.Join("shared")), 0755);
}

TEST(UnixSocketTest, RemovesAStaleSocket) {
  TempDir dir;
  const std::string path = dir.Join("x.sock");
  { BoundSocket stale(path, /*listen=*/false); }
  ASSERT_TRUE(Exists(path));
  ASSERT_THAT(PrepareUnixSocketPath(path), IsOk());
  EXPECT_FALSE(Exists(path));
}

TEST(UnixSocketTest, RefusesASocketSomeoneListensOn) {
  TempDir dir;
  const std::string path = dir.Join("x.sock");
  BoundSocket live(path, /*listen=*/true);
  EXPECT_THAT(PrepareUnixSocketPath(path), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(Exists(path));
}

TEST(UnixSocketTest, RefusesToReplaceANonSocketFile) {
  TempDir dir;
  const std::string path = dir.Join("x.sock");
  std::ofstream(path) << "not a socket";
  EXPECT_THAT(PrepareUnixSocketPath(path), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(Exists(path));
}

TEST(UnixSocketTest, RejectsBadPaths) {
  for (const std::string& path : {std::string(), std::string("relative.sock"),
                                  std::string("/tmp/dir/"), "/tmp/" + std::string(120, 'a')}) {
    SCOPED_TRACE(path);
    EXPECT_THAT(PrepareUnixSocketPath(path), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(UnixSocketTest, RestrictSetsMode0660AndRemoveDeletesOnlySockets) {
  TempDir dir;
  const std::string path = dir.Join("x.sock");
  { BoundSocket socket(path, /*listen=*/false); }
  ASSERT_THAT(RestrictUnixSocket(path), IsOk());
  EXPECT_EQ(ModeOf(path), 0660);
  RemoveUnixSocket(path);
  EXPECT_FALSE(Exists(path));

  const std::string file = dir.Join("file");
  std::ofstream(file) << "keep";
  RemoveUnixSocket(file);
  EXPECT_TRUE(Exists(file));
}

}  // namespace
}  // namespace inplaced::daemon
