#include "imagepull/disk_space_precheck.h"

#include <string>

#include "absl/status/status.h"
#include "common/log_safe.h"
#include "spdlog/spdlog.h"

namespace inplaced::imagepull {

DiskSpacePrecheck::DiskSpacePrecheck(ImageResolver& resolver, cri::Runtime& runtime,
                                     const FreeSpaceCheck& disk, DiskSpacePrecheckOptions options)
    : resolver_(resolver), runtime_(runtime), disk_(disk), options_(options) {}

absl::Status DiskSpacePrecheck::Check(const ImageReference& image,
                                      const std::vector<RegistryCredential>& credentials) {
  const absl::StatusOr<ResolvedImage> resolved = resolver_.Resolve(image, credentials);
  if (!resolved.ok()) {
    // The message names the image and never a credential (RegistryClient's contract).
    if (options_.fail_on_resolve_error) return resolved.status();
    spdlog::warn("disk_precheck_skipped image={} error=\"{}\"", LogSafe(image.Canonical()),
                 LogSafe(resolved.status().ToString()));
    return absl::OkStatus();
  }

  std::string mountpoint;
  const absl::StatusOr<cri::criv1::ImageFsInfoResponse> info =
      runtime_.ImageFsInfo(cri::criv1::ImageFsInfoRequest());
  if (info.ok() && info->image_filesystems_size() > 0) {
    mountpoint = info->image_filesystems(0).fs_id().mountpoint();
  } else if (!info.ok()) {
    spdlog::warn("image_fs_info_failed error=\"{}\"", info.status().ToString());
  }
  const absl::Status status = disk_.Check(resolved->total_size, mountpoint);
  spdlog::debug("disk_precheck image={} digest={} bytes={} mountpoint={} code={}",
                LogSafe(image.Canonical()), LogSafe(resolved->digest), resolved->total_size,
                mountpoint, absl::StatusCodeToString(status.code()));
  return status;
}

}  // namespace inplaced::imagepull
