#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace inplaced::daemon {

// The last `max_bytes` bytes of `text` (hook output, a runtime message) made safe for a status
// message and a proto string: surrounding whitespace trimmed, newlines and tabs as spaces, other
// control bytes and non-ASCII bytes as '?' (a cut may split a UTF-8 sequence, and proto3 strings
// must be valid UTF-8).
std::string PrintableTail(absl::string_view text, size_t max_bytes);

}  // namespace inplaced::daemon
