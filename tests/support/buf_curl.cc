#include "tests/support/buf_curl.h"

#include <sys/wait.h>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/status_matchers.h"

namespace inplaced::testing {

std::string RunBufCurl(const std::string& buf, const std::string& socket,
                       const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", "--unix-socket", socket};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv);
  EXPECT_THAT(child.status(), IsOk());
  if (!child.ok()) return "";
  std::string out = child->ReadAll(absl::Seconds(60));
  absl::StatusOr<int> status = child->Stop(0, absl::Seconds(10));
  EXPECT_THAT(status.status(), IsOk());
  if (status.ok()) {
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "buf curl failed: " << out;
  }
  return out;
}

}  // namespace inplaced::testing
