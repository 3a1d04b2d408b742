#pragma once

// `images set REF...` and `images pull REF`: image references from the command line onto the
// NodeImage API. Pure, unit-tested.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/inplaced/v1/nodeimage.pb.h"

namespace inplaced::cli {

struct ImageName {
  std::string repository;  // "reg.example.com:5000/team/app"
  std::string
      tag;  // "1.2", "sha256:<hex>", "1.2@sha256:<hex>"; "latest" when the reference has none
};

// Splits a reference the way the API's ImageSpec wants it: the tag is after the last ':' that
// follows the last '/', the digest after '@'. INVALID_ARGUMENT for an empty reference or
// repository.
absl::StatusOr<ImageName> SplitImageReference(absl::string_view reference);

// "" -> UNSPECIFIED (the daemon's default, IfNotPresent), "Always", "IfNotPresent".
absl::StatusOr<v1::ImagePullPolicy> ParseImagePullPolicy(absl::string_view text);

// A spec with one ImageSpec per repository (first-seen order) and its tags, each with `policy`.
absl::StatusOr<v1::NodeImageSpec> NodeImageSpecOf(const std::vector<std::string>& references,
                                                  v1::ImagePullPolicy policy);

}  // namespace inplaced::cli
