#pragma once

// The table of `inplacectl images get`: one row per tag of the spec and per ad hoc pull.

#include <string>

#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.pb.h"

namespace inplaced::cli {

// IMAGE TAG SOURCE PHASE PROGRESS ATTEMPTS AGE (AGE: since the first attempt); `wide` adds IMAGE-ID
// and MESSAGE. SOURCE is "spec" or "ad-hoc".
std::string ImagesTable(const v1::NodeImage& node_image, bool wide, absl::Time now);

// "generation 3: 2 desired, 1 succeeded, 0 failed, 1 pulling, 0 waiting".
std::string NodeImageSummary(const v1::NodeImage& node_image);

}  // namespace inplaced::cli
