#pragma once

// The one place that makes caller-supplied text (names, image references, error messages that
// quote them, hook output) safe to put inside a log line. The log is line-oriented and parsed as
// `key=value` / `key="value"` pairs: a newline in a pod name or an image reference would start a
// forged line, an ANSI escape would rewrite the terminal, and a bare quote would end the value
// early. Every log line that carries such text passes it through LogSafe.
//
// Stateless and thread-safe.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace inplaced {

// The longest value LogSafe returns before it cuts (a hostile 4 MiB message stays one short line).
inline constexpr size_t kMaxLogValueBytes = 4096;

// `text` with every byte that could break a log line escaped, C style: `\n`, `\r`, `\t`, `\\`,
// `\"`, and `\xNN` for the other control characters (0x00-0x1f, 0x7f, ESC included) and for every
// byte >= 0x80 (the log stays ASCII: no C1 controls, no invalid UTF-8). Printable ASCII is kept.
// Longer than kMaxLogValueBytes: cut there, with "...(N bytes)" appended.
std::string LogSafe(absl::string_view text);

}  // namespace inplaced
