#pragma once

// The progress display of image pulls (`images pull`, `images watch`): a bar per image on a
// terminal, redrawn in place, and plain lines elsewhere (on change, and periodically while a pull
// runs).
//
// PullProgress is the display's model, filled from the NodeImage API by PullsFromNodeImage and
// PullFromAdHoc: a phase and percent per tag, and when the daemon reports bytes (pull_progress with
// source BYTES, on containerd) the bytes, speed, ETA and one line per layer while it pulls. On a
// runtime without byte progress (CRI-O) the bar moves by phase only.

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "cli/terminal.h"

namespace inplaced::cli {

struct LayerProgress {
  std::string digest;
  int64_t done_bytes = 0;
  int64_t total_bytes = 0;
  std::string state;  // "waiting", "downloading", "done", "exists" (already present)
};

struct PullProgress {
  std::string reference;  // "repo:tag", "repo@sha256:..." or the ad hoc reference as given
  bool ad_hoc = false;
  v1::ImagePullPhase phase = v1::IMAGE_PULL_PHASE_WAITING;
  int percent = 0;  // 0-100
  int attempts = 0;
  std::string message;
  absl::Duration elapsed;  // since the first attempt; to completion when finished
  // Byte progress, when the daemon reports it.
  std::optional<int64_t> done_bytes;
  std::optional<int64_t> total_bytes;
  std::optional<double> bytes_per_second;
  std::vector<LayerProgress> layers;
  // Set when the daemon reports phases only (pull_progress source PHASE_ONLY): why.
  std::string phase_only_note;
};

// Every tag of the spec (spec order), then every ad hoc pull (oldest first).
std::vector<PullProgress> PullsFromNodeImage(const v1::NodeImage& node_image, absl::Time now);
PullProgress PullFromAdHoc(const v1::AdHocPullStatus& pull, absl::Time now);

// "waiting", "pulling", "succeeded", "failed".
std::string PullPhaseWord(v1::ImagePullPhase phase);
bool PullFinished(v1::ImagePullPhase phase);

// "[=========>          ]": `width` cells between the brackets, filled to `percent`.
std::string Bar(int percent, int width);
// "12.3MiB", "512B".
std::string FormatBytes(int64_t bytes);

// The terminal line of a pull: reference padded to `reference_width`, bar, percent, phase, attempt,
// elapsed; bytes, speed and ETA when known; the message when the pull failed or waits to retry.
std::string ProgressLine(const PullProgress& pull, int reference_width, int bar_width);
// The plain line of a pull: "<reference> <phase> <percent>% attempt=N elapsed=12s [...]".
std::string PlainProgressLine(const PullProgress& pull);

// Shows a list of pulls again and again. Not thread-safe.
class ProgressView {
 public:
  // `terminal`: redraw a block of bars, fitted to `width` columns; otherwise plain lines, a line
  // for a pull whose state changed, and for an unfinished one every `plain_period`.
  ProgressView(std::ostream& out, bool terminal, int width,
               absl::Duration plain_period = absl::Seconds(5));

  void Update(const std::vector<PullProgress>& pulls, absl::Time now);

 private:
  struct Printed {
    std::string state;  // phase, percent, attempts, message
    absl::Time at;
  };
  std::ostream& out_;
  bool terminal_;
  int width_;
  absl::Duration plain_period_;
  LiveBlock block_;
  std::map<std::string, Printed> printed_;  // by reference
};

}  // namespace inplaced::cli
