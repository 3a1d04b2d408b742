#pragma once

// Conversions between absl::Time and google.protobuf.Timestamp (the recreate records, the NodeImage
// status, the tests that read them). Header-only, stateless.

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace inplaced {

inline google::protobuf::Timestamp ToProtoTime(absl::Time time) {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(time);
  int64_t seconds = nanos / 1000000000;
  int64_t rest = nanos % 1000000000;
  if (rest < 0) {
    rest += 1000000000;
    --seconds;
  }
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(rest));
  return out;
}

inline absl::Time FromProtoTime(const google::protobuf::Timestamp& time) {
  return absl::FromUnixSeconds(time.seconds()) + absl::Nanoseconds(time.nanos());
}

// Time from a CRI nanosecond timestamp (0 stays the epoch).
inline absl::Time FromUnixNanosTime(int64_t nanos) { return absl::FromUnixNanos(nanos); }

}  // namespace inplaced
