#include "cli/progress_bar.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/table.h"
#include "common/proto_time.h"

namespace inplaced::cli {
namespace {

// "waiting", "downloading", "done", "exists" (already present before the pull).
std::string LayerStateWord(v1::LayerState state) {
  switch (state) {
    case v1::LAYER_STATE_DOWNLOADING:
      return "downloading";
    case v1::LAYER_STATE_DONE:
      return "done";
    case v1::LAYER_STATE_ALREADY_PRESENT:
      return "exists";
    default:
      return "waiting";
  }
}

PullProgress FromTagStatus(std::string reference, const v1::ImageTagStatus& status,
                           absl::Time now) {
  PullProgress pull;
  pull.reference = std::move(reference);
  pull.phase = status.phase() == v1::IMAGE_PULL_PHASE_UNSPECIFIED ? v1::IMAGE_PULL_PHASE_WAITING
                                                                  : status.phase();
  pull.percent = std::clamp(status.progress(), 0, 100);
  pull.attempts = status.attempts();
  pull.message = status.message();
  if (status.has_start_time()) {
    const absl::Time end =
        status.has_completion_time() ? FromProtoTime(status.completion_time()) : now;
    pull.elapsed = std::max(absl::ZeroDuration(), end - FromProtoTime(status.start_time()));
  }
  const v1::PullProgress& bytes = status.pull_progress();
  if (bytes.source() == v1::PROGRESS_SOURCE_BYTES) {
    pull.done_bytes = bytes.bytes_done();
    pull.total_bytes = bytes.bytes_total();
    pull.bytes_per_second = static_cast<double>(bytes.bytes_per_second());
    for (const v1::LayerProgress& layer : bytes.layers()) {
      pull.layers.push_back(LayerProgress{layer.digest(), layer.offset(), layer.size(),
                                          LayerStateWord(layer.state())});
    }
  } else if (bytes.source() == v1::PROGRESS_SOURCE_PHASE_ONLY) {
    pull.phase_only_note = bytes.note();
  }
  return pull;
}

// "repo:tag", or "repo@sha256:..." for a digest tag (the API's own rule for the pulled reference).
std::string Reference(const std::string& image, const std::string& tag) {
  if (tag.rfind("sha256:", 0) == 0) return absl::StrCat(image, "@", tag);
  return absl::StrCat(image, ":", tag);
}

std::string Seconds(absl::Duration d) { return FormatAge(d); }

}  // namespace

std::vector<PullProgress> PullsFromNodeImage(const v1::NodeImage& node_image, absl::Time now) {
  std::vector<PullProgress> pulls;
  for (const v1::ImageStatus& image : node_image.status().images()) {
    for (const v1::ImageTagStatus& tag : image.tags()) {
      pulls.push_back(FromTagStatus(Reference(image.name(), tag.tag()), tag, now));
    }
  }
  for (const v1::AdHocPullStatus& pull : node_image.status().ad_hoc_pulls())
    pulls.push_back(PullFromAdHoc(pull, now));
  return pulls;
}

PullProgress PullFromAdHoc(const v1::AdHocPullStatus& pull, absl::Time now) {
  PullProgress progress = FromTagStatus(pull.image(), pull.status(), now);
  progress.ad_hoc = true;
  return progress;
}

std::string PullPhaseWord(v1::ImagePullPhase phase) {
  switch (phase) {
    case v1::IMAGE_PULL_PHASE_PULLING:
      return "pulling";
    case v1::IMAGE_PULL_PHASE_SUCCEEDED:
      return "succeeded";
    case v1::IMAGE_PULL_PHASE_FAILED:
      return "failed";
    default:
      return "waiting";
  }
}

bool PullFinished(v1::ImagePullPhase phase) {
  return phase == v1::IMAGE_PULL_PHASE_SUCCEEDED || phase == v1::IMAGE_PULL_PHASE_FAILED;
}

std::string Bar(int percent, int width) {
  width = std::max(width, 1);
  const int filled = std::clamp(percent, 0, 100) * width / 100;
  std::string bar = "[" + std::string(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  return bar + "]";
}

std::string FormatBytes(int64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, "B") : absl::StrFormat("%.1f%s", value, kUnits[unit]);
}

namespace {

// " 12.3MiB/40.0MiB  3.1MiB/s  ETA 9s" when the daemon reports bytes; "" otherwise.
std::string ByteDetails(const PullProgress& pull) {
  if (!pull.done_bytes || !pull.total_bytes) return "";
  std::string details =
      absl::StrCat("  ", FormatBytes(*pull.done_bytes), "/", FormatBytes(*pull.total_bytes));
  if (pull.bytes_per_second && *pull.bytes_per_second > 0) {
    absl::StrAppend(&details, "  ", FormatBytes(static_cast<int64_t>(*pull.bytes_per_second)),
                    "/s");
    if (!PullFinished(pull.phase) && *pull.total_bytes > *pull.done_bytes) {
      const double eta =
          static_cast<double>(*pull.total_bytes - *pull.done_bytes) / *pull.bytes_per_second;
      absl::StrAppend(&details, "  ETA ", Seconds(absl::Seconds(eta)));
    }
  }
  return details;
}

std::string Fit(std::string line, int width) {
  if (width > 0 && static_cast<int>(line.size()) > width) line.resize(width);
  return line;
}

}  // namespace

std::string ProgressLine(const PullProgress& pull, int reference_width, int bar_width) {
  std::string line =
      absl::StrFormat("%-*s  %s %3d%%  %-9s", reference_width, pull.reference,
                      Bar(pull.percent, bar_width), pull.percent, PullPhaseWord(pull.phase));
  if (pull.attempts > 0) absl::StrAppend(&line, "  attempt ", pull.attempts);
  if (pull.elapsed > absl::ZeroDuration()) absl::StrAppend(&line, "  ", Seconds(pull.elapsed));
  absl::StrAppend(&line, ByteDetails(pull));
  if (!pull.phase_only_note.empty() && !PullFinished(pull.phase)) {
    absl::StrAppend(&line, "  (no byte progress)");
  }
  if (!pull.message.empty() && pull.phase != v1::IMAGE_PULL_PHASE_SUCCEEDED) {
    absl::StrAppend(&line, "  ", pull.message);
  }
  return line;
}

std::string PlainProgressLine(const PullProgress& pull) {
  std::string line =
      absl::StrCat(pull.reference, " ", PullPhaseWord(pull.phase), " ", pull.percent, "%");
  if (pull.attempts > 0) absl::StrAppend(&line, " attempt=", pull.attempts);
  absl::StrAppend(&line, " elapsed=", Seconds(pull.elapsed));
  if (pull.done_bytes && pull.total_bytes) {
    absl::StrAppend(&line, " bytes=", *pull.done_bytes, "/", *pull.total_bytes);
    if (pull.bytes_per_second && *pull.bytes_per_second > 0 && !PullFinished(pull.phase)) {
      absl::StrAppend(&line, " rate=", static_cast<int64_t>(*pull.bytes_per_second), "B/s");
    }
  }
  if (!pull.phase_only_note.empty() && !PullFinished(pull.phase)) {
    absl::StrAppend(&line, " progress=phase-only");
  }
  if (!pull.message.empty()) absl::StrAppend(&line, " message=\"", pull.message, "\"");
  return line;
}

ProgressView::ProgressView(std::ostream& out, bool terminal, int width, absl::Duration plain_period)
    : out_(out), terminal_(terminal), width_(width), plain_period_(plain_period), block_(out) {}

void ProgressView::Update(const std::vector<PullProgress>& pulls, absl::Time now) {
  if (terminal_) {
    int reference_width = 0;
    for (const PullProgress& pull : pulls) {
      reference_width = std::max(reference_width, static_cast<int>(pull.reference.size()));
    }
    reference_width = std::min(reference_width, std::max(width_ / 3, 10));
    const int bar_width = std::clamp(width_ / 4, 10, 40);
    std::string text;
    for (const PullProgress& pull : pulls) {
      absl::StrAppend(&text, Fit(ProgressLine(pull, reference_width, bar_width), width_), "\n");
      // Layer lines while the pull runs; a finished pull is one line.
      if (PullFinished(pull.phase)) continue;
      for (const LayerProgress& layer : pull.layers) {
        const int percent = layer.total_bytes > 0
                                ? static_cast<int>(layer.done_bytes * 100 / layer.total_bytes)
                                : 0;
        absl::StrAppend(
            &text,
            Fit(absl::StrFormat("  %-19s %s %3d%%  %s/%s  %s", layer.digest.substr(0, 19),
                                Bar(percent, bar_width / 2), percent, FormatBytes(layer.done_bytes),
                                FormatBytes(layer.total_bytes), layer.state),
                width_),
            "\n");
      }
    }
    block_.Draw(text);
    return;
  }
  for (const PullProgress& pull : pulls) {
    // Moving bytes (and the percent they make) print periodically, not at every sample.
    const std::string state = absl::StrCat(pull.phase, "/", pull.done_bytes ? -1 : pull.percent,
                                           "/", pull.attempts, "/", pull.message);
    auto it = printed_.find(pull.reference);
    const bool changed = it == printed_.end() || it->second.state != state;
    const bool due =
        it != printed_.end() && !PullFinished(pull.phase) && now - it->second.at >= plain_period_;
    if (!changed && !due) continue;
    out_ << PlainProgressLine(pull) << "\n";
    printed_[pull.reference] = {state, now};
  }
  out_.flush();
}

}  // namespace inplaced::cli
