// FakeRuntime: the ImageService (pulls with scripted durations, failures, auth and cancellation).
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_runtime.h"

namespace inplaced::fakes {
namespace {

// A stable 64-hex digest of `text` (not cryptographic: the fake only needs distinct, stable ids).
std::string FakeDigest(absl::string_view text) {
  std::string hex;
  uint64_t h = std::hash<std::string_view>{}(std::string_view(text.data(), text.size()));
  for (int i = 0; i < 4; ++i) {
    h = h * 6364136223846793005ULL + 1442695040888963407ULL;
    absl::StrAppend(&hex, absl::StrFormat("%016x", h));
  }
  return absl::StrCat("sha256:", hex);
}

// "docker.io/library/busybox:1" → "docker.io/library/busybox"; digest refs lose their digest.
std::string RepositoryOf(absl::string_view normalized) {
  const size_t at = normalized.find('@');
  if (at != absl::string_view::npos) return std::string(normalized.substr(0, at));
  const size_t slash = normalized.rfind('/');
  const size_t colon = normalized.rfind(':');
  if (colon != absl::string_view::npos && (slash == absl::string_view::npos || colon > slash)) {
    return std::string(normalized.substr(0, colon));
  }
  return std::string(normalized);
}

bool AuthMatches(const criv1::AuthConfig& want, const criv1::AuthConfig& got) {
  if (!want.username().empty() || !want.password().empty()) {
    if (want.username() == got.username() && want.password() == got.password()) return true;
  }
  if (!want.auth().empty() && want.auth() == got.auth()) return true;
  if (!want.identity_token().empty() && want.identity_token() == got.identity_token()) return true;
  if (!want.registry_token().empty() && want.registry_token() == got.registry_token()) return true;
  return false;
}

}  // namespace

std::string NormalizeImageRef(absl::string_view reference) {
  if (absl::StartsWith(reference, "sha256:")) return std::string(reference);
  std::string ref(reference);
  const size_t slash = ref.find('/');
  const std::string first = slash == std::string::npos ? "" : ref.substr(0, slash);
  const bool has_domain = !first.empty() && (absl::StrContains(first, ".") ||
                                             absl::StrContains(first, ":") || first == "localhost");
  if (!has_domain) {
    ref = slash == std::string::npos ? absl::StrCat("docker.io/library/", ref)
                                     : absl::StrCat("docker.io/", ref);
  }
  if (!absl::StrContains(ref, "@")) {
    const size_t last_slash = ref.rfind('/');
    if (ref.find(':', last_slash == std::string::npos ? 0 : last_slash) == std::string::npos) {
      absl::StrAppend(&ref, ":latest");
    }
  }
  return ref;
}

FakeRuntime::StoredImage* FakeRuntime::FindImageLocked(const std::string& reference) {
  if (reference.empty()) return nullptr;
  auto by_id = images_.find(reference);
  if (by_id != images_.end()) return &by_id->second;
  const std::string normalized = NormalizeImageRef(reference);
  for (auto& [id, stored] : images_) {
    if (absl::StartsWith(id, reference) && absl::StartsWith(reference, "sha256:")) return &stored;
    for (const std::string& tag : stored.image.repo_tags()) {
      if (tag == normalized) return &stored;
    }
    for (const std::string& digest : stored.image.repo_digests()) {
      if (digest == normalized) return &stored;
    }
  }
  return nullptr;
}

FakeRuntime::StoredImage& FakeRuntime::StoreImageLocked(const std::string& reference,
                                                        uint64_t size_bytes) {
  const std::string normalized = NormalizeImageRef(reference);
  // A digest reference names the manifest; the repository of any tag pulled by digest is the same.
  const std::string repository = RepositoryOf(normalized);
  const std::string id = FakeDigest(absl::StrCat("config:", normalized));
  StoredImage& stored = images_[id];
  criv1::Image& image = stored.image;
  image.set_id(id);
  if (!absl::StrContains(normalized, "@") && !absl::StartsWith(normalized, "sha256:")) {
    bool tagged = false;
    for (const std::string& tag : image.repo_tags()) tagged |= tag == normalized;
    if (!tagged) image.add_repo_tags(normalized);
  }
  if (image.repo_digests_size() == 0) {
    image.add_repo_digests(
        absl::StrContains(normalized, "@")
            ? normalized
            : absl::StrCat(repository, "@", FakeDigest(absl::StrCat("manifest:", normalized))));
  }
  image.set_size(size_bytes > 0 ? size_bytes : 1);
  image.mutable_spec()->set_image(id);
  return stored;
}

absl::StatusOr<criv1::ListImagesResponse> FakeRuntime::ListImages(
    const criv1::ListImagesRequest& request) {
  if (absl::Status s = BeginCall("ListImages"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  criv1::ListImagesResponse response;
  const std::string& wanted = request.filter().image().image();
  const StoredImage* match =
      (wanted.empty() || profile_.list_images_ignores_filter) ? nullptr : FindImageLocked(wanted);
  for (const auto& [id, stored] : images_) {
    if (!wanted.empty() && !profile_.list_images_ignores_filter && &stored != match) continue;
    *response.add_images() = stored.image;
  }
  return response;
}

absl::StatusOr<criv1::ImageStatusResponse> FakeRuntime::ImageStatus(
    const criv1::ImageStatusRequest& request) {
  if (absl::Status s = BeginCall("ImageStatus"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  criv1::ImageStatusResponse response;
  if (const StoredImage* stored = FindImageLocked(request.image().image())) {
    *response.mutable_image() = stored->image;
  }
  return response;
}

absl::StatusOr<criv1::PullImageResponse> FakeRuntime::PullImage(
    const criv1::PullImageRequest& request, Cancellation* cancel) {
  if (absl::Status s = BeginCall("PullImage"); !s.ok()) return s;
  const std::string& reference = request.image().image();
  if (reference.empty()) return absl::InvalidArgumentError("image reference is empty");
  const std::string normalized = NormalizeImageRef(reference);
  PullScript script;
  {
    absl::MutexLock lock(&mu_);
    pulls_.push_back(PullRecord{reference, request.auth()});
    auto it = pull_scripts_.find(normalized);
    if (it != pull_scripts_.end()) {
      script = it->second;
      if (it->second.hang_first_pulls > 0) {
        --it->second.hang_first_pulls;
        script.hang = true;
      }
    }
    ++in_flight_pulls_;
    max_in_flight_pulls_ = std::max(max_in_flight_pulls_, in_flight_pulls_);
  }
  if (script.hang && script.on_hang) script.on_hang();
  const absl::Time end = script.hang ? absl::InfiniteFuture() : clock_.Now() + script.duration;
  const bool finished = clock_.Now() >= end || SleepUntilOrWoken(clock_, end, cancel);
  absl::MutexLock lock(&mu_);
  --in_flight_pulls_;
  // containerd derives the pull context from the RPC: a client cancel stops the pull.
  if (!finished || (cancel != nullptr && cancel->IsCancelled())) {
    return absl::CancelledError(
        absl::StrCat("failed to pull and unpack image \"", normalized, "\": context canceled"));
  }
  if (script.required_auth.has_value() && !AuthMatches(*script.required_auth, request.auth())) {
    const size_t slash = normalized.find('/');
    const std::string host = normalized.substr(0, slash);
    const size_t colon = normalized.rfind(':');
    const std::string tag = colon == std::string::npos ? "latest" : normalized.substr(colon + 1);
    return absl::UnknownError(
        absl::StrCat("failed to pull and unpack image \"", normalized,
                     "\": failed to resolve reference \"", normalized, "\": pulling from host ",
                     host, " failed with status code [manifests ", tag, "]: 401 Unauthorized"));
  }
  if (!script.failure.ok()) return script.failure;
  const StoredImage& stored = StoreImageLocked(reference, script.size_bytes);
  criv1::PullImageResponse response;
  response.set_image_ref(profile_.pull_image_ref == PullImageRefStyle::kRepoDigest
                             ? stored.image.repo_digests(0)
                             : stored.image.id());
  return response;
}

absl::Status FakeRuntime::RemoveImage(const criv1::RemoveImageRequest& request) {
  if (absl::Status s = BeginCall("RemoveImage"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  // Removing by one tag removes the image with all its tags.
  if (const StoredImage* stored = FindImageLocked(request.image().image())) {
    images_.erase(stored->image.id());
  }
  return absl::OkStatus();
}

absl::StatusOr<criv1::ImageFsInfoResponse> FakeRuntime::ImageFsInfo(
    const criv1::ImageFsInfoRequest& request) {
  if (absl::Status s = BeginCall("ImageFsInfo"); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  uint64_t used = 0;
  if (image_fs_used_bytes_.has_value()) {
    used = *image_fs_used_bytes_;
  } else {
    for (const auto& [id, stored] : images_) used += stored.image.size();
  }
  criv1::ImageFsInfoResponse response;
  criv1::FilesystemUsage* usage = response.add_image_filesystems();
  usage->set_timestamp(NowNanos());
  usage->mutable_fs_id()->set_mountpoint(absl::StrCat(
      "/var/lib/", profile_.runtime_name == "cri-o" ? "containers/storage" : "containerd",
      profile_.runtime_name == "cri-o" ? "" : "/io.containerd.snapshotter.v1.overlayfs"));
  usage->mutable_used_bytes()->set_value(used);
  usage->mutable_inodes_used()->set_value(images_.size() * 100);
  return response;
}

void FakeRuntime::SetPullScript(absl::string_view image, PullScript script) {
  absl::MutexLock lock(&mu_);
  pull_scripts_[NormalizeImageRef(image)] = std::move(script);
}

std::vector<PullRecord> FakeRuntime::Pulls() const {
  absl::MutexLock lock(&mu_);
  return pulls_;
}

int FakeRuntime::InFlightPulls() const {
  absl::MutexLock lock(&mu_);
  return in_flight_pulls_;
}

int FakeRuntime::MaxConcurrentPulls() const {
  absl::MutexLock lock(&mu_);
  return max_in_flight_pulls_;
}

void FakeRuntime::AddImage(absl::string_view image, uint64_t size_bytes) {
  absl::MutexLock lock(&mu_);
  StoreImageLocked(std::string(image), size_bytes);
}

void FakeRuntime::SetImageFsUsedBytes(uint64_t used_bytes) {
  absl::MutexLock lock(&mu_);
  image_fs_used_bytes_ = used_bytes;
}

}  // namespace inplaced::fakes
