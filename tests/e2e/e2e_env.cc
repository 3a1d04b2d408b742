#include "tests/e2e/e2e_env.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace inplaced::e2e {
namespace {

constexpr char kEnvFileVariable[] = "INPLACED_E2E_ENV_FILE";

// Consumes the leading decimal digits of *text into *value; false when there are none.
bool ConsumeNumber(absl::string_view* text, int* value) {
  size_t digits = 0;
  while (digits < text->size() && digits < 9 && absl::ascii_isdigit((*text)[digits])) ++digits;
  if (digits == 0 || !absl::SimpleAtoi(text->substr(0, digits), value)) return false;
  text->remove_prefix(digits);
  return true;
}

}  // namespace

bool ContainerdVersion::AtLeast(int want_major, int want_minor, int want_patch) const {
  if (major != want_major) return major > want_major;
  if (minor != want_minor) return minor > want_minor;
  return patch >= want_patch;
}

std::string ContainerdVersion::ToString() const {
  return absl::StrCat(major, ".", minor, ".", patch);
}

absl::StatusOr<ContainerdVersion> ParseContainerdVersion(absl::string_view text) {
  absl::string_view rest = text;
  absl::ConsumePrefix(&rest, "v");
  ContainerdVersion version;
  if (!ConsumeNumber(&rest, &version.major) || !absl::ConsumePrefix(&rest, ".") ||
      !ConsumeNumber(&rest, &version.minor) || !absl::ConsumePrefix(&rest, ".") ||
      !ConsumeNumber(&rest, &version.patch)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a containerd version (MAJOR.MINOR.PATCH...): \"", text, "\""));
  }
  // Debian and upstream suffixes ("~ds1", "+unknown", "-rc.1") follow; another digit would mean a
  // malformed number.
  if (!rest.empty() && absl::ascii_isdigit(rest.front())) {
    return absl::InvalidArgumentError(absl::StrCat("not a containerd version: \"", text, "\""));
  }
  return version;
}

ContainerdDifferences DifferencesOf(const ContainerdVersion& version) {
  ContainerdDifferences differences;
  // The fix (idempotent StopContainer) landed in 1.6.35, 1.7.21 and 2.0.0.
  if (version.AtLeast(2, 0)) {
    differences.stop_unknown_container_is_not_found = false;
  } else if (version.major == 1 && version.minor == 7) {
    differences.stop_unknown_container_is_not_found = !version.AtLeast(1, 7, 21);
  } else if (version.major == 1 && version.minor == 6) {
    differences.stop_unknown_container_is_not_found = !version.AtLeast(1, 6, 35);
  } else {
    differences.stop_unknown_container_is_not_found = !version.AtLeast(1, 6);
  }
  differences.streams_container_events = version.AtLeast(1, 7);
  differences.pins_sandbox_image = version.AtLeast(1, 7);
  differences.pull_without_credentials_message =
      version.AtLeast(1, 7) ? "authorization failed: no basic auth credentials"
                            : "401 Unauthorized";
  return differences;
}

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
  auto version = ParseContainerdVersion(env.containerd_version);
  if (!version.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("INPLACED_E2E_CONTAINERD_VERSION: ", version.status().message()));
  }
  env.containerd = *version;
  env.differences = DifferencesOf(env.containerd);
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

absl::Status RestartContainerd(const E2eEnv& env, RestartMode mode) {
  auto script = env.values.find("INPLACED_E2E_ENV_SCRIPT");
  if (script == env.values.end() || script->second.empty()) {
    return absl::FailedPreconditionError(
        "the e2e env file names no INPLACED_E2E_ENV_SCRIPT: restart the environment (e2e-env.sh "
        "start)");
  }
  std::vector<std::string> args = {"bash", script->second, "--dir", env.dir, "restart-containerd"};
  if (mode == RestartMode::kCrash) args.push_back("--kill");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // posix_spawn, not fork: the test process has gRPC threads.
  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, "bash", nullptr, nullptr, argv.data(), environ);
  if (spawned != 0) {
    return absl::InternalError(
        absl::StrCat("cannot run ", script->second, ": ", std::strerror(spawned)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(script->second,
                                            " restart-containerd failed (wait status ", status,
                                            "): see its output above"));
  }
  return absl::OkStatus();
}

std::string RuntimeBanner(absl::string_view runtime_name, absl::string_view runtime_version,
                          absl::string_view api_version, absl::string_view endpoint) {
  return absl::StrCat("[ runtime  ] ", runtime_name, " ", runtime_version, " (CRI ", api_version,
                      ") at ", endpoint);
}

}  // namespace inplaced::e2e
