#include "common/curl_handle.h"

namespace inplaced {

absl::StatusOr<CurlEasy> NewCurlEasy() {
  absl::StatusOr<const CurlLibrary*> lib = CurlLibrary::Get();
  if (!lib.ok()) return lib.status();
  CurlEasy easy((*lib)->easy_init());
  if (easy == nullptr) return absl::ResourceExhaustedError("libcurl: out of memory");
  return easy;
}

bool CurlSlistAppend(CurlSlist& list, const char* line) {
  curl_slist* appended = CurlLibrary::Loaded().slist_append(list.get(), line);
  if (appended == nullptr) return false;
  // `appended` is the head of the list that now holds the old nodes too.
  (void)list.release();
  list.reset(appended);
  return true;
}

}  // namespace inplaced
