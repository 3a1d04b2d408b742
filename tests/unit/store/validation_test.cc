// The UTF-8 check behind key validation, case by case (the store tests cover the field messages).

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "store/validation.h"

namespace inplaced::store {
namespace {

struct Utf8Case {
  std::string description;
  std::string text;
  bool valid;
};

TEST(IsValidUtf8Test, AcceptsWellFormedAndRejectsMalformedSequences) {
  const std::vector<Utf8Case> cases = {
      {"empty", "", true},
      {"ascii", "default/nginx-0", true},
      {"two bytes", "caf\xc3\xa9", true},
      {"three bytes", "\xe2\x82\xac", true},
      {"four bytes", "\xf0\x9f\x9a\x80", true},
      {"largest code point U+10FFFF", "\xf4\x8f\xbf\xbf", true},
      {"lone continuation byte", "\x80", false},
      {"0xFF never occurs", "a\xff", false},
      {"truncated two-byte sequence", "\xc3", false},
      {"truncated four-byte sequence", "\xf0\x9f\x9a", false},
      {"continuation replaced by ascii",
       "\xc3"
       "a",
       false},
      {"overlong slash", "\xc0\xaf", false},
      {"overlong three-byte NUL", "\xe0\x80\x80", false},
      {"overlong four-byte", "\xf0\x80\x80\x80", false},
      {"surrogate U+D800", "\xed\xa0\x80", false},
      {"past U+10FFFF", "\xf4\x90\x80\x80", false},
      {"five-byte lead", "\xf8\x88\x80\x80\x80", false},
  };
  for (const Utf8Case& c : cases) {
    SCOPED_TRACE(c.description);
    EXPECT_EQ(IsValidUtf8(c.text), c.valid);
  }
}

}  // namespace
}  // namespace inplaced::store
