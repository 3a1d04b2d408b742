#include "store/store.h"

#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"

namespace inplaced::store {

absl::StatusOr<int64_t> Store::ApplyOne(Write write) {
  ASSIGN_OR_RETURN(std::vector<WriteResult> results, Apply({std::move(write)}));
  return std::move(results.front());
}

absl::StatusOr<int64_t> Store::Create(absl::string_view kind, absl::string_view key,
                                      absl::string_view value) {
  return ApplyOne(Write::Create(std::string(kind), std::string(key), std::string(value)));
}

absl::StatusOr<int64_t> Store::Update(absl::string_view kind, absl::string_view key,
                                      absl::string_view value, int64_t expected_revision) {
  return ApplyOne(
      Write::Update(std::string(kind), std::string(key), std::string(value), expected_revision));
}

absl::StatusOr<int64_t> Store::Delete(absl::string_view kind, absl::string_view key,
                                      int64_t expected_revision) {
  return ApplyOne(Write::Delete(std::string(kind), std::string(key), expected_revision));
}

}  // namespace inplaced::store
