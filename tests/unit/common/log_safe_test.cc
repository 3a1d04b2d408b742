#include "common/log_safe.h"

#include <string>

#include "gtest/gtest.h"

namespace inplaced {
namespace {

TEST(LogSafeTest, KeepsPrintableAscii) {
  EXPECT_EQ(LogSafe("default/web-0 registry.local:5000/app:1.2"),
            "default/web-0 registry.local:5000/app:1.2");
  EXPECT_EQ(LogSafe(""), "");
}

TEST(LogSafeTest, ANewlineCannotStartAForgedLine) {
  const std::string forged =
      "web-0\n[2026-12-05 10:00:00.000] [info] rpc method=DeleteRecreateRequest code=OK";
  const std::string safe = LogSafe(forged);
  EXPECT_EQ(safe.find('\n'), std::string::npos);
  EXPECT_EQ(safe,
            "web-0\\n[2026-12-05 10:00:00.000] [info] rpc method=DeleteRecreateRequest code=OK");
  EXPECT_EQ(LogSafe("a\r\nb\tc"), "a\\r\\nb\\tc");
}

TEST(LogSafeTest, EscapesAnsiAndOtherControlBytes) {
  EXPECT_EQ(LogSafe("app\x1b[31mRED\x1b[0m"), "app\\x1b[31mRED\\x1b[0m");
  EXPECT_EQ(LogSafe(std::string("a\0b\x7f", 4)), "a\\x00b\\x7f");
}

TEST(LogSafeTest, AQuoteCannotEndAQuotedValue) {
  EXPECT_EQ(LogSafe("x\" code=OK"), "x\\\" code=OK");
  EXPECT_EQ(LogSafe("back\\slash"), "back\\\\slash");
}

TEST(LogSafeTest, NonAsciiBytesAreHexEscaped) {
  // U+009B (C1 CSI) in UTF-8, and a lone invalid byte.
  EXPECT_EQ(LogSafe("\xc2\x9b"
                    "2J\xff"),
            "\\xc2\\x9b2J\\xff");
}

TEST(LogSafeTest, LongTextIsCut) {
  const std::string big(kMaxLogValueBytes + 10, 'a');
  const std::string safe = LogSafe(big);
  EXPECT_EQ(safe, std::string(kMaxLogValueBytes, 'a') + "...(4106 bytes)");
}

}  // namespace
}  // namespace inplaced
