#include "daemon/recreate/name_syntax.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace inplaced::daemon {
namespace {

// Values are quoted in messages C-escaped and shortened: they come from the caller and end up in
// logs.
std::string Quote(absl::string_view value) {
  constexpr size_t kMaxQuoted = 64;
  if (value.size() > kMaxQuoted) {
    return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMaxQuoted)), "...\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(value), "\"");
}

absl::Status Invalid(absl::string_view rule, absl::string_view value) {
  return absl::InvalidArgumentError(absl::StrCat(rule, ": ", Quote(value)));
}

bool IsLowerAlnum(char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c); }

// The label syntax without the length rule (Kubernetes' dns1123LabelFmt).
bool MatchesLabelSyntax(absl::string_view value) {
  if (value.empty() || !IsLowerAlnum(value.front()) || !IsLowerAlnum(value.back())) return false;
  for (char c : value) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsIdChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-'; }

bool AllIdChars(absl::string_view value) {
  for (char c : value) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

}  // namespace

absl::Status CheckDns1123Label(absl::string_view value) {
  if (value.size() > kDns1123LabelMaxLength || !MatchesLabelSyntax(value)) {
    return Invalid(
        "must be a DNS-1123 label (at most 63 lowercase alphanumerics or '-', starting and ending "
        "with an alphanumeric)",
        value);
  }
  return absl::OkStatus();
}

absl::Status CheckDns1123Subdomain(absl::string_view value) {
  bool ok = !value.empty() && value.size() <= kDns1123SubdomainMaxLength;
  if (ok) {
    for (absl::string_view label : absl::StrSplit(value, '.')) {
      if (!MatchesLabelSyntax(label)) {
        ok = false;
        break;
      }
    }
  }
  if (!ok) {
    return Invalid(
        "must be a DNS-1123 subdomain (at most 253 lowercase alphanumerics, '-' or '.', each "
        "'.'-separated part starting and ending with an alphanumeric)",
        value);
  }
  return absl::OkStatus();
}

absl::Status CheckIanaSvcName(absl::string_view value) {
  constexpr absl::string_view kRule =
      "must be an IANA_SVC_NAME (at most 15 lowercase alphanumerics or '-', with at least one "
      "letter, "
      "no leading, trailing or doubled '-')";
  if (value.empty() || value.size() > kIanaSvcNameMaxLength || value.front() == '-' ||
      value.back() == '-' || absl::StrContains(value, "--")) {
    return Invalid(kRule, value);
  }
  bool has_letter = false;
  for (char c : value) {
    if (!IsLowerAlnum(c) && c != '-') return Invalid(kRule, value);
    has_letter = has_letter || absl::ascii_islower(c);
  }
  if (!has_letter) return Invalid(kRule, value);
  return absl::OkStatus();
}

absl::Status CheckContainerId(absl::string_view value) {
  constexpr absl::string_view kRule =
      "must be a container ID, bare or \"<runtime>://<id>\", the ID being at most 128 characters "
      "of "
      "[A-Za-z0-9._-]";
  size_t sep = value.find("://");
  if (sep != absl::string_view::npos) {
    absl::string_view scheme = value.substr(0, sep);
    if (scheme.empty()) return Invalid(kRule, value);
    for (char c : scheme) {
      if (!IsLowerAlnum(c) && c != '-' && c != '.') return Invalid(kRule, value);
    }
  }
  absl::string_view id = BareContainerId(value);
  if (id.empty() || id.size() > kContainerIdMaxLength || !AllIdChars(id)) {
    return Invalid(kRule, value);
  }
  return absl::OkStatus();
}

absl::string_view BareContainerId(absl::string_view value) {
  size_t sep = value.find("://");
  return sep == absl::string_view::npos ? value : value.substr(sep + 3);
}

absl::Status CheckPodUid(absl::string_view value) {
  if (value.empty() || value.size() > kPodUidMaxLength || !AllIdChars(value)) {
    return Invalid("must be a pod UID (at most 128 characters of [A-Za-z0-9._-])", value);
  }
  return absl::OkStatus();
}

absl::Status CheckHost(absl::string_view value) {
  constexpr absl::string_view kRule =
      "must be a host name or IP address (at most 253 characters of [A-Za-z0-9.:_%[]-])";
  if (value.empty() || value.size() > kDns1123SubdomainMaxLength) return Invalid(kRule, value);
  for (char c : value) {
    bool ok = absl::ascii_isalnum(c) || c == '.' || c == ':' || c == '_' || c == '%' || c == '[' ||
              c == ']' || c == '-';
    if (!ok) return Invalid(kRule, value);
  }
  return absl::OkStatus();
}

absl::Status CheckHttpHeaderName(absl::string_view value) {
  constexpr absl::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  if (value.empty()) return Invalid("must be an HTTP token", value);
  for (char c : value) {
    if (!absl::ascii_isalnum(c) && !absl::StrContains(kTokenPunctuation, c)) {
      return Invalid("must be an HTTP token (alphanumerics and !#$%&'*+-.^_`|~)", value);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckHttpHeaderValue(absl::string_view value) {
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return Invalid("must not contain CR, LF or NUL", value);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckHttpPath(absl::string_view value) {
  for (char c : value) {
    // Bytes >= 0x80 (UTF-8 in a path) are left to the HTTP client; only what breaks a request line
    // is refused.
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f)
      return Invalid("must not contain whitespace or control characters", value);
  }
  return absl::OkStatus();
}

}  // namespace inplaced::daemon
