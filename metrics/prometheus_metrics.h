#pragma once

// PrometheusMetrics: the daemon's Metrics (common/metrics.h) on a prometheus-cpp registry, plus the
// gauges of the engines' current state, read from a StateSource when scraped. Scrape() renders the
// registry in the Prometheus text format (prometheus-cpp's TextSerializer: no hand-written
// exposition). The metric names and labels are listed in README.md ("Metrics"); every label value
// comes from a fixed set, so the series stay bounded (no pod, request or image names).
//
// Thread-safe.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace inplaced::metrics {

// The engines' state when scraped. Unavailable (before the engines start, once they stop): every
// state gauge reads 0.
struct EngineState {
  bool available = false;
  int requests_pending = 0;
  int requests_recreating = 0;
  int requests_completed = 0;
  absl::Duration oldest_pending_age = absl::ZeroDuration();  // 0 when none is pending
  int recreate_watches = 0;
  int nodeimage_watches = 0;
  // Image pulls by (kind "nodeimage" | "adhoc", phase "waiting" | "pulling" | "succeeded" |
  // "failed").
  std::map<std::pair<std::string, std::string>, int> pulls;
};

class PrometheusMetrics final : public Metrics {
 public:
  // `version`: the build's version (inplaced_build_info{version}).
  explicit PrometheusMetrics(const std::string& version);
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  // Where Scrape() reads the state gauges; none set: unavailable. `source` must be thread-safe.
  void SetStateSource(std::function<EngineState()> source);

  // Updates the state gauges from the source, then renders every metric (text format 0.0.4).
  std::string Scrape();

  // Metrics.
  void CriCallFinished(absl::string_view method, absl::StatusCode code,
                       absl::Duration latency) override;
  void RecreateCompleted(absl::string_view result, absl::Duration duration) override;
  void KillFinished(absl::string_view result) override;
  void PreStopFinished(absl::string_view outcome, absl::Duration duration) override;
  void RestartObserved(absl::string_view source, absl::Duration delay) override;
  void EventStreamState(absl::string_view state) override;
  void PullFinished(absl::string_view result, absl::Duration duration) override;

 private:
  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Gauge>& requests_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& oldest_pending_;
  prometheus::Family<prometheus::Histogram>& recreate_duration_;
  prometheus::Family<prometheus::Counter>& kills_;
  prometheus::Family<prometheus::Histogram>& prestop_duration_;
  prometheus::Family<prometheus::Histogram>& restart_delay_;
  prometheus::Family<prometheus::Histogram>& cri_latency_;
  prometheus::Family<prometheus::Counter>& cri_errors_;
  prometheus::Family<prometheus::Gauge>& event_stream_;
  prometheus::Family<prometheus::Gauge>& pulls_;
  prometheus::Family<prometheus::Counter>& pull_results_;
  prometheus::Family<prometheus::Histogram>& pull_duration_;
  prometheus::Family<prometheus::Gauge>& watches_;

  absl::Mutex mu_;
  std::function<EngineState()> source_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::metrics
