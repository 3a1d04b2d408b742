// SqliteStore beyond the shared contract: durability across reopen, files and modes, bad files,
// schema.

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace inplaced::store {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

mode_t ModeOf(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

// Runs `sql` on the database at `path` with a plain connection (bypassing the store).
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string DbPath() const { return dir_.Join("state.db"); }

  std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path) {
    auto store = SqliteStore::Open(path);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(store).value() : nullptr;
  }

  testing::TempDir dir_;
};

TEST_F(SqliteStoreTest, RecordsAndRevisionsSurviveCloseAndReopen) {
  int64_t last = 0;
  {
    auto store = OpenOrDie(DbPath());
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Create("recreate", "ns/a", "a1").status());
    ASSERT_OK_AND_ASSIGN(const int64_t b, store->Create("recreate", "ns/b", "b1"));
    ASSERT_OK(store->Update("recreate", "ns/b", "b2", b).status());
    ASSERT_OK(store->Create("nodeimage", "node", "n").status());
    ASSERT_OK_AND_ASSIGN(last, store->Delete("recreate", "ns/a", kAnyRevision));
  }
  auto store = OpenOrDie(DbPath());
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(const auto all, store->ListAll("recreate"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].key, "ns/b");
  EXPECT_EQ(all[0].value, "b2");
  EXPECT_THAT(store->Count("nodeimage"), IsOk());
  ASSERT_OK_AND_ASSIGN(const int64_t current, store->CurrentRevision());
  EXPECT_EQ(current, last)
      << "the deletion's revision is remembered, not recomputed from the records";
  ASSERT_OK_AND_ASSIGN(const int64_t next, store->Create("recreate", "ns/a", "a2"));
  EXPECT_EQ(next, last + 1);
}

TEST_F(SqliteStoreTest, CreatesMissingParentDirectoriesWithMode0700AndFilesWithMode0600) {
  const mode_t old_umask = ::umask(0);  // the modes must not depend on the daemon's umask
  const std::string path = dir_.Join("a/b/state.db");
  auto store = OpenOrDie(path);
  ::umask(old_umask);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Create("recreate", "ns/a", "v").status());
  EXPECT_EQ(ModeOf(dir_.Join("a")), 0700u);
  EXPECT_EQ(ModeOf(dir_.Join("a/b")), 0700u);
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(path + "-wal"), 0600u);
  EXPECT_EQ(ModeOf(path + "-shm"), 0600u);
  EXPECT_EQ(ModeOf(path + ".lock"), 0600u);
}

TEST_F(SqliteStoreTest, TightensTheModeOfAnExistingFile) {
  WriteFile(DbPath(), "");
  ASSERT_EQ(::chmod(DbPath().c_str(), 0644), 0);
  auto store = OpenOrDie(DbPath());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(ModeOf(DbPath()), 0600u);
}

TEST_F(SqliteStoreTest, UsesWalJournal) {
  auto store = OpenOrDie(DbPath());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Create("recreate", "ns/a", "v").status());
  EXPECT_EQ(::access((DbPath() + "-wal").c_str(), F_OK), 0) << "no WAL file beside the database";
}

TEST_F(SqliteStoreTest, FileThatIsNotADatabaseIsDataLossNamingThePath) {
  WriteFile(DbPath(), std::string(8192, 'g'));
  EXPECT_THAT(SqliteStore::Open(DbPath()),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(DbPath()), HasSubstr("not a database"))));
}

TEST_F(SqliteStoreTest, DamagedPagesAreReportedAsDataLossNotACrash) {
  {
    auto store = OpenOrDie(DbPath());
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 40; ++i) {
      ASSERT_OK(
          store->Create("recreate", absl::StrCat("ns/pod-", i), std::string(1000, 'v')).status());
    }
  }  // closing checkpoints the WAL into the database file
  {
    // Keep the header page (so SQLite recognizes the file) and smash the pages after it.
    const int fd = ::open(DbPath().c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string garbage(16384, '\x5a');
    ASSERT_EQ(::pwrite(fd, garbage.data(), garbage.size(), 4096),
              static_cast<ssize_t>(garbage.size()));
    ::close(fd);
  }
  auto store = SqliteStore::Open(DbPath());
  if (!store.ok()) {
    EXPECT_THAT(store, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(DbPath())));
    return;
  }
  // The damage may only show when the damaged pages are read.
  const absl::Status listed = (*store)->ListAll("recreate").status();
  const absl::Status checked = (*store)->CheckIntegrity();
  EXPECT_THAT(checked, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(DbPath())));
  if (!listed.ok()) {
    EXPECT_THAT(listed, StatusIs(absl::StatusCode::kDataLoss, HasSubstr(DbPath())));
  }
}

TEST_F(SqliteStoreTest, IntegrityCheckPassesOnAHealthyStore) {
  auto store = OpenOrDie(DbPath());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Create("recreate", "ns/a", "v").status());
  EXPECT_OK(store->CheckIntegrity());
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefusedWithFailedPrecondition) {
  { ASSERT_NE(OpenOrDie(DbPath()), nullptr); }
  RawExec(DbPath(), absl::StrCat("UPDATE meta SET value = ", CurrentSchemaVersion() + 1,
                                 " WHERE name = 'schema_version'"));
  EXPECT_THAT(
      SqliteStore::Open(DbPath()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr(DbPath()),
                     HasSubstr(absl::StrCat("schema version ", CurrentSchemaVersion() + 1)))));
}

TEST_F(SqliteStoreTest, NewStoreIsAtTheCurrentSchemaVersion) {
  { ASSERT_NE(OpenOrDie(DbPath()), nullptr); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE name = 'schema_version'", -1,
                               &statement, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(statement, 0), CurrentSchemaVersion());
  EXPECT_GE(CurrentSchemaVersion(), 1);
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, UnwritableLocationIsPermissionDeniedNamingThePath) {
  // Root may write anywhere on a normal filesystem; sysfs refuses directory creation even to root.
  EXPECT_THAT(SqliteStore::Open("/sys/inplaced-store-test/state.db"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("/sys/inplaced-store-test/state.db")));
  if (::geteuid() != 0) {
    const std::string locked = dir_.Join("locked");
    ASSERT_EQ(::mkdir(locked.c_str(), 0500), 0);
    EXPECT_THAT(SqliteStore::Open(locked + "/state.db"),
                StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(locked)));
  }
}

TEST_F(SqliteStoreTest, PathThroughAFileOrNamingADirectoryIsAClearError) {
  WriteFile(dir_.Join("file"), "x");
  EXPECT_THAT(SqliteStore::Open(dir_.Join("file/state.db")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(dir_.Join("file/state.db"))));
  EXPECT_THAT(SqliteStore::Open(dir_.path()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(dir_.path())));
  // Refused before its lock file is made: nothing is left beside the directory.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + ".lock"));
  EXPECT_THAT(SqliteStore::Open(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("path")));
}

TEST_F(SqliteStoreTest, SecondOpenOfTheSameFileIsRefusedUntilTheFirstIsClosed) {
  auto first = OpenOrDie(DbPath());
  ASSERT_NE(first, nullptr);
  ASSERT_OK(first->Create("recreate", "ns/a", "v").status());
  EXPECT_THAT(SqliteStore::Open(DbPath()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(DbPath()), HasSubstr("in use"))));
  // The refused open left the first store's connection intact.
  EXPECT_OK(first->Update("recreate", "ns/a", "w", kAnyRevision).status());
  first.reset();
  auto second = OpenOrDie(DbPath());
  ASSERT_NE(second, nullptr);
  EXPECT_THAT(second->Get("recreate", "ns/a"), IsOk());
}

TEST_F(SqliteStoreTest, StoreHeldByAnotherProcessIsRefusedUntilThatProcessDies) {
  int ready[2];
  int hold[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(hold, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child: open the store, say so, then wait (blocked on the pipe) until killed.
    auto store = SqliteStore::Open(DbPath());
    const char status = store.ok() ? 'y' : 'n';
    if (::write(ready[1], &status, 1) != 1) ::_exit(2);
    char ignored;
    while (::read(hold[0], &ignored, 1) != 0) {
    }
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(hold[0]);
  char status = 0;
  ASSERT_EQ(::read(ready[0], &status, 1), 1);
  ASSERT_EQ(status, 'y');
  EXPECT_THAT(SqliteStore::Open(DbPath()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(DbPath() + ".lock")));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(pid, &wait_status, 0), pid);
  ::close(ready[0]);
  ::close(hold[1]);
  EXPECT_THAT(SqliteStore::Open(DbPath()), IsOk()) << "the dead process's lock was not released";
}

TEST_F(SqliteStoreTest, SymlinkAtTheStatePathIsRefused) {
  const std::string target = dir_.Join("elsewhere.db");
  WriteFile(target, "");
  ASSERT_EQ(::symlink(target.c_str(), DbPath().c_str()), 0);
  EXPECT_THAT(SqliteStore::Open(DbPath()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(DbPath())));
}

}  // namespace
}  // namespace inplaced::store
