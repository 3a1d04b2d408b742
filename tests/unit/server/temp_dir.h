#pragma once

// A temp directory under /tmp (short paths: unix sockets), removed at scope exit.

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace inplaced::daemon::testing {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/srv-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    EXPECT_NE(made, nullptr);
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

}  // namespace inplaced::daemon::testing
