#include "common/field_checks.h"

#include "absl/strings/str_cat.h"
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

}  // namespace inplaced
