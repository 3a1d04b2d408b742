#pragma once

// The page tokens of ListRecreateRequests. A token records the filters of the call that produced it
// and the key of the last request returned; the next page starts after that key. Tokens are opaque
// to callers (web-safe base64); a token reused with other filters is rejected, so a caller cannot
// get a page of one listing mixed into another.
//
// Stateless and thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/inplaced/v1/recreate.pb.h"

namespace inplaced::daemon {

// The position after which a page starts: the (namespace, name) of the last request of the previous
// page.
struct ListCursor {
  std::string namespace_name;
  std::string name;

  friend bool operator==(const ListCursor& a, const ListCursor& b) {
    return a.namespace_name == b.namespace_name && a.name == b.name;
  }
};

// The token to return as next_page_token when the page for `request` ended with the request
// (last.namespace, last.name).
std::string EncodeListPageToken(const ::inplaced::v1::ListRecreateRequestsRequest& request,
                                const ListCursor& last);

// The cursor in request.page_token; an empty cursor (both fields empty) for an empty token (the
// first page). INVALID_ARGUMENT "page_token: ..." when the token is malformed or was produced for
// other filters.
absl::StatusOr<ListCursor> DecodeListPageToken(
    const ::inplaced::v1::ListRecreateRequestsRequest& request);

}  // namespace inplaced::daemon
