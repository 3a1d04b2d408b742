#include "cri/endpoint.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace inplaced::cri {
namespace {

constexpr absl::string_view kUnixScheme = "unix://";

// Relative to the discovery root; the order is kruise-daemon's (containerd first, then CRI-O, then
// cri-dockerd), each runtime's flat name before its subdirectory form.
constexpr absl::string_view kCandidates[] = {
    "containerd.sock", "containerd/containerd.sock", "crio.sock",
    "crio/crio.sock",  "cri-dockerd.sock",           "cri-dockerd/cri-dockerd.sock",
};

bool IsSocket(const std::string& path) {
  struct stat st;
  // stat (not lstat): /var/run is commonly a symlink to /run, and a symlinked socket is still
  // usable.
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

}  // namespace

absl::StatusOr<std::string> ParseEndpoint(absl::string_view endpoint) {
  if (endpoint.empty()) return absl::InvalidArgumentError("empty CRI endpoint");
  absl::string_view path = endpoint;
  if (absl::StartsWith(endpoint, "tcp://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("only unix socket endpoints are supported, got \"", endpoint, "\""));
  }
  if (!absl::ConsumePrefix(&path, kUnixScheme) && absl::StrContains(endpoint, "://")) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported CRI endpoint scheme in \"",
                                                   endpoint,
                                                   "\": only unix socket endpoints are supported"));
  }
  if (path.empty() || path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("CRI endpoint \"", endpoint, "\" must name an absolute socket path"));
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("CRI socket path \"", path, "\" is longer than ",
                                                   sizeof(sockaddr_un::sun_path) - 1, " bytes"));
  }
  return absl::StrCat(kUnixScheme, path);
}

std::string SocketPathOf(absl::string_view canonical_endpoint) {
  absl::ConsumePrefix(&canonical_endpoint, kUnixScheme);
  return std::string(canonical_endpoint);
}

std::vector<std::string> DiscoveryCandidates(absl::string_view root) {
  absl::string_view trimmed = root;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.remove_suffix(1);
  const absl::string_view separator = trimmed == "/" ? "" : "/";
  std::vector<std::string> paths;
  for (absl::string_view candidate : kCandidates) {
    paths.push_back(absl::StrCat(trimmed, separator, candidate));
  }
  return paths;
}

absl::StatusOr<std::string> DiscoverEndpoint(absl::string_view root) {
  const std::vector<std::string> candidates = DiscoveryCandidates(root);
  for (const std::string& path : candidates) {
    if (IsSocket(path)) return ParseEndpoint(path);
  }
  return absl::NotFoundError(
      absl::StrCat("no CRI runtime socket found; tried ", absl::StrJoin(candidates, ", ")));
}

}  // namespace inplaced::cri
