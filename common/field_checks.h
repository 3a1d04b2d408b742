#pragma once

// Field checks shared by the request validators (daemon/recreate_validation.h,
// imagepull/nodeimage_validation.h), so both APIs word the same problem the same way.
//
// A failed check is INVALID_ARGUMENT "<path>: <problem>", where path is the offending field in
// proto field names with list indexes (e.g. "spec.containers[1].name").

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inplaced {

// INVALID_ARGUMENT "<path>: <problem>".
absl::Status InvalidField(absl::string_view path, absl::string_view problem);

// A count, version or generation: "<path>: must not be negative, got -1" below 0.
absl::Status CheckNonNegative(absl::string_view path, int64_t value);

// A duration in seconds within [min, max]. The messages:
//   "<path>: must not be negative, got -1"           (below min when min is 0)
//   "<path>: must be at least 3, got 2"              (below any other min)
//   "<path>: must be at most 31536000 (365 days), got 31536001"
absl::Status CheckSecondsInRange(absl::string_view path, int64_t value, int64_t min, int64_t max);

// A size in bytes as people read it: "512 bytes", "64 KiB", "3.5 MiB" (one decimal, dropped when
// it is 0).
std::string FormatBytes(uint64_t bytes);

// A size limit: "<path>: 3.5 MiB exceeds the 64 KiB limit" when `size` > `limit`.
absl::Status CheckMaxBytes(absl::string_view path, uint64_t size, uint64_t limit);

// A count limit: "<path>: at most 64 are allowed, got 65" when `count` > `limit`.
absl::Status CheckMaxCount(absl::string_view path, int64_t count, int64_t limit);

}  // namespace inplaced
