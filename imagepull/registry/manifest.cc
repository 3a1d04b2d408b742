#include "imagepull/registry/manifest.h"

#include <sys/utsname.h>

#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "imagepull/registry/image_reference.h"
#include "nlohmann/json.hpp"

namespace inplaced::imagepull {
namespace {

using Json = nlohmann::json;

absl::Status Malformed(absl::string_view where, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("invalid manifest: ", where, ": ", problem));
}

// Reads an optional string member into `out`; a present non-string is an error.
absl::Status OptionalString(const Json& object, const char* member, absl::string_view where,
                            std::string* out) {
  const auto it = object.find(member);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return Malformed(absl::StrCat(where, member), "must be a string");
  *out = it->get_ref<const std::string&>();
  return absl::OkStatus();
}

// `where` is the JSON path prefix of the descriptor, e.g. "layers[2].".
absl::StatusOr<Descriptor> ParseDescriptor(const Json& json, const std::string& where,
                                           bool with_platform) {
  const std::string name = where.empty() ? "descriptor" : where.substr(0, where.size() - 1);
  if (!json.is_object()) return Malformed(name, "must be an object");
  Descriptor out;
  if (absl::Status s = OptionalString(json, "mediaType", where, &out.media_type); !s.ok()) return s;

  const auto digest = json.find("digest");
  if (digest == json.end() || !digest->is_string()) {
    return Malformed(where + "digest", "missing or not a string");
  }
  out.digest = digest->get_ref<const std::string&>();
  if (absl::Status s = ValidateDigest(out.digest); !s.ok()) {
    return Malformed(where + "digest", s.message());
  }

  const auto size = json.find("size");
  if (size == json.end() || !size->is_number_integer()) {
    return Malformed(where + "size", "missing or not an integer");
  }
  if (size->is_number_unsigned()) {
    const uint64_t value = size->get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Malformed(where + "size", "too large");
    }
    out.size = static_cast<int64_t>(value);
  } else {
    out.size = size->get<int64_t>();
    if (out.size < 0) return Malformed(where + "size", "negative");
  }

  if (with_platform) {
    const auto platform = json.find("platform");
    if (platform != json.end() && !platform->is_null()) {
      if (!platform->is_object()) return Malformed(where + "platform", "must be an object");
      Platform p;
      const std::string at = where + "platform.";
      if (absl::Status s = OptionalString(*platform, "os", at, &p.os); !s.ok()) return s;
      if (absl::Status s = OptionalString(*platform, "architecture", at, &p.architecture);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = OptionalString(*platform, "variant", at, &p.variant); !s.ok()) return s;
      if (p.architecture.empty()) return Malformed(at + "architecture", "missing");
      out.platform = NormalizePlatform(std::move(p));
    }
  }
  return out;
}

absl::StatusOr<ManifestIndex> ParseIndex(const Json& doc, std::string media_type) {
  const auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array()) {
    return Malformed("manifests", "missing or not an array");
  }
  ManifestIndex out;
  out.media_type = std::move(media_type);
  for (size_t i = 0; i < manifests->size(); ++i) {
    absl::StatusOr<Descriptor> d = ParseDescriptor(
        (*manifests)[i], absl::StrCat("manifests[", i, "]."), /*with_platform=*/true);
    if (!d.ok()) return d.status();
    out.manifests.push_back(*std::move(d));
  }
  return out;
}

absl::StatusOr<ImageManifest> ParseImage(const Json& doc, std::string media_type) {
  ImageManifest out;
  out.media_type = std::move(media_type);
  const auto config = doc.find("config");
  if (config == doc.end()) return Malformed("config", "missing");
  absl::StatusOr<Descriptor> c = ParseDescriptor(*config, "config.", /*with_platform=*/false);
  if (!c.ok()) return c.status();
  out.config = *std::move(c);

  const auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array())
    return Malformed("layers", "missing or not an array");
  int64_t total = out.config.size;
  for (size_t i = 0; i < layers->size(); ++i) {
    absl::StatusOr<Descriptor> d =
        ParseDescriptor((*layers)[i], absl::StrCat("layers[", i, "]."), /*with_platform=*/false);
    if (!d.ok()) return d.status();
    // A hostile registry must not wrap the size around and slip past the disk precheck.
    if (d->size > std::numeric_limits<int64_t>::max() - total) {
      return Malformed("layers", "total size overflows");
    }
    total += d->size;
    out.layers.push_back(*std::move(d));
  }
  out.total_size = total;
  return out;
}

bool IsSchema1(absl::string_view media_type) {
  return media_type == kMediaTypeDockerSchema1 || media_type == kMediaTypeDockerSchema1Signed;
}

bool IsKnownManifestType(absl::string_view t) {
  return t == kMediaTypeOciIndex || t == kMediaTypeDockerManifestList ||
         t == kMediaTypeOciManifest || t == kMediaTypeDockerManifest || IsSchema1(t);
}

// "application/json; charset=utf-8" -> "application/json".
std::string BareContentType(absl::string_view content_type) {
  const size_t semicolon = content_type.find(';');
  if (semicolon != absl::string_view::npos) content_type = content_type.substr(0, semicolon);
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(content_type));
}

// The variant number of "vN" (N >= 1), or -1.
int VariantNumber(absl::string_view variant) {
  int n = 0;
  if (!absl::ConsumePrefix(&variant, "v") || !absl::SimpleAtoi(variant, &n) || n < 1) return -1;
  return n;
}

// The variant to compare: amd64 without a variant is its baseline v1.
std::string EffectiveVariant(const Platform& p) {
  if (p.architecture == "amd64" && p.variant.empty()) return "v1";
  return p.variant;
}

// Lower is better; -1 means the entry cannot run on `want`.
int MatchRank(const Platform& want, const Platform& have) {
  if (want.os != have.os || want.architecture != have.architecture) return -1;
  const std::string want_variant = EffectiveVariant(want);
  const std::string have_variant = EffectiveVariant(have);
  if (want_variant == have_variant) return 0;
  // An older variant of the same architecture runs on a newer CPU (arm/v7 runs v6 and v5).
  const int w = VariantNumber(want_variant);
  const int h = VariantNumber(have_variant);
  if (w < 0 || h < 0 || h > w) return -1;
  return w - h;
}

}  // namespace

std::string ManifestAcceptHeader() {
  return absl::StrJoin({kMediaTypeOciIndex, kMediaTypeDockerManifestList, kMediaTypeOciManifest,
                        kMediaTypeDockerManifest},
                       ", ");
}

std::string Platform::ToString() const {
  std::string out = absl::StrCat(os, "/", architecture);
  if (!variant.empty()) absl::StrAppend(&out, "/", variant);
  return out;
}

Platform NormalizePlatform(Platform p) {
  p.os = absl::AsciiStrToLower(p.os);
  if (p.os.empty()) p.os = "linux";
  p.architecture = absl::AsciiStrToLower(p.architecture);
  p.variant = absl::AsciiStrToLower(p.variant);
  const std::string& arch = p.architecture;
  if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    p.architecture = "amd64";
    if (p.variant == "v1") p.variant.clear();
  } else if (arch == "i386" || arch == "i686" || arch == "386") {
    p.architecture = "386";
  } else if (arch == "aarch64" || arch == "arm64") {
    p.architecture = "arm64";
    if (p.variant.empty() || p.variant == "8" || p.variant == "v8.0") p.variant = "v8";
  } else if (arch == "armhf") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (arch == "armel") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (arch == "arm") {
    if (p.variant.empty()) p.variant = "v7";
  }
  if (!p.variant.empty() && absl::ascii_isdigit(static_cast<unsigned char>(p.variant.front()))) {
    p.variant = absl::StrCat("v", p.variant);
  }
  return p;
}

Platform PlatformFromMachine(absl::string_view machine) {
  Platform p;
  p.os = "linux";
  const std::string m = absl::AsciiStrToLower(machine);
  if (absl::StartsWith(m, "armv") && m.size() >= 5 &&
      absl::ascii_isdigit(static_cast<unsigned char>(m[4]))) {
    // armv7l, armv6l, armv5tel: the digit after "armv" is the variant.
    p.architecture = "arm";
    p.variant = absl::StrCat("v", m.substr(4, 1));
    return NormalizePlatform(std::move(p));
  }
  p.architecture = m;
  return NormalizePlatform(std::move(p));
}

Platform NodePlatform() {
  struct utsname name {};
  if (uname(&name) != 0) return PlatformFromMachine("");
  return PlatformFromMachine(name.machine);
}

absl::StatusOr<Manifest> ParseManifest(absl::string_view body, absl::string_view content_type) {
  const Json doc =
      Json::parse(body.begin(), body.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("invalid manifest: not valid JSON");
  if (!doc.is_object()) return absl::InvalidArgumentError("invalid manifest: not a JSON object");

  std::string media_type;
  if (absl::Status s = OptionalString(doc, "mediaType", "", &media_type); !s.ok()) return s;
  if (media_type.empty()) {
    const std::string header = BareContentType(content_type);
    if (IsKnownManifestType(header)) {
      media_type = header;
    } else if (doc.contains("manifests")) {
      media_type = std::string(kMediaTypeOciIndex);  // OCI 1.0 made mediaType optional
    } else if (doc.contains("config") || doc.contains("layers")) {
      media_type = std::string(kMediaTypeOciManifest);
    } else if (doc.contains("fsLayers")) {
      media_type = std::string(kMediaTypeDockerSchema1);
    }
  }

  const auto version = doc.find("schemaVersion");
  if (version != doc.end()) {
    if (!version->is_number_integer()) return Malformed("schemaVersion", "not an integer");
    const int64_t schema_version = version->get<int64_t>();
    if (schema_version == 1) {
      media_type = std::string(kMediaTypeDockerSchema1);
    } else if (schema_version != 2) {
      return Malformed("schemaVersion", absl::StrCat("unsupported version ", schema_version));
    }
  }
  if (IsSchema1(media_type)) {
    return absl::UnimplementedError(
        "docker schema 1 manifests are not supported (deprecated format; re-push the image with a "
        "schema 2 or OCI manifest)");
  }
  if (media_type.empty()) {
    return absl::UnimplementedError("unsupported manifest: no media type and no manifest members");
  }

  Manifest out;
  out.media_type = media_type;
  if (media_type == kMediaTypeOciIndex || media_type == kMediaTypeDockerManifestList) {
    absl::StatusOr<ManifestIndex> index = ParseIndex(doc, media_type);
    if (!index.ok()) return index.status();
    out.index = *std::move(index);
  } else if (media_type == kMediaTypeOciManifest || media_type == kMediaTypeDockerManifest) {
    absl::StatusOr<ImageManifest> image = ParseImage(doc, media_type);
    if (!image.ok()) return image.status();
    out.image = *std::move(image);
  } else {
    return absl::UnimplementedError(
        absl::StrCat("unsupported manifest media type \"", media_type, "\""));
  }
  return out;
}

absl::StatusOr<Descriptor> SelectPlatform(const ManifestIndex& index, const Platform& platform) {
  const Platform want = NormalizePlatform(platform);
  const Descriptor* best = nullptr;
  int best_rank = -1;
  std::vector<std::string> available;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform.has_value()) continue;
    available.push_back(d.platform->ToString());
    const int rank = MatchRank(want, *d.platform);
    if (rank < 0) continue;
    if (best == nullptr || rank < best_rank) {
      best = &d;
      best_rank = rank;
    }
  }
  if (best == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no manifest for platform ", want.ToString(), " in the index (available: ",
                     available.empty() ? "none" : absl::StrJoin(available, ", "), ")"));
  }
  return *best;
}

}  // namespace inplaced::imagepull
