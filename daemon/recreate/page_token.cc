#include "daemon/recreate/page_token.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "daemon/recreate/name_syntax.h"

namespace inplaced::daemon {
namespace {

// Format (before base64): "v1|<namespace filter>|<pod filter>|<phase filter>|<last ns>|<last
// name>". '|' cannot occur in any part: filters and keys are validated DNS-1123 names, the phase is
// a number.
constexpr absl::string_view kVersion = "v1";
constexpr char kSeparator = '|';
constexpr size_t kParts = 6;

absl::Status BadToken(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token: ", why, " (pass next_page_token of the previous call, with the same filters)"));
}

}  // namespace

std::string EncodeListPageToken(const ::inplaced::v1::ListRecreateRequestsRequest& request,
                                const ListCursor& last) {
  std::string plain = absl::StrJoin(
      {std::string(kVersion), request.namespace_(), request.pod_name(),
       absl::StrCat(static_cast<int>(request.phase())), last.namespace_name, last.name},
      std::string(1, kSeparator));
  return absl::WebSafeBase64Escape(plain);
}

absl::StatusOr<ListCursor> DecodeListPageToken(
    const ::inplaced::v1::ListRecreateRequestsRequest& request) {
  if (request.page_token().empty()) return ListCursor{};
  std::string plain;
  if (!absl::WebSafeBase64Unescape(request.page_token(), &plain))
    return BadToken("not a page token");
  std::vector<std::string> parts = absl::StrSplit(plain, kSeparator);
  if (parts.size() != kParts || parts[0] != kVersion) return BadToken("not a page token");
  if (parts[1] != request.namespace_() || parts[2] != request.pod_name() ||
      parts[3] != absl::StrCat(static_cast<int>(request.phase()))) {
    return BadToken("the token was issued for other filters");
  }
  ListCursor cursor{parts[4], parts[5]};
  if (!CheckDns1123Label(cursor.namespace_name).ok() || !CheckDns1123Subdomain(cursor.name).ok()) {
    return BadToken("not a page token");
  }
  return cursor;
}

}  // namespace inplaced::daemon
