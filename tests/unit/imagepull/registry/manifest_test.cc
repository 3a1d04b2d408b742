#include "imagepull/registry/manifest.h"

#include <sys/utsname.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// A valid digest made of one repeated hex character.
std::string D(char c) { return "sha256:" + std::string(64, c); }

std::string IndexEntry(const std::string& arch, const std::string& variant, char digest,
                       const std::string& os = "linux") {
  std::string platform = absl::StrCat(R"({"os":")", os, R"(","architecture":")", arch, "\"");
  if (!variant.empty()) absl::StrAppend(&platform, R"(,"variant":")", variant, "\"");
  platform += "}";
  return absl::StrCat(R"({"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)",
                      R"("digest":")", D(digest), R"(","size":528,"platform":)", platform, "}");
}

// A multi-arch Docker manifest list like busybox's, plus a buildx attestation entry.
std::string ManifestList() {
  return absl::StrCat(
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",)",
      R"("manifests":[)", IndexEntry("amd64", "", '1'), ",", IndexEntry("arm", "v6", '2'), ",",
      IndexEntry("arm", "v7", '3'), ",", IndexEntry("arm64", "v8", '4'), ",",
      IndexEntry("amd64", "", '5', "windows"), ",", IndexEntry("ppc64le", "", '6'), ",",
      IndexEntry("unknown", "", '7', "unknown"), ",",
      R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")", D('8'),
      R"(","size":100})", "]}");
}

std::string OciManifest(const std::string& media_type_member =
                            R"("mediaType":"application/vnd.oci.image.manifest.v1+json",)") {
  return absl::StrCat(
      R"({"schemaVersion":2,)", media_type_member,
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")", D('c'),
      R"(","size":1000},"layers":[)",
      R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")", D('a'),
      R"(","size":2000000},)",
      R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")", D('b'),
      R"(","size":3000000000}]})");
}

TEST(ManifestTest, ParsesDockerManifestListWithPlatforms) {
  ASSERT_OK_AND_ASSIGN(const Manifest m, ParseManifest(ManifestList()));
  ASSERT_TRUE(m.is_index());
  EXPECT_FALSE(m.image.has_value());
  EXPECT_EQ(m.media_type, kMediaTypeDockerManifestList);
  ASSERT_EQ(m.index->manifests.size(), 8u);
  EXPECT_EQ(m.index->manifests[0].digest, D('1'));
  EXPECT_EQ(m.index->manifests[0].size, 528);
  EXPECT_EQ(m.index->manifests[0].media_type, kMediaTypeDockerManifest);
  ASSERT_TRUE(m.index->manifests[3].platform.has_value());
  EXPECT_EQ(m.index->manifests[3].platform->ToString(), "linux/arm64/v8");
  EXPECT_FALSE(m.index->manifests[7].platform.has_value());
}

TEST(ManifestTest, SelectsTheNodePlatformFromAnIndex) {
  ASSERT_OK_AND_ASSIGN(const Manifest m, ParseManifest(ManifestList()));
  struct Case {
    std::string description;
    Platform want;
    char digest;  // 0 = NOT_FOUND
  };
  const std::vector<Case> cases = {
      {"amd64", {"linux", "amd64", ""}, '1'},
      {"x86_64 alias", {"linux", "x86_64", ""}, '1'},
      {"empty os means linux", {"", "amd64", ""}, '1'},
      {"arm64 v8", {"linux", "arm64", "v8"}, '4'},
      {"arm64 without variant", {"linux", "arm64", ""}, '4'},
      {"aarch64 alias", {"linux", "aarch64", "8"}, '4'},
      {"arm v7 exact", {"linux", "arm", "v7"}, '3'},
      {"arm v6 exact", {"linux", "arm", "v6"}, '2'},
      {"arm v8 (32-bit) takes the newest older variant", {"linux", "arm", "v8"}, '3'},
      {"arm v5 cannot run v6", {"linux", "arm", "v5"}, 0},
      {"windows", {"windows", "amd64", ""}, '5'},
      {"ppc64le", {"linux", "ppc64le", ""}, '6'},
      {"s390x missing", {"linux", "s390x", ""}, 0},
      {"amd64 v3 runs the baseline", {"linux", "amd64", "v3"}, '1'},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    const absl::StatusOr<Descriptor> got = SelectPlatform(*m.index, c.want);
    if (c.digest == 0) {
      EXPECT_THAT(got, StatusIs(absl::StatusCode::kNotFound,
                                AllOf(HasSubstr(NormalizePlatform(c.want).ToString()),
                                      HasSubstr("available: linux/amd64, linux/arm/v6"))));
    } else {
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->digest, D(c.digest));
    }
  }
}

TEST(ManifestTest, SelectPrefersExactVariantWhateverTheOrder) {
  const std::string body =
      absl::StrCat(R"({"schemaVersion":2,"manifests":[)", IndexEntry("arm", "v5", '1'), ",",
                   IndexEntry("arm", "v6", '2'), ",", IndexEntry("arm", "v7", '3'), ",",
                   IndexEntry("arm", "v7", '4'), "]}");
  ASSERT_OK_AND_ASSIGN(const Manifest m, ParseManifest(body));
  ASSERT_TRUE(m.is_index());
  EXPECT_EQ(m.media_type, kMediaTypeOciIndex);  // inferred from "manifests"
  ASSERT_OK_AND_ASSIGN(const Descriptor v7, SelectPlatform(*m.index, {"linux", "arm", "v7"}));
  EXPECT_EQ(v7.digest, D('3'));  // ties go to the first entry
  ASSERT_OK_AND_ASSIGN(const Descriptor v6, SelectPlatform(*m.index, {"linux", "arm", "v6"}));
  EXPECT_EQ(v6.digest, D('2'));
}

TEST(ManifestTest, EmptyIndexHasNoPlatform) {
  ASSERT_OK_AND_ASSIGN(const Manifest m,
                       ParseManifest(R"({"schemaVersion":2,"manifests":[]})", kMediaTypeOciIndex));
  EXPECT_THAT(SelectPlatform(*m.index, {"linux", "amd64", ""}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("available: none")));
}

TEST(ManifestTest, ParsesImageManifestsAndTotalSize) {
  struct Case {
    std::string description;
    std::string body;
    std::string content_type;
    std::string media_type;
  };
  const std::vector<Case> cases = {
      {"oci with mediaType", OciManifest(), "", std::string(kMediaTypeOciManifest)},
      {"oci without mediaType, from content type", OciManifest(""),
       "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
       std::string(kMediaTypeOciManifest)},
      {"oci without mediaType or content type", OciManifest(""), "application/json",
       std::string(kMediaTypeOciManifest)},
      {"docker v2 schema 2",
       OciManifest(R"("mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"), "",
       std::string(kMediaTypeDockerManifest)},
      {"body mediaType wins over content type", OciManifest(),
       std::string(kMediaTypeDockerManifest), std::string(kMediaTypeOciManifest)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    ASSERT_OK_AND_ASSIGN(const Manifest m, ParseManifest(c.body, c.content_type));
    ASSERT_TRUE(m.image.has_value());
    EXPECT_FALSE(m.is_index());
    EXPECT_EQ(m.media_type, c.media_type);
    EXPECT_EQ(m.image->media_type, c.media_type);
    EXPECT_EQ(m.image->config.digest, D('c'));
    EXPECT_EQ(m.image->config.size, 1000);
    EXPECT_EQ(m.image->config.media_type, "application/vnd.oci.image.config.v1+json");
    ASSERT_EQ(m.image->layers.size(), 2u);
    EXPECT_EQ(m.image->layers[1].digest, D('b'));
    EXPECT_EQ(m.image->layers[1].size, 3000000000);  // above 2^31
    EXPECT_EQ(m.image->total_size, 1000 + 2000000 + 3000000000);
  }
}

TEST(ManifestTest, RejectsUnsupportedManifests) {
  struct Case {
    std::string description;
    std::string body;
    std::string content_type;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"schema 1 by version", R"({"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]})", "",
       "schema 1"},
      {"schema 1 by media type",
       R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"})",
       "", "schema 1"},
      {"signed schema 1 by content type", R"({"name":"a","fsLayers":[],"signatures":[]})",
       std::string(kMediaTypeDockerSchema1Signed), "schema 1"},
      {"schema 1 inferred from fsLayers", R"({"name":"a","fsLayers":[]})", "", "schema 1"},
      {"oci artifact",
       R"({"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[]})", "",
       "unsupported manifest media type \"application/vnd.oci.artifact.manifest.v1+json\""},
      {"no hints at all", R"({"schemaVersion":2})", "application/json", "no media type"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_THAT(ParseManifest(c.body, c.content_type),
                StatusIs(absl::StatusCode::kUnimplemented, HasSubstr(c.reason)));
  }
}

TEST(ManifestTest, RejectsMalformedManifests) {
  const std::string oci = R"("mediaType":"application/vnd.oci.image.manifest.v1+json")";
  const std::string config = absl::StrCat(R"("config":{"digest":")", D('c'), R"(","size":1})");
  auto image = [&](const std::string& layers) {
    return absl::StrCat("{", oci, ",", config, R"(,"layers":[)", layers, "]}");
  };
  auto layer = [](const std::string& digest, const std::string& size) {
    return absl::StrCat(R"({"digest":")", digest, R"(","size":)", size, "}");
  };
  struct Case {
    std::string description;
    std::string body;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"not json", "{", "not valid JSON"},
      {"empty body", "", "not valid JSON"},
      {"array", "[]", "not a JSON object"},
      {"schema version 3", R"({"schemaVersion":3,"manifests":[]})", "unsupported version 3"},
      {"schema version string", R"({"schemaVersion":"2","manifests":[]})",
       "schemaVersion: not an integer"},
      {"mediaType not a string", R"({"mediaType":5,"manifests":[]})",
       "mediaType: must be a string"},
      {"manifests not an array", R"({"manifests":{}})", "manifests: missing or not an array"},
      {"index entry not an object", R"({"manifests":[1]})", "manifests[0]: must be an object"},
      {"index entry bad platform",
       absl::StrCat(R"({"manifests":[{"digest":")", D('1'), R"(","size":1,"platform":"linux"}]})"),
       "manifests[0].platform: must be an object"},
      {"index entry platform without architecture",
       absl::StrCat(R"({"manifests":[{"digest":")", D('1'),
                    R"(","size":1,"platform":{"os":"linux"}}]})"),
       "manifests[0].platform.architecture: missing"},
      {"missing config", absl::StrCat("{", oci, R"(,"layers":[]})"), "config: missing"},
      {"missing layers", absl::StrCat("{", oci, ",", config, "}"),
       "layers: missing or not an array"},
      {"layer without digest", image(R"({"size":1})"), "layers[0].digest: missing"},
      {"short layer digest", image(layer("sha256:abcd", "1")), "layers[0].digest: invalid digest"},
      {"second layer bad digest", image(layer(D('a'), "1") + "," + layer("md5:00", "1")),
       "layers[1].digest: invalid digest: unsupported algorithm"},
      {"negative size", image(layer(D('a'), "-1")), "layers[0].size: negative"},
      {"float size", image(layer(D('a'), "1.5")), "layers[0].size: missing or not an integer"},
      {"string size", image(layer(D('a'), "\"1\"")), "layers[0].size: missing or not an integer"},
      {"size above int64", image(layer(D('a'), "9223372036854775808")),
       "layers[0].size: too large"},
      {"total overflows",
       image(layer(D('a'), "9223372036854775000") + "," + layer(D('b'), "9223372036854775000")),
       "total size overflows"},
      {"config bad size",
       absl::StrCat("{", oci, R"(,"config":{"digest":")", D('c'), R"(","size":null},"layers":[]})"),
       "config.size: missing or not an integer"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_THAT(ParseManifest(c.body),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.reason)));
  }
}

TEST(ManifestTest, PlatformFromMachineTable) {
  struct Case {
    std::string machine;
    std::string platform;
  };
  const std::vector<Case> cases = {
      {"x86_64", "linux/amd64"},  {"aarch64", "linux/arm64/v8"}, {"arm64", "linux/arm64/v8"},
      {"armv7l", "linux/arm/v7"}, {"armv6l", "linux/arm/v6"},    {"armv5tel", "linux/arm/v5"},
      {"i686", "linux/386"},      {"i386", "linux/386"},         {"ppc64le", "linux/ppc64le"},
      {"s390x", "linux/s390x"},   {"riscv64", "linux/riscv64"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.machine);
    EXPECT_EQ(PlatformFromMachine(c.machine).ToString(), c.platform);
  }
}

TEST(ManifestTest, NormalizePlatformTable) {
  struct Case {
    Platform in;
    std::string out;
  };
  const std::vector<Case> cases = {
      {{"Linux", "X86_64", ""}, "linux/amd64"},     {{"linux", "amd64", "v1"}, "linux/amd64"},
      {{"linux", "amd64", "v3"}, "linux/amd64/v3"}, {{"linux", "arm64", "8"}, "linux/arm64/v8"},
      {{"linux", "arm", ""}, "linux/arm/v7"},       {{"linux", "arm", "6"}, "linux/arm/v6"},
      {{"linux", "armhf", ""}, "linux/arm/v7"},     {{"linux", "armel", ""}, "linux/arm/v6"},
      {{"", "riscv64", ""}, "linux/riscv64"},       {{"windows", "amd64", ""}, "windows/amd64"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in.ToString());
    EXPECT_EQ(NormalizePlatform(c.in).ToString(), c.out);
  }
}

TEST(ManifestTest, NodePlatformFollowsUname) {
  struct utsname name {};
  ASSERT_EQ(uname(&name), 0);
  const Platform node = NodePlatform();
  EXPECT_EQ(node, PlatformFromMachine(name.machine));
  EXPECT_EQ(node.os, "linux");
  EXPECT_FALSE(node.architecture.empty());
}

TEST(ManifestTest, AcceptHeaderListsSupportedTypesOnly) {
  const std::string accept = ManifestAcceptHeader();
  for (absl::string_view t : {kMediaTypeOciIndex, kMediaTypeDockerManifestList,
                              kMediaTypeOciManifest, kMediaTypeDockerManifest}) {
    EXPECT_THAT(accept, HasSubstr(std::string(t)));
  }
  EXPECT_THAT(accept, Not(HasSubstr(std::string(kMediaTypeDockerSchema1))));
  EXPECT_THAT(accept, Not(HasSubstr("prettyjws")));
}

}  // namespace
}  // namespace inplaced::imagepull
