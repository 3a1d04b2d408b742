#pragma once

// The e2e environment as the tests see it: the KEY=VALUE file that tests/e2e/env/e2e-env.sh writes on
// `start` (path in $INPLACED_E2E_ENV_FILE, set by the ctest fixture).
//
//   ASSERT_OK_AND_ASSIGN(E2eEnv env, LoadE2eEnv());   // a missing environment FAILS the test
//
// Thread safety: plain values; the functions keep no state.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::e2e {

struct E2eEnv {
  std::string dir;                      // INPLACED_E2E_DIR: all state of the environment
  std::string containerd_sock;          // socket path
  std::string containerd_endpoint;      // unix://<socket path>
  std::string containerd_version;       // e.g. "1.6.20~ds1"
  std::string registry;                 // host:port of the open registry
  std::string auth_registry;            // host:port of the htpasswd registry
  std::string auth_user;
  std::string auth_password;
  std::string busybox_image;            // imported locally: localhost/busybox:1
  std::string pause_image;              // the sandbox image: localhost/pause:1
  // CRI RemoveImage removes every tag of an image: never remove registry_busybox_image (it is the same
  // image as busybox_image, which pods use). The two below are distinct images, not imported at start.
  std::string registry_busybox_image;   // <registry>/busybox:1 (same image as busybox_image)
  std::string registry_busybox2_image;  // <registry>/busybox:2 (/etc/version = 2)
  std::string auth_busybox_image;       // <auth_registry>/private/busybox:3 (/etc/version = 3)
  std::string log_dir;                  // parent directory for pod log directories
  std::map<std::string, std::string> values;  // every KEY=VALUE of the file
};

// Parses the env file's text: KEY=VALUE lines (blank lines and '#' comments ignored). INVALID_ARGUMENT
// for a malformed line or a missing required key (each E2eEnv field above is required).
absl::StatusOr<E2eEnv> ParseE2eEnv(absl::string_view text);

// Reads and parses the file named by $INPLACED_E2E_ENV_FILE. FAILED_PRECONDITION when the variable is
// unset or the file is missing (with a hint: run via ctest, or `e2e-env.sh start` by hand).
absl::StatusOr<E2eEnv> LoadE2eEnv();

}  // namespace inplaced::e2e
