#include "imagepull/registry/image_reference.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kHex(64, 'a');
const std::string kDigest = "sha256:" + std::string(64, 'a');
const std::string kOtherDigest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ImageReferenceTest, ParsesValidReferences) {
  struct Case {
    std::string description;
    std::string input;
    std::string domain;
    std::string path;
    std::string tag;
    std::string digest;
    std::string canonical;
    std::string familiar;
  };
  const std::vector<Case> cases = {
      {"bare official image gets docker.io, library and latest", "busybox", "docker.io",
       "library/busybox", "latest", "", "docker.io/library/busybox:latest", "busybox:latest"},
      {"tag kept", "busybox:1.36", "docker.io", "library/busybox", "1.36", "",
       "docker.io/library/busybox:1.36", "busybox:1.36"},
      {"user repository on docker hub", "user/app:v1", "docker.io", "user/app", "v1", "",
       "docker.io/user/app:v1", "user/app:v1"},
      {"explicit docker.io", "docker.io/library/nginx", "docker.io", "library/nginx", "latest", "",
       "docker.io/library/nginx:latest", "nginx:latest"},
      {"docker.io without library", "docker.io/nginx", "docker.io", "library/nginx", "latest", "",
       "docker.io/library/nginx:latest", "nginx:latest"},
      {"index.docker.io alias", "index.docker.io/library/nginx:1", "docker.io", "library/nginx",
       "1", "", "docker.io/library/nginx:1", "nginx:1"},
      {"registry-1.docker.io alias", "registry-1.docker.io/user/app", "docker.io", "user/app",
       "latest", "", "docker.io/user/app:latest", "user/app:latest"},
      {"library with deeper path keeps the prefix in familiar form", "library/a/b", "docker.io",
       "library/a/b", "latest", "", "docker.io/library/a/b:latest", "library/a/b:latest"},
      {"registry with dot", "reg.example.com/team/app:2.0", "reg.example.com", "team/app", "2.0",
       "", "reg.example.com/team/app:2.0", "reg.example.com/team/app:2.0"},
      {"registry with port", "reg.example.com:5000/app", "reg.example.com:5000", "app", "latest",
       "", "reg.example.com:5000/app:latest", "reg.example.com:5000/app:latest"},
      {"localhost is a host", "localhost/app", "localhost", "app", "latest", "",
       "localhost/app:latest", "localhost/app:latest"},
      {"localhost with port and tag", "localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", "",
       "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t"},
      {"a colon makes a host", "myhost:5000/app", "myhost:5000", "app", "latest", "",
       "myhost:5000/app:latest", "myhost:5000/app:latest"},
      {"ip with port", "127.0.0.1:5000/app:1", "127.0.0.1:5000", "app", "1", "",
       "127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1"},
      {"ipv6 host", "[::1]:5000/app", "[::1]:5000", "app", "latest", "", "[::1]:5000/app:latest",
       "[::1]:5000/app:latest"},
      {"uppercase first component is a host", "Reg/app", "Reg", "app", "latest", "",
       "Reg/app:latest", "Reg/app:latest"},
      {"digest only: no tag added", "busybox@" + kDigest, "docker.io", "library/busybox", "",
       kDigest, "docker.io/library/busybox@" + kDigest, "busybox@" + kDigest},
      {"tag and digest", "reg.io/a:1.0@" + kOtherDigest, "reg.io", "a", "1.0", kOtherDigest,
       "reg.io/a:1.0@" + kOtherDigest, "reg.io/a:1.0@" + kOtherDigest},
      {"port and digest", "localhost:5000/a@" + kDigest, "localhost:5000", "a", "", kDigest,
       "localhost:5000/a@" + kDigest, "localhost:5000/a@" + kDigest},
      {"separators", "x/a.b_c__d-e---f", "docker.io", "x/a.b_c__d-e---f", "latest", "",
       "docker.io/x/a.b_c__d-e---f:latest", "x/a.b_c__d-e---f:latest"},
      {"a dot in the first component makes it a host", "a.b/x", "a.b", "x", "latest", "",
       "a.b/x:latest", "a.b/x:latest"},
      {"tag with underscore start, dots and dashes", "app:_v1.2-rc.3", "docker.io", "library/app",
       "_v1.2-rc.3", "", "docker.io/library/app:_v1.2-rc.3", "app:_v1.2-rc.3"},
      {"uppercase tag allowed", "app:V1", "docker.io", "library/app", "V1", "",
       "docker.io/library/app:V1", "app:V1"},
      {"128-char tag", "app:" + std::string(128, 't'), "docker.io", "library/app",
       std::string(128, 't'), "", "docker.io/library/app:" + std::string(128, 't'),
       "app:" + std::string(128, 't')},
      {"localhost:5000 alone is repo localhost with tag 5000", "localhost:5000", "docker.io",
       "library/localhost", "5000", "", "docker.io/library/localhost:5000", "localhost:5000"},
      {"sha512 digest", "a@sha512:" + std::string(128, 'b'), "docker.io", "library/a", "",
       "sha512:" + std::string(128, 'b'), "docker.io/library/a@sha512:" + std::string(128, 'b'),
       "a@sha512:" + std::string(128, 'b')},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description + ": " + c.input);
    ASSERT_OK_AND_ASSIGN(const ImageReference ref, ImageReference::Parse(c.input));
    EXPECT_EQ(ref.domain(), c.domain);
    EXPECT_EQ(ref.path(), c.path);
    EXPECT_EQ(ref.tag(), c.tag);
    EXPECT_EQ(ref.digest(), c.digest);
    EXPECT_EQ(ref.Canonical(), c.canonical);
    EXPECT_EQ(ref.Familiar(), c.familiar);
    // The canonical form is a fixed point.
    ASSERT_OK_AND_ASSIGN(const ImageReference again, ImageReference::Parse(ref.Canonical()));
    EXPECT_EQ(again, ref);
    ASSERT_OK_AND_ASSIGN(const ImageReference from_familiar, ImageReference::Parse(ref.Familiar()));
    EXPECT_EQ(from_familiar, ref);
  }
}

TEST(ImageReferenceTest, RejectsInvalidReferences) {
  struct Case {
    std::string description;
    std::string input;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"empty", "", "empty"},
      {"uppercase repository", "Busybox", "must be lowercase"},
      {"uppercase deeper component", "reg.io/Team/app", "must be lowercase"},
      {"empty component", "a//b", "empty path component"},
      {"trailing slash", "busybox/", "empty path component"},
      {"leading slash", "/busybox", "empty path component"},
      {"host without path", "reg.io/", "empty repository path"},
      {"only a tag", ":latest", "empty repository name"},
      {"empty tag", "busybox:", "empty tag"},
      {"tag too long", "app:" + std::string(129, 't'), "tag longer than 128"},
      {"tag starts with dot", "app:.x", "tag must start"},
      {"tag with plus", "app:1+2", "invalid character '+' in tag"},
      {"short digest", "app@sha256:abc", "needs 64 hex digits, got 3"},
      {"long digest", "app@sha256:" + std::string(65, 'a'), "needs 64 hex digits, got 65"},
      {"uppercase digest", "app@sha256:" + std::string(64, 'A'), "lowercase"},
      {"non-hex digest", "app@sha256:" + std::string(64, 'g'), "lowercase [0-9a-f]"},
      {"unknown digest algorithm", "app@md5:" + std::string(32, 'a'), "unsupported algorithm"},
      {"digest without algorithm", "app@" + std::string(64, 'a'), "<algorithm>:<hex>"},
      {"empty digest", "app@", "empty digest"},
      {"two digests", "app@" + kDigest + "@" + kDigest, "needs 64 hex digits"},
      {"leading separator", "-app", "invalid path component"},
      {"trailing separator", "app-", "invalid path component"},
      {"double dot", "a..b", "invalid path component"},
      {"triple underscore", "a___b", "invalid path component"},
      {"bad character", "a$b", "invalid character '$'"},
      {"space", "a b", "invalid character ' '"},
      {"bad host component", "-reg.io/app", "invalid registry host"},
      {"empty host component", "reg..io/app", "invalid registry host"},
      {"empty port", "reg.io:/app", "empty port"},
      {"non-numeric port", "reg.io:http/app", "invalid port"},
      {"port out of range", "reg.io:70000/app", "out of range"},
      {"bad ipv6", "[::g]:5000/app", "invalid IPv6"},
      {"image id", kHex, "image ID"},
      {"name too long", "reg.io/" + std::string(250, 'a'), "longer than 255"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description + ": " + c.input);
    EXPECT_THAT(ImageReference::Parse(c.input),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.reason)));
  }
}

TEST(ImageReferenceTest, ErrorNamesTheReference) {
  EXPECT_THAT(ImageReference::Parse("reg.io/Team/app"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"reg.io/Team/app\"")));
}

TEST(ImageReferenceTest, HostPortAndApiHost) {
  struct Case {
    std::string input;
    std::string host;
    std::string port;
    std::string api_host;
  };
  const std::vector<Case> cases = {
      {"busybox", "docker.io", "", "registry-1.docker.io"},
      {"index.docker.io/a/b", "docker.io", "", "registry-1.docker.io"},
      {"reg.io:5000/a", "reg.io", "5000", "reg.io:5000"},
      {"[::1]:5000/a", "[::1]", "5000", "[::1]:5000"},
      {"[::1]/a", "[::1]", "", "[::1]"},
      {"localhost/a", "localhost", "", "localhost"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    ASSERT_OK_AND_ASSIGN(const ImageReference ref, ImageReference::Parse(c.input));
    EXPECT_EQ(ref.host(), c.host);
    EXPECT_EQ(ref.port(), c.port);
    EXPECT_EQ(ref.ApiHost(), c.api_host);
  }
}

TEST(ImageReferenceTest, PullAndManifestReferencePreferTheDigest) {
  ASSERT_OK_AND_ASSIGN(const ImageReference tagged, ImageReference::Parse("reg.io/a:1"));
  EXPECT_EQ(tagged.PullReference(), "reg.io/a:1");
  EXPECT_EQ(tagged.ManifestReference(), "1");
  EXPECT_TRUE(tagged.tag_was_explicit());

  ASSERT_OK_AND_ASSIGN(const ImageReference both, ImageReference::Parse("reg.io/a:1@" + kDigest));
  EXPECT_EQ(both.PullReference(), "reg.io/a@" + kDigest);
  EXPECT_EQ(both.ManifestReference(), kDigest);

  ASSERT_OK_AND_ASSIGN(const ImageReference defaulted, ImageReference::Parse("a"));
  EXPECT_EQ(defaulted.PullReference(), "docker.io/library/a:latest");
  EXPECT_EQ(defaulted.ManifestReference(), "latest");
  EXPECT_FALSE(defaulted.tag_was_explicit());
  EXPECT_EQ(defaulted.FamiliarName(), "a");
  EXPECT_EQ(defaulted.Name(), "docker.io/library/a");
}

TEST(ImageReferenceTest, DockerHubAliases) {
  EXPECT_TRUE(IsDockerHubAlias("docker.io"));
  EXPECT_TRUE(IsDockerHubAlias("INDEX.docker.io"));
  EXPECT_TRUE(IsDockerHubAlias("registry-1.docker.io"));
  EXPECT_FALSE(IsDockerHubAlias("docker.io:443"));
  EXPECT_FALSE(IsDockerHubAlias("mirror.docker.io"));
}

}  // namespace
}  // namespace inplaced::imagepull
