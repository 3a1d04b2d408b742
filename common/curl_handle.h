#pragma once

// RAII owners of libcurl handles (easy handles and header lists) for every libcurl user (preStop
// httpGet hooks, the registry client), over the libcurl loaded on first use (curl_library.h).

#include <curl/curl.h>

#include <memory>

#include "absl/status/statusor.h"
#include "common/curl_library.h"

namespace inplaced {

struct CurlEasyDeleter {
  void operator()(CURL* curl) const { CurlLibrary::Loaded().easy_cleanup(curl); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { CurlLibrary::Loaded().slist_free_all(list); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// A new easy handle, loading libcurl if this is the first: FAILED_PRECONDITION when libcurl cannot
// be loaded, RESOURCE_EXHAUSTED when it is out of memory.
absl::StatusOr<CurlEasy> NewCurlEasy();

// Appends `line` to `list` (kept on failure); false when libcurl is out of memory. After a
// successful NewCurlEasy().
bool CurlSlistAppend(CurlSlist& list, const char* line);

}  // namespace inplaced
