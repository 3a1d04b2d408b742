#pragma once

// The e2e environment as the tests see it: the KEY=VALUE file that tests/e2e/env/e2e-env.sh writes
// on `start` (path in $INPLACED_E2E_ENV_FILE, set by the ctest fixture of one containerd version),
// and the behaviour differences between the containerd versions the suites run against.
//
//   ASSERT_OK_AND_ASSIGN(E2eEnv env, LoadE2eEnv());   // a missing environment FAILS the test
//   if (env.differences.streams_container_events) ...  // version-aware expectations, decided here only
//
// Thread safety: plain values; the functions keep no state.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::e2e {

// A containerd release as containerd reports it (CRI Version's runtime_version, `ctr version`).
struct ContainerdVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;

  // True when this release is major.minor.patch or later.
  bool AtLeast(int major, int minor, int patch = 0) const;
  std::string ToString() const;  // "1.7.24"
};

// Parses "1.6.20~ds1", "2.1.9+unknown", "v1.7.24", "1.7.24-rc.1": the leading MAJOR.MINOR.PATCH.
// INVALID_ARGUMENT when there is none.
absl::StatusOr<ContainerdVersion> ParseContainerdVersion(absl::string_view text);

// Where the containerd versions of the e2e matrix (1.6.20, 1.7.24, 2.1.9) differ in what the e2e
// tests observe (cri-reference.md §4, e2e-environment.md §9). Tests ask these instead of comparing
// versions.
struct ContainerdDifferences {
  // StopContainer of an unknown id on the wire: NOT_FOUND in 1.6.0-1.6.34 and 1.7.0-1.7.20, OK from
  // 1.6.35, 1.7.21 and 2.0. cri::Runtime::StopContainer answers OK either way.
  bool stop_unknown_container_is_not_found = false;
  // GetContainerEvents streams CREATED/STARTED/STOPPED/DELETED events from 1.7; 1.6 answers
  // UNIMPLEMENTED.
  bool streams_container_events = false;
  // ImageStatus reports pinned=true for the sandbox (pause) image from 1.7; 1.6 never sets pinned.
  bool pins_sandbox_image = false;
  // What PullImage's message (code UNKNOWN in every version) says when a registry wants credentials
  // and none were sent: 1.6 "... 401 Unauthorized"; 1.7/2.x "pull access denied, repository does
  // not exist or may require authorization: authorization failed: no basic auth credentials".
  std::string pull_without_credentials_message;
};

ContainerdDifferences DifferencesOf(const ContainerdVersion& version);

struct E2eEnv {
  std::string dir;                    // INPLACED_E2E_DIR: all state of the environment
  std::string containerd_sock;        // socket path
  std::string containerd_endpoint;    // unix://<socket path>
  std::string containerd_version;     // e.g. "1.6.20~ds1", "1.7.24~ds1", "2.1.9+unknown"
  ContainerdVersion containerd;       // containerd_version parsed
  ContainerdDifferences differences;  // DifferencesOf(containerd)
  std::string registry;               // host:port of the open registry
  std::string auth_registry;          // host:port of the htpasswd registry
  std::string auth_user;
  std::string auth_password;
  std::string busybox_image;  // imported locally: localhost/busybox:1
  std::string pause_image;    // the sandbox image: localhost/pause:1
  // CRI RemoveImage removes every tag of an image: never remove registry_busybox_image (it is the
  // same image as busybox_image, which pods use). The two below are distinct images, not imported
  // at start.
  std::string registry_busybox_image;   // <registry>/busybox:1 (same image as busybox_image)
  std::string registry_busybox2_image;  // <registry>/busybox:2 (/etc/version = 2)
  std::string auth_busybox_image;       // <auth_registry>/private/busybox:3 (/etc/version = 3)
  std::string log_dir;                  // parent directory for pod log directories
  std::map<std::string, std::string> values;  // every KEY=VALUE of the file
};

// Parses the env file's text: KEY=VALUE lines (blank lines and '#' comments ignored).
// INVALID_ARGUMENT for a malformed line, a missing required key (each E2eEnv string field above is
// required) or a containerd version that does not parse.
absl::StatusOr<E2eEnv> ParseE2eEnv(absl::string_view text);

// Reads and parses the file named by $INPLACED_E2E_ENV_FILE. FAILED_PRECONDITION when the variable
// is unset or the file is missing (with a hint: run via ctest, or `e2e-env.sh start` by hand).
absl::StatusOr<E2eEnv> LoadE2eEnv();

// How RestartContainerd stops the runtime before starting it again.
enum class RestartMode {
  kGraceful,  // SIGTERM: containerd shuts down cleanly
  kCrash,     // SIGKILL: as if it crashed
};

// Restarts the environment's containerd (`e2e-env.sh restart-containerd`, named by the env file's
// INPLACED_E2E_ENV_SCRIPT) with the same binaries and config, by its recorded PID. Shims and
// containers keep running. Blocks until CRI answers Version again on the same socket; clients see
// their calls and streams fail meanwhile and must reconnect. Disruptive for every test on this
// environment: register suites that call it with inplaced_e2e_test(... RESTARTS_RUNTIME) (they then
// run alone). FAILED_PRECONDITION when the env file names no script; INTERNAL when the restart
// failed (the script's output, on this process's stderr, says why).
absl::Status RestartContainerd(const E2eEnv& env, RestartMode mode);

// The line each e2e test prints so that its output names the runtime it ran against, from the
// runtime's CRI Version answer: "[ runtime  ] containerd 1.7.24~ds1 (CRI v1) at unix:///...".
std::string RuntimeBanner(absl::string_view runtime_name, absl::string_view runtime_version,
                          absl::string_view api_version, absl::string_view endpoint);

}  // namespace inplaced::e2e
