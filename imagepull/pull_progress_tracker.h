#pragma once

// PullProgressTracker: the byte progress of the pulls in flight, read from containerd's content
// store (cri::ContentStore) and matched to each pull's layers through its registry manifest
// (ImageResolver). The puller calls Begin on the worker right before the CRI PullImage of an
// operation, End after it, and Sample from its progress loop.
//
// Progress is PHASE_ONLY (with a note) for a pull whose manifest the registry client cannot read,
// and for every pull while the runtime has no content service (UNIMPLEMENTED: CRI-O, the fake CRI
// server without one). Other content store errors (a runtime restarting) keep the last progress.
//
// Thread-safe: one mutex, held across the content store calls of one Sample (local calls on the
// runtime's socket) but not across the registry's.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "cri/content_store.h"
#include "imagepull/pull_attempt.h"
#include "imagepull/pull_progress.h"
#include "imagepull/registry/registry_client.h"

namespace inplaced::imagepull {

// The note of a PHASE_ONLY progress on a runtime without containerd's content service.
inline constexpr char kNoContentServiceNote[] =
    "the runtime has no containerd content service (e.g. CRI-O): progress by phase only";

class PullProgressTracker {
 public:
  // None owned; all must outlive the tracker.
  PullProgressTracker(cri::ContentStore& content, ImageResolver& resolver, Clock& clock);

  // Starts tracking `operation` (pulling `job`): unless the runtime has no content service, resolves
  // its manifest (with the job's credentials; `cancel` may be null) and marks the layers already
  // committed. Replaces an earlier Begin of the same operation.
  void Begin(uint64_t operation, const PullJob& job, const Cancellation* cancel);
  // Stops tracking `operation`.
  void End(uint64_t operation);

  // One sample of every tracked operation: one ListIngests, and an Info per layer not covered by
  // an ingest. Returns each operation's progress (empty when none is tracked: no call is made).
  std::map<uint64_t, ::inplaced::v1::PullProgress> Sample();

 private:
  struct Entry {
    bool bytes = false;  // false: PHASE_ONLY with `note`
    std::string note;
    ProgressModel model;
  };

  // Whether each of `digests` is committed; UNIMPLEMENTED when the runtime has no content service.
  absl::StatusOr<std::set<std::string>> Committed(const std::vector<std::string>& digests)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  cri::ContentStore& content_;
  ImageResolver& resolver_;
  Clock& clock_;

  absl::Mutex mu_;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inplaced::imagepull
