#pragma once

// Input checks shared by every Store implementation, so all of them enforce the rules of store.h
// the same way. Each returns OK or INVALID_ARGUMENT whose message starts with the field name.
// Stateless and thread-safe.

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "store/store.h"

namespace inplaced::store {

absl::Status ValidateKind(absl::string_view kind);
absl::Status ValidateKey(absl::string_view key);
absl::Status ValidateValue(absl::string_view value);
absl::Status ValidateExpectedRevision(int64_t expected_revision);
absl::Status ValidateListOptions(const ListOptions& options);

// ValidateKind and ValidateKey together (the identity of a record).
absl::Status ValidateId(absl::string_view kind, absl::string_view key);

// What the single call of the write's operation validates (identity, value, expected revision).
absl::Status ValidateWrite(const Write& write);

// Whether a valid `write` applies to its record, whose current revision is `current` (0: absent):
// ALREADY_EXISTS (create of a present record), NOT_FOUND (update or delete of an absent one),
// ABORTED (a stale expected_revision; the message gives both revisions). The same answer in every
// Store implementation.
absl::Status CheckWrite(const Write& write, int64_t current);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace inplaced::store
