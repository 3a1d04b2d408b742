#include "daemon/node_name.h"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/ascii.h"

namespace inplaced::daemon {

std::string ResolveNodeName(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("NODE_NAME"); env != nullptr && *env != '\0') return env;
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "";
  // kubelet lowercases the host name for its default node name; do the same so both agree.
  return absl::AsciiStrToLower(host);
}

}  // namespace inplaced::daemon
