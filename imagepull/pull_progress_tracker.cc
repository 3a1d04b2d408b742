#include "imagepull/pull_progress_tracker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "cri/errors.h"
#include "spdlog/spdlog.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;

}  // namespace

PullProgressTracker::PullProgressTracker(cri::ContentStore& content, ImageResolver& resolver,
                                         Clock& clock)
    : content_(content), resolver_(resolver), clock_(clock) {}

void PullProgressTracker::Begin(uint64_t operation, const PullJob& job,
                                const Cancellation* cancel) {
  Entry entry;
  // A runtime without a content service (CRI-O) needs no manifest: asked first, locally.
  if (cri::IsUnimplemented(content_.ListIngests().status())) {
    entry.note = kNoContentServiceNote;
    absl::MutexLock lock(&mu_);
    entries_[operation] = std::move(entry);
    return;
  }
  // The registry call runs without the lock: it may take seconds.
  absl::StatusOr<ResolvedImage> resolved =
      resolver_.Resolve(job.reference, job.credentials, cancel);
  if (!resolved.ok()) {
    // The resolver's messages name the image and never a credential.
    entry.note = absl::StrCat("the image manifest could not be read from the registry (",
                              resolved.status().ToString(), "): progress by phase only");
    spdlog::info("pull_progress_phase_only image={} reason=\"{}\"", job.reference.PullReference(),
                 resolved.status().ToString());
  } else {
    entry.bytes = true;
    entry.model = NewProgressModel(resolved->layers);
  }
  absl::MutexLock lock(&mu_);
  if (entry.bytes) {
    std::vector<std::string> digests;
    for (const LayerProgressState& layer : entry.model.layers) digests.push_back(layer.digest);
    absl::StatusOr<std::set<std::string>> present = Committed(digests);
    if (present.ok()) {
      MarkAlreadyPresent(entry.model, *present);
    } else if (cri::IsUnimplemented(present.status())) {
      entry.bytes = false;
      entry.note = kNoContentServiceNote;
    }
  }
  entries_[operation] = std::move(entry);
}

void PullProgressTracker::End(uint64_t operation) {
  absl::MutexLock lock(&mu_);
  entries_.erase(operation);
}

absl::StatusOr<std::set<std::string>> PullProgressTracker::Committed(
    const std::vector<std::string>& digests) {
  std::set<std::string> out;
  for (const std::string& digest : digests) {
    absl::StatusOr<bool> has = content_.HasBlob(digest);
    if (!has.ok()) return has.status();
    if (*has) out.insert(digest);
  }
  return out;
}

std::map<uint64_t, api::PullProgress> PullProgressTracker::Sample() {
  std::map<uint64_t, api::PullProgress> out;
  absl::MutexLock lock(&mu_);
  if (entries_.empty()) return out;
  bool any_bytes = false;
  for (const auto& [id, entry] : entries_) any_bytes = any_bytes || entry.bytes;
  std::vector<cri::Ingest> ingests;
  absl::Status content_status;
  if (any_bytes) {
    absl::StatusOr<std::vector<cri::Ingest>> listed = content_.ListIngests();
    if (listed.ok()) {
      ingests = *std::move(listed);
    } else {
      content_status = listed.status();
    }
  }
  const absl::Time now = clock_.Now();
  for (auto& [id, entry] : entries_) {
    if (entry.bytes && cri::IsUnimplemented(content_status)) {
      entry.bytes = false;
      entry.note = kNoContentServiceNote;
    }
    if (!entry.bytes) {
      out[id] = PhaseOnlyProgress(entry.note, now);
      continue;
    }
    if (content_status.ok()) {
      absl::StatusOr<std::set<std::string>> committed =
          Committed(LayersWithoutIngest(entry.model, ingests));
      if (committed.ok()) {
        ApplySample(entry.model, ingests, *committed, now);
      } else {
        spdlog::debug("pull_progress_sample_failed error=\"{}\"", committed.status().ToString());
      }
    } else {
      spdlog::debug("pull_progress_sample_failed error=\"{}\"", content_status.ToString());
    }
    out[id] = ToPullProgress(entry.model, now);
  }
  return out;
}

}  // namespace inplaced::imagepull
