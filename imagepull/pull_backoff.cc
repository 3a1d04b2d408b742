#include "imagepull/pull_backoff.h"

namespace inplaced::imagepull {

absl::Duration PullBackoff(int failed_attempts) {
  absl::Duration wait = kInitialPullBackoff;
  // Stop doubling once capped: no overflow however large failed_attempts is.
  for (int i = 1; i < failed_attempts && wait < kMaxPullBackoff; ++i) wait *= 2;
  return wait < kMaxPullBackoff ? wait : kMaxPullBackoff;
}

}  // namespace inplaced::imagepull
