#pragma once

// The byte progress of one pull attempt as a pure model: the image's distinct layers (from its
// registry manifest) updated by samples of containerd's content store (the active ingests, and
// whether a layer's blob is committed). No I/O, no clock: the tracker (pull_progress_tracker.h)
// feeds it samples with their time.
//
// Matching: an ingest belongs to a layer when its ref names the layer's digest ("layer-<digest>",
// as containerd names the ingests of a pull; any "<kind>-<digest>"). Ingests of other blobs (other
// pulls, the config, manifests) are ignored. A layer listed twice in a manifest is one layer (the
// runtime downloads it once).
//
// Layer states: ALREADY_PRESENT (committed before the pull started: MarkAlreadyPresent), WAITING
// (no ingest yet), DOWNLOADING (an ingest; offset = its offset), DONE (committed after the pull
// started, with or without an ingest seen: a small layer may come and go between two samples).
// Sizes are the manifest's; an ingest's total fills in a size the manifest gives as 0.

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "cri/content_store.h"
#include "imagepull/registry/manifest.h"

namespace inplaced::imagepull {

// The window the download rate is measured over.
inline constexpr absl::Duration kProgressRateWindow = absl::Seconds(3);

struct LayerProgressState {
  std::string digest;
  int64_t size = 0;
  int64_t offset = 0;
  ::inplaced::v1::LayerState state = ::inplaced::v1::LAYER_STATE_WAITING;
};

struct ProgressModel {
  std::vector<LayerProgressState> layers;  // distinct, manifest order
  // (time, bytes downloaded by this pull) of the samples within kProgressRateWindow.
  std::deque<std::pair<absl::Time, int64_t>> samples;
  int64_t bytes_per_second = 0;
  absl::Time updated = absl::InfinitePast();
};

// The model of a pull of an image with `layers` (manifest order, duplicates dropped), all WAITING.
ProgressModel NewProgressModel(const std::vector<Descriptor>& layers);

// The digest an ingest ref names: "layer-sha256:ab" -> "sha256:ab"; "" when the ref names none.
std::string IngestDigest(absl::string_view ref);

// Marks the layers in `present` (digests committed before the pull started) ALREADY_PRESENT.
void MarkAlreadyPresent(ProgressModel& model, const std::set<std::string>& present);

// The layers that are neither finished nor covered by one of `ingests`: the tracker asks the
// content store whether these are committed now (DONE) before ApplySample.
std::vector<std::string> LayersWithoutIngest(const ProgressModel& model,
                                             const std::vector<cri::Ingest>& ingests);

// One sample at `now`: `ingests` are all active ingests, `committed` the digests (of
// LayersWithoutIngest) found committed. Updates states, offsets and the rate.
void ApplySample(ProgressModel& model, const std::vector<cri::Ingest>& ingests,
                 const std::set<std::string>& committed, absl::Time now);

// The model as the API reports it (source BYTES), stamped `now`.
::inplaced::v1::PullProgress ToPullProgress(const ProgressModel& model, absl::Time now);

// PHASE_ONLY progress with `note`.
::inplaced::v1::PullProgress PhaseOnlyProgress(absl::string_view note, absl::Time now);

// ImageTagStatus.progress while PULLING: bytes_done * 100 / bytes_total, at most 99 (100 is
// SUCCEEDED's); 0 for PHASE_ONLY or an unknown total.
int32_t PullingPercent(const ::inplaced::v1::PullProgress& progress);

// `progress` of a pull that finished: succeeded, every layer not ALREADY_PRESENT is DONE and
// bytes_done = bytes_total; the rate is 0 either way.
::inplaced::v1::PullProgress FinishedProgress(::inplaced::v1::PullProgress progress,
                                              bool succeeded);

}  // namespace inplaced::imagepull
