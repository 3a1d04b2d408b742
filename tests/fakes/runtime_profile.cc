#include "tests/fakes/runtime_profile.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace inplaced::fakes {
namespace {

RuntimeProfile ContainerdBase() {
  RuntimeProfile profile;
  profile.runtime_name = "containerd";
  profile.socket_path = "/run/containerd/containerd.sock";
  profile.exec_timeout = ExecTimeoutStyle::kDeadlineExceeded;
  profile.exec_not_running_is_not_found = false;
  // containerd: "TODO: Add image list filters".
  profile.list_images_ignores_filter = true;
  profile.pull_image_ref = PullImageRefStyle::kImageId;
  profile.stop_signal_on_zero_timeout = false;
  return profile;
}

}  // namespace

RuntimeProfile RuntimeProfile::Containerd16() {
  RuntimeProfile profile = ContainerdBase();
  profile.runtime_version = "1.6.20~ds1";
  profile.events = EventsMode::kUnimplemented;
  profile.stop_unknown_is_not_found = true;
  return profile;
}

RuntimeProfile RuntimeProfile::Containerd17() {
  RuntimeProfile profile = ContainerdBase();
  profile.runtime_version = "v1.7.24";
  profile.events = EventsMode::kSharedChannel;
  profile.stop_unknown_is_not_found = false;
  return profile;
}

RuntimeProfile RuntimeProfile::Containerd20() {
  RuntimeProfile profile = ContainerdBase();
  profile.runtime_version = "v2.1.9";
  profile.events = EventsMode::kBroadcast;
  profile.stop_unknown_is_not_found = false;
  return profile;
}

RuntimeProfile RuntimeProfile::CriO() {
  RuntimeProfile profile;
  profile.runtime_name = "cri-o";
  profile.runtime_version = "1.32.0";
  profile.socket_path = "/var/run/crio/crio.sock";
  profile.events = EventsMode::kBroadcast;
  profile.stop_unknown_is_not_found = false;
  profile.stop_signal_on_zero_timeout = true;
  profile.exec_timeout = ExecTimeoutStyle::kExitCodeMinusOne;
  profile.exec_not_running_is_not_found = true;
  profile.list_images_ignores_filter = false;
  profile.pull_image_ref = PullImageRefStyle::kRepoDigest;
  return profile;
}

absl::StatusOr<RuntimeProfile> RuntimeProfile::ByName(absl::string_view name) {
  if (name == "containerd-1.6") return Containerd16();
  if (name == "containerd-1.7") return Containerd17();
  if (name == "containerd-2.0") return Containerd20();
  if (name == "cri-o") return CriO();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown runtime profile \"", name,
                   "\" (want containerd-1.6, containerd-1.7, containerd-2.0 or cri-o)"));
}

}  // namespace inplaced::fakes
