#include "common/build_info.h"

#include "absl/strings/str_cat.h"

// Both come from CMake (common/CMakeLists.txt), on this file only, so that a new describe recompiles
// nothing else.
#ifndef INPLACED_VERSION
#error "INPLACED_VERSION must be defined by the build"
#endif
#ifndef INPLACED_GIT_DESCRIBE
#error "INPLACED_GIT_DESCRIBE must be defined by the build"
#endif

namespace inplaced {

const char* BuildVersion() { return INPLACED_VERSION; }

const char* BuildGitDescribe() { return INPLACED_GIT_DESCRIBE; }

std::string BuildVersionText() {
  const std::string describe = BuildGitDescribe();
  if (describe.empty()) return BuildVersion();
  return absl::StrCat(BuildVersion(), " (git ", describe, ")");
}

}  // namespace inplaced
