#include "imagepull/registry/http_curl_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::IsOk;
using ::inplaced::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;

// A request as the loopback server read it.
struct ReceivedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;

  std::string Header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return "";
  }
};

// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1:<ephemeral>, answering each request with
// the raw bytes `handler` returns (nullopt: no answer, wait until the client hangs up).
class LoopbackHttpServer {
 public:
  using Handler = std::function<std::optional<std::string>(const ReceivedRequest&)>;

  explicit LoopbackHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t length = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    listen(listen_fd_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LoopbackHttpServer() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  std::vector<ReceivedRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      Handle(fd);
      close(fd);
    }
  }

  void Handle(int fd) {
    std::string data;
    char buffer[4096];
    size_t header_end = std::string::npos;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n <= 0) return;
      data.append(buffer, static_cast<size_t>(n));
    }
    ReceivedRequest request;
    std::vector<std::string> lines = absl::StrSplit(data.substr(0, header_end), "\r\n");
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    request.method = first[0];
    request.target = first.size() > 1 ? first[1] : "";
    size_t content_length = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      if (name == "content-length") (void)absl::SimpleAtoi(value, &content_length);
      request.headers.emplace_back(std::move(name), std::move(value));
    }
    request.body = data.substr(header_end + 4);
    while (request.body.size() < content_length) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n <= 0) break;
      request.body.append(buffer, static_cast<size_t>(n));
    }
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    const std::optional<std::string> response = handler_(request);
    if (!response) {
      while (read(fd, buffer, sizeof(buffer)) > 0) {
      }
      return;
    }
    size_t sent = 0;
    while (sent < response->size()) {
      const ssize_t n = send(fd, response->data() + sent, response->size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::vector<ReceivedRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

std::string Answer(int code, const std::string& body, const std::string& extra_headers = "") {
  return absl::StrCat("HTTP/1.1 ", code, " X\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n", extra_headers, "\r\n", body);
}

TEST(CurlHttpClientTest, ReturnsStatusHeadersAndBody) {
  LoopbackHttpServer server([](const ReceivedRequest&) {
    return Answer(
        404, "nope",
        "Docker-Content-Digest: sha256:abc\r\nWWW-Authenticate: a\r\nWWW-Authenticate: b\r\n");
  });
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.Url("/v2/x/manifests/1");
  request.headers = {{"Accept", "application/json"}, {"Authorization", "Bearer t"}};
  ASSERT_OK_AND_ASSIGN(HttpResponse response, client.Send(request));
  EXPECT_EQ(response.status_code, 404);
  EXPECT_EQ(response.body, "nope");
  EXPECT_EQ(response.Header("docker-content-digest"), "sha256:abc");
  EXPECT_EQ(response.Header("Docker-Content-Digest"), "sha256:abc");
  EXPECT_THAT(response.Headers("www-authenticate"), ElementsAre("a", "b"));
  EXPECT_EQ(response.effective_url, request.url);

  const std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "GET");
  EXPECT_EQ(received[0].target, "/v2/x/manifests/1");
  EXPECT_EQ(received[0].Header("accept"), "application/json");
  EXPECT_EQ(received[0].Header("authorization"), "Bearer t");
}

TEST(CurlHttpClientTest, PostSendsTheFormBody) {
  LoopbackHttpServer server([](const ReceivedRequest&) { return Answer(200, R"({"token":"t"})"); });
  CurlHttpClient client;
  HttpRequest request;
  request.method = HttpMethod::kPost;
  request.url = server.Url("/token");
  request.content_type = "application/x-www-form-urlencoded";
  request.body = "grant_type=refresh_token&refresh_token=r";
  ASSERT_OK_AND_ASSIGN(HttpResponse response, client.Send(request));
  EXPECT_EQ(response.status_code, 200);
  const std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "POST");
  EXPECT_EQ(received[0].Header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(received[0].body, request.body);
}

TEST(CurlHttpClientTest, BodyOverTheBoundIsResourceExhausted) {
  const std::string big(10000, 'x');
  LoopbackHttpServer announced([&](const ReceivedRequest&) { return Answer(200, big); });
  // Without Content-Length: the bound must hold while reading.
  LoopbackHttpServer unannounced([&](const ReceivedRequest&) {
    return absl::StrCat("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", big);
  });
  CurlHttpClient client;
  for (LoopbackHttpServer* server : {&announced, &unannounced}) {
    HttpRequest request;
    request.url = server->Url("/big");
    request.max_response_bytes = 1000;
    EXPECT_THAT(client.Send(request), StatusIs(absl::StatusCode::kResourceExhausted,
                                               HasSubstr("larger than 1000 bytes")));
    request.max_response_bytes = 10000;
    ASSERT_OK_AND_ASSIGN(HttpResponse response, client.Send(request));
    EXPECT_EQ(response.body.size(), big.size());
  }
}

TEST(CurlHttpClientTest, RedirectOnTheSameOriginKeepsAuthorization) {
  std::string target;
  LoopbackHttpServer server([&](const ReceivedRequest& request) -> std::optional<std::string> {
    if (request.target == "/start") return Answer(307, "", "Location: /final\r\n");
    return Answer(200, "done");
  });
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.Url("/start");
  request.headers = {{"Authorization", "Basic c2VjcmV0"}};
  ASSERT_OK_AND_ASSIGN(HttpResponse response, client.Send(request));
  EXPECT_EQ(response.status_code, 200);
  EXPECT_EQ(response.body, "done");
  EXPECT_EQ(response.effective_url, server.Url("/final"));
  const std::vector<ReceivedRequest> received = server.requests();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[1].Header("authorization"), "Basic c2VjcmV0");
}

TEST(CurlHttpClientTest, RedirectToAnotherOriginDropsAuthorization) {
  LoopbackHttpServer storage([](const ReceivedRequest&) { return Answer(200, "blob"); });
  LoopbackHttpServer registry([&](const ReceivedRequest&) -> std::optional<std::string> {
    return Answer(302, "", absl::StrCat("Location: ", storage.Url("/blob"), "\r\n"));
  });
  CurlHttpClient client;
  HttpRequest request;
  request.url = registry.Url("/v2/x/blobs/y");
  request.headers = {{"Authorization", "Bearer secret"}, {"Accept", "*/*"}};
  ASSERT_OK_AND_ASSIGN(HttpResponse response, client.Send(request));
  EXPECT_EQ(response.body, "blob");
  const std::vector<ReceivedRequest> received = storage.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].Header("authorization"), "");
  EXPECT_EQ(received[0].Header("accept"), "*/*");
}

TEST(CurlHttpClientTest, RefusesRedirectsToOtherSchemesAndEndlessOnes) {
  LoopbackHttpServer server([](const ReceivedRequest& request) -> std::optional<std::string> {
    if (request.target == "/file") return Answer(302, "", "Location: file:///etc/passwd\r\n");
    if (request.target == "/ftp") return Answer(301, "", "Location: ftp://127.0.0.1/x\r\n");
    return Answer(302, "", "Location: /loop\r\n");
  });
  CurlHttpClientOptions options;
  options.max_redirects = 3;
  CurlHttpClient client(options);
  for (const char* path : {"/file", "/ftp"}) {
    SCOPED_TRACE(path);
    HttpRequest request;
    request.url = server.Url(path);
    EXPECT_THAT(client.Send(request),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("refusing redirect")));
  }
  HttpRequest loop;
  loop.url = server.Url("/loop");
  EXPECT_THAT(client.Send(loop),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("more than 3 redirects")));
}

TEST(CurlHttpClientTest, RejectsNonHttpUrlsAndUserinfo) {
  CurlHttpClient client;
  for (const char* url :
       {"ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", "http://user:pw@127.0.0.1/x"}) {
    SCOPED_TRACE(url);
    HttpRequest request;
    request.url = url;
    const absl::StatusOr<HttpResponse> response = client.Send(request);
    EXPECT_THAT(response, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(response.status().message()), Not(HasSubstr("pw@")));
  }
}

TEST(CurlHttpClientTest, ConnectionRefusedIsUnavailable) {
  int port = 0;
  {
    LoopbackHttpServer server([](const ReceivedRequest&) { return Answer(200, ""); });
    port = server.port();
  }
  CurlHttpClient client;
  HttpRequest request;
  request.url = absl::StrCat("http://127.0.0.1:", port, "/v2/");
  EXPECT_THAT(client.Send(request),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(request.url)));
}

TEST(CurlHttpClientTest, CancelledRequestIsCancelled) {
  // The server never answers; only the cancellation ends the call.
  LoopbackHttpServer server([](const ReceivedRequest&) { return std::nullopt; });
  Cancellation cancel;
  cancel.Cancel();
  CurlHttpClient client;
  HttpRequest request;
  request.url = server.Url("/hang");
  request.cancel = &cancel;
  EXPECT_THAT(client.Send(request), StatusIs(absl::StatusCode::kCancelled));
}

}  // namespace
}  // namespace inplaced::imagepull
