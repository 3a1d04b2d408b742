#pragma once

// What the daemon's probe/metrics port reads of the running daemon: readiness for /readyz and the
// engines' state for the /metrics gauges. Start sets the parts here step by step as it brings them
// up, and Stop clears them (under the lock) before it takes them down, so that a probe never reads
// a part that is going away.

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "daemon/recreate/recreate_engine.h"
#include "daemon/recreate/watch_hub.h"
#include "daemon/server/serving_state.h"
#include "imagepull/puller.h"
#include "metrics/probe_server.h"
#include "metrics/prometheus_metrics.h"

namespace inplaced::daemon {

struct ProbeState {
  absl::Mutex mu;
  bool runtime_answered ABSL_GUARDED_BY(mu) = false;
  std::string runtime_version ABSL_GUARDED_BY(mu);
  bool store_open ABSL_GUARDED_BY(mu) = false;
  RecreateEngine* engine ABSL_GUARDED_BY(mu) = nullptr;
  WatchHub* hub ABSL_GUARDED_BY(mu) = nullptr;
  imagepull::ImagePuller* puller ABSL_GUARDED_BY(mu) = nullptr;
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

// /readyz: ready once the runtime answered Version, the store is open, the API serves and the
// engine's loop ticked within `max_tick_age`; the body names every check.
metrics::ProbeResult Readiness(ProbeState& observed, const ServingState& state, Clock& clock,
                               absl::Duration max_tick_age);

// The /metrics state gauges, read from the engines while they run (unavailable otherwise).
metrics::EngineState ObservedState(ProbeState& observed, Clock& clock);

}  // namespace inplaced::daemon
