#include "store/validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace inplaced::store {
namespace {

bool IsKindChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Keys, prefixes and cursors follow one rule. Requiring UTF-8 matters beyond hygiene: 0xFF never
// occurs in UTF-8, which is what lets SqliteStore bound a prefix range with prefix + "\xFF".
absl::Status ValidateKeyLike(absl::string_view field, absl::string_view text, bool allow_empty) {
  if (text.empty() && !allow_empty)
    return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  if (text.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", text.size(), " bytes, the limit is ", kMaxKeyBytes));
  }
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": contains a NUL byte"));
  }
  if (!IsValidUtf8(text))
    return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  return absl::OkStatus();
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length;
    uint32_t code_point;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length]) return false;            // overlong
    if (code_point > 0x10FFFF) return false;                         // past Unicode
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;  // surrogate
    i += length;
  }
  return true;
}

absl::Status ValidateKind(absl::string_view kind) {
  if (kind.empty()) return absl::InvalidArgumentError("kind: empty");
  if (kind.size() > kMaxKindBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind: ", kind.size(), " bytes, the limit is ", kMaxKindBytes));
  }
  for (char c : kind) {
    if (!IsKindChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kind: \"", kind, "\" may only contain [a-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateKey(absl::string_view key) {
  return ValidateKeyLike("key", key, /*allow_empty=*/false);
}

absl::Status ValidateValue(absl::string_view value) {
  if (value.size() > kMaxValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value: ", value.size(), " bytes, the limit is ", kMaxValueBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateExpectedRevision(int64_t expected_revision) {
  if (expected_revision < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected_revision: must be positive or kAnyRevision (0), got ", expected_revision));
  }
  return absl::OkStatus();
}

absl::Status ValidateListOptions(const ListOptions& options) {
  RETURN_IF_ERROR(ValidateKeyLike("prefix", options.prefix, /*allow_empty=*/true));
  RETURN_IF_ERROR(ValidateKeyLike("after_key", options.after_key, /*allow_empty=*/true));
  if (options.limit < 1 || options.limit > kMaxListLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be in [1, ", kMaxListLimit, "], got ", options.limit));
  }
  return absl::OkStatus();
}

absl::Status ValidateId(absl::string_view kind, absl::string_view key) {
  RETURN_IF_ERROR(ValidateKind(kind));
  return ValidateKey(key);
}

absl::Status ValidateWrite(const Write& write) {
  RETURN_IF_ERROR(ValidateId(write.kind, write.key));
  if (write.op != Write::Op::kDelete) RETURN_IF_ERROR(ValidateValue(write.value));
  if (write.op != Write::Op::kCreate)
    RETURN_IF_ERROR(ValidateExpectedRevision(write.expected_revision));
  return absl::OkStatus();
}

absl::Status CheckWrite(const Write& write, int64_t current) {
  if (write.op == Write::Op::kCreate) {
    if (current == 0) return absl::OkStatus();
    return absl::AlreadyExistsError(absl::StrCat(write.kind, " ", write.key, ": already exists"));
  }
  if (current == 0)
    return absl::NotFoundError(absl::StrCat(write.kind, " ", write.key, ": not found"));
  if (write.expected_revision != kAnyRevision && write.expected_revision != current) {
    return absl::AbortedError(absl::StrCat(write.kind, " ", write.key, ": revision is ", current,
                                           ", expected ", write.expected_revision));
  }
  return absl::OkStatus();
}

}  // namespace inplaced::store
