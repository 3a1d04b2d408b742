#pragma once

// The NodeImage state machine: what happens to the desired spec, the per-tag status and the pull
// operations, as pure functions of (state, time, input). No threads, no I/O, no clock, no CRI: the
// puller (puller.h) feeds it inputs, commits the state it returns and carries out the effects
// (runs and cancels attempts, persists, publishes, logs), so every rule is table-testable.
//
// The rules, by input:
//   * SpecSet: ABORTED when expected_generation is stale (unless force). Otherwise the spec is
//     replaced, generation + 1, and the tasks reconciled: a tag of the same version keeps its task
//     (a changed pull policy or secret applies from its next attempt); a new version restarts it
//     (WAITING, attempts and deadline from zero; its in-flight attempt is left); a removed tag or
//     image drops its task and leaves its operation.
//   * AdHocPullRequested: an unfinished pull of the same reference is returned as is; a finished
//   one
//     is pulled again; at most kMaxAdHocPulls are kept (RESOURCE_EXHAUSTED).
//   * AttemptFinished: every task still waiting on the operation gets its outcome: SUCCEEDED; a
//     failed attempt retries after PullBackoff(failed attempts) (1 s doubling to 30 s) until more
//     than backoff_limit attempts failed (FAILED "failed after N attempts: ..."); an attempt the
//     runtime never answered retries after kRuntimeUnreachableRetry without counting.
//   * ProgressSampled: the PULLING tasks of a sampled operation take its progress.
//   * Tick: an attempt past its deadline (now + timeout_seconds at its start, capped by the active
//     deadline) is left and counts as failed; a task past active_deadline_seconds (counted from
//     its first attempt's start) is FAILED; a finished task whose ttl_seconds_after_finished passed
//     is removed, a spec tag also from the spec (and an image left without tags), generation + 1.
// Every input then schedules: a ready task (queued, backoff over) whose operation key (reference,
// pull policy, credentials) has a running operation joins it without a slot; otherwise slots
// (max_concurrent_pulls operations, cancelled ones included until their attempt returns) go
// round-robin over the images (spec order, ad hoc pulls last as one more "image"), tags in spec
// order. Leaving an operation nobody else waits on cancels it.
//
// Restore rebuilds the state from a stored NodeImage after a daemon restart: finished tags of the
// same version stay finished; unfinished ones start again (as in Kruise); unfinished ad hoc pulls
// start again from their stored requests (the puller stores each accepted PullImage request,
// secrets included, until the pull finishes), and are FAILED "interrupted by a daemon restart"
// only when no request was stored.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "imagepull/nodeimage_validation.h"
#include "imagepull/pull_attempt.h"
#include "imagepull/registry/image_reference.h"

namespace inplaced::imagepull::nodeimage {

// Most ad hoc pulls kept (finished ones included) before a new one is RESOURCE_EXHAUSTED.
inline constexpr size_t kMaxAdHocPulls = 256;
// What a restored, unfinished ad hoc pull says.
inline constexpr char kInterruptedByRestartMessage[] = "interrupted by a daemon restart";

// A spec tag, or an ad hoc pull (image: the reference as given, tag empty).
struct TaskKey {
  bool ad_hoc = false;
  std::string image;
  std::string tag;
  friend bool operator<(const TaskKey& a, const TaskKey& b) {
    return std::tie(a.ad_hoc, a.image, a.tag) < std::tie(b.ad_hoc, b.image, b.tag);
  }
  friend bool operator==(const TaskKey& a, const TaskKey& b) {
    return a.ad_hoc == b.ad_hoc && a.image == b.image && a.tag == b.tag;
  }
};

// One running pull (one RunPull), shared by the tasks with its operation key. It holds a slot from
// its start until its AttemptFinished, even once cancelled.
struct Operation {
  Operation(std::string key_in, PullJob job_in) : key(std::move(key_in)), job(std::move(job_in)) {}

  std::string key;  // reference, policy and a hash of the credentials (never printed)
  PullJob job;
  std::set<TaskKey> waiters;
  bool cancelled = false;  // nobody waits any more; no task joins it
};

enum class TaskState { kQueued, kPulling, kFinished };

// One spec tag or ad hoc pull.
struct Task {
  Task(TaskKey key_in, PullJob job_in) : key(std::move(key_in)), job(std::move(job_in)) {}

  TaskKey key;
  PullJob job;
  std::string operation_key;
  absl::Duration timeout = absl::Seconds(kDefaultPullTimeoutSeconds);
  int backoff_limit = kDefaultBackoffLimit;
  std::optional<absl::Duration> active_deadline;
  std::optional<absl::Duration> ttl;

  ::inplaced::v1::ImageTagStatus status;
  TaskState state = TaskState::kQueued;
  absl::Time ready_at = absl::InfinitePast();  // kQueued: not before (backoff)
  int failed_attempts = 0;
  std::optional<absl::Time> first_start;                 // active_deadline counts from it
  absl::Time attempt_deadline = absl::InfiniteFuture();  // kPulling
  uint64_t operation = 0;                                // kPulling: the operation's id
};

struct State {
  ::inplaced::v1::NodeImageSpec spec;  // with secrets
  ::inplaced::v1::NodeImageMetadata metadata;
  std::map<TaskKey, Task> tasks;
  std::vector<std::string> ad_hoc_order;  // ad hoc images, oldest first
  // Every operation holding a slot, by id (ids are never reused).
  std::map<uint64_t, Operation> operations;
  // The joinable (not cancelled) operation of each operation key.
  std::map<std::string, uint64_t> joinable;
  uint64_t next_operation_id = 1;
  // Round-robin cursor: the index (spec images, then the ad hoc "image") served last.
  int cursor = -1;
  int max_concurrent_pulls = 3;
};

// ---- inputs ----

// SetNodeImage: `spec` validated and defaulted (ApplyNodeImageDefaults).
struct SpecSet {
  ::inplaced::v1::NodeImageSpec spec;
  int64_t expected_generation = 0;
  bool force = false;
};
// PullImage: `request` validated and defaulted (ApplyPullImageDefaults); `reference` parsed from
// it.
struct AdHocPullRequested {
  ::inplaced::v1::PullImageRequest request;
  ImageReference reference;
};
// The operation's RunPull returned.
struct AttemptFinished {
  uint64_t operation = 0;
  PullOutcome outcome;
};
// Time passed: timeouts, deadlines, backoff expiry, TTL.
struct Tick {};
// The byte progress of running operations was sampled (by operation id). Tasks PULLING on one of
// them take its progress (ImageTagStatus.pull_progress and progress); changed only when some
// figure other than the sample time moved. The shell publishes it without persisting it.
struct ProgressSampled {
  std::map<uint64_t, ::inplaced::v1::PullProgress> progress;
};

using Input = std::variant<SpecSet, AdHocPullRequested, AttemptFinished, Tick, ProgressSampled>;

// ---- effects ----

// Run RunPull(job) for `operation` and report AttemptFinished.
struct StartPull {
  uint64_t operation = 0;
  PullJob job;
};

// A log line the step asks for (`event key=value ...`, scrubbed of secrets).
struct LogLine {
  enum class Level { kInfo, kWarning, kError };
  Level level = Level::kInfo;
  std::string text;
};

// In this order: cancel, start, then (when changed) persist and publish.
struct Effects {
  std::vector<uint64_t> cancel;  // fire these operations' cancellations
  std::vector<StartPull> start;
  // The state changed (resource_version already bumped): persist the record and publish the
  // redacted snapshot.
  bool changed = false;
  std::vector<LogLine> log;
};

struct Transition {
  State state;
  Effects effects;
  // Not OK: the input was refused (ABORTED, RESOURCE_EXHAUSTED); `state` is the input state.
  absl::Status status;
  // AdHocPullRequested, accepted: the pull's status at acceptance.
  std::optional<::inplaced::v1::AdHocPullStatus> ad_hoc;
};

// One step of `state` at `now` (see the file comment).
Transition Step(State state, const Input& input, absl::Time now);

// The stored requests (validated and defaulted, with secrets) of unfinished ad hoc pulls, by
// image as given to PullImage.
using AdHocRequests = std::map<std::string, ::inplaced::v1::PullImageRequest>;

// The state of a stored NodeImage (`stored` unredacted, as Snapshot(..., false) wrote it) at
// `now`, with its unfinished tags and ad hoc pulls (`ad_hoc_requests`) scheduled.
Transition Restore(const ::inplaced::v1::NodeImage& stored, int max_concurrent_pulls,
                   absl::Time now, const AdHocRequests& ad_hoc_requests = {});

// The NodeImage of `state`: metadata, spec (without secrets when `redact`: RedactSpec), per-tag and
// ad hoc status, counts over the spec tags.
::inplaced::v1::NodeImage Snapshot(const State& state, bool redact);

// When the next time-driven step is due at `now` (InfiniteFuture when none): an attempt deadline,
// a backoff end, an active deadline, a TTL. A ready task waiting for a slot has none (a finishing
// attempt frees it).
absl::Time NextWakeTime(const State& state, absl::Time now);

// The operations holding a slot.
inline int RunningPulls(const State& state) { return static_cast<int>(state.operations.size()); }

// The ad hoc pull of `image` (as given to PullImage), or null.
const Task* FindAdHocPull(const State& state, const std::string& image);

}  // namespace inplaced::imagepull::nodeimage
