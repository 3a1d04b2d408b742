#include "imagepull/registry/docker_config.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace inplaced::imagepull {
namespace {

using Json = nlohmann::json;

// '*' matches any run of characters, '?' one character; both stay within one host component
// because callers split hosts at '.' first (kubelet matches components with filepath.Match).
bool GlobMatch(absl::string_view pattern, absl::string_view text) {
  size_t p = 0, t = 0;
  size_t star = absl::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool HasWildcard(absl::string_view host) {
  return absl::StrContains(host, '*') || absl::StrContains(host, '?');
}

// Reads an optional string member; an error names the field, never its value.
absl::Status ReadString(const Json& entry, const char* field, std::string* out) {
  const auto it = entry.find(field);
  if (it == entry.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("field \"", field, "\" must be a string"));
  }
  *out = it->get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::StatusOr<RegistryCredential> ParseEntry(const std::string& key, const Json& entry) {
  if (!entry.is_object()) return absl::InvalidArgumentError("entry must be a JSON object");
  RegistryCredential credential;
  credential.server_address = key;
  const std::pair<const char*, std::string*> fields[] = {
      {"username", &credential.username},
      {"password", &credential.password},
      {"auth", &credential.auth},
      {"identitytoken", &credential.identity_token},
      {"registrytoken", &credential.registry_token},
  };
  for (const auto& [field, out] : fields) {
    if (absl::Status s = ReadString(entry, field, out); !s.ok()) return s;
  }
  if (!credential.auth.empty()) {
    // As kubelet does: "auth" wins over username/password, split at the first ':' (passwords may
    // contain ':').
    std::string decoded;
    if (!absl::Base64Unescape(credential.auth, &decoded)) {
      return absl::InvalidArgumentError("field \"auth\" is not valid base64");
    }
    const size_t colon = decoded.find(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          "field \"auth\" must be base64 of \"<username>:<password>\" (no ':' found)");
    }
    credential.username = decoded.substr(0, colon);
    credential.password = decoded.substr(colon + 1);
  }
  return credential;
}

}  // namespace

bool RegistryCredential::empty() const {
  return username.empty() && password.empty() && auth.empty() && identity_token.empty() &&
         registry_token.empty();
}

std::string RegistryCredential::DebugString() const {
  std::vector<absl::string_view> set;
  if (!username.empty()) set.push_back("username");
  if (!password.empty()) set.push_back("password");
  if (!auth.empty()) set.push_back("auth");
  if (!identity_token.empty()) set.push_back("identity_token");
  if (!registry_token.empty()) set.push_back("registry_token");
  return absl::StrCat("RegistryCredential{server=\"", server_address, "\" set=[",
                      absl::StrJoin(set, ","), "]}");
}

std::ostream& operator<<(std::ostream& os, const RegistryCredential& credential) {
  return os << credential.DebugString();
}

std::string RegistryKey::ToString() const {
  std::string out = host;
  if (!port.empty()) absl::StrAppend(&out, ":", port);
  if (!path.empty()) absl::StrAppend(&out, "/", path);
  return out;
}

bool RegistryKey::Matches(const ImageReference& image) const {
  if (host.empty() || port != image.port()) return false;
  const std::string image_host = absl::AsciiStrToLower(image.host());
  if (host.front() == '[' || image_host.front() == '[') {
    if (host != image_host) return false;
  } else {
    const std::vector<absl::string_view> want = absl::StrSplit(host, '.');
    const std::vector<absl::string_view> got = absl::StrSplit(image_host, '.');
    if (want.size() != got.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
      if (!GlobMatch(want[i], got[i])) return false;
    }
  }
  // Unlike kubelet's plain string prefix, the path must end at a component boundary, so
  // "reg.io/team" does not hand team's credentials to "reg.io/teammate/app".
  if (path.empty()) return true;
  const std::string& image_path = image.path();
  return image_path == path ||
         (absl::StartsWith(image_path, path) && image_path[path.size()] == '/');
}

absl::StatusOr<RegistryKey> ParseRegistryKey(absl::string_view key) {
  absl::string_view rest = key;
  for (absl::string_view scheme : {"https://", "http://"}) {
    if (absl::StartsWithIgnoreCase(rest, scheme)) {
      rest.remove_prefix(scheme.size());
      break;
    }
  }
  absl::string_view host_port = rest;
  std::string path;
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    host_port = rest.substr(0, slash);
    path = std::string(rest.substr(slash));  // with its leading '/'
    // docker login writes "https://index.docker.io/v1/": the API version is not part of the path.
    if (absl::EndsWith(path, "/v1/") || absl::EndsWith(path, "/v2/")) path.resize(path.size() - 3);
    absl::string_view trimmed = path;
    while (absl::ConsumePrefix(&trimmed, "/")) {
    }
    while (absl::ConsumeSuffix(&trimmed, "/")) {
    }
    path = std::string(trimmed);
  }
  RegistryKey out;
  out.path = std::move(path);
  absl::string_view host = host_port;
  absl::string_view port;
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("registry key \"", key, "\": unterminated '['"));
    }
    host = host_port.substr(0, close + 1);
    absl::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (!absl::ConsumePrefix(&after, ":")) {
        return absl::InvalidArgumentError(absl::StrCat("registry key \"", key, "\": bad host"));
      }
      port = after;
      if (port.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("registry key \"", key, "\": empty port"));
      }
    }
  } else if (const size_t colon = host_port.rfind(':'); colon != absl::string_view::npos) {
    host = host_port.substr(0, colon);
    port = host_port.substr(colon + 1);
    if (port.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("registry key \"", key, "\": empty port"));
    }
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("registry key \"", key, "\": empty host"));
  }
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat("registry key \"", key, "\": bad port"));
    }
  }
  out.host = absl::AsciiStrToLower(host);
  out.port = std::string(port);
  if (IsDockerHubAlias(out.host)) out.host = std::string(kDockerHubDomain);
  return out;
}

absl::StatusOr<std::vector<RegistryCredential>> ParseDockerConfig(absl::string_view json) {
  // Non-throwing parse: a malformed document comes back "discarded" instead of throwing.
  const Json doc =
      Json::parse(json.begin(), json.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!doc.is_object()) return absl::InvalidArgumentError("top-level value must be a JSON object");
  const Json* auths = &doc;  // legacy .dockercfg: the registry map is the top level
  if (const auto it = doc.find("auths"); it != doc.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError("\"auths\" must be a JSON object");
    auths = &*it;
  }
  std::vector<RegistryCredential> out;
  for (const auto& item : auths->items()) {
    const std::string& key = item.key();
    absl::StatusOr<RegistryCredential> credential = ParseEntry(key, item.value());
    if (!credential.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("registry \"", key, "\": ", credential.status().message()));
    }
    if (absl::StatusOr<RegistryKey> parsed = ParseRegistryKey(key); !parsed.ok()) {
      return parsed.status();
    }
    if (credential->empty()) continue;
    out.push_back(*std::move(credential));
  }
  return out;
}

absl::StatusOr<CredentialKeyring> CredentialKeyring::FromDockerConfigs(
    absl::Span<const std::string> secrets) {
  CredentialKeyring keyring;
  for (size_t i = 0; i < secrets.size(); ++i) {
    absl::StatusOr<std::vector<RegistryCredential>> credentials = ParseDockerConfig(secrets[i]);
    if (!credentials.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("pull secret ", i, ": ", credentials.status().message()));
    }
    for (RegistryCredential& credential : *credentials) {
      absl::StatusOr<RegistryKey> key = ParseRegistryKey(credential.server_address);
      if (!key.ok()) {  // already validated by ParseDockerConfig
        return absl::InvalidArgumentError(
            absl::StrCat("pull secret ", i, ": ", key.status().message()));
      }
      keyring.entries_.push_back(Entry{*std::move(key), std::move(credential)});
    }
  }
  return keyring;
}

std::vector<RegistryCredential> CredentialKeyring::Lookup(const ImageReference& image) const {
  struct Match {
    size_t specificity;
    bool wildcard;
    const RegistryCredential* credential;
  };
  std::vector<Match> matches;
  for (const Entry& entry : entries_) {
    if (!entry.key.Matches(image)) continue;
    matches.push_back(
        Match{entry.key.ToString().size(), HasWildcard(entry.key.host), &entry.credential});
  }
  // Stable: equal keys keep secret order, then key order.
  std::stable_sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
    if (a.specificity != b.specificity) return a.specificity > b.specificity;
    return !a.wildcard && b.wildcard;
  });
  std::vector<RegistryCredential> out;
  for (const Match& match : matches) {
    const RegistryCredential& c = *match.credential;
    const bool duplicate = std::any_of(out.begin(), out.end(), [&c](const RegistryCredential& o) {
      return o.username == c.username && o.password == c.password && o.auth == c.auth &&
             o.identity_token == c.identity_token && o.registry_token == c.registry_token;
    });
    if (!duplicate) out.push_back(c);
  }
  return out;
}

}  // namespace inplaced::imagepull
