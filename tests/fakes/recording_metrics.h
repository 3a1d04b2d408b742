#pragma once

// RecordingMetrics: a Metrics (common/metrics.h) that keeps every report as a line, for tests that
// check what an engine or the CRI decorator reported ("kill stopped", "cri Version OK 30ms").

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"

namespace inplaced::fakes {

class RecordingMetrics final : public Metrics {
 public:
  void CriCallFinished(absl::string_view method, absl::StatusCode code,
                       absl::Duration latency) override {
    Add(absl::StrCat("cri ", method, " ", absl::StatusCodeToString(code), " ",
                     absl::FormatDuration(latency)));
  }
  void RecreateCompleted(absl::string_view result, absl::Duration duration) override {
    Add(absl::StrCat("recreate ", result, " ", absl::FormatDuration(duration)));
  }
  void KillFinished(absl::string_view result) override { Add(absl::StrCat("kill ", result)); }
  void PreStopFinished(absl::string_view outcome, absl::Duration duration) override {
    Add(absl::StrCat("prestop ", outcome, " ", absl::FormatDuration(duration)));
  }
  void RestartObserved(absl::string_view source, absl::Duration delay) override {
    Add(absl::StrCat("restart ", source, " ", absl::FormatDuration(delay)));
  }
  void EventStreamState(absl::string_view state) override { Add(absl::StrCat("events ", state)); }
  void PullFinished(absl::string_view result, absl::Duration duration) override {
    Add(absl::StrCat("pull ", result, " ", absl::FormatDuration(duration)));
  }

  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    return lines_;
  }

 private:
  void Add(std::string line) {
    absl::MutexLock lock(&mu_);
    lines_.push_back(std::move(line));
  }

  absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::fakes
