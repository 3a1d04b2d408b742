#include "imagepull/registry/image_reference.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace inplaced::imagepull {
namespace {

constexpr absl::string_view kLibraryPrefix = "library/";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsLowerHex(char c) { return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'); }
bool IsWordChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool HasUpper(absl::string_view s) {
  for (char c : s) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

// The caller's text as a message quotes it: escaped (a newline or an ANSI escape in a reference
// never reaches a client's terminal or a log as such) and cut.
std::string QuoteForMessage(absl::string_view text) {
  constexpr size_t kMaxQuoted = 256;
  std::string out = absl::CHexEscape(text.substr(0, kMaxQuoted));
  if (text.size() > kMaxQuoted) absl::StrAppend(&out, "...");
  return out;
}

absl::Status Invalid(absl::string_view text, absl::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid image reference \"", QuoteForMessage(text), "\": ", reason));
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := "." | "_" | "__" | "-"+.
// Returns an empty string when valid, else the reason.
std::string CheckPathComponent(absl::string_view component) {
  if (component.empty()) return "empty path component";
  if (HasUpper(component)) return "repository name must be lowercase";
  size_t i = 0;
  const size_t n = component.size();
  while (true) {
    if (i >= n || !IsLowerAlnum(component[i])) {
      return absl::StrCat("invalid path component \"", component,
                          "\" (lowercase letters and digits separated by '.', '_', '__' or '-')");
    }
    while (i < n && IsLowerAlnum(component[i])) ++i;
    if (i == n) return "";
    // A separator; afterwards an alphanumeric run must follow.
    if (component[i] == '.') {
      ++i;
    } else if (component[i] == '_') {
      ++i;
      if (i < n && component[i] == '_') ++i;
    } else if (component[i] == '-') {
      while (i < n && component[i] == '-') ++i;
    } else {
      return absl::StrCat("invalid character '", component.substr(i, 1), "' in path component \"",
                          component, "\"");
    }
  }
}

// domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
bool IsDomainComponent(absl::string_view c) {
  if (c.empty()) return false;
  for (char ch : c) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '-') return false;
  }
  return c.front() != '-' && c.back() != '-';
}

// host[:port], host := domain-name | "[" ipv6 "]". Returns the reason, or empty when valid.
std::string CheckDomain(absl::string_view domain) {
  absl::string_view host = domain;
  absl::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == absl::string_view::npos) return "unterminated '[' in registry host";
    const absl::string_view inside = host.substr(1, close - 1);
    if (inside.empty()) return "empty IPv6 address in registry host";
    for (char c : inside) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':') {
        return absl::StrCat("invalid IPv6 registry host \"", host.substr(0, close + 1), "\"");
      }
    }
    absl::string_view after = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return absl::StrCat("invalid registry host \"", domain, "\"");
      port = after.substr(1);
      if (port.empty()) return absl::StrCat("empty port in registry host \"", domain, "\"");
    }
  } else {
    const size_t colon = host.find(':');
    if (colon != absl::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) return absl::StrCat("empty port in registry host \"", domain, "\"");
    }
    if (host.empty()) return absl::StrCat("empty registry host in \"", domain, "\"");
    for (absl::string_view c : absl::StrSplit(host, '.')) {
      if (!IsDomainComponent(c)) return absl::StrCat("invalid registry host \"", domain, "\"");
    }
  }
  if (!port.empty()) {
    for (char c : port) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        return absl::StrCat("invalid port \"", port, "\" in registry host");
      }
    }
    int value = 0;
    if (port.size() > 5 || !absl::SimpleAtoi(port, &value) || value < 1 || value > 65535) {
      return absl::StrCat("port \"", port, "\" out of range");
    }
  }
  return "";
}

// tag := [\w][\w.-]{0,127}
std::string CheckTag(absl::string_view tag) {
  if (tag.empty()) return "empty tag after ':'";
  if (tag.size() > kMaxTagLength) {
    return absl::StrCat("tag longer than ", kMaxTagLength, " characters");
  }
  if (!IsWordChar(tag.front())) return "tag must start with a letter, digit or '_'";
  for (char c : tag) {
    if (!IsWordChar(c) && c != '.' && c != '-') {
      return absl::StrCat("invalid character '", std::string(1, c), "' in tag");
    }
  }
  return "";
}

bool IsImageId(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

}  // namespace

bool IsDockerHubAlias(absl::string_view host) {
  return absl::EqualsIgnoreCase(host, "docker.io") ||
         absl::EqualsIgnoreCase(host, "index.docker.io") ||
         absl::EqualsIgnoreCase(host, "registry-1.docker.io");
}

absl::Status ValidateDigest(absl::string_view digest) {
  const size_t colon = digest.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError("invalid digest: expected <algorithm>:<hex>");
  }
  const absl::string_view algorithm = digest.substr(0, colon);
  const absl::string_view hex = digest.substr(colon + 1);
  size_t want = 0;
  if (algorithm == "sha256") {
    want = 64;
  } else if (algorithm == "sha384") {
    want = 96;
  } else if (algorithm == "sha512") {
    want = 128;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("invalid digest: unsupported algorithm \"",
                                                   algorithm, "\" (sha256, sha384 or sha512)"));
  }
  if (hex.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("invalid digest: ", algorithm, " needs ", want,
                                                   " hex digits, got ", hex.size()));
  }
  for (char c : hex) {
    if (!IsLowerHex(c)) {
      return absl::InvalidArgumentError("invalid digest: hex digits must be lowercase [0-9a-f]");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageReference> ImageReference::Parse(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("invalid image reference: empty");
  if (IsImageId(text)) {
    return Invalid(text, "a 64-character hex string is an image ID, not a reference");
  }
  ImageReference ref;
  absl::string_view rest = text;

  // The digest follows the first '@'; neither names nor tags may contain '@'.
  const size_t at = rest.find('@');
  if (at != absl::string_view::npos) {
    const absl::string_view digest = rest.substr(at + 1);
    if (digest.empty()) return Invalid(text, "empty digest after '@'");
    if (absl::Status s = ValidateDigest(digest); !s.ok()) return Invalid(text, s.message());
    ref.digest_ = std::string(digest);
    rest = rest.substr(0, at);
  }

  // A tag is after the last ':' that follows the last '/' (a ':' before it is a registry port).
  const size_t slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos && (slash == absl::string_view::npos || colon > slash)) {
    const absl::string_view tag = rest.substr(colon + 1);
    if (std::string reason = CheckTag(tag); !reason.empty()) return Invalid(text, reason);
    ref.tag_ = std::string(tag);
    ref.tag_was_explicit_ = true;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Invalid(text, "empty repository name");
  if (rest.size() > kMaxNameLength) {
    return Invalid(text,
                   absl::StrCat("repository name longer than ", kMaxNameLength, " characters"));
  }

  // splitDockerDomain's rule: the first component is a host when it looks like one (a '.' or ':',
  // "localhost", or uppercase letters, which a path component may not have).
  absl::string_view remainder = rest;
  const size_t first_slash = rest.find('/');
  if (first_slash == absl::string_view::npos) {
    ref.domain_ = std::string(kDockerHubDomain);
  } else {
    const absl::string_view first = rest.substr(0, first_slash);
    const bool is_host = absl::StrContains(first, '.') || absl::StrContains(first, ':') ||
                         first == "localhost" || HasUpper(first);
    if (is_host) {
      if (std::string reason = CheckDomain(first); !reason.empty()) return Invalid(text, reason);
      ref.domain_ = IsDockerHubAlias(first) ? std::string(kDockerHubDomain) : std::string(first);
      remainder = rest.substr(first_slash + 1);
      if (remainder.empty()) return Invalid(text, "empty repository path after the registry host");
    } else {
      ref.domain_ = std::string(kDockerHubDomain);
    }
  }

  for (absl::string_view component : absl::StrSplit(remainder, '/')) {
    if (std::string reason = CheckPathComponent(component); !reason.empty()) {
      return Invalid(text, reason);
    }
  }
  ref.path_ = std::string(remainder);
  if (ref.domain_ == kDockerHubDomain && !absl::StrContains(ref.path_, '/')) {
    ref.path_ = absl::StrCat(kLibraryPrefix, ref.path_);
  }
  if (ref.tag_.empty() && ref.digest_.empty()) ref.tag_ = std::string(kDefaultTag);
  return ref;
}

std::string ImageReference::host() const {
  if (!domain_.empty() && domain_.front() == '[') return domain_.substr(0, domain_.find(']') + 1);
  return domain_.substr(0, domain_.find(':'));
}

std::string ImageReference::port() const {
  const size_t start = (!domain_.empty() && domain_.front() == '[') ? domain_.find(']') : 0;
  const size_t colon = domain_.find(':', start);
  return colon == std::string::npos ? "" : domain_.substr(colon + 1);
}

std::string ImageReference::ApiHost() const {
  return domain_ == kDockerHubDomain ? std::string(kDockerHubApiHost) : domain_;
}

std::string ImageReference::Name() const { return absl::StrCat(domain_, "/", path_); }

std::string ImageReference::FamiliarName() const {
  if (domain_ != kDockerHubDomain) return Name();
  absl::string_view path = path_;
  if (absl::StartsWith(path, kLibraryPrefix) &&
      !absl::StrContains(path.substr(kLibraryPrefix.size()), '/')) {
    path.remove_prefix(kLibraryPrefix.size());
  }
  return std::string(path);
}

namespace {
std::string WithTagAndDigest(std::string name, const std::string& tag, const std::string& digest) {
  if (!tag.empty()) absl::StrAppend(&name, ":", tag);
  if (!digest.empty()) absl::StrAppend(&name, "@", digest);
  return name;
}
}  // namespace

std::string ImageReference::Canonical() const { return WithTagAndDigest(Name(), tag_, digest_); }

std::string ImageReference::Familiar() const {
  return WithTagAndDigest(FamiliarName(), tag_, digest_);
}

std::string ImageReference::PullReference() const {
  return digest_.empty() ? absl::StrCat(Name(), ":", tag_) : absl::StrCat(Name(), "@", digest_);
}

const std::string& ImageReference::ManifestReference() const {
  return digest_.empty() ? tag_ : digest_;
}

}  // namespace inplaced::imagepull
