#include "tests/fakes/call_log.h"

#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace inplaced::fakes {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(CallLogTest, RecordsOneTabSeparatedLinePerEventAndAppendsToAnExistingFile) {
  testing::TempDir dir;
  const std::string path = dir.Join("calls.log");
  { std::ofstream(path) << "earlier\n"; }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CallLog> log, CallLog::Open(path));
  log->Record("StopContainer", "begin", "c1", "30");
  // Written at once: readable while the log is still open.
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "earlier");
  const std::vector<std::string> fields = absl::StrSplit(lines[1], '\t');
  ASSERT_EQ(fields.size(), 5u);
  int64_t nanos = 0;
  EXPECT_TRUE(absl::SimpleAtoi(fields[0], &nanos));
  EXPECT_GT(nanos, 0);
  EXPECT_EQ(fields[1], "StopContainer");
  EXPECT_EQ(fields[2], "begin");
  EXPECT_EQ(fields[3], "c1");
  EXPECT_EQ(fields[4], "30");
}

TEST(CallLogTest, ConcurrentRecordsNeverInterleave) {
  testing::TempDir dir;
  const std::string path = dir.Join("calls.log");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<CallLog> log, CallLog::Open(path));
  constexpr int kThreads = 8;
  constexpr int kRecords = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kRecords; ++i) {
        log->Record("ExecSync", "begin", absl::StrCat("c", t, "-", i), std::string(100, 'x'));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kRecords));
  std::set<std::string> ids;
  for (const std::string& line : lines) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    ASSERT_EQ(fields.size(), 5u) << line;
    EXPECT_EQ(fields[4], std::string(100, 'x'));
    ids.insert(fields[3]);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kRecords));
}

TEST(CallLogTest, OpenNamesTheFlagAndThePathItCannotOpen) {
  testing::TempDir dir;
  EXPECT_THAT(CallLog::Open(dir.Join("missing/calls.log")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--call-log " + dir.Join("missing/calls.log"))));
}

}  // namespace
}  // namespace inplaced::fakes
