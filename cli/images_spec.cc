#include "cli/images_spec.h"

#include "absl/strings/str_cat.h"

namespace inplaced::cli {

absl::StatusOr<ImageName> SplitImageReference(absl::string_view reference) {
  if (reference.empty()) return absl::InvalidArgumentError("image reference: empty");
  ImageName name;
  const size_t at = reference.find('@');
  absl::string_view path = reference.substr(0, at);
  std::string digest = at == absl::string_view::npos ? "" : std::string(reference.substr(at + 1));
  std::string tag;
  const size_t slash = path.rfind('/');
  const size_t colon = path.rfind(':');
  if (colon != absl::string_view::npos && (slash == absl::string_view::npos || colon > slash)) {
    tag = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image reference \"", reference, "\": no repository"));
  }
  name.repository = std::string(path);
  if (!digest.empty()) {
    name.tag = tag.empty() ? digest : absl::StrCat(tag, "@", digest);
  } else {
    name.tag = tag.empty() ? "latest" : tag;
  }
  return name;
}

absl::StatusOr<v1::ImagePullPolicy> ParseImagePullPolicy(absl::string_view text) {
  if (text.empty()) return v1::IMAGE_PULL_POLICY_UNSPECIFIED;
  if (text == "Always") return v1::IMAGE_PULL_POLICY_ALWAYS;
  if (text == "IfNotPresent") return v1::IMAGE_PULL_POLICY_IF_NOT_PRESENT;
  return absl::InvalidArgumentError(
      absl::StrCat("--pull-policy: expected Always or IfNotPresent, got \"", text, "\""));
}

absl::StatusOr<v1::NodeImageSpec> NodeImageSpecOf(const std::vector<std::string>& references,
                                                  v1::ImagePullPolicy policy) {
  v1::NodeImageSpec spec;
  for (const std::string& reference : references) {
    absl::StatusOr<ImageName> name = SplitImageReference(reference);
    if (!name.ok()) return name.status();
    v1::ImageSpec* image = nullptr;
    for (v1::ImageSpec& existing : *spec.mutable_images()) {
      if (existing.name() == name->repository) image = &existing;
    }
    if (image == nullptr) {
      image = spec.add_images();
      image->set_name(name->repository);
    }
    v1::ImageTagSpec* tag = image->add_tags();
    tag->set_tag(name->tag);
    tag->set_image_pull_policy(policy);
  }
  return spec;
}

}  // namespace inplaced::cli
