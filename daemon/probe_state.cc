#include "daemon/probe_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace inplaced::daemon {
namespace {

const char* PullPhaseName(::inplaced::v1::ImagePullPhase phase) {
  switch (phase) {
    case ::inplaced::v1::IMAGE_PULL_PHASE_WAITING:
      return "waiting";
    case ::inplaced::v1::IMAGE_PULL_PHASE_PULLING:
      return "pulling";
    case ::inplaced::v1::IMAGE_PULL_PHASE_SUCCEEDED:
      return "succeeded";
    case ::inplaced::v1::IMAGE_PULL_PHASE_FAILED:
      return "failed";
    default:
      return nullptr;
  }
}

}  // namespace

metrics::ProbeResult Readiness(ProbeState& observed, const ServingState& state, Clock& clock,
                               absl::Duration max_tick_age) {
  absl::MutexLock lock(&observed.mu);
  const bool runtime = observed.runtime_answered;
  const bool store = observed.store_open;
  const ServingPhase phase = observed.stopping ? ServingPhase::kStopping : state.phase();
  std::string engine = "not running";
  bool engine_ok = false;
  if (observed.engine != nullptr) {
    const absl::Time last_tick = observed.engine->LastPulse().last_tick;
    if (last_tick == absl::InfinitePast()) {
      engine = "no tick yet";
    } else {
      const absl::Duration age = clock.Now() - last_tick;
      engine_ok = age <= max_tick_age;
      engine = absl::StrCat("last tick ",
                            absl::FormatDuration(absl::Trunc(age, absl::Milliseconds(1))), " ago");
      if (!engine_ok) absl::StrAppend(&engine, ", more than ", absl::FormatDuration(max_tick_age));
    }
  }
  metrics::ProbeResult result;
  result.ok = runtime && store && phase == ServingPhase::kServing && engine_ok;
  const char* api = phase == ServingPhase::kServing    ? "serving"
                    : phase == ServingPhase::kStopping ? "stopping"
                                                       : "starting";
  result.body = absl::StrCat(
      result.ok ? "ready" : "not ready", "\nruntime: ",
      runtime ? absl::StrCat("ok (", observed.runtime_version, ")") : "not answered yet",
      "\nstore: ", store ? "ok" : "not open", "\napi: ", api, "\nengine: ", engine, "\n");
  return result;
}

metrics::EngineState ObservedState(ProbeState& observed, Clock& clock) {
  metrics::EngineState state;
  absl::MutexLock lock(&observed.mu);
  if (observed.engine == nullptr || observed.stopping) return state;
  state.available = true;
  const RecreateEngine::Stats stats = observed.engine->GetStats();
  state.requests_pending = stats.pending;
  state.requests_recreating = stats.recreating;
  state.requests_completed = stats.completed;
  if (stats.oldest_pending_created != absl::InfiniteFuture()) {
    state.oldest_pending_age =
        std::max(absl::ZeroDuration(), clock.Now() - stats.oldest_pending_created);
  }
  if (observed.hub != nullptr) state.recreate_watches = observed.hub->ActiveWatches();
  if (observed.puller != nullptr) {
    state.nodeimage_watches = observed.puller->ActiveWatches();
    const ::inplaced::v1::NodeImage node = observed.puller->GetNodeImage();
    for (const auto& image : node.status().images()) {
      for (const auto& tag : image.tags()) {
        if (const char* phase = PullPhaseName(tag.phase())) ++state.pulls[{"nodeimage", phase}];
      }
    }
    for (const auto& pull : node.status().ad_hoc_pulls()) {
      if (const char* phase = PullPhaseName(pull.status().phase())) ++state.pulls[{"adhoc", phase}];
    }
  }
  return state;
}

}  // namespace inplaced::daemon
