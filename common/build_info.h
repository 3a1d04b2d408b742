#pragma once

// What inplaced and inplacectl were built from: the CMake project version and, when the source tree
// was a git checkout at configure time, its `git describe`. Fixed at configure time (the build never
// runs git).

#include <string>

namespace inplaced {

// The release version, e.g. "0.1.0".
const char* BuildVersion();
// `git describe --always --dirty` of the source tree at configure time, e.g. "731a489-dirty"; empty
// when it was configured outside a git checkout or without git (or -DINPLACED_GIT_DESCRIBE= says
// so).
const char* BuildGitDescribe();
// "0.1.0 (git 731a489-dirty)", or "0.1.0" without a describe: for humans.
std::string BuildVersionText();

}  // namespace inplaced
