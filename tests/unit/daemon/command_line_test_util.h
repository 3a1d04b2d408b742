#pragma once

// Helpers of the daemon's command-line and settings tests: ParseCommandLine over a list of
// arguments, and an environment variable set for a scope.

#include <stdlib.h>

#include <string>
#include <vector>

#include "daemon/options.h"

namespace inplaced::daemon {

// ParseCommandLine of "inplaced" followed by `args`.
inline CommandLine ParseArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "inplaced");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

// Sets an environment variable for the scope of a test (tests of one binary run one at a time).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

}  // namespace inplaced::daemon
