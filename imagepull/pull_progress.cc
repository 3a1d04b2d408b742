#include "imagepull/pull_progress.h"

#include <algorithm>
#include <map>

#include "common/proto_time.h"

namespace inplaced::imagepull {
namespace {

namespace api = ::inplaced::v1;

bool Finished(const LayerProgressState& layer) {
  return layer.state == api::LAYER_STATE_DONE || layer.state == api::LAYER_STATE_ALREADY_PRESENT;
}

// The largest offset (and total) of the ingests of each digest.
std::map<std::string, cri::Ingest> IngestsByDigest(const std::vector<cri::Ingest>& ingests) {
  std::map<std::string, cri::Ingest> out;
  for (const cri::Ingest& ingest : ingests) {
    const std::string digest = IngestDigest(ingest.ref);
    if (digest.empty()) continue;
    cri::Ingest& slot = out[digest];
    slot.offset = std::max(slot.offset, ingest.offset);
    slot.total = std::max(slot.total, ingest.total);
  }
  return out;
}

// Bytes this pull downloaded: the layers not already present.
int64_t DownloadedBytes(const ProgressModel& model) {
  int64_t bytes = 0;
  for (const LayerProgressState& layer : model.layers) {
    if (layer.state != api::LAYER_STATE_ALREADY_PRESENT) bytes += layer.offset;
  }
  return bytes;
}

}  // namespace

ProgressModel NewProgressModel(const std::vector<Descriptor>& layers) {
  ProgressModel model;
  std::set<std::string> seen;
  for (const Descriptor& layer : layers) {
    if (!seen.insert(layer.digest).second) continue;
    model.layers.push_back(LayerProgressState{layer.digest, std::max<int64_t>(layer.size, 0), 0,
                                              api::LAYER_STATE_WAITING});
  }
  return model;
}

std::string IngestDigest(absl::string_view ref) {
  // containerd's ref keys are "<kind>-<algorithm>:<hex>"; a digest has no '-'.
  const size_t dash = ref.rfind('-');
  const absl::string_view digest = dash == absl::string_view::npos ? ref : ref.substr(dash + 1);
  const size_t colon = digest.find(':');
  if (colon == absl::string_view::npos || colon == 0 || colon + 1 == digest.size()) return "";
  return std::string(digest);
}

void MarkAlreadyPresent(ProgressModel& model, const std::set<std::string>& present) {
  for (LayerProgressState& layer : model.layers) {
    if (present.count(layer.digest) == 0) continue;
    layer.state = api::LAYER_STATE_ALREADY_PRESENT;
    layer.offset = layer.size;
  }
}

std::vector<std::string> LayersWithoutIngest(const ProgressModel& model,
                                             const std::vector<cri::Ingest>& ingests) {
  const std::map<std::string, cri::Ingest> by_digest = IngestsByDigest(ingests);
  std::vector<std::string> out;
  for (const LayerProgressState& layer : model.layers) {
    if (!Finished(layer) && by_digest.count(layer.digest) == 0) out.push_back(layer.digest);
  }
  return out;
}

void ApplySample(ProgressModel& model, const std::vector<cri::Ingest>& ingests,
                 const std::set<std::string>& committed, absl::Time now) {
  const std::map<std::string, cri::Ingest> by_digest = IngestsByDigest(ingests);
  for (LayerProgressState& layer : model.layers) {
    if (Finished(layer)) continue;
    auto it = by_digest.find(layer.digest);
    if (it != by_digest.end()) {
      if (layer.size == 0 && it->second.total > 0) layer.size = it->second.total;
      layer.state = api::LAYER_STATE_DOWNLOADING;
      // A restarted ingest starts over; bytes beyond the size would overstate the progress.
      layer.offset = layer.size > 0 ? std::min(it->second.offset, layer.size) : it->second.offset;
    } else if (committed.count(layer.digest) > 0) {
      layer.state = api::LAYER_STATE_DONE;
      layer.offset = std::max(layer.size, layer.offset);
      if (layer.size == 0) layer.size = layer.offset;
    }
    // Otherwise WAITING stays WAITING; a DOWNLOADING layer whose ingest is gone but whose blob is
    // not committed (a retry) keeps its last offset.
  }
  const int64_t downloaded = DownloadedBytes(model);
  model.samples.emplace_back(now, downloaded);
  while (model.samples.size() > 2 && model.samples.front().first < now - kProgressRateWindow) {
    model.samples.pop_front();
  }
  const auto& [first_time, first_bytes] = model.samples.front();
  const absl::Duration span = now - first_time;
  model.bytes_per_second =
      span > absl::ZeroDuration() && downloaded >= first_bytes
          ? static_cast<int64_t>(static_cast<double>(downloaded - first_bytes) /
                                 absl::ToDoubleSeconds(span))
          : 0;
  model.updated = now;
}

api::PullProgress ToPullProgress(const ProgressModel& model, absl::Time now) {
  api::PullProgress out;
  out.set_source(api::PROGRESS_SOURCE_BYTES);
  int64_t done = 0;
  int64_t total = 0;
  for (const LayerProgressState& layer : model.layers) {
    api::LayerProgress& l = *out.add_layers();
    l.set_digest(layer.digest);
    l.set_size(layer.size);
    l.set_offset(layer.offset);
    l.set_state(layer.state);
    done += layer.offset;
    total += layer.size;
  }
  out.set_bytes_done(done);
  out.set_bytes_total(total);
  out.set_bytes_per_second(model.bytes_per_second);
  *out.mutable_update_time() = ToProtoTime(now);
  return out;
}

api::PullProgress PhaseOnlyProgress(absl::string_view note, absl::Time now) {
  api::PullProgress out;
  out.set_source(api::PROGRESS_SOURCE_PHASE_ONLY);
  out.set_note(std::string(note));
  *out.mutable_update_time() = ToProtoTime(now);
  return out;
}

int32_t PullingPercent(const api::PullProgress& progress) {
  if (progress.source() != api::PROGRESS_SOURCE_BYTES || progress.bytes_total() <= 0) return 0;
  const int64_t done = std::clamp<int64_t>(progress.bytes_done(), 0, progress.bytes_total());
  return static_cast<int32_t>(std::min<int64_t>(99, done * 100 / progress.bytes_total()));
}

api::PullProgress FinishedProgress(api::PullProgress progress, bool succeeded) {
  progress.set_bytes_per_second(0);
  if (!succeeded || progress.source() != api::PROGRESS_SOURCE_BYTES) return progress;
  for (api::LayerProgress& layer : *progress.mutable_layers()) {
    if (layer.state() != api::LAYER_STATE_ALREADY_PRESENT) layer.set_state(api::LAYER_STATE_DONE);
    layer.set_offset(layer.size());
  }
  progress.set_bytes_done(progress.bytes_total());
  return progress;
}

}  // namespace inplaced::imagepull
