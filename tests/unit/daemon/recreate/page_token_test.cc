#include "daemon/recreate/page_token.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

api::ListRecreateRequestsRequest Filters() {
  api::ListRecreateRequestsRequest request;
  request.set_namespace_("default");
  request.set_pod_name("web-0");
  request.set_phase(api::RECREATE_PHASE_PENDING);
  return request;
}

TEST(PageTokenTest, EmptyTokenIsTheFirstPage) {
  ASSERT_OK_AND_ASSIGN(ListCursor cursor, DecodeListPageToken(Filters()));
  EXPECT_EQ(cursor, ListCursor{});
}

TEST(PageTokenTest, RoundTripsTheCursor) {
  api::ListRecreateRequestsRequest request = Filters();
  const ListCursor last{"default", "recreate.2"};
  request.set_page_token(EncodeListPageToken(request, last));
  ASSERT_OK_AND_ASSIGN(ListCursor cursor, DecodeListPageToken(request));
  EXPECT_EQ(cursor, last);
}

TEST(PageTokenTest, RoundTripsWithoutFilters) {
  api::ListRecreateRequestsRequest request;
  const ListCursor last{"kube-system", "r"};
  request.set_page_token(EncodeListPageToken(request, last));
  ASSERT_OK_AND_ASSIGN(ListCursor cursor, DecodeListPageToken(request));
  EXPECT_EQ(cursor, last);
}

TEST(PageTokenTest, RejectsATokenIssuedForOtherFilters) {
  const std::string token = EncodeListPageToken(Filters(), ListCursor{"default", "r1"});
  struct Case {
    std::string description;
    void (*mutate)(api::ListRecreateRequestsRequest*);
  };
  const Case cases[] = {
      {"other namespace", [](api::ListRecreateRequestsRequest* r) { r->set_namespace_("other"); }},
      {"no namespace", [](api::ListRecreateRequestsRequest* r) { r->clear_namespace_(); }},
      {"other pod", [](api::ListRecreateRequestsRequest* r) { r->set_pod_name("web-1"); }},
      {"other phase",
       [](api::ListRecreateRequestsRequest* r) { r->set_phase(api::RECREATE_PHASE_COMPLETED); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.description);
    api::ListRecreateRequestsRequest request = Filters();
    c.mutate(&request);
    request.set_page_token(token);
    EXPECT_THAT(DecodeListPageToken(request),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("page_token: the token was issued for "
                                   "other filters")));
  }
}

TEST(PageTokenTest, RejectsMalformedTokens) {
  const std::string cases[] = {
      "%%%",                                                         // not base64
      absl::WebSafeBase64Escape("v1|default|web-0|1|default"),       // a part missing
      absl::WebSafeBase64Escape("v2|default|web-0|1|default|r1"),    // unknown version
      absl::WebSafeBase64Escape("v1|default|web-0|1|Bad|r1"),        // cursor not a namespace
      absl::WebSafeBase64Escape("v1|default|web-0|1|default|"),      // empty cursor name
      absl::WebSafeBase64Escape("v1|default|web-0|1|default|r1|x"),  // a part too many
  };
  for (const std::string& token : cases) {
    SCOPED_TRACE(token);
    api::ListRecreateRequestsRequest request = Filters();
    request.set_page_token(token);
    EXPECT_THAT(DecodeListPageToken(request), StatusIs(absl::StatusCode::kInvalidArgument,
                                                       HasSubstr("page_token: not a page token")));
  }
}

}  // namespace
}  // namespace inplaced::daemon
