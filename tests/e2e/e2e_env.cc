#include "tests/e2e/e2e_env.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace inplaced::e2e {
namespace {

constexpr char kEnvFileVariable[] = "INPLACED_E2E_ENV_FILE";

}  // namespace

absl::StatusOr<E2eEnv> ParseE2eEnv(absl::string_view text) {
  E2eEnv env;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("e2e env line ", line_number, " is not KEY=VALUE: ", line));
    }
    env.values[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }

  const std::pair<const char*, std::string*> fields[] = {
      {"INPLACED_E2E_DIR", &env.dir},
      {"INPLACED_E2E_CONTAINERD_SOCK", &env.containerd_sock},
      {"INPLACED_E2E_CONTAINERD_ENDPOINT", &env.containerd_endpoint},
      {"INPLACED_E2E_CONTAINERD_VERSION", &env.containerd_version},
      {"INPLACED_E2E_REGISTRY", &env.registry},
      {"INPLACED_E2E_AUTH_REGISTRY", &env.auth_registry},
      {"INPLACED_E2E_AUTH_USER", &env.auth_user},
      {"INPLACED_E2E_AUTH_PASSWORD", &env.auth_password},
      {"INPLACED_E2E_BUSYBOX_IMAGE", &env.busybox_image},
      {"INPLACED_E2E_PAUSE_IMAGE", &env.pause_image},
      {"INPLACED_E2E_REGISTRY_BUSYBOX_IMAGE", &env.registry_busybox_image},
      {"INPLACED_E2E_REGISTRY_BUSYBOX2_IMAGE", &env.registry_busybox2_image},
      {"INPLACED_E2E_AUTH_BUSYBOX_IMAGE", &env.auth_busybox_image},
      {"INPLACED_E2E_LOG_DIR", &env.log_dir},
  };
  for (const auto& [key, field] : fields) {
    auto it = env.values.find(key);
    if (it == env.values.end() || it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("e2e env lacks ", key));
    }
    *field = it->second;
  }
  return env;
}

absl::StatusOr<E2eEnv> LoadE2eEnv() {
  const char* path = std::getenv(kEnvFileVariable);
  if (path == nullptr || *path == '\0') {
    return absl::FailedPreconditionError(absl::StrCat(
        "$", kEnvFileVariable,
        " is not set: run e2e tests through ctest (-L e2e), which starts the environment, or run "
        "`tests/e2e/env/e2e-env.sh start` and point ",
        kEnvFileVariable, " at <dir>/env"));
  }
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "e2e environment file ", path,
        " is missing: the e2e.env.start fixture did not run or failed (see its output)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto env = ParseE2eEnv(text.str());
  if (!env.ok()) {
    return absl::Status(env.status().code(), absl::StrCat(path, ": ", env.status().message()));
  }
  return env;
}

}  // namespace inplaced::e2e
