#include "cli/runtime_view.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace inplaced::cli {

namespace criv1 = ::runtime::v1;

std::string FormatVersion(const criv1::VersionResponse& version, absl::string_view endpoint) {
  return absl::StrCat("runtime=", version.runtime_name(), " version=", version.runtime_version(),
                      " api=", version.runtime_api_version(), " endpoint=", endpoint);
}

std::string ContainerStateName(criv1::ContainerState state) {
  std::string name = criv1::ContainerState_Name(state);
  if (name.empty()) return absl::StrCat("state(", static_cast<int>(state), ")");
  absl::string_view trimmed = name;
  absl::ConsumePrefix(&trimmed, "CONTAINER_");
  return absl::AsciiStrToLower(trimmed);
}

std::string FormatPods(const cri::NodeSnapshot& snapshot, absl::string_view pod_namespace) {
  struct Row {
    std::string ns, pod, container, attempt, restarts, state, id;
  };
  std::vector<Row> rows;
  for (const cri::PodInfo& pod : snapshot.pods()) {
    if (!pod_namespace.empty() && pod.pod_namespace != pod_namespace) continue;
    for (const cri::ContainerInfo* c : pod.CurrentContainers()) {
      // containerd ids are 64 hex characters; 13 are enough to tell them apart (like crictl).
      rows.push_back({pod.pod_namespace, pod.name, c->name, absl::StrCat(c->attempt),
                      absl::StrCat(c->restart_count), ContainerStateName(c->state),
                      c->id.substr(0, 13)});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.ns, a.pod, a.container) < std::tie(b.ns, b.pod, b.container);
  });

  const Row header{"NAMESPACE", "POD", "CONTAINER", "ATTEMPT", "RESTARTS", "STATE", "ID"};
  size_t width[6] = {};
  auto widen = [&](const Row& r) {
    const std::string* cols[6] = {&r.ns, &r.pod, &r.container, &r.attempt, &r.restarts, &r.state};
    for (int i = 0; i < 6; ++i) width[i] = std::max(width[i], cols[i]->size());
  };
  widen(header);
  for (const Row& r : rows) widen(r);

  std::string out;
  auto emit = [&](const Row& r) {
    absl::StrAppendFormat(&out, "%-*s  %-*s  %-*s  %*s  %*s  %-*s  %s\n", width[0], r.ns, width[1],
                          r.pod, width[2], r.container, width[3], r.attempt, width[4], r.restarts,
                          width[5], r.state, r.id);
  };
  emit(header);
  for (const Row& r : rows) emit(r);
  return out;
}

std::string FormatImage(const criv1::Image& image) {
  return absl::StrCat("id=", image.id(), "\ntags=", absl::StrJoin(image.repo_tags(), ","),
                      "\ndigests=", absl::StrJoin(image.repo_digests(), ","),
                      "\nsize=", image.size(), "\npinned=", image.pinned() ? "true" : "false",
                      "\n");
}

}  // namespace inplaced::cli
