#include "common/field_checks.h"

#include "absl/strings/str_cat.h"

namespace inplaced {

absl::Status InvalidField(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

absl::Status CheckSecondsInRange(absl::string_view path, int64_t value, int64_t min, int64_t max) {
  if (value < min) {
    return InvalidField(path, min == 0 ? absl::StrCat("must not be negative, got ", value)
                                       : absl::StrCat("must be at least ", min, ", got ", value));
  }
  if (value > max) {
    return InvalidField(path,
                        absl::StrCat("must be at most ", max, " (", max / 86400, " days), got ", value));
  }
  return absl::OkStatus();
}

}  // namespace inplaced
