#include "metrics/prometheus_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>
#include <vector>

namespace inplaced::metrics {
namespace {

using prometheus::Histogram;

// Buckets (seconds) per kind of duration.
const Histogram::BucketBoundaries& CriBuckets() {
  static const auto* const buckets = new Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
  return *buckets;
}
const Histogram::BucketBoundaries& RecreateBuckets() {
  static const auto* const buckets = new Histogram::BucketBoundaries{
      0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600};
  return *buckets;
}
const Histogram::BucketBoundaries& PreStopBuckets() {
  static const auto* const buckets =
      new Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600};
  return *buckets;
}
const Histogram::BucketBoundaries& RestartDelayBuckets() {
  static const auto* const buckets =
      new Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
  return *buckets;
}
const Histogram::BucketBoundaries& PullBuckets() {
  static const auto* const buckets = new Histogram::BucketBoundaries{
      0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600};
  return *buckets;
}

constexpr const char* kEventStreamStates[] = {"disabled", "connecting", "subscribed", "broken",
                                              "unsupported"};
constexpr const char* kKillResults[] = {"stopped", "failed", "deferred"};
constexpr const char* kPullResults[] = {"pulled", "present", "failed", "cancelled",
                                        "runtime_unavailable"};
constexpr const char* kPullKinds[] = {"nodeimage", "adhoc"};
constexpr const char* kPullPhases[] = {"waiting", "pulling", "succeeded", "failed"};

double Seconds(absl::Duration duration) { return absl::ToDoubleSeconds(duration); }

}  // namespace

PrometheusMetrics::PrometheusMetrics(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildGauge()
                    .Name("inplaced_recreate_requests")
                    .Help("Recreate requests held by the daemon, by phase")
                    .Register(*registry_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("inplaced_recreate_queue_depth")
                       .Help("Recreate requests not started yet (PENDING)")
                       .Register(*registry_)
                       .Add({})),
      oldest_pending_(prometheus::BuildGauge()
                          .Name("inplaced_recreate_oldest_pending_age_seconds")
                          .Help("Age of the oldest PENDING recreate request (0: none)")
                          .Register(*registry_)
                          .Add({})),
      recreate_duration_(prometheus::BuildHistogram()
                             .Name("inplaced_recreate_duration_seconds")
                             .Help("Recreate requests from creation to completion, by result")
                             .Register(*registry_)),
      kills_(prometheus::BuildCounter()
                 .Name("inplaced_kills_total")
                 .Help("Container kills (StopContainer after the preStop hook), by result")
                 .Register(*registry_)),
      prestop_duration_(prometheus::BuildHistogram()
                            .Name("inplaced_prestop_duration_seconds")
                            .Help("preStop hooks run before a kill, by outcome")
                            .Register(*registry_)),
      restart_delay_(prometheus::BuildHistogram()
                         .Name("inplaced_restart_detection_delay_seconds")
                         .Help("From a new container instance's start to the engine seeing it, "
                               "by what woke the engine (event or poll)")
                         .Register(*registry_)),
      cri_latency_(prometheus::BuildHistogram()
                       .Name("inplaced_cri_call_duration_seconds")
                       .Help("CRI calls to the container runtime, by method")
                       .Register(*registry_)),
      cri_errors_(prometheus::BuildCounter()
                      .Name("inplaced_cri_call_errors_total")
                      .Help("CRI calls that failed, by method and gRPC status code")
                      .Register(*registry_)),
      event_stream_(prometheus::BuildGauge()
                        .Name("inplaced_event_stream_state")
                        .Help("The runtime container event subscription: 1 for its current state")
                        .Register(*registry_)),
      pulls_(prometheus::BuildGauge()
                 .Name("inplaced_image_pulls")
                 .Help("Image pulls held by the puller (NodeImage tags and ad hoc pulls), by "
                       "kind and phase")
                 .Register(*registry_)),
      pull_results_(prometheus::BuildCounter()
                        .Name("inplaced_image_pull_attempts_total")
                        .Help("Image pull attempts that ended, by result")
                        .Register(*registry_)),
      pull_duration_(prometheus::BuildHistogram()
                         .Name("inplaced_image_pull_duration_seconds")
                         .Help("Image pull attempts (precheck and CRI PullImage), by result")
                         .Register(*registry_)),
      watches_(prometheus::BuildGauge()
                   .Name("inplaced_watch_streams")
                   .Help("Open watch streams of the control API, by API")
                   .Register(*registry_)) {
  prometheus::BuildGauge()
      .Name("inplaced_build_info")
      .Help("The daemon's build: always 1, the version in a label")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  // Every series of a fixed label set exists from the start (at 0), so rate() and absent() work
  // before the first event.
  for (const char* phase : {"pending", "recreating", "completed"})
    requests_.Add({{"phase", phase}});
  for (const char* result : {"succeeded", "failed"}) {
    recreate_duration_.Add({{"result", result}}, RecreateBuckets());
  }
  for (const char* result : kKillResults) kills_.Add({{"result", result}});
  for (const char* source : {"event", "poll"}) {
    restart_delay_.Add({{"source", source}}, RestartDelayBuckets());
  }
  for (const char* state : kEventStreamStates) event_stream_.Add({{"state", state}});
  for (const char* kind : kPullKinds) {
    for (const char* phase : kPullPhases) pulls_.Add({{"kind", kind}, {"phase", phase}});
  }
  for (const char* result : kPullResults) {
    pull_results_.Add({{"result", result}});
    pull_duration_.Add({{"result", result}}, PullBuckets());
  }
  for (const char* api : {"recreate", "nodeimage"}) watches_.Add({{"api", api}});
}

PrometheusMetrics::~PrometheusMetrics() = default;

void PrometheusMetrics::SetStateSource(std::function<EngineState()> source) {
  absl::MutexLock lock(&mu_);
  source_ = std::move(source);
}

std::string PrometheusMetrics::Scrape() {
  EngineState state;
  {
    absl::MutexLock lock(&mu_);  // one scrape at a time reads and sets the state gauges
    if (source_) state = source_();
    requests_.Add({{"phase", "pending"}}).Set(state.requests_pending);
    requests_.Add({{"phase", "recreating"}}).Set(state.requests_recreating);
    requests_.Add({{"phase", "completed"}}).Set(state.requests_completed);
    queue_depth_.Set(state.requests_pending);
    oldest_pending_.Set(Seconds(state.oldest_pending_age));
    watches_.Add({{"api", "recreate"}}).Set(state.recreate_watches);
    watches_.Add({{"api", "nodeimage"}}).Set(state.nodeimage_watches);
    for (const char* kind : kPullKinds) {
      for (const char* phase : kPullPhases) {
        auto it = state.pulls.find({kind, phase});
        pulls_.Add({{"kind", kind}, {"phase", phase}})
            .Set(it == state.pulls.end() ? 0 : it->second);
      }
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void PrometheusMetrics::CriCallFinished(absl::string_view method, absl::StatusCode code,
                                        absl::Duration latency) {
  const std::string name(method);
  cri_latency_.Add({{"method", name}}, CriBuckets()).Observe(Seconds(latency));
  if (code != absl::StatusCode::kOk) {
    cri_errors_.Add({{"method", name}, {"code", absl::StatusCodeToString(code)}}).Increment();
  }
}

void PrometheusMetrics::RecreateCompleted(absl::string_view result, absl::Duration duration) {
  recreate_duration_.Add({{"result", std::string(result)}}, RecreateBuckets())
      .Observe(Seconds(duration));
}

void PrometheusMetrics::KillFinished(absl::string_view result) {
  kills_.Add({{"result", std::string(result)}}).Increment();
}

void PrometheusMetrics::PreStopFinished(absl::string_view outcome, absl::Duration duration) {
  prestop_duration_.Add({{"outcome", std::string(outcome)}}, PreStopBuckets())
      .Observe(Seconds(duration));
}

void PrometheusMetrics::RestartObserved(absl::string_view source, absl::Duration delay) {
  restart_delay_.Add({{"source", std::string(source)}}, RestartDelayBuckets())
      .Observe(Seconds(delay));
}

void PrometheusMetrics::EventStreamState(absl::string_view state) {
  for (const char* known : kEventStreamStates) {
    event_stream_.Add({{"state", known}}).Set(state == known ? 1 : 0);
  }
}

void PrometheusMetrics::PullFinished(absl::string_view result, absl::Duration duration) {
  const std::string name(result);
  pull_results_.Add({{"result", name}}).Increment();
  pull_duration_.Add({{"result", name}}, PullBuckets()).Observe(Seconds(duration));
}

}  // namespace inplaced::metrics
