#include "imagepull/registry/registry_client.h"

#include <openssl/evp.h>

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log_safe.h"
#include "common/status_macros.h"
#include "imagepull/registry/www_authenticate.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace inplaced::imagepull {
namespace {

using Json = nlohmann::json;

// The client id a registry token server sees for the OAuth2 refresh-token grant.
constexpr absl::string_view kOAuthClientId = "inplaced";

// True for loopback hosts: localhost, [::1], 127.0.0.0/8 (dotted quad).
bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost") || host == "[::1]" || host == "::1") return true;
  std::vector<absl::string_view> octets = absl::StrSplit(host, '.');
  if (octets.size() != 4 || octets[0] != "127") return false;
  for (absl::string_view octet : octets) {
    int value = 0;
    if (octet.empty() || octet.size() > 3 || !absl::SimpleAtoi(octet, &value) || value > 255) {
      return false;
    }
  }
  return true;
}

// Splits "host[:port]" (host may be "[v6]") into host and port.
std::pair<std::string, std::string> SplitHostPort(absl::string_view host_port) {
  const size_t bracket = host_port.rfind(']');
  const size_t colon = host_port.rfind(':');
  if (colon == absl::string_view::npos || (bracket != absl::string_view::npos && colon < bracket)) {
    return {std::string(host_port), ""};
  }
  return {std::string(host_port.substr(0, colon)), std::string(host_port.substr(colon + 1))};
}

bool IsInsecure(absl::string_view host_port, const std::vector<std::string>& insecure) {
  const auto [host, port] = SplitHostPort(host_port);
  if (IsLoopbackHost(host)) return true;
  for (const std::string& entry : insecure) {
    const auto [entry_host, entry_port] = SplitHostPort(entry);
    if (!absl::EqualsIgnoreCase(entry_host, host)) continue;
    if (entry_port.empty() || entry_port == port) return true;
  }
  return false;
}

// The scheme and host[:port] of an absolute URL ("https://auth.io:8443/token?x" -> https,
// auth.io:8443); nullopt when it is not http(s) or carries userinfo.
struct UrlOrigin {
  std::string scheme;
  std::string host_port;
};
std::optional<UrlOrigin> OriginOf(absl::string_view url) {
  UrlOrigin origin;
  if (absl::StartsWithIgnoreCase(url, "https://")) {
    origin.scheme = "https";
    url.remove_prefix(8);
  } else if (absl::StartsWithIgnoreCase(url, "http://")) {
    origin.scheme = "http";
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const size_t end = url.find_first_of("/?#");
  absl::string_view authority = url.substr(0, end);
  if (authority.empty() || absl::StrContains(authority, '@')) return std::nullopt;
  origin.host_port = absl::AsciiStrToLower(authority);
  return origin;
}

// application/x-www-form-urlencoded / query component encoding.
std::string UrlEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// username and password of a credential: its fields, else the decoded "auth".
std::optional<std::pair<std::string, std::string>> UserPassword(const RegistryCredential& cred) {
  if (!cred.username.empty() || !cred.password.empty()) {
    return std::make_pair(cred.username, cred.password);
  }
  if (cred.auth.empty()) return std::nullopt;
  std::string decoded;
  if (!absl::Base64Unescape(cred.auth, &decoded)) return std::nullopt;
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

std::string BasicAuthorization(const std::pair<std::string, std::string>& user_password) {
  return absl::StrCat(
      "Basic ", absl::Base64Escape(absl::StrCat(user_password.first, ":", user_password.second)));
}

// The first error of a registry's JSON error body ("MANIFEST_UNKNOWN: manifest unknown"), short, or
// empty. Registry error bodies describe the request, never its credentials.
std::string RegistryErrorDetail(absl::string_view body) {
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return "";
  const auto errors = json.find("errors");
  if (errors == json.end() || !errors->is_array() || errors->empty()) return "";
  const Json& first = (*errors)[0];
  if (!first.is_object()) return "";
  std::string out;
  if (auto code = first.find("code"); code != first.end() && code->is_string()) {
    out = code->get<std::string>();
  }
  if (auto message = first.find("message"); message != first.end() && message->is_string()) {
    absl::StrAppend(&out, out.empty() ? "" : ": ", message->get<std::string>());
  }
  if (out.size() > 200) out = absl::StrCat(out.substr(0, 200), "...");
  return out;
}

// The status for a non-2xx answer of the registry or the token server.
absl::Status HttpError(int code, absl::string_view what, absl::string_view body) {
  std::string detail = RegistryErrorDetail(body);
  if (!detail.empty()) detail = absl::StrCat(" (", detail, ")");
  switch (code) {
    case 401:
      return absl::UnauthenticatedError(absl::StrCat(what, ": 401 Unauthorized", detail));
    case 403:
      return absl::PermissionDeniedError(absl::StrCat(what, ": 403 Forbidden", detail));
    case 404:
      return absl::NotFoundError(absl::StrCat(what, ": 404 Not Found", detail));
    case 429:
      return absl::UnavailableError(absl::StrCat(what, ": 429 Too Many Requests", detail));
    default:
      if (code >= 500) {
        return absl::UnavailableError(absl::StrCat(what, ": HTTP status ", code, detail));
      }
      return absl::UnknownError(absl::StrCat(what, ": unexpected HTTP status ", code, detail));
  }
}

bool IsAuthFailure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnauthenticated ||
         status.code() == absl::StatusCode::kPermissionDenied;
}

// A manifest as the registry sent it.
struct FetchedManifest {
  std::string body;
  std::string content_type;
  std::string header_digest;  // Docker-Content-Digest, or empty
};

// One attempt (one credential, or anonymous) of one Resolve call: keeps the authorization it earns
// for the next request of the same attempt (an index, then its platform manifest).
class Attempt {
 public:
  Attempt(HttpClient& http, const RegistryClientOptions& options, const ImageReference& ref,
          std::string base_url, const RegistryCredential* credential, const Cancellation* cancel)
      : http_(http),
        options_(options),
        ref_(ref),
        base_url_(std::move(base_url)),
        credential_(credential),
        cancel_(cancel) {
    if (credential_ != nullptr && !credential_->registry_token.empty()) {
      // A registry token is the bearer token itself: no challenge round.
      authorization_ = absl::StrCat("Bearer ", credential_->registry_token);
      challenged_ = true;
    }
  }

  absl::StatusOr<FetchedManifest> FetchManifest(const std::string& reference) {
    const std::string what = absl::StrCat("manifest ", reference);
    HttpRequest request;
    request.url = absl::StrCat(base_url_, "/manifests/", reference);
    request.max_response_bytes = options_.max_manifest_bytes;
    request.cancel = cancel_;
    for (;;) {
      request.headers = {{"Accept", ManifestAcceptHeader()}};
      if (!authorization_.empty()) request.headers.emplace_back("Authorization", authorization_);
      ASSIGN_OR_RETURN(HttpResponse response, http_.Send(request));
      if (response.status_code == 401 && !challenged_) {
        challenged_ = true;
        ASSIGN_OR_RETURN(authorization_, Authorize(response));
        continue;
      }
      if (response.status_code / 100 != 2) {
        return HttpError(response.status_code, what, response.body);
      }
      FetchedManifest out;
      out.body = std::move(response.body);
      out.content_type = response.Header("Content-Type");
      out.header_digest = response.Header("Docker-Content-Digest");
      return out;
    }
  }

 private:
  // The Authorization value answering a 401's challenges.
  absl::StatusOr<std::string> Authorize(const HttpResponse& unauthorized) {
    std::vector<AuthChallenge> challenges;
    for (const std::string& header : unauthorized.Headers("WWW-Authenticate")) {
      ASSIGN_OR_RETURN(std::vector<AuthChallenge> parsed, ParseWwwAuthenticate(header));
      for (auto& challenge : parsed) challenges.push_back(std::move(challenge));
    }
    if (const AuthChallenge* bearer = FindChallenge(challenges, "bearer")) {
      ASSIGN_OR_RETURN(std::string token, FetchToken(*bearer));
      return absl::StrCat("Bearer ", token);
    }
    if (FindChallenge(challenges, "basic") != nullptr) {
      const auto user_password = credential_ != nullptr ? UserPassword(*credential_) : std::nullopt;
      if (!user_password) {
        return absl::UnauthenticatedError(absl::StrCat(
            "401 Unauthorized: the registry asks for basic auth and ",
            credential_ == nullptr ? "no credential was given" : "the credential has no password"));
      }
      return BasicAuthorization(*user_password);
    }
    if (challenges.empty()) {
      return absl::UnauthenticatedError("401 Unauthorized without a WWW-Authenticate challenge");
    }
    return absl::UnimplementedError(absl::StrCat(
        "401 Unauthorized with an unsupported auth scheme \"", challenges.front().scheme, "\""));
  }

  // A token from a Bearer challenge's realm (the docker registry token protocol).
  absl::StatusOr<std::string> FetchToken(const AuthChallenge& challenge) {
    const std::string realm = challenge.realm();
    const std::optional<UrlOrigin> origin = OriginOf(realm);
    if (!origin) {
      return absl::InvalidArgumentError("Bearer challenge without a valid http(s) realm");
    }
    std::vector<std::string> scopes = {absl::StrCat("repository:", ref_.path(), ":pull")};
    for (const std::string& scope : challenge.Scopes()) {
      if (scope != scopes.front()) scopes.push_back(scope);
    }
    std::string params;
    if (const std::string service = challenge.service(); !service.empty()) {
      absl::StrAppend(&params, "service=", UrlEncode(service));
    }
    for (const std::string& scope : scopes) {
      absl::StrAppend(&params, params.empty() ? "" : "&", "scope=", UrlEncode(scope));
    }
    const std::string what =
        absl::StrCat("token server ", origin->scheme, "://", origin->host_port);

    const std::optional<std::pair<std::string, std::string>> user_password =
        credential_ != nullptr ? UserPassword(*credential_) : std::nullopt;
    const bool has_identity_token = credential_ != nullptr && !credential_->identity_token.empty();
    if ((user_password || has_identity_token) && origin->scheme != "https" &&
        !IsInsecure(origin->host_port, options_.insecure_registries)) {
      // Never hand a password or refresh token to a plain-http realm on the network.
      return absl::PermissionDeniedError(
          absl::StrCat(what, ": refusing to send credentials over plain http"));
    }

    HttpRequest request;
    request.max_response_bytes = options_.max_token_bytes;
    request.cancel = cancel_;
    if (has_identity_token) {
      // OAuth2 refresh-token grant, as docker login's identity tokens are used.
      request.method = HttpMethod::kPost;
      request.url = realm;
      request.content_type = "application/x-www-form-urlencoded";
      request.body = absl::StrCat(params, params.empty() ? "" : "&",
                                  "grant_type=refresh_token&client_id=", kOAuthClientId,
                                  "&refresh_token=", UrlEncode(credential_->identity_token));
    } else {
      request.url = absl::StrCat(realm, absl::StrContains(realm, '?') ? "&" : "?", params);
      if (user_password) request.headers = {{"Authorization", BasicAuthorization(*user_password)}};
    }
    ASSIGN_OR_RETURN(HttpResponse response, http_.Send(request));
    if (has_identity_token && (response.status_code == 404 || response.status_code == 405) &&
        !credential_->username.empty()) {
      // A token server without the OAuth2 endpoint: the classic GET, with the identity token as
      // the password (as docker and containerd fall back).
      request = HttpRequest();
      request.max_response_bytes = options_.max_token_bytes;
      request.cancel = cancel_;
      request.url = absl::StrCat(realm, absl::StrContains(realm, '?') ? "&" : "?", params);
      request.headers = {{"Authorization", BasicAuthorization({credential_->username,
                                                               credential_->identity_token})}};
      ASSIGN_OR_RETURN(response, http_.Send(request));
    }
    if (response.status_code / 100 != 2) {
      return HttpError(response.status_code, what, response.body);
    }
    const Json json = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": token response is not a JSON object"));
    }
    for (const char* member : {"token", "access_token"}) {
      const auto it = json.find(member);
      if (it != json.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
        return it->get<std::string>();
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": token response has neither \"token\" nor \"access_token\""));
  }

  HttpClient& http_;
  const RegistryClientOptions& options_;
  const ImageReference& ref_;
  const std::string base_url_;
  const RegistryCredential* const credential_;  // null: anonymous
  const Cancellation* const cancel_;
  std::string authorization_;  // the Authorization header value earned so far, or empty
  bool challenged_ = false;    // a 401 has been answered once: the next 401 is final
};

// Checks a manifest body against the digest asked for and the registry's header; returns its
// digest.
absl::StatusOr<std::string> VerifyDigest(const FetchedManifest& manifest,
                                         const std::string& expected, absl::string_view what) {
  std::string digest;
  if (!expected.empty()) {
    const std::string algorithm = expected.substr(0, expected.find(':'));
    ASSIGN_OR_RETURN(digest, ComputeDigest(algorithm, manifest.body));
    if (digest != expected) {
      return absl::DataLossError(absl::StrCat(what, ": digest mismatch: asked for ", expected,
                                              ", the body hashes to ", digest));
    }
  }
  if (!manifest.header_digest.empty()) {
    if (!ValidateDigest(manifest.header_digest).ok()) {
      return absl::DataLossError(absl::StrCat(what, ": malformed Docker-Content-Digest header"));
    }
    const std::string algorithm =
        manifest.header_digest.substr(0, manifest.header_digest.find(':'));
    ASSIGN_OR_RETURN(std::string computed, ComputeDigest(algorithm, manifest.body));
    if (computed != manifest.header_digest) {
      return absl::DataLossError(absl::StrCat(what, ": digest mismatch: Docker-Content-Digest ",
                                              manifest.header_digest, ", the body hashes to ",
                                              computed));
    }
    if (digest.empty()) digest = computed;
  }
  if (digest.empty()) {
    ASSIGN_OR_RETURN(digest, ComputeDigest("sha256", manifest.body));
  }
  return digest;
}

absl::StatusOr<ResolvedImage> ResolveOnce(Attempt& attempt, const ImageReference& ref,
                                          const Platform& platform) {
  const std::string top_reference = ref.ManifestReference();
  ASSIGN_OR_RETURN(FetchedManifest top, attempt.FetchManifest(top_reference));
  const std::string top_what = absl::StrCat("manifest ", top_reference);
  ResolvedImage out;
  ASSIGN_OR_RETURN(out.digest, VerifyDigest(top, ref.digest(), top_what));
  ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(top.body, top.content_type));
  out.media_type = manifest.media_type;

  if (manifest.is_index()) {
    ASSIGN_OR_RETURN(Descriptor entry, SelectPlatform(*manifest.index, platform));
    const std::string what = absl::StrCat("manifest ", entry.digest, " (", top_reference, " for ",
                                          platform.ToString(), ")");
    ASSIGN_OR_RETURN(FetchedManifest child, attempt.FetchManifest(entry.digest));
    ASSIGN_OR_RETURN(out.manifest_digest, VerifyDigest(child, entry.digest, what));
    if (static_cast<int64_t>(child.body.size()) != entry.size) {
      return absl::DataLossError(absl::StrCat(what, ": size ", child.body.size(),
                                              " differs from the index entry's ", entry.size));
    }
    ASSIGN_OR_RETURN(manifest, ParseManifest(child.body, child.content_type));
    if (!manifest.image) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": an index entry is not an image manifest"));
    }
    out.platform = entry.platform.value_or(Platform{});
  } else {
    out.manifest_digest = out.digest;
  }
  out.manifest_media_type = manifest.media_type;
  out.config = manifest.image->config;
  out.layers = manifest.image->layers;
  out.total_size = manifest.image->total_size;
  return out;
}

absl::Status WithImage(const absl::Status& status, const ImageReference& ref,
                       absl::string_view suffix = "") {
  return absl::Status(status.code(), absl::StrCat("resolving image ", ref.Canonical(), ": ",
                                                  status.message(), suffix));
}

}  // namespace

absl::StatusOr<std::string> ComputeDigest(absl::string_view algorithm, absl::string_view data) {
  const EVP_MD* md = nullptr;
  if (algorithm == "sha256") {
    md = EVP_sha256();
  } else if (algorithm == "sha384") {
    md = EVP_sha384();
  } else if (algorithm == "sha512") {
    md = EVP_sha512();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported digest algorithm \"", algorithm, "\""));
  }
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), hash, &length, md, nullptr) != 1) {
    return absl::InternalError("EVP_Digest failed");
  }
  return absl::StrCat(
      algorithm, ":",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(hash), length)));
}

RegistryClient::RegistryClient(HttpClient& http, RegistryClientOptions options)
    : http_(http), options_(std::move(options)) {}

std::string RegistryClient::SchemeFor(const ImageReference& ref) const {
  return IsInsecure(ref.ApiHost(), options_.insecure_registries) ? "http" : "https";
}

absl::StatusOr<ResolvedImage> RegistryClient::Resolve(
    const ImageReference& ref, const std::vector<RegistryCredential>& credentials,
    const Cancellation* cancel) {
  const std::string base_url =
      absl::StrCat(SchemeFor(ref), "://", ref.ApiHost(), "/v2/", ref.path());
  // The first attempt's failure is the one reported: it used the most specific credential, and
  // "no credential was given" from the anonymous fallback would hide why a given one failed.
  absl::Status first_auth_failure;
  // Every credential in order, then anonymous (nullptr).
  for (size_t i = 0; i <= credentials.size(); ++i) {
    const RegistryCredential* credential = i < credentials.size() ? &credentials[i] : nullptr;
    Attempt attempt(http_, options_, ref, base_url, credential, cancel);
    absl::StatusOr<ResolvedImage> resolved = ResolveOnce(attempt, ref, options_.platform);
    if (resolved.ok()) return resolved;
    if (!IsAuthFailure(resolved.status())) return WithImage(resolved.status(), ref);
    // Which credential failed, by position and registry key: never a secret.
    spdlog::debug("registry_auth_failed image={} attempt={}/{} credential={} code={}",
                  LogSafe(ref.Canonical()), i + 1, credentials.size() + 1,
                  credential == nullptr ? "anonymous" : LogSafe(credential->server_address),
                  absl::StatusCodeToString(resolved.status().code()));
    if (first_auth_failure.ok()) first_auth_failure = resolved.status();
  }
  const std::string tried =
      credentials.empty() ? " (anonymous)"
                          : absl::StrCat(" (tried ", credentials.size(),
                                         credentials.size() == 1 ? " credential" : " credentials",
                                         ", then anonymous)");
  return WithImage(first_auth_failure, ref, tried);
}

}  // namespace inplaced::imagepull
