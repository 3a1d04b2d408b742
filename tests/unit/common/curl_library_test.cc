#include "common/curl_library.h"

#include "common/curl_handle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(CurlLibraryTest, GetLoadsLibcurlOnceAndItsFunctionsWork) {
  ASSERT_OK_AND_ASSIGN(const CurlLibrary* lib, CurlLibrary::Get());
  ASSERT_OK_AND_ASSIGN(const CurlLibrary* again, CurlLibrary::Get());
  EXPECT_EQ(lib, again);
  EXPECT_EQ(&CurlLibrary::Loaded(), lib);

  ASSERT_OK_AND_ASSIGN(CurlEasy easy, NewCurlEasy());
  EXPECT_EQ(lib->easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L), CURLE_OK);
  CurlSlist headers;
  EXPECT_TRUE(CurlSlistAppend(headers, "X-Test: 1"));
  EXPECT_STREQ(headers->data, "X-Test: 1");

  CURLU* url = lib->url();
  ASSERT_NE(url, nullptr);
  ASSERT_EQ(lib->url_set(url, CURLUPART_URL, "https://registry.example:5000/v2/", 0), CURLUE_OK);
  char* host = nullptr;
  ASSERT_EQ(lib->url_get(url, CURLUPART_HOST, &host, 0), CURLUE_OK);
  EXPECT_STREQ(host, "registry.example");
  lib->free(host);
  lib->url_cleanup(url);
  EXPECT_STREQ(lib->easy_strerror(CURLE_COULDNT_CONNECT), "Couldn't connect to server");
}

TEST(CurlLibraryTest, OpenNamesALibraryItCannotLoad) {
  EXPECT_THAT(CurlLibrary::Open("libinplaced-no-such-curl.so.4").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("cannot load libinplaced-no-such-curl.so.4"),
                             HasSubstr("libcurl4"))));
}

TEST(CurlLibraryTest, OpenNamesTheFunctionALibraryLacks) {
  // zlib is on every Debian system, and is no libcurl.
  EXPECT_THAT(CurlLibrary::Open("libz.so.1").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("libz.so.1 has no curl_global_init")));
}

}  // namespace
}  // namespace inplaced
