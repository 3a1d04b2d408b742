#include "imagepull/registry/www_authenticate.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace inplaced::imagepull {
namespace {

bool IsTchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

bool IsToken68Char(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("-._~+/").find(c) != absl::string_view::npos;
}

// A cursor over the header value; every Read* leaves `pos` after what it consumed.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  size_t pos() const { return pos_; }
  void set_pos(size_t pos) { pos_ = pos; }
  void Advance() { ++pos_; }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t')) ++pos_;
  }
  void SkipWhitespaceAndCommas() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == ',')) ++pos_;
  }

  std::string ReadToken() {
    const size_t start = pos_;
    while (!AtEnd() && IsTchar(Peek())) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  std::string ReadToken68() {
    const size_t start = pos_;
    while (!AtEnd() && IsToken68Char(Peek())) ++pos_;
    if (pos_ == start) return "";
    while (!AtEnd() && Peek() == '=') ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  // At an opening '"'. RFC 7230 quoted-string with quoted-pairs.
  absl::StatusOr<std::string> ReadQuoted() {
    const size_t start = pos_;
    ++pos_;
    std::string out;
    while (!AtEnd()) {
      const char c = Peek();
      ++pos_;
      if (c == '"') return out;
      if (c == '\\') {
        if (AtEnd()) break;
        out.push_back(Peek());
        ++pos_;
      } else {
        out.push_back(c);
      }
    }
    return Error("unterminated quoted string", start);
  }

  // True when a `token OWS "="` follows (an auth-param, not the next challenge's scheme).
  bool ParamAhead() {
    const size_t saved = pos_;
    const bool is_param = !ReadToken().empty() && (SkipWhitespace(), !AtEnd() && Peek() == '=');
    pos_ = saved;
    return is_param;
  }

  absl::Status Error(absl::string_view problem, size_t at) const {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid WWW-Authenticate header: ", problem, " at offset ", at));
  }
  absl::Status Error(absl::string_view problem) const { return Error(problem, pos_); }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

void AddParam(AuthChallenge& challenge, std::string name, std::string value) {
  name = absl::AsciiStrToLower(name);
  for (const auto& [existing, unused] : challenge.params) {
    if (existing == name) return;  // RFC 7235: each name at most once; keep the first
  }
  challenge.params.emplace_back(std::move(name), std::move(value));
}

// Parses the auth-params (or token68) of one challenge, up to the start of the next challenge or
// the end. Returns OK with the parser positioned at the next challenge's scheme (or the end).
absl::Status ParseChallengeBody(Parser& p, AuthChallenge& challenge) {
  bool first = true;
  while (true) {
    p.SkipWhitespace();
    if (p.AtEnd()) return absl::OkStatus();
    if (p.Peek() == ',') {
      p.SkipWhitespaceAndCommas();
      if (p.AtEnd() || !p.ParamAhead() || !challenge.token68.empty()) return absl::OkStatus();
    } else if (!first && !p.ParamAhead()) {
      return p.Error("expected ',' or a parameter");
    }

    const size_t start = p.pos();
    std::string name = p.ReadToken();
    p.SkipWhitespace();
    if (!name.empty() && !p.AtEnd() && p.Peek() == '=') {
      p.Advance();
      p.SkipWhitespace();
      if (!p.AtEnd() && p.Peek() == '"') {
        absl::StatusOr<std::string> value = p.ReadQuoted();
        if (!value.ok()) return value.status();
        AddParam(challenge, std::move(name), *std::move(value));
        first = false;
        continue;
      }
      std::string value = p.ReadToken();
      if (!value.empty()) {
        AddParam(challenge, std::move(name), std::move(value));
        first = false;
        continue;
      }
      if (!first) return p.Error(absl::StrCat("parameter \"", name, "\" has no value"));
      // "abc=" or "abc==" right after the scheme: a token68 with padding, not a parameter.
    }
    if (!first) return p.Error("expected a parameter", start);
    p.set_pos(start);
    challenge.token68 = p.ReadToken68();
    if (challenge.token68.empty()) return p.Error("expected a parameter or token68");
    first = false;
    p.SkipWhitespace();
    if (!p.AtEnd() && p.Peek() != ',') return p.Error("unexpected character after token68");
  }
}

}  // namespace

std::optional<std::string> AuthChallenge::Param(absl::string_view name) const {
  for (const auto& [key, value] : params) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

std::string AuthChallenge::realm() const { return Param("realm").value_or(""); }
std::string AuthChallenge::service() const { return Param("service").value_or(""); }
std::string AuthChallenge::scope() const { return Param("scope").value_or(""); }

std::vector<std::string> AuthChallenge::Scopes() const {
  return absl::StrSplit(scope(), ' ', absl::SkipEmpty());
}

absl::StatusOr<std::vector<AuthChallenge>> ParseWwwAuthenticate(absl::string_view header) {
  Parser p(header);
  p.SkipWhitespaceAndCommas();
  if (p.AtEnd()) return p.Error("empty header", 0);
  std::vector<AuthChallenge> out;
  while (true) {
    p.SkipWhitespaceAndCommas();
    if (p.AtEnd()) break;
    AuthChallenge challenge;
    const size_t start = p.pos();
    challenge.scheme = absl::AsciiStrToLower(p.ReadToken());
    if (challenge.scheme.empty()) return p.Error("expected an auth scheme", start);
    if (!p.AtEnd() && p.Peek() != ' ' && p.Peek() != '\t' && p.Peek() != ',') {
      return p.Error("unexpected character after the auth scheme");
    }
    if (absl::Status s = ParseChallengeBody(p, challenge); !s.ok()) return s;
    out.push_back(std::move(challenge));
  }
  return out;
}

const AuthChallenge* FindChallenge(const std::vector<AuthChallenge>& challenges,
                                   absl::string_view scheme) {
  for (const AuthChallenge& challenge : challenges) {
    if (absl::EqualsIgnoreCase(challenge.scheme, scheme)) return &challenge;
  }
  return nullptr;
}

}  // namespace inplaced::imagepull
