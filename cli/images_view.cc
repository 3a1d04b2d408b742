#include "cli/images_view.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/images_spec.h"
#include "cli/progress_bar.h"
#include "cli/table.h"
#include "common/proto_time.h"

namespace inplaced::cli {
namespace {

std::vector<std::string> Row(const std::string& image, const std::string& source,
                             const v1::ImageTagStatus& status, bool wide, absl::Time now) {
  std::vector<std::string> row = {
      image,
      status.tag(),
      source,
      PullPhaseWord(status.phase()),
      absl::StrCat(status.progress(), "%"),
      absl::StrCat(status.attempts()),
      status.has_start_time() ? FormatAge(now - FromProtoTime(status.start_time())) : "-"};
  if (wide) row.insert(row.end(), {status.image_id(), status.message()});
  return row;
}

}  // namespace

std::string ImagesTable(const v1::NodeImage& node_image, bool wide, absl::Time now) {
  std::vector<std::string> headers = {"IMAGE",    "TAG",      "SOURCE", "PHASE",
                                      "PROGRESS", "ATTEMPTS", "AGE"};
  if (wide) headers.insert(headers.end(), {"IMAGE-ID", "MESSAGE"});
  Table table(headers);
  for (const v1::ImageStatus& image : node_image.status().images()) {
    for (const v1::ImageTagStatus& tag : image.tags())
      table.AddRow(Row(image.name(), "spec", tag, wide, now));
  }
  for (const v1::AdHocPullStatus& pull : node_image.status().ad_hoc_pulls()) {
    absl::StatusOr<ImageName> name = SplitImageReference(pull.image());
    table.AddRow(
        Row(name.ok() ? name->repository : pull.image(), "ad-hoc", pull.status(), wide, now));
  }
  return table.Render();
}

std::string NodeImageSummary(const v1::NodeImage& node_image) {
  const v1::NodeImageStatus& s = node_image.status();
  return absl::StrCat("generation ", node_image.metadata().generation(), ": ", s.desired(),
                      " desired, ", s.succeeded(), " succeeded, ", s.failed(), " failed, ",
                      s.pulling(), " pulling, ", s.waiting(), " waiting");
}

}  // namespace inplaced::cli
