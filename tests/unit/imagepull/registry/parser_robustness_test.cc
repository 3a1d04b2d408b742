// Every parser in imagepull/ takes text from outside (specs, secrets, registries): feed each one
// deterministic mutations of valid inputs and check that it never crashes (run under the
// sanitizers) and that whatever it accepts keeps its invariants.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "imagepull/registry/docker_config.h"
#include "imagepull/registry/image_reference.h"
#include "imagepull/registry/manifest.h"
#include "imagepull/registry/www_authenticate.h"

namespace inplaced::imagepull {
namespace {

constexpr int kIterations = 3000;

// Bytes that matter to the grammars, plus arbitrary ones.
constexpr char kInteresting[] = "/:@.-_\"\\{}[],= \t*?aZ09\x01\xff";

std::string Mutate(std::string s, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    const uint32_t op = rng() % 4;
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    const char c = (rng() % 2) ? kInteresting[rng() % (sizeof(kInteresting) - 1)]
                               : static_cast<char>(rng() % 256);
    if (op == 0) {
      s.insert(pos, 1, c);
    } else if (op == 1 && pos < s.size()) {
      s.erase(pos, 1);
    } else if (op == 2 && pos < s.size()) {
      s[pos] = c;
    } else if (op == 3) {
      s.resize(pos);
    }
  }
  return s;
}

template <typename Check>
void FuzzSeeds(const std::vector<std::string>& seeds, uint32_t seed, Check check) {
  std::mt19937 rng(seed);
  for (int i = 0; i < kIterations; ++i) {
    const std::string input = Mutate(seeds[rng() % seeds.size()], rng);
    check(input);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "input (escaped): " << absl::CHexEscape(input);
      return;
    }
  }
}

const std::string kDigest = "sha256:" + std::string(64, 'e');

TEST(ParserRobustnessTest, ImageReferenceAcceptsOnlyStableReferences) {
  FuzzSeeds({"busybox", "reg.example.com:5000/team/app:1.2@" + kDigest, "[::1]:5000/a/b",
             "localhost/a__b-c.d:tag_1"},
            1, [](const std::string& input) {
              const absl::StatusOr<ImageReference> ref = ImageReference::Parse(input);
              if (!ref.ok()) {
                EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
                return;
              }
              const absl::StatusOr<ImageReference> again = ImageReference::Parse(ref->Canonical());
              ASSERT_TRUE(again.ok()) << again.status();
              EXPECT_EQ(*again, *ref);
              EXPECT_FALSE(ref->path().empty());
              EXPECT_TRUE(!ref->tag().empty() || !ref->digest().empty());
            });
}

TEST(ParserRobustnessTest, DockerConfigNeverCrashesOrLeaks) {
  const std::string auth = absl::Base64Escape("user:SECRETPW");
  FuzzSeeds({R"({"auths":{"https://reg.io:5000/team/v1/":{"auth":")" + auth + R"(","email":"e"}}})",
             R"({"*.reg.io":{"username":"u","password":"SECRETPW","identitytoken":"t"}})"},
            2, [](const std::string& input) {
              const absl::StatusOr<CredentialKeyring> keyring =
                  CredentialKeyring::FromDockerConfigs({input});
              if (!keyring.ok()) {
                EXPECT_EQ(keyring.status().code(), absl::StatusCode::kInvalidArgument);
                EXPECT_EQ(keyring.status().message().find("SECRETPW"), absl::string_view::npos);
                return;
              }
              for (const char* image : {"reg.io:5000/team/app", "a.reg.io/x", "busybox"}) {
                for (const RegistryCredential& c : keyring->Lookup(*ImageReference::Parse(image))) {
                  EXPECT_FALSE(c.empty());
                  EXPECT_EQ(c.DebugString().find("SECRETPW"), std::string::npos);
                }
              }
            });
}

TEST(ParserRobustnessTest, ManifestAcceptsOnlyConsistentManifests) {
  const std::string layer = R"({"mediaType":"x","digest":")" + kDigest + R"(","size":12345})";
  FuzzSeeds(
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)" +
           layer + R"(,"layers":[)" + layer + "," + layer + "]}",
       R"({"schemaVersion":2,"manifests":[{"digest":")" + kDigest +
           R"(","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]})"},
      3, [](const std::string& input) {
        const absl::StatusOr<Manifest> m = ParseManifest(input);
        if (!m.ok()) {
          EXPECT_TRUE(m.status().code() == absl::StatusCode::kInvalidArgument ||
                      m.status().code() == absl::StatusCode::kUnimplemented)
              << m.status();
          return;
        }
        ASSERT_NE(m->index.has_value(), m->image.has_value());
        if (m->image.has_value()) {
          int64_t total = m->image->config.size;
          for (const Descriptor& d : m->image->layers) total += d.size;
          EXPECT_EQ(m->image->total_size, total);
          EXPECT_GE(m->image->total_size, 0);
        } else {
          (void)SelectPlatform(*m->index, NodePlatform());
        }
      });
}

TEST(ParserRobustnessTest, WwwAuthenticateNeverCrashes) {
  FuzzSeeds({R"(Bearer realm="https://a/token",service="s",scope="repository:a:pull")",
             R"(Basic realm="r\"x", Negotiate abc==)"},
            4, [](const std::string& input) {
              const absl::StatusOr<std::vector<AuthChallenge>> got = ParseWwwAuthenticate(input);
              if (!got.ok()) {
                EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
                return;
              }
              EXPECT_FALSE(got->empty());
              for (const AuthChallenge& c : *got) EXPECT_FALSE(c.scheme.empty());
            });
}

}  // namespace
}  // namespace inplaced::imagepull
