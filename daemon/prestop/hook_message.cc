#include "daemon/prestop/hook_message.h"

#include "absl/strings/ascii.h"

namespace inplaced::daemon {

std::string PrintableTail(absl::string_view text, size_t max_bytes) {
  text = absl::StripAsciiWhitespace(text);
  if (text.size() > max_bytes) text.remove_prefix(text.size() - max_bytes);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') {
      out.push_back(' ');
    } else if (u < 0x20 || u >= 0x7f) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace inplaced::daemon
