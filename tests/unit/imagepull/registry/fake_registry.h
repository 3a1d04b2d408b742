#pragma once

// A fake registry behind a fake HttpClient, for RegistryClient unit tests: manifests by repository
// and reference, optional Basic or Bearer auth with a token server, and a log of every request.
// Single-threaded test helper.

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "imagepull/registry/http_client.h"
#include "imagepull/registry/registry_client.h"

namespace inplaced::imagepull::testing {

class FakeRegistry : public HttpClient {
 public:
  enum class Auth { kNone, kBasic, kBearer };

  struct StoredManifest {
    std::string body;
    std::string content_type;
    std::string header_digest;  // Docker-Content-Digest; "" = sha256 of the body; "-" = omitted
  };

  // `origin` is "http://127.0.0.1:5000"; manifests live under origin +
  // "/v2/<repo>/manifests/<ref>".
  explicit FakeRegistry(std::string origin) : origin_(std::move(origin)) {}

  // Stores `body` under the tag (when not empty) and under its sha256 digest; returns the digest.
  std::string Put(const std::string& repo, const std::string& tag, const std::string& body,
                  const std::string& content_type) {
    const std::string digest = ComputeDigest("sha256", body).value();
    StoredManifest stored{body, content_type, ""};
    if (!tag.empty()) manifests_[repo + "/" + tag] = stored;
    manifests_[repo + "/" + digest] = stored;
    return digest;
  }
  StoredManifest& Stored(const std::string& repo, const std::string& ref) {
    return manifests_.at(repo + "/" + ref);
  }

  void RequireBasic(std::string user, std::string password) {
    auth_ = Auth::kBasic;
    user_ = std::move(user);
    password_ = std::move(password);
  }
  // Bearer auth with a token server at `realm` (answers GET with Basic user/password or anonymous
  // when allow_anonymous, and POST with refresh_token == identity_token).
  void RequireBearer(std::string realm, std::string user, std::string password,
                     bool allow_anonymous = false) {
    auth_ = Auth::kBearer;
    realm_ = std::move(realm);
    user_ = std::move(user);
    password_ = std::move(password);
    allow_anonymous_ = allow_anonymous;
  }
  std::string token = "secret-token-42";
  std::string identity_token = "identity-refresh-7";
  std::string token_member = "token";   // or "access_token"
  bool token_post_unsupported = false;  // the token server answers POST with 405

  // Called instead of the fake's logic when set (transport errors, odd answers).
  std::function<absl::StatusOr<HttpResponse>(const HttpRequest&)> override_send;

  std::vector<HttpRequest> requests;

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    requests.push_back(request);
    if (override_send) return override_send(request);
    if (auth_ == Auth::kBearer && absl::StartsWith(request.url, realm_))
      return TokenServer(request);
    const std::string prefix = origin_ + "/v2/";
    if (!absl::StartsWith(request.url, prefix)) return Response(404, "");
    const std::string rest = request.url.substr(prefix.size());
    const size_t at = rest.find("/manifests/");
    if (at == std::string::npos) return Response(404, "");
    if (!Authorized(request)) {
      HttpResponse response = Response(401, R"({"errors":[{"code":"UNAUTHORIZED"}]})");
      if (auth_ == Auth::kBasic) {
        response.headers.emplace_back("www-authenticate", R"(Basic realm="Registry Realm")");
      } else {
        response.headers.emplace_back(
            "www-authenticate", absl::StrCat(R"(Bearer realm=")", realm_,
                                             R"(",service="fake-registry",scope="repository:)",
                                             rest.substr(0, at), R"(:pull")"));
      }
      return response;
    }
    const std::string key = rest.substr(0, at) + "/" + rest.substr(at + 11);
    const auto it = manifests_.find(key);
    if (it == manifests_.end()) {
      return Response(404,
                      R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
    }
    if (static_cast<int64_t>(it->second.body.size()) > request.max_response_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "GET ", request.url, ": response larger than ", request.max_response_bytes, " bytes"));
    }
    HttpResponse response = Response(200, it->second.body);
    response.headers.emplace_back("content-type", it->second.content_type);
    if (it->second.header_digest != "-") {
      response.headers.emplace_back("docker-content-digest",
                                    it->second.header_digest.empty()
                                        ? ComputeDigest("sha256", it->second.body).value()
                                        : it->second.header_digest);
    }
    return response;
  }

  static HttpResponse Response(int code, std::string body) {
    HttpResponse response;
    response.status_code = code;
    response.body = std::move(body);
    return response;
  }

  static std::string HeaderOf(const HttpRequest& request, const std::string& name) {
    for (const auto& [key, value] : request.headers) {
      if (absl::EqualsIgnoreCase(key, name)) return value;
    }
    return "";
  }

 private:
  std::string BasicValue() const {
    return absl::StrCat("Basic ", absl::Base64Escape(absl::StrCat(user_, ":", password_)));
  }

  bool Authorized(const HttpRequest& request) const {
    const std::string authorization = HeaderOf(request, "Authorization");
    switch (auth_) {
      case Auth::kNone:
        return true;
      case Auth::kBasic:
        return authorization == BasicValue();
      case Auth::kBearer:
        return authorization == absl::StrCat("Bearer ", token);
    }
    return false;
  }

  HttpResponse TokenServer(const HttpRequest& request) const {
    bool ok = false;
    if (request.method == HttpMethod::kPost) {
      if (token_post_unsupported) return Response(405, "");
      ok = absl::StrContains(request.body, absl::StrCat("refresh_token=", identity_token)) &&
           absl::StrContains(request.body, "grant_type=refresh_token");
    } else {
      const std::string authorization = HeaderOf(request, "Authorization");
      ok = authorization == BasicValue() || (authorization.empty() && allow_anonymous_);
    }
    if (!ok) return Response(401, R"({"details":"incorrect username or password"})");
    return Response(200,
                    absl::StrCat(R"({")", token_member, R"(":")", token, R"(","expires_in":300})"));
  }

  std::string origin_;
  std::map<std::string, StoredManifest> manifests_;
  Auth auth_ = Auth::kNone;
  std::string realm_;
  std::string user_;
  std::string password_;
  bool allow_anonymous_ = false;
};

}  // namespace inplaced::imagepull::testing
