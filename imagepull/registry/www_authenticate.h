#pragma once

// WWW-Authenticate challenges (RFC 7235 §4.1) as registries send them with a 401, for the registry
// token flow: `Bearer
// realm="https://auth.example.com/token",service="reg",scope="repository:a:pull"` or `Basic
// realm="Registry Realm"`.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inplaced::imagepull {

// One challenge: a scheme with either auth-params or a token68. Value type.
struct AuthChallenge {
  std::string scheme;  // lowercase: "bearer", "basic", ...
  // In header order; names lowercase (auth-param names are case-insensitive); values unquoted and
  // unescaped. A repeated name keeps its first value.
  std::vector<std::pair<std::string, std::string>> params;
  std::string token68;  // the "Negotiate <token68>" form; empty otherwise

  // The value of parameter `name` (case-insensitive), or nullopt.
  std::optional<std::string> Param(absl::string_view name) const;
  // Param("realm" | "service" | "scope"), or empty.
  std::string realm() const;
  std::string service() const;
  std::string scope() const;
  // The scope split at spaces (a registry may ask for several: "repository:a:pull
  // repository:b:pull").
  std::vector<std::string> Scopes() const;
};

// Parses a WWW-Authenticate header value into its challenges, in order. Several challenges may
// share one value ("Bearer realm=\"x\", Basic realm=\"y\""); to combine several header lines, parse
// each. Accepts quoted-string values with backslash escapes and token values, optional whitespace
// around '=' and ',', empty list elements, and (leniently) parameters separated by spaces only.
//
// INVALID_ARGUMENT with the problem and its byte offset: empty header; missing scheme; a parameter
// without a value; an unterminated quoted string; stray characters.
absl::StatusOr<std::vector<AuthChallenge>> ParseWwwAuthenticate(absl::string_view header);

// The first challenge with `scheme` (case-insensitive), or nullptr. The pointer is into
// `challenges`.
const AuthChallenge* FindChallenge(const std::vector<AuthChallenge>& challenges,
                                   absl::string_view scheme);

}  // namespace inplaced::imagepull
