#include "common/curl_handle.h"

#include "absl/base/call_once.h"

namespace inplaced {

void EnsureCurlGlobalInit() {
  // Never cleaned up: other threads may still use libcurl at exit.
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlEasy NewCurlEasy() {
  EnsureCurlGlobalInit();
  return CurlEasy(curl_easy_init());
}

bool CurlSlistAppend(CurlSlist& list, const char* line) {
  curl_slist* appended = curl_slist_append(list.get(), line);
  if (appended == nullptr) return false;
  // `appended` is the head of the list that now holds the old nodes too.
  (void)list.release();
  list.reset(appended);
  return true;
}

}  // namespace inplaced
