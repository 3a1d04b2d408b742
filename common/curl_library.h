#pragma once

// libcurl, loaded on first use (dlopen) instead of with the daemon. Only preStop httpGet hooks and
// the registry client (disk precheck, pull progress) use it, and libcurl brings 26 libraries (TLS,
// LDAP, Kerberos, SSH, RTMP, IDN) plus the OpenSSL set-up its global init does: about 5 MiB of
// resident memory in every idle daemon that never makes an HTTP request.
//
// The build still compiles against <curl/curl.h> (types, constants); the functions come from the
// libcurl the system has (libcurl.so.4, Debian's libcurl4).

#include <curl/curl.h>

#include "absl/status/statusor.h"

namespace inplaced {

// The libcurl functions this project calls, resolved from the loaded library. Never unloaded:
// other threads may still use it at exit.
struct CurlLibrary {
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  // Variadic like curl_easy_setopt, without its compile-time type checks: pass a `long` for long
  // options (1L, not 1), a pointer for object options, a curl_off_t for *_LARGE ones.
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLU* (*url)();
  void (*url_cleanup)(CURLU*);
  CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
  CURLUcode (*url_get)(const CURLU*, CURLUPart, char**, unsigned int);
  void (*free)(void*);

  // The process's libcurl (libcurl.so.4), loaded and initialised (curl_global_init) by the first
  // call (thread-safe); the answer of that first call stays.
  static absl::StatusOr<const CurlLibrary*> Get();
  // Loads `soname` and resolves the functions (Get's loader; for tests). FAILED_PRECONDITION naming
  // the library or the missing function.
  static absl::StatusOr<CurlLibrary> Open(const char* soname);
  // The library a successful Get() loaded (for handle deleters: a handle exists only after one).
  static const CurlLibrary& Loaded();
};

}  // namespace inplaced
