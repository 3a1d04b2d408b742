#pragma once

// The Metrics seam: what the engines and the CRI client report as it happens (calls, kills, hooks,
// restarts, pulls). The daemon's implementation exports it to Prometheus
// (metrics/prometheus_metrics.h); tests record it; engines built without one report to
// NoMetrics(). Gauges of the current state (requests by phase, queue depth, open watches, pulls by
// phase) are not reported here: the exporter reads them from the engines when scraped.
//
// Every label value passed here comes from a small fixed set (named at each method), never from a
// pod, request or image name: the exported series stay bounded whatever the node runs.
//
// Implementations are thread-safe and never block on I/O.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace inplaced {

class Metrics {
 public:
  virtual ~Metrics() = default;

  // A CRI call returned (cri/instrumented_runtime.h): `method` is the CRI method name ("Version",
  // "StopContainer", ...), `code` its status code, `latency` how long it took.
  virtual void CriCallFinished(absl::string_view method, absl::StatusCode code,
                               absl::Duration latency) {}

  // A recreate request completed; `result` "succeeded" (every container succeeded) or "failed";
  // `duration` from its creation.
  virtual void RecreateCompleted(absl::string_view result, absl::Duration duration) {}
  // A kill (StopContainer after the hook) ended: "stopped", "failed" or "deferred" (the runtime was
  // unavailable; retried later).
  virtual void KillFinished(absl::string_view result) {}
  // A preStop hook ended: `outcome` "succeeded", "failed" or "timed_out".
  virtual void PreStopFinished(absl::string_view outcome, absl::Duration duration) {}
  // A restarted container's new instance was first seen running, `source` "event" (a runtime
  // container event woke the loop) or "poll", `delay` after the instance started.
  virtual void RestartObserved(absl::string_view source, absl::Duration delay) {}
  // The runtime event subscription's state: "disabled", "connecting", "subscribed", "broken" or
  // "unsupported".
  virtual void EventStreamState(absl::string_view state) {}

  // An image pull attempt ended: `result` "pulled", "present" (already there), "failed",
  // "cancelled" or "runtime_unavailable"; `duration` of the whole attempt.
  virtual void PullFinished(absl::string_view result, absl::Duration duration) {}
};

// A Metrics that records nothing (for engines and tests that are given none). Stateless.
inline Metrics& NoMetrics() {
  static Metrics* const none = new Metrics();
  return *none;
}

}  // namespace inplaced
