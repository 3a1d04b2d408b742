#pragma once

#include <string>

#include "google/protobuf/map.h"

namespace inplaced::fakes {

// CRI label selectors (ContainerFilter / PodSandboxFilter.label_selector): every selector entry
// must be present in `labels` with the same value (exact match, ANDed), as containerd and CRI-O
// filter.
inline bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& labels,
                        const google::protobuf::Map<std::string, std::string>& selector) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace inplaced::fakes
