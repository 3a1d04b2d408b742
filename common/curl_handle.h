#pragma once

// RAII owners of libcurl handles (easy handles and header lists), and libcurl's process-wide init,
// for every libcurl user (preStop httpGet hooks, the registry client).

#include <curl/curl.h>

#include <memory>

namespace inplaced {

struct CurlEasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// Runs curl_global_init(CURL_GLOBAL_DEFAULT) once per process (thread-safe). Call it before the
// first curl_easy_init(): libcurl's implicit init is not thread-safe in older releases.
void EnsureCurlGlobalInit();

// A new easy handle (after EnsureCurlGlobalInit()); null when libcurl is out of memory.
CurlEasy NewCurlEasy();

// Appends `line` to `list` (kept on failure); false when libcurl is out of memory.
bool CurlSlistAppend(CurlSlist& list, const char* line);

}  // namespace inplaced
