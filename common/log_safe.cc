#include "common/log_safe.h"

#include "absl/strings/str_cat.h"

namespace inplaced {

std::string LogSafe(absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const absl::string_view kept = text.substr(0, kMaxLogValueBytes);
  std::string out;
  out.reserve(kept.size() + 8);
  for (const char c : kept) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '"':
        out += "\\\"";
        continue;
      default:
        break;
    }
    if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  if (text.size() > kept.size()) absl::StrAppend(&out, "...(", text.size(), " bytes)");
  return out;
}

}  // namespace inplaced
