#include "common/field_checks.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace inplaced {

absl::Status InvalidField(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

absl::Status CheckNonNegative(absl::string_view path, int64_t value) {
  if (value < 0) return InvalidField(path, absl::StrCat("must not be negative, got ", value));
  return absl::OkStatus();
}

absl::Status CheckSecondsInRange(absl::string_view path, int64_t value, int64_t min, int64_t max) {
  if (min == 0) RETURN_IF_ERROR(CheckNonNegative(path, value));
  if (value < min)
    return InvalidField(path, absl::StrCat("must be at least ", min, ", got ", value));
  if (value > max) {
    return InvalidField(
        path, absl::StrCat("must be at most ", max, " (", max / 86400, " days), got ", value));
  }
  return absl::OkStatus();
}

std::string FormatBytes(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = kKiB * 1024;
  if (bytes < kKiB) return absl::StrCat(bytes, bytes == 1 ? " byte" : " bytes");
  const bool mebi = bytes >= kMiB;
  const uint64_t unit = mebi ? kMiB : kKiB;
  // Tenths, rounded down: "exceeds the limit" never shows the limit's own value for a larger size.
  const uint64_t tenths = bytes * 10 / unit;
  const std::string number = tenths % 10 == 0 ? absl::StrCat(tenths / 10)
                                              : absl::StrFormat("%d.%d", tenths / 10, tenths % 10);
  return absl::StrCat(number, mebi ? " MiB" : " KiB");
}

absl::Status CheckMaxBytes(absl::string_view path, uint64_t size, uint64_t limit) {
  if (size <= limit) return absl::OkStatus();
  std::string got = FormatBytes(size);
  // A size just over the limit would read like the limit itself ("64 KiB exceeds the 64 KiB
  // limit"): then the exact byte counts say it.
  if (got == FormatBytes(limit)) {
    return InvalidField(path, absl::StrCat(size, " bytes exceeds the ", limit, "-byte limit (",
                                           FormatBytes(limit), ")"));
  }
  return InvalidField(path, absl::StrCat(got, " exceeds the ", FormatBytes(limit), " limit"));
}

absl::Status CheckMaxCount(absl::string_view path, int64_t count, int64_t limit) {
  if (count <= limit) return absl::OkStatus();
  return InvalidField(path, absl::StrCat("at most ", limit, " are allowed, got ", count));
}

}  // namespace inplaced
