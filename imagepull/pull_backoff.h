#pragma once

// The wait between two pull attempts of one tag (Kruise's pullWorker): 1 s after the first failure,
// doubling, at most 30 s. Stateless and thread-safe.

#include "absl/time/time.h"

namespace inplaced::imagepull {

inline constexpr absl::Duration kInitialPullBackoff = absl::Seconds(1);
inline constexpr absl::Duration kMaxPullBackoff = absl::Seconds(30);
// The wait before trying again when the runtime itself did not answer (a restart takes seconds);
// such an attempt does not count as failed.
inline constexpr absl::Duration kRuntimeUnreachableRetry = absl::Seconds(1);

// The wait after `failed_attempts` (>= 1) failed attempts: 1 s, 2 s, 4 s, 8 s, 16 s, 30 s, 30 s,
// ... Values < 1 are treated as 1.
absl::Duration PullBackoff(int failed_attempts);

}  // namespace inplaced::imagepull
