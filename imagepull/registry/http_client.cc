#include "imagepull/registry/http_client.h"

#include "absl/strings/match.h"

namespace inplaced::imagepull {

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return "";
}

std::vector<std::string> HttpResponse::Headers(absl::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) out.push_back(value);
  }
  return out;
}

}  // namespace inplaced::imagepull
